"""A year the model never saw: each period scored by a model trained without it."""
import numpy as np
import pandas as pd
import pytest

from pipeline.modeling.cv import digital_yes, duplicate_groups, fit_digital, fit_domain
from pipeline.modeling.estimators import RECIPES, digital_labels
from pipeline.modeling.metrics import digital_f1_yes
from pipeline.modeling.periods import period_out_scores
from pipeline.modeling.settings import TrainSettings


@pytest.fixture()
def periods_frame(seed):
    """Seed rows as two 'real' sources over two years, plus seed rows without a year; one 2019
    row is a copy (case, accents aside) of a 2018 title."""
    rows = seed.groupby("domain").head(12).reset_index(drop=True)
    n = len(rows)
    source = np.where(np.arange(n) % 3 == 0, "real-a", np.where(np.arange(n) % 3 == 1, "real-b", "seed:x"))
    period = np.where(source == "seed:x", "", np.where(np.arange(n) % 2 == 0, "2018", "2019"))
    frame = pd.DataFrame({"text": rows["text"], "domain": rows["domain"], "digital": rows["digital"],
                          "source": source, "weight": 1.0, "text_kind": "submission", "period": period})
    first_2018 = int(np.flatnonzero(period == "2018")[0])
    copy = frame.iloc[[first_2018]].assign(text=frame["text"][first_2018].upper(), period="2019")
    return pd.concat([frame, copy], ignore_index=True)


def test_each_period_is_scored_by_a_model_without_its_rows_nor_copies_of_its_titles(periods_frame, labels):
    frame = periods_frame
    lemmas = frame["text"].str.lower().tolist()
    groups = duplicate_groups(frame["text"])
    evaluated = frame["source"].isin(["real-a", "real-b"]).to_numpy()
    settings = TrainSettings(n_jobs=1)
    recipe = RECIPES["svm_balanced"]
    order = [c for c in labels.codes if c in set(frame["domain"])]
    classes = np.unique(frame["domain"])
    out, proba, flag_proba = period_out_scores(frame, lemmas, groups, evaluated, [], recipe, settings, order,
                                               classes=classes)

    assert list(out["by_period"]) == ["2018", "2019"]
    # The evaluated rows of a period carry their posteriors; the seed rows (no period) none.
    scored = ~np.isnan(proba).any(axis=1)
    assert proba.shape == (len(frame), len(classes)) and (scored == evaluated).all()
    assert np.allclose(proba[scored].sum(1), 1, atol=1e-6)
    assert (~np.isnan(flag_proba) == evaluated).all()
    period, y = frame["period"].to_numpy(), frame["domain"].to_numpy()
    for p, result in out["by_period"].items():
        test = np.flatnonzero(evaluated & (period == p))
        train = np.flatnonzero((period != p) & ~np.isin(groups, groups[test]))
        assert result["n"] == len(test) and result["n_train"] == len(train)
        # Its scores are those of the recipe fitted on exactly those rows.
        model, _ = fit_domain([lemmas[i] for i in train], y[train], np.ones(len(train)), [], recipe, 42)
        expected = model.predict_proba([lemmas[i] for i in test])
        assert np.allclose(proba[np.ix_(test, np.searchsorted(classes, model.classes_))], expected)
        # A row's domain is its likeliest class, as predict says.
        assert result["accuracy"] == round(float((model.classes_[expected.argmax(1)] == y[test]).mean()), 4)
        assert sum(v["n"] for v in result["by_source"].values()) == len(test)
        # The flag likewise: fitted on that period's training rows labeled yes/no, scored on its rows.
        digital = frame["digital"].to_numpy()
        flag_rows = train[np.isin(digital[train], ["yes", "no"])]
        flag_model, _ = fit_digital([lemmas[i] for i in flag_rows], digital[flag_rows], [], settings.digital)
        p_yes = digital_yes(flag_model, [lemmas[i] for i in test])
        assert np.allclose(flag_proba[test], p_yes)
        flag = digital_labels(p_yes, settings.digital.threshold)
        for source, scored in result["by_source"].items():
            mine = frame["source"].to_numpy()[test] == source
            assert scored["digital_f1_yes"] == digital_f1_yes(digital[test][mine], flag[mine])
    # The copy of a 2018 title (itself in 2019) never trains the 2018 model: both sides are out.
    assert out["by_period"]["2018"]["n_train"] < int((period != "2018").sum())
    assert sum(v["n"] for v in out["pooled"].values()) == int(evaluated.sum())
    # Rows of the two periods in the pooled scores, the seed rows in none.
    assert set(out["pooled"]) == {"real-a", "real-b"}


def test_no_period_figure_without_two_periods(periods_frame, labels):
    frame = periods_frame
    args = (frame["text"].tolist(), duplicate_groups(frame["text"]), np.ones(len(frame), bool), [],
            RECIPES["svm_balanced"], TrainSettings(n_jobs=1), list(labels.codes))
    assert period_out_scores(frame.drop(columns="period"), *args) == (None, None, None)  # a seed set: no period column
    assert period_out_scores(frame.assign(period="2018"), *args) == (None, None, None)
    assert period_out_scores(frame.assign(period=""), *args) == (None, None, None)


