"""How well the shares are corrected, measured on labeled out-of-fold rows: no I/O.

The rows of one source (the random sample of real titles) are split in
folds; each fold's quantifier is fitted on every other out-of-fold row and
judged on the held-out fold as drawn (natural shares) and resampled to
other class mixes: the artificial-prevalence protocol in its uniform form
(QuaPy's UPP, the form meant for many classes: the mix drawn uniformly on
the simplex of the classes the fold holds, then `size` rows drawn with
replacement within each class).
"""
from __future__ import annotations

import numpy as np

from pipeline.quantify.fit import DEFAULT_METHOD, ShareQuantifier, binary_proba, raw_shares
from pipeline.quantify.intervals import bootstrap_shares
from pipeline.quantify.shares import DIGITAL_METHOD, domain_fit_rows
from pipeline.quantify.store import OutOfFold


def total_variation(estimate, truth) -> float:
    return float(0.5 * np.abs(np.asarray(estimate) - np.asarray(truth)).sum())


def mean_absolute_error(estimate, truth) -> float:
    return float(np.abs(np.asarray(estimate) - np.asarray(truth)).mean())


def folds_of(n: int, n_folds: int, rng: np.random.Generator) -> list[np.ndarray]:
    return np.array_split(rng.permutation(n), n_folds)


def shifted_samples(y: np.ndarray, k: int, n_samples: int, size: int, rng: np.random.Generator):
    """(row indices, true shares) of `n_samples` samples of `size` rows of `y` at mixes drawn
    uniformly on the simplex of the classes present."""
    present = np.unique(y)
    by_class = {c: np.flatnonzero(y == c) for c in present}
    for _ in range(n_samples):
        counts = rng.multinomial(size, rng.dirichlet(np.ones(len(present))))
        rows = np.concatenate([rng.choice(by_class[c], size=m, replace=True) for c, m in zip(present, counts)])
        truth = np.zeros(k)
        truth[present] = counts / size
        yield rows, truth


