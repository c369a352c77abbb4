
"""Shares corrected for the classifier's errors (pipeline/quantify): unit tests on small arrays, then
the run folder's oof.npz and the report's domain_shares.csv through the real commands."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.config import PROJECT_DIR
from pipeline.errors import PipelineError
from pipeline.quantify.evaluate import measure, measure_periods, shifted_samples, total_variation
from pipeline.quantify.fit import ShareQuantifier, raw_shares
from pipeline.quantify.intervals import bootstrap_shares, stratified_resample
from pipeline.quantify.methods import em_shares, shrunk_misclassification
from pipeline.quantify.shares import COLUMNS, adjusted_shares
from pipeline.quantify.store import FIELDS, OOF_FILE, PERIOD_FIELDS, OutOfFold, load_oof, save_oof


def biased(prev, n, rng, k=4):
    """Posteriors of a classifier that leans toward class 0, for rows drawn at shares `prev`."""
    y = rng.choice(k, size=n, p=prev)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), y] += 1.5
    logits[:, 0] += 0.8
    p = np.exp(logits)
    return p / p.sum(1, keepdims=True), y


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    fit_p, fit_y = biased([0.25] * 4, 1500, rng)
    test_p, test_y = biased([0.1, 0.2, 0.3, 0.4], 800, rng)
    return fit_p, fit_y, test_p, np.bincount(test_y, minlength=4) / len(test_y)


# Not EMQ-TS alone: one temperature cannot undo the toy's bias toward class 0 (TV 0.11 against raw 0.20).
@pytest.mark.parametrize("method", ["ACC", "PACC", "EMQ", "KDEy", "PACC-shrunk", "PACC+EMQ"])
def test_the_adjustment_moves_a_biased_count_toward_the_truth(toy, method):
    fit_p, fit_y, test_p, truth = toy
    raw = raw_shares(test_p)
    assert raw[0] > truth[0] + 0.15  # the classifier over-reports class 0
    adjusted = ShareQuantifier(method).fit(fit_p, fit_y).predict(test_p)
    assert adjusted.sum() == pytest.approx(1.0)
    assert total_variation(adjusted, truth) < total_variation(raw, truth) / 2


def test_a_class_without_labeled_rows_keeps_its_raw_share(toy):
    fit_p, fit_y, test_p, _ = toy
    keep = fit_y != 3
    shares = ShareQuantifier("PACC").fit(fit_p[keep], fit_y[keep]).predict(test_p)
    assert shares[3] == pytest.approx(raw_shares(test_p)[3]) and shares.sum() == pytest.approx(1.0)


def test_a_sample_computed_once_gives_the_shares_of_its_rows(toy):
    # The bootstrap takes rows of each sample's argmax, seen classes and log computed once (Sample.take):
    # the same shares as predicting on those rows, a class without labeled rows included.
    fit_p, fit_y, test_p, _ = toy
    rows = np.random.default_rng(4).integers(0, len(test_p), len(test_p))
    keep = fit_y != 3
    for method in ("PACC+EMQ", "EMQ-TS", "PACC"):
        q = ShareQuantifier(method).fit(fit_p[keep], fit_y[keep])
        once = q.predict_sample(q.sample(test_p).take(rows))
        assert np.allclose(once, q.predict(test_p[rows]), rtol=0, atol=1e-12)


def test_intervals_hold_the_point_estimate_and_small_groups_are_not_computed(toy):
    fit_p, fit_y, test_p, truth = toy
    got = bootstrap_shares(fit_p, fit_y, {"all": test_p, "small": test_p[:30]}, "PACC", n_bootstrap=40,
                           min_group=100)
    s = got["all"]
    assert np.all(s.ci_low <= s.share_adjusted) and np.all(s.share_adjusted <= s.ci_high)
    assert np.all(s.ci_high - s.ci_low > 0) and np.all(s.ci_high - s.ci_low < 0.2)
    assert ((s.ci_low <= truth) & (truth <= s.ci_high)).sum() >= 3
    small = got["small"]
    assert not small.computed and np.isnan(small.ci_low).all()
    assert small.n.sum() == 30 and small.share.sum() == pytest.approx(1.0)  # counts and raw shares stay


def test_em_finds_the_shares_of_calibrated_posteriors_under_a_shifted_mix():
    # Exact posteriors of three unit Gaussians at -2, 0, 2, for a training prior; the sample drawn at another mix.
    rng = np.random.default_rng(5)
    means, prior, mix = np.array([-2.0, 0.0, 2.0]), np.array([0.5, 0.3, 0.2]), np.array([0.1, 0.3, 0.6])
    y = rng.choice(3, size=20000, p=mix)
    x = rng.normal(means[y], 1.0)
    joint = prior * np.exp(-0.5 * (x[:, None] - means) ** 2)
    posteriors = joint / joint.sum(1, keepdims=True)
    got = em_shares(posteriors / prior, prior)
    assert np.abs(got - np.bincount(y) / len(y)).max() < 0.02
    assert np.abs(posteriors.mean(0) - mix).max() > 0.05  # the plain mean of posteriors is off


def test_the_pacc_matrix_borrows_the_common_column_for_a_class_with_few_rows():
    rng = np.random.default_rng(6)
    y = np.array([0] * 400 + [1] * 400 + [2] * 3)
    proba = rng.dirichlet([1, 1, 1], len(y))
    proba[y == 2] = [0.0, 0.0, 1.0]  # three perfectly recognised rows: the raw column would be [0, 0, 1]
    m = shrunk_misclassification(proba, y, rows=50)
    assert np.allclose(m.sum(0), 1.0)
    assert np.allclose(m[:, 0], proba[y == 0].mean(0), atol=0.05)  # 400 rows: its own column
    # 3 rows against 50 pseudo-rows: its hit rate mostly the classes' mean, its mistakes the pooled ones
    hit = np.mean([proba[y == j, j].mean() for j in range(3)])
    assert m[2, 2] == pytest.approx((3 * 1.0 + 50 * hit) / 53) and m[2, 2] < 0.6
    assert m[0, 2] > 0.15 and m[1, 2] > 0.15


def test_an_interval_ending_under_half_a_row_starts_at_zero(toy):
    fit_p, fit_y, test_p, _ = toy
    sample = test_p[:400].copy()
    sample[:, 3] = 1e-9  # no row leans toward class 3: EM gives it a share of about 1e-8, never exactly 0
    sample /= sample.sum(1, keepdims=True)
    s = bootstrap_shares(fit_p, fit_y, {"all": sample}, "PACC+EMQ", n_bootstrap=20)["all"]
    assert 0 < s.share_adjusted[3] < 1e-4 and s.ci_low[3] == 0.0
    assert (s.ci_low[:3] > 0.05).all()


def test_the_labeled_rows_are_resampled_within_each_class():
    y = np.array([0] * 50 + [1] * 3 + [2] * 7)
    rows = stratified_resample(y, np.random.default_rng(1))
    assert np.array_equal(np.bincount(y[rows]), [50, 3, 7])


def test_shifted_samples_have_the_mix_they_claim():
    y = np.repeat(np.arange(3), 40)
    for rows, truth in shifted_samples(y, 4, 5, 200, np.random.default_rng(2)):
        assert len(rows) == 200 and truth[3] == 0
        assert np.allclose(np.bincount(y[rows], minlength=4) / 200, truth)


def test_measure_reports_raw_counting_beside_each_method(toy):
    fit_p, fit_y, test_p, _ = toy
    rng = np.random.default_rng(3)
    p2, y2 = biased([0.1, 0.2, 0.3, 0.4], 400, rng)
    proba, y = np.vstack([fit_p, p2]), np.concatenate([fit_y, y2])
    result = measure(proba, y, np.arange(len(y)) >= len(fit_y), ["PACC"], n_folds=2, app_samples=10,
                     n_bootstrap=20, coverage_method="PACC")
    raw, pacc = result["methods"]["raw"], result["methods"]["PACC"]
    assert pacc["natural_tv"] < raw["natural_tv"] and pacc["app_mae"] < raw["app_mae"]
    assert result["coverage"]["of"] == 8 and 0 <= result["coverage"]["held"] <= 8


def test_a_year_never_seen_is_corrected_from_the_other_years_rows_only():
    """Each year's shares, from the posteriors of a model that never saw it, corrected by a quantifier
    fitted on the other years' out-of-fold rows."""
    rng = np.random.default_rng(7)
    fit_p, fit_y = biased([0.25] * 4, 1200, rng)
    year_p, year_y = biased([0.1, 0.2, 0.3, 0.4], 600, rng)  # a later year: another mix
    proba = np.vstack([fit_p, year_p])
    y = np.concatenate([fit_y, year_y])
    period = np.array(["2018"] * 1200 + ["2023"] * 600)
    # Only 2023's rows were scored by a model without their year; 2018's have no such posteriors.
    period_proba = np.vstack([np.full_like(fit_p, np.nan), year_p])
    # The 2023 rows' out-of-fold posteriors say the opposite of the truth: fitting on them would show.
    proba[1200:] = np.roll(year_p, 1, axis=1)
    r = measure_periods(proba, period_proba, y, period, np.ones(len(y), bool), None, "PACC", n_bootstrap=30)
    assert list(r["by_period"]) == ["2023"]
    year = r["by_period"]["2023"]
    assert year["n"] == 600 and year["n_fit"] == 1200  # fitted on 2018's rows alone
    truth = np.bincount(year_y, minlength=4) / 600
    assert year["raw_tv"] == round(total_variation(raw_shares(year_p), truth), 4)
    assert year["adjusted_tv"] < year["raw_tv"] / 2 and year["held"] >= 3 and r["of"] == 4
    assert len(year["missed"]) == 4 - year["held"]
    assert measure_periods(proba, np.full_like(proba, np.nan), y, period, np.ones(len(y), bool), None,
                           "PACC") is None