def test_training_reports_the_periods_and_the_card_says_so(periods_frame, labels):
    from pipeline.modeling.card import period_line
    from pipeline.modeling.train import OOF_KEY, train

    settings = TrainSettings(cv_folds=3, recipes=("svm_balanced",), select_on=("real-a", "real-b"), n_jobs=1)
    _, metrics = train(periods_frame.assign(row_id=""), labels, settings)
    out = metrics["period_out"]
    assert list(out["by_period"]) == ["2018", "2019"]
    line = period_line(out, metrics["headline_source"])
    assert line.startswith("A year it never saw: each year's rows of real-a")
    assert f"2018 {out['by_period']['2018']['by_source']['real-a']['accuracy']:.3f}" in line
    assert f"all years **{out['pooled']['real-a']['accuracy']:.3f}**" in line
    assert f"F1 of `yes` {out['pooled']['real-a']['digital_f1_yes']:.3f} over all years" in line
    # The quantifier's input keeps each out-of-fold row's year and its posteriors by the model without it.
    record = metrics[OOF_KEY]
    assert sorted(set(record["period"])) == ["2018", "2019"] and len(record["period"]) == len(record["y"])
    assert record["period_proba"].shape == record["proba"].shape and np.isfinite(record["period_proba"]).all()
    assert np.isfinite(record["period_digital_proba"]).all()
    # The share correction replayed on each year, as `train` records it, and the card's line.
    from pipeline.modeling.card import shares_period_line
    from pipeline.quantify.evaluate import unseen_year_check
    from pipeline.quantify.store import OutOfFold

    check = unseen_year_check(OutOfFold.from_arrays(record), metrics["headline_source"], n_bootstrap=10)
    n_real_a = int((record["source"] == "real-a").sum())
    assert list(check["by_period"]) == ["2018", "2019"] and sum(v["n"] for v in check["by_period"].values()) == n_real_a
    assert check["of"] == 2 * len(record["classes"]) and 0 <= check["held"] <= check["of"]
    # The digital share likewise, on the rows labeled yes/no: two shares (yes, no) per year.
    assert list(check["digital"]["by_period"]) == ["2018", "2019"] and check["digital"]["method"] == "ACC"
    assert check["digital"]["of"] == 4
    line = shares_period_line(check, "real-a")
    assert f"**{check['held']} of {check['of']}**" in line and "2018 " in line and "The digital share" in line
    assert shares_period_line(None, "x") == ""


def test_training_scores_the_rows_the_annotator_was_sure_of_apart(periods_frame, labels):
    from pipeline.modeling.card import certainty_line
    from pipeline.modeling.train import OOF_KEY, train

    # real-a says whether its annotator was sure (every other row not); real-b and the seed rows do not say.
    real_a = (periods_frame["source"] == "real-a").to_numpy()
    sure = np.where(real_a, np.where(np.arange(len(periods_frame)) % 2 == 0, "yes", "no"), "")
    frame = periods_frame.assign(row_id="", sure=sure)
    settings = TrainSettings(cv_folds=3, recipes=("svm_balanced",), select_on=("real-a", "real-b"), n_jobs=1)
    _, metrics = train(frame, labels, settings)

    parts = metrics["domain"]["by_certainty"]
    assert list(parts) == ["real-a"]
    # The same out-of-fold predictions as the headline, split by the answer.
    record = metrics[OOF_KEY]
    scored = frame[frame["source"].isin(["real-a", "real-b"])]
    correct = record["classes"][record["proba"].argmax(1)] == record["y"]
    for key, answer in (("sure", "yes"), ("unsure", "no")):
        rows = (scored["sure"] == answer).to_numpy()
        assert parts["real-a"][key]["n"] == rows.sum()
        assert parts["real-a"][key]["accuracy"] == round(float(correct[rows].mean()), 4)
    line = certainty_line(parts)
    assert f"real-a, sure {parts['real-a']['sure']['accuracy']:.3f} ({parts['real-a']['sure']['n']} rows)" in line
    assert f"not sure {parts['real-a']['unsure']['accuracy']:.3f}" in line
    assert certainty_line({}) == "" and certainty_line(None) == ""


def test_a_domain_held_mostly_by_one_period_leaves_that_periods_model_without_it(periods_frame, labels, caplog):
    """Two rows of a domain outside the period scored stopped training with a scikit-learn traceback
    (the calibration's 3 folds); that period's model now leaves the domain out, as one it never saw."""
    frame = periods_frame.copy()
    rare = frame.index[frame["domain"] == "securite"]
    frame.loc[rare, "period"] = "2018"
    frame.loc[rare[:2], "period"] = "2019"  # the 2018 model has two rows of it to learn from
    out, proba, _ = period_out_scores(frame, frame["text"].str.lower().tolist(), duplicate_groups(frame["text"]),
                                      (frame["period"] != "").to_numpy(), [], RECIPES["svm_balanced"],
                                      TrainSettings(n_jobs=1), [c for c in labels.codes if c in set(frame["domain"])],
                                      classes=np.unique(frame["domain"]))
    assert list(out["by_period"]) == ["2018", "2019"]
    assert "period 2018: the model trained without it leaves out securite" in caplog.text