def measure(proba, y, test_mask, methods, n_folds: int = 2, app_samples: int = 100, app_size: int = 200,
            n_bootstrap: int = 100, coverage_method: str | None = None, seed: int = 0, fit_mask=None) -> dict:
    """Errors of raw counting and of each method on held-out folds of the `test_mask` rows.

    proba: out-of-fold posteriors (n × k); y: true classes as indices 0..k-1.
    Returns, per method: mean total variation and mean absolute error of the
    shares on the natural folds, and mean absolute error under the
    artificial-prevalence protocol; for `coverage_method`, the 95 % intervals'
    coverage (class by class, on the natural folds) and mean width. `fit_mask`: the rows
    the quantifiers may be fitted on (default all; the held-out fold is always left out).
    """
    proba, y = np.asarray(proba, dtype=float), np.asarray(y, dtype=int)
    k = proba.shape[1]
    rng = np.random.default_rng(seed)
    tested = np.flatnonzero(test_mask)
    per_fold = max(app_samples // n_folds, 1)
    natural = {m: {"tv": [], "mae": []} for m in ("raw", *methods)}
    shifted = {m: [] for m in ("raw", *methods)}
    coverage = []
    for fold in folds_of(len(tested), n_folds, rng):
        test = tested[fold]
        fit = np.setdiff1d(np.arange(len(y)) if fit_mask is None else np.flatnonzero(fit_mask), test)
        truth = np.bincount(y[test], minlength=k) / len(test)
        fitted = {m: ShareQuantifier(m).fit(proba[fit], y[fit]) for m in methods}
        for name, est in (("raw", raw_shares(proba[test])), *((m, q.predict(proba[test])) for m, q in fitted.items())):
            natural[name]["tv"].append(total_variation(est, truth))
            natural[name]["mae"].append(mean_absolute_error(est, truth))
        for rows, t in shifted_samples(y[test], k, per_fold, app_size, rng):
            sample = proba[test][rows]
            shifted["raw"].append(mean_absolute_error(raw_shares(sample), t))
            for m, q in fitted.items():
                shifted[m].append(mean_absolute_error(q.predict(sample), t))
        if coverage_method:
            s = bootstrap_shares(proba[fit], y[fit], {"fold": proba[test]}, coverage_method,
                                 n_bootstrap=n_bootstrap, min_group=1, seed=seed)["fold"]
            coverage.append({"n": int(len(test)), "held": int(((s.ci_low <= truth) & (truth <= s.ci_high)).sum()),
                             "classes": k, "mean_width": float((s.ci_high - s.ci_low).mean()),
                             "missed": [int(c) for c in np.flatnonzero((truth < s.ci_low) | (truth > s.ci_high))]})
    out = {"n_test_rows": int(len(tested)), "n_folds": n_folds, "app_samples": per_fold * n_folds,
           "app_size": app_size, "methods": {}}
    for m in ("raw", *methods):
        out["methods"][m] = {"natural_tv": round(float(np.mean(natural[m]["tv"])), 4),
                             "natural_mae": round(float(np.mean(natural[m]["mae"])), 4),
                             "app_mae": round(float(np.mean(shifted[m])), 4)}
    if coverage_method:
        out["coverage"] = {"method": coverage_method, "n_bootstrap": n_bootstrap, "folds": coverage,
                           "held": sum(c["held"] for c in coverage), "of": sum(c["classes"] for c in coverage),
                           "mean_width": round(float(np.mean([c["mean_width"] for c in coverage])), 4)}
    return out


def measure_periods(proba, period_proba, y, period, test_mask, fit_mask, method: str, n_bootstrap: int = 100,
                    seed: int = 0) -> dict | None:
    """The correction replayed on a year the classifier never saw, period by period.

    Each period's `test_mask` rows carry `period_proba`, the posteriors of a model trained without
    that period: what a new year's list looks like to the shipped model. The quantifier is fitted
    on the out-of-fold posteriors `proba` of the `fit_mask` rows of the other periods (and of rows
    without one), as the report fits it on the model's out-of-fold rows, and judged against the
    period's true shares: total variation of raw counting and of `method`, and whether the 95 %
    intervals hold each true share. None when no row was scored so.
    """
    proba, period_proba = np.asarray(proba, dtype=float), np.asarray(period_proba, dtype=float)
    y, period = np.asarray(y, dtype=int), np.asarray(period).astype(str)
    scored = np.asarray(test_mask, dtype=bool) & ~np.isnan(period_proba).any(axis=1)
    fit_mask = np.ones(len(y), bool) if fit_mask is None else np.asarray(fit_mask, dtype=bool)
    k = proba.shape[1]
    out = {}
    for p in sorted(set(period[scored])):
        test, fit = scored & (period == p), fit_mask & (period != p)
        truth = np.bincount(y[test], minlength=k) / test.sum()
        s = bootstrap_shares(proba[fit], y[fit], {p: period_proba[test]}, method, n_bootstrap=n_bootstrap,
                             min_group=1, seed=seed)[p]
        held = (s.ci_low <= truth) & (truth <= s.ci_high)
        out[p] = {"n": int(test.sum()), "n_fit": int(fit.sum()),
                  "raw_tv": round(total_variation(s.share, truth), 4),
                  "adjusted_tv": round(total_variation(s.share_adjusted, truth), 4),
                  "held": int(held.sum()), "classes": k, "mean_width": round(float((s.ci_high - s.ci_low).mean()), 4),
                  "missed": [int(c) for c in np.flatnonzero(~held)]}
    if not out:
        return None
    return {"method": method, "n_bootstrap": n_bootstrap, "by_period": out,
            "raw_tv": round(float(np.mean([v["raw_tv"] for v in out.values()])), 4),
            "adjusted_tv": round(float(np.mean([v["adjusted_tv"] for v in out.values()])), 4),
            "held": sum(v["held"] for v in out.values()), "of": sum(v["classes"] for v in out.values())}


def unseen_year_check(oof: OutOfFold, headline: str | None, n_bootstrap: int = 100, seed: int = 0) -> dict | None:
    """`measure_periods` on a run's out-of-fold rows: each year's rows of the headline source, corrected
    as the report corrects a list (the domains by the default method fitted on `domain_fit_rows`; under
    "digital", the flag cut as `predict` cuts it, by ACC fitted on every row labeled yes/no)."""
    if not oof.period_scored().any():
        return None
    test = oof.source == headline if headline in set(oof.source) else np.ones(oof.n, bool)
    result = measure_periods(oof.proba, oof.period_proba, np.searchsorted(oof.classes, oof.y), oof.period, test,
                             domain_fit_rows(oof, headline), DEFAULT_METHOD, n_bootstrap, seed)
    known, said = oof.digital_known(), oof.period_said_yes()
    if result and len(set(oof.digital[known])) == 2:
        result["digital"] = measure_periods(binary_proba(oof.digital_said_yes()), binary_proba(said),
                                            (oof.digital == "yes").astype(int), oof.period, test & known, known,
                                            DIGITAL_METHOD, n_bootstrap, seed)
    return result


def years_held(check: dict) -> tuple[int, int]:
    """Of a `measure_periods` result: the years whose every interval held, and the years."""
    return sum(v["held"] == v["classes"] for v in check["by_period"].values()), len(check["by_period"])