def tiny_predictions(test_p, classes, digital):
    frame = pd.DataFrame({f"proba_{c}": test_p[:, i] for i, c in enumerate(classes)})
    frame["domain"] = np.asarray(classes)[test_p.argmax(1)]
    frame["digital"] = digital
    return frame


def test_adjusted_shares_table_has_the_published_columns_and_marks_small_groups(toy):
    fit_p, fit_y, test_p, _ = toy
    classes = np.array(["a", "b", "c", "d"])
    rng = np.random.default_rng(4)
    dig = rng.random(len(fit_y))
    oof = OutOfFold(classes, fit_p, classes[fit_y], np.full(len(fit_y), "real"), np.full(len(fit_y), ""),
                    np.where(dig < 0.3, "yes", "no"), np.clip(dig + rng.normal(0, 0.2, len(dig)), 0, 1))
    pred = tiny_predictions(test_p, classes, np.where(rng.random(len(test_p)) < 0.4, "yes", "no"))
    groups = {"annee": pd.Series(np.where(np.arange(len(pred)) < 750, "2023", "2019"))}
    r = adjusted_shares(pred, ["a", "b", "c", "d", "e"], oof, groups, n_bootstrap=30)
    assert list(r.domains.columns) == COLUMNS and list(r.domains["domain"]) == ["a", "b", "c", "d", "e"]
    assert r.domains["n"].sum() == len(pred) and r.domains.loc[4, "n"] == 0
    assert np.isnan(r.domains.loc[4, "share_adjusted"])  # a domain the model cannot predict
    assert (r.domains["share"].between(0, 1)).all() and r.adjusted and r.n_labeled == len(fit_y)
    g = r.groups.set_index(["group_by", "group", "domain"])
    assert not np.isnan(g.loc[("annee", "2023", "a"), "share_adjusted"])
    assert np.isnan(g.loc[("annee", "2019", "a"), "share_adjusted"])  # 50 rows: not computed
    assert 0 < r.digital["share_adjusted"] < 1 and r.digital["ci_low"] <= r.digital["share_adjusted"]
    # The methods paragraph says how the intervals fared on years the model never saw, when training measured it.
    from pipeline.quantify.section import methods_text
    unseen = {"by_period": {"2018": {}, "2023": {}}, "held": 25, "of": 26, "adjusted_tv": 0.031, "raw_tv": 0.035,
              "digital": {"by_period": {"2018": {"held": 2, "classes": 2}, "2023": {"held": 0, "classes": 2}}}}
    scores = {"source": "real", "n": 100, "accuracy": 0.9, "macro_f1": 0.8}
    assert "années que le modèle n'avait pas vues" not in methods_text(r, scores)
    text = methods_text(r, {**scores, "unseen_years": unseen})
    assert "2018, 2023" in text and "pour 25 des 26 couples" in text and "3,1 points après ajustement, 3,5 en" in text
    assert "intervalle tenant la vraie part 1 années sur 2" in text
    unadjusted = adjusted_shares(pred, ["a", "b"], None, {}, why_not="no real titles")
    assert not unadjusted.adjusted and unadjusted.domains["share_adjusted"].isna().all()


