"""`python -m pipeline evaluate-quantifier`: how well the shares are corrected, into
reports/evaluation-quantifier/ (quantifier.json, SUMMARY.md).

On the run's oof.npz: held-out folds of the headline source's rows (the random
sample of real titles), raw counting against each method, natural and shifted
class mixes, and the 95 % intervals' coverage; and, when training scored each year by
a model that never saw it, each year's shares corrected as a new year's list would
be. With --labeled-predictions: a
predictions file whose rows also carry their true domain (e.g. predict run on
../shared/data/dgcl/annotated-random.csv by a model that never saw it), its
shares raw and adjusted against the true shares.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from pipeline.domains import NONE_LABEL, load_label_set
from pipeline.errors import PipelineError
from pipeline.io.columns import no_column
from pipeline.io.files import read_metrics, verified_metadata, write_json
from pipeline.io.predictions import PREDICTED, read_predictions_file
from pipeline.io.sources import domain_codes
from pipeline.io.tables import atomic_folder, check_writable
from pipeline.modeling.run_folder import resolve_run
from pipeline.quantify.evaluate import mean_absolute_error, measure, total_variation, unseen_year_check
from pipeline.quantify.fit import DEFAULT_METHOD, METHODS, binary_proba
from pipeline.quantify.intervals import MIN_GROUP
from pipeline.quantify.shares import adjusted_shares, domain_fit_rows
from pipeline.quantify.store import OOF_FILE, load_oof
from pipeline.report.prepare import prepare_predictions

log = logging.getLogger(__name__)


def run_evaluate_quantifier(config: dict, run: str | None = None, methods=METHODS, n_folds: int = 2,
                            app_samples: int = 100, app_size: int = 200, n_bootstrap: int = 100,
                            labeled_predictions: str | None = None, label_col: str = "domain", seed: int = 0) -> Path:
    folder = resolve_run(config["paths"]["models"], run)
    verified_metadata(folder)  # oof.npz and metrics.json as training wrote them
    if not (folder / OOF_FILE).is_file():
        raise PipelineError(f"{folder / OOF_FILE} not found: the model predates oof.npz, run `make train` again")
    out = Path(config["paths"]["reports"]) / "evaluation-quantifier"
    check_writable(out)  # now, not after the minutes of measurement
    oof = load_oof(folder / OOF_FILE)
    metrics = read_metrics(folder)
    headline = metrics.get("headline_source") or "all rows"
    test_mask = oof.source == headline if headline in set(oof.source) else np.ones(oof.n, bool)
    y = np.searchsorted(oof.classes, oof.y)
    log.info("quantifier: %d out-of-fold rows, held-out folds of the %d rows of %s", oof.n, test_mask.sum(), headline)
    # First: a file it cannot score stops the run before the minutes of measurement.
    labeled = (labeled_check(config, oof, labeled_predictions, label_col, n_bootstrap, headline)
               if labeled_predictions else None)
    fit_rows = domain_fit_rows(oof, headline)
    result = {"run": folder.name, "seed": seed, "oof_sources": oof.sources(), "test_source": headline,
              "fit_rows": oof.subset(fit_rows).sources(),
              "domains": measure(oof.proba, y, test_mask, list(methods), n_folds, app_samples, app_size,
                                 n_bootstrap, coverage_method=DEFAULT_METHOD, seed=seed, fit_mask=fit_rows)}
    if not test_mask.all():  # the correction fitted on the headline source alone, and on every row
        result["fit_variants"] = {
            name: measure(oof.proba, y, test_mask, ["PACC", "EMQ", "KDEy", DEFAULT_METHOD], n_folds, app_samples,
                          app_size, n_bootstrap, seed=seed, fit_mask=mask)
            for name, mask in ((f"{headline} alone", test_mask), ("every out-of-fold row", None))}
    if year_check := unseen_year_check(oof, headline, n_bootstrap, seed):
        result["period_out"] = year_check
    known = oof.digital_known()
    if len(set(oof.digital[known])) == 2:
        crisp = binary_proba(oof.digital_said_yes()[known])
        result["digital"] = measure(crisp, (oof.digital[known] == "yes").astype(int), test_mask[known],
                                    ["ACC"], n_folds, app_samples, app_size, n_bootstrap, coverage_method="ACC",
                                    seed=seed)
    if labeled:
        result["labeled_predictions"] = labeled
    with atomic_folder(out) as tmp:
        write_json(tmp / "quantifier.json", result)
        (tmp / "SUMMARY.md").write_text(summary_markdown(result, oof.classes), encoding="utf-8")
    log.info("quantifier evaluation written to %s", out)
    return out


def labeled_check(config: dict, oof, path: str, label_col: str, n_bootstrap: int, headline: str | None = None) -> dict:
    """Raw and adjusted shares of a predictions file against its rows' true domains; the correction is
    fitted on the out-of-fold rows a report fits it on (`domain_fit_rows` of the run's `headline` source;
    every row, the seed set's, for a model trained on it alone)."""
    labels = load_label_set(config["paths"]["labels"])
    frame = prepare_predictions(read_predictions_file(path), labels, path)
    label_col = truth_column(frame, label_col, path)
    # Read as a labeled file's: a true domain spelt by its French label or in capitals was dropped unsaid.
    truth = domain_codes(frame, label_col, labels, path)
    frame = frame.assign(**{label_col: truth})[(truth != NONE_LABEL).to_numpy() & (frame["domain"] != "").to_numpy()]
    if len(frame) < MIN_GROUP:  # as in a report: the shares would not be adjusted, the scores NaN and "0/13 held"
        raise PipelineError(f"{path}: {len(frame)} rows with a true domain and a predicted one; the correction "
                            f"and its intervals need at least {MIN_GROUP}")
    truth = frame[label_col].value_counts(normalize=True).reindex(labels.codes, fill_value=0).to_numpy()
    r = adjusted_shares(frame, list(labels.codes), oof, {}, n_bootstrap=n_bootstrap, headline=headline)
    d = r.domains.set_index("domain").reindex(labels.codes)
    adjusted = d["share_adjusted"].to_numpy()
    held = (d["ci_low"].to_numpy() <= truth) & (truth <= d["ci_high"].to_numpy())
    return {"file": path, "n": int(len(frame)), "fitted_on": r.labeled_sources,
            "raw_tv": round(total_variation(d["share"], truth), 4),
            "adjusted_tv": round(total_variation(adjusted, truth), 4),
            "raw_mae": round(mean_absolute_error(d["share"], truth), 4),
            "adjusted_mae": round(mean_absolute_error(adjusted, truth), 4),
            "intervals_held": int(held.sum()), "of": len(labels.codes),
            "mean_width": round(float((d["ci_high"] - d["ci_low"]).mean()), 4)}


def truth_column(frame, label_col: str, path: str) -> str:
    """The column of true domains: predict keeps an input's own `domain` as input_domain, so that
    `domain` is always the prediction; scored against itself, the shares would match exactly."""
    if label_col not in PREDICTED:
        if label_col not in frame:
            raise no_column(path, label_col, frame.columns, "of true domains (--label-col)")
        return label_col
    kept = f"input_{label_col}"
    if kept not in frame:
        raise PipelineError(f"{path}: {label_col!r} holds the predictions, and there is no {kept!r} (the input's own "
                            f"{label_col!r}, as predict keeps it): name the column of true domains with --label-col")
    return kept


def summary_markdown(result: dict, classes) -> str:
    d = result["domains"]
    lines = [f"# Quantifier evaluation — run {result['run']}, fold seed {result.get('seed', 0)}", "",
             f"Out-of-fold rows: {result['oof_sources']}. Held-out folds ({d['n_folds']}) of the "
             f"{d['n_test_rows']} rows of {result['test_source']}; each fold's quantifier fitted on the other rows of "
             f"{result['fit_rows']} (the headline source, and the other sources' rows not flagged digital). "
             f"Shifted mixes: {d['app_samples']} samples of {d['app_size']} rows, mixes uniform on the simplex "
             f"(artificial-prevalence protocol, UPP form).", "",
             "| method | natural TV | natural MAE | shifted MAE |", "|---|---|---|---|"]
    for m, v in d["methods"].items():
        lines.append(f"| {'raw counting' if m == 'raw' else m} | {v['natural_tv']:.4f} | {v['natural_mae']:.4f} | "
                     f"{v['app_mae']:.4f} |")
    for variant, r in result.get("fit_variants", {}).items():
        lines += ["", f"The same, fitted on {variant} (held-out fold excluded):", "",
                  "| method | natural TV | natural MAE | shifted MAE |", "|---|---|---|---|"]
        for m, v in r["methods"].items():
            lines.append(f"| {'raw counting' if m == 'raw' else m} | {v['natural_tv']:.4f} | {v['natural_mae']:.4f} | "
                         f"{v['app_mae']:.4f} |")
    c = d.get("coverage")
    if c:
        lines += ["", f"95 % intervals of {c['method']} (bootstrap of the labeled rows and of the sample, "
                  f"{c['n_bootstrap']} replicates), natural folds: hold the true share for {c['held']} of "
                  f"{c['of']} (domain, fold) pairs; mean width {c['mean_width']:.4f}."]
        for f in c["folds"]:
            lines.append(f"- fold of {f['n']} rows: {f['held']}/{f['classes']} held, mean width "
                         f"{f['mean_width']:.4f}; missed: {', '.join(str(classes[i]) for i in f['missed']) or 'none'}")
    if result.get("period_out"):
        unseen = result["period_out"]
        lines += ["", f"A year the classifier never saw: each year's rows of {result['test_source']} labeled by the "
                  f"model trained without that year, corrected by {unseen['method']} fitted on the other years' "
                  f"out-of-fold rows. TV raw {unseen['raw_tv']:.4f}, adjusted {unseen['adjusted_tv']:.4f} (mean over the "
                  f"years); 95 % intervals ({unseen['n_bootstrap']} replicates) hold {unseen['held']} of {unseen['of']} "
                  f"(domain, year) pairs."]
        for p, v in unseen["by_period"].items():
            lines.append(f"- {p}, {v['n']} rows (fitted on {v['n_fit']}): TV raw {v['raw_tv']:.4f}, adjusted "
                         f"{v['adjusted_tv']:.4f}; {v['held']}/{v['classes']} held, mean width {v['mean_width']:.4f};"
                         f" missed: {', '.join(str(classes[i]) for i in v['missed']) or 'none'}")
        if unseen.get("digital"):
            g = unseen["digital"]
            lines.append(f"- the digital share ({g['method']} on the flag), per year: " + "; ".join(
                f"{p} TV raw {v['raw_tv']:.4f}, adjusted {v['adjusted_tv']:.4f}, interval "
                f"{'held' if v['held'] == v['classes'] else 'missed'}" for p, v in g["by_period"].items()))
    if "digital" in result:
        g = result["digital"]["methods"]
        cov = result["digital"]["coverage"]
        lines += ["", f"Digital flag (ACC on the yes/no flag): natural TV raw {g['raw']['natural_tv']:.4f}, "
                  f"ACC {g['ACC']['natural_tv']:.4f}; shifted MAE raw {g['raw']['app_mae']:.4f}, ACC "
                  f"{g['ACC']['app_mae']:.4f}; intervals held {cov['held']}/{cov['of']}, mean width "
                  f"{cov['mean_width']:.4f}."]
    if "labeled_predictions" in result:
        p = result["labeled_predictions"]
        lines += ["", f"Predictions with true labels ({p['file']}, {p['n']} rows; correction fitted on "
                  f"{p['fitted_on']}): TV raw {p['raw_tv']:.4f}, adjusted {p['adjusted_tv']:.4f}; MAE raw "
                  f"{p['raw_mae']:.4f}, adjusted {p['adjusted_mae']:.4f}; intervals held {p['intervals_held']}/"
                  f"{p['of']}, mean width {p['mean_width']:.4f}."]
    return "\n".join(lines) + "\n"