def test_oof_file_round_trips_without_pickle(tmp_path, toy):
    fit_p, fit_y, _, _ = toy
    record = {"classes": np.array(["a", "b", "c", "d"]), "proba": fit_p, "y": np.array(["a"] * len(fit_y)),
              "source": np.full(len(fit_y), "s"), "row_id": np.full(len(fit_y), ""),
              "digital": np.full(len(fit_y), ""), "digital_proba": np.full(len(fit_y), np.nan)}
    save_oof(tmp_path / OOF_FILE, record)
    back = load_oof(tmp_path / OOF_FILE)
    assert back.n == len(fit_y) and np.allclose(back.proba, fit_p) and back.sources() == {"s": len(fit_y)}
    assert back.digital_threshold == 0.5  # a file written before the flag's cut was kept
    save_oof(tmp_path / OOF_FILE, {**record, "digital_threshold": 0.6})
    assert load_oof(tmp_path / OOF_FILE).digital_threshold == 0.6
    assert load_oof(tmp_path / OOF_FILE).subset(np.arange(3)).digital_threshold == 0.6
    # A file written before the periods' posteriors were kept: none, and no row scored so.
    assert back.period is None and back.period_proba is None and not back.period_scored().any()
    assert np.isnan(back.period_said_yes()).all()

    period_proba = np.full_like(fit_p, np.nan)
    period_proba[:5] = fit_p[:5]
    flag = np.full(len(fit_y), np.nan)
    flag[:5] = [0.1, 0.5, 0.55, 0.6, 0.9]
    save_oof(tmp_path / OOF_FILE, {**record, "digital_threshold": 0.6, "period": np.full(len(fit_y), "2023"),
                                   "period_proba": period_proba, "period_digital_proba": flag})
    part = load_oof(tmp_path / OOF_FILE).subset(np.arange(3, 8))
    assert set(PERIOD_FIELDS) == {"period", "period_proba", "period_digital_proba"}
    assert part.period.tolist() == ["2023"] * 5 and part.period_scored().tolist() == [True, True, False, False, False]
    # The year-out flag is cut where predict cuts it; NaN where no model without the year scored the row.
    said = part.period_said_yes()
    assert said[:2].tolist() == [1.0, 1.0] and np.isnan(said[2:]).all()
    assert load_oof(tmp_path / OOF_FILE).period_said_yes()[:3].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_oof_file_is_one_clear_error(tmp_path, toy, damage):
    fit_p, fit_y, _, _ = toy
    n = len(fit_y)
    save_oof(tmp_path / OOF_FILE, {"classes": np.array(["a", "b", "c", "d"]), "proba": fit_p, "y": np.full(n, "a"),
                                   "source": np.full(n, "s"), "row_id": np.full(n, ""), "digital": np.full(n, ""),
                                   "digital_proba": np.full(n, np.nan)})
    data = bytearray((tmp_path / OOF_FILE).read_bytes())
    if damage == "flip":  # a byte inside the compressed probabilities: the zip's CRC no longer holds
        data[len(data) // 3] ^= 0xFF
    else:
        data = data[: len(data) // 2]
    (tmp_path / OOF_FILE).write_bytes(bytes(data))
    with pytest.raises(PipelineError, match=r"oof\.npz cannot be read .*make train"):
        load_oof(tmp_path / OOF_FILE)


def test_the_quantifier_reads_the_flag_as_predict_cuts_it():
    """The digital share's correction is fitted on the out-of-fold flag cut at the model's own threshold."""
    n = 4
    oof = OutOfFold(np.array(["a", "b"]), np.full((n, 2), 0.5), np.array(["a"] * n), np.full(n, "s"), np.full(n, ""),
                    np.array(["yes", "no", "yes", ""]), np.array([0.55, 0.65, np.nan, 0.9]), 0.6)
    assert oof.digital_known().tolist() == [True, True, False, False]
    assert oof.digital_said_yes().tolist() == [0.0, 1.0, 0.0, 1.0]
    assert OutOfFold(*(getattr(oof, f) for f in FIELDS)).digital_said_yes().tolist() == [1.0, 1.0, 0.0, 1.0]


def test_training_stores_the_out_of_fold_rows_and_the_report_publishes_domain_shares(trained, labels, tmp_path,
                                                                                     caplog):
    models = Path(trained["paths"]["models"])
    folder = models / (models / "LATEST").read_text().strip()
    oof = load_oof(folder / OOF_FILE)
    metrics = json.loads((folder / "metrics.json").read_text())
    # The fixture trains on the seed set alone: its CV rows are the seed rows.
    assert oof.n == metrics["domain"]["n"] == metrics["out_of_fold_rows"]["n"] == 20 * 13
    assert oof.proba.shape == (oof.n, len(oof.classes)) and np.allclose(oof.proba.sum(1), 1, atol=1e-6)
    assert set(oof.y) == set(labels.codes) and set(oof.source) == {"seed:seed"}
    known = np.isin(oof.digital, ["yes", "no"])
    assert known.any() and np.isfinite(oof.digital_proba[known]).all()

    raw = pd.read_csv(PROJECT_DIR / "data" / "raw" / "submissions-sample.csv", sep=";", dtype=str,
                      keep_default_na=False, encoding="utf-8-sig")
    raw.drop(columns=["beneficiaire_code_insee"]).to_csv(tmp_path / "in.csv", index=False)
    pred = tmp_path / "pred.csv"
    cfg = trained["config_file"]
    assert main(["--config", cfg, "-q", "predict", "--input", str(tmp_path / "in.csv"), "--output", str(pred),
                 "--threshold", "0.33"]) == 0
    assert main(["--config", cfg, "-q", "report", "--predictions", str(pred), "--name", "q"]) == 0
    report = Path(trained["paths"]["reports"]) / "q"
    shares = pd.read_csv(report / "tables" / "domain_shares.csv")
    assert list(shares.columns) == COLUMNS and list(shares["domain"]) == list(labels.codes)
    assert shares["n"].sum() == (pd.read_csv(pred, dtype=str, keep_default_na=False)["domain"] != "").sum()
    # Seed rows only: nothing is adjusted, and the first screen says so.
    assert shares["share_adjusted"].isna().all() and shares["share"].sum() == pytest.approx(1.0)
    summary = json.loads((report / "resume.json").read_text())
    assert summary["domain_shares"]["adjusted"] is False and len(summary["domain_shares"]["domains"]) == 13
    page = (report / "rapport.md").read_text()
    # On the first screen: in the synthesis, before the domains section.
    assert page.index("parts par domaine non ajustées") < page.index("Chaque initiative reçoit un domaine")
    # in the page's French, no command-line word; the log, which the analyst reads, says how to adjust them
    assert "--extra" not in page and "clone" not in page and "jeu d'amorçage du projet" in page
    assert "domain shares not adjusted" in caplog.text and "EXTRA=../shared/data" in caplog.text
    assert "confiance sous 0,33" in page  # the threshold predict applied, not the model's

    # Rows counted as real titles (as dgcl-random's are): the shares are adjusted, with intervals.
    from pipeline.commands.report import ReportSettings, run_report
    from pipeline.config import load_config
    config = load_config(cfg)
    config["train"]["select_on"] = ["seed:seed"]
    run_report(config, [str(pred)], ReportSettings(name="q2"))
    shares = pd.read_csv(Path(trained["paths"]["reports"]) / "q2" / "tables" / "domain_shares.csv")
    assert shares["share_adjusted"].notna().all() and shares["share_adjusted"].sum() == pytest.approx(1.0)
    assert (shares["ci_low"] <= shares["share_adjusted"]).all() and (shares["share_adjusted"] <= shares["ci_high"]).all()
    page = (Path(trained["paths"]["reports"]) / "q2" / "rapport.md").read_text()
    assert "Parts ajustées par la moyenne de deux corrections" in page and "260 titres étiquetés" in page
    # The synthesis (first screen) gives the leading adjusted shares with their interval.
    assert page.index("Corrigées des erreurs connues du modèle") < page.index("Chaque initiative reçoit un domaine")


def test_evaluate_quantifier_measures_the_default_method_on_the_run_folds(trained):
    from pipeline.commands.quantify import run_evaluate_quantifier

    out = run_evaluate_quantifier(trained, methods=("PACC", "PACC+EMQ"), app_samples=10, n_bootstrap=10, seed=3)
    result = json.loads((out / "quantifier.json").read_text())
    assert result["seed"] == 3 and set(result["domains"]["methods"]) == {"raw", "PACC", "PACC+EMQ"}
    assert result["domains"]["coverage"]["method"] == "PACC+EMQ"
    assert result["domains"]["coverage"]["of"] == 2 * 13
    assert "fold seed 3" in (out / "SUMMARY.md").read_text()
    assert "period_out" not in result  # the seed set has no years: no year to replay


def test_labeled_predictions_are_scored_against_the_hand_label_predict_kept(trained, tmp_path, capsys):
    """predict keeps a hand label `domain` as input_domain: the default --label-col domain scored the
    predictions against themselves (total variation 0) and said nothing."""
    from pipeline.commands.quantify import run_evaluate_quantifier

    texts = ["Réfection de la toiture de l'église", "Achat de livres pour la médiathèque",
             "Installation de caméras de vidéoprotection", "Création d'un city-stade"] * 25
    pd.DataFrame({"text": texts, "domain": "culture"}).to_csv(tmp_path / "hand.csv", index=False)
    pred = tmp_path / "pred.csv"
    assert main(["--config", trained["config_file"], "-q", "predict", "--input", str(tmp_path / "hand.csv"),
                 "--output", str(pred)]) == 0
    out = run_evaluate_quantifier(trained, methods=("PACC",), app_samples=5, n_bootstrap=10,
                                  labeled_predictions=str(pred))
    scored = json.loads((out / "quantifier.json").read_text())["labeled_predictions"]
    predicted = pd.read_csv(pred)["domain"].value_counts(normalize=True)
    assert scored["raw_tv"] == pytest.approx(1 - predicted.get("culture", 0), abs=1e-4) and scored["raw_tv"] > 0
    # Without a hand label, `domain` is the prediction: refused, naming the way out.
    pd.read_csv(pred).drop(columns="input_domain").to_csv(tmp_path / "bare.csv", index=False)
    assert main(["--config", trained["config_file"], "-q", "evaluate-quantifier",
                 "--labeled-predictions", str(tmp_path / "bare.csv")]) == 2
    assert "'domain' holds the predictions" in capsys.readouterr().err


def test_label_col_without_labeled_predictions_is_refused(trained, capsys, monkeypatch):
    """--label-col names a column of --labeled-predictions: alone, the minutes of measurement ran without it."""
    def measures(*args, **kwargs):
        raise AssertionError("the measurement started")

    monkeypatch.setattr("pipeline.commands.quantify.run_evaluate_quantifier", measures)
    assert main(["--config", trained["config_file"], "-q", "evaluate-quantifier", "--label-col", "vrai"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: evaluate-quantifier --label-col: for a labeled predictions "
                                               "file only: add --labeled-predictions FILE, or drop it"), err


def _labeled_predictions(labels, path, n=130):
    """A predictions file of `n` rows whose every predicted domain is right, its true domains in
    column true_domain: every other one spelt as its French label in capitals, the first one none."""
    codes = list(labels.codes)
    domain = [codes[i % len(codes)] for i in range(n)]
    proba = np.full((n, len(codes)), 0.02)
    proba[np.arange(n), np.arange(n) % len(codes)] = 0.76
    frame = pd.DataFrame({"intitule": [f"projet {i}" for i in range(n)], "domain": domain, "confidence": 0.76,
                          **{f"proba_{c}": proba[:, j] for j, c in enumerate(codes)}})
    frame["true_domain"] = [labels.label(d).upper() if i % 2 else d for i, d in enumerate(domain)]
    frame.loc[0, "true_domain"] = "none"
    frame.to_csv(path, index=False)
    return frame


def test_labeled_predictions_read_their_true_domains_in_any_spelling(trained, labels, tmp_path):
    """A true domain spelt by its French label or in capitals was dropped unsaid: scored on half the rows,
    or on none (TV 0.0, nothing adjusted, exit 0); an unknown one now stops naming its row."""
    from pipeline.commands.quantify import labeled_check
    from pipeline.errors import PipelineError

    models = Path(trained["paths"]["models"])
    oof = load_oof(models / (models / "LATEST").read_text().strip() / OOF_FILE)
    frame = _labeled_predictions(labels, tmp_path / "p.csv")
    result = labeled_check(trained, oof, str(tmp_path / "p.csv"), "true_domain", 10)
    assert result["n"] == len(frame) - 1 and result["raw_tv"] == 0.0
    frame.assign(true_domain=frame["true_domain"].mask(frame.index == 5, "ecole")).to_csv(tmp_path / "p.csv",
                                                                                       index=False)
    with pytest.raises(PipelineError, match=r"p\.csv, row 7: label 'ecole' in column 'true_domain' is not a domain"):
        labeled_check(trained, oof, str(tmp_path / "p.csv"), "true_domain", 10)


def test_labeled_predictions_are_checked_with_the_correction_a_report_publishes(trained, labels, tmp_path):
    """The check fitted the correction on every out-of-fold row, the report on the headline source and
    the other sources' non-digital rows: it measured a correction nobody publishes."""
    from pipeline.commands.quantify import labeled_check
    from pipeline.quantify.shares import domain_fit_rows

    models = Path(trained["paths"]["models"])
    oof = load_oof(models / (models / "LATEST").read_text().strip() / OOF_FILE)
    # Half the rows from a headline source of real titles, a third of the others digital.
    half = np.arange(oof.n) % 2 == 0
    oof = dataclasses.replace(oof, source=np.where(half, "random", "seed"),
                              digital=np.where(~half & (np.arange(oof.n) % 3 == 0), "yes", "no"))
    _labeled_predictions(labels, tmp_path / "p.csv")
    headline = "random"
    result = labeled_check(trained, oof, str(tmp_path / "p.csv"), "true_domain", 10, headline)
    fit = domain_fit_rows(oof, headline)
    assert result["fitted_on"] == oof.subset(fit).sources() and 0 < fit.sum() < oof.n


def test_labeled_predictions_too_few_to_adjust_are_refused_before_the_measurement(trained, labels, tmp_path):
    """Under 100 rows nothing is adjusted: the check wrote adjusted TV NaN and "intervals held 0/13", exit 0."""
    from pipeline.commands.quantify import run_evaluate_quantifier
    from pipeline.errors import PipelineError

    _labeled_predictions(labels, tmp_path / "p.csv", n=40)
    with pytest.raises(PipelineError, match=r"p\.csv: 39 rows with a true domain and a predicted one; the "
                                            r"correction and its intervals need at least 100"):
        run_evaluate_quantifier(trained, methods=("PACC",), app_samples=2, n_bootstrap=2,
                                labeled_predictions=str(tmp_path / "p.csv"), label_col="true_domain")


def test_using_quapy_leaves_matplotlib_settings_as_they_were():
    """Importing QuaPy set matplotlib's font size to 18 for the whole process: the digital flag's correction
    (QuaPy's ACC) ran before the charts were drawn, and every axis label and tick of the report was at 18 pt."""
    import subprocess
    import sys

    code = ("import matplotlib\n"
            "before = dict(matplotlib.rcParams)\n"
            "from pipeline.quantify.fit import ShareQuantifier, binary_proba\n"
            "import numpy as np\n"
            "ShareQuantifier('ACC').fit(binary_proba(np.array([0.1, 0.9, 0.8, 0.2])), np.array([0, 1, 1, 0]))\n"
            "changed = {k: (before[k], v) for k, v in matplotlib.rcParams.items() if before[k] != v}\n"
            "assert not changed, changed\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-800:]


def test_groups_come_in_the_size_bands_order_and_a_missing_band_is_no_group():
    """Size bands sorted as text put "1 000 à 1 999" before "moins de 500" in the published table."""
    from pipeline.quantify.shares import group_samples

    bands = ["moins de 500", "500 à 999", "1 000 à 1 999"]
    labels = pd.Series(pd.Categorical(["1 000 à 1 999", None, "moins de 500", "1 000 à 1 999", "moins de 500"],
                                      categories=bands, ordered=True), index=[10, 11, 12, 13, 14])
    sample = np.arange(5)
    got = group_samples(labels, np.ones(5, dtype=bool), sample, "taille")
    assert list(got) == ["taille\x1fmoins de 500", "taille\x1f1 000 à 1 999"]  # no "nan" group, no empty band
    assert got["taille\x1f1 000 à 1 999"].tolist() == [0, 3]
    # `sample` holds the masked rows only, as the report's posteriors do.
    years = group_samples(pd.Series(["2024", "", "2023", "2024", "2023"]), np.array([1, 1, 1, 0, 1], bool),
                          np.arange(4), "annee")
    assert list(years) == ["annee\x1f2023", "annee\x1f2024"] and years["annee\x1f2024"].tolist() == [0]
