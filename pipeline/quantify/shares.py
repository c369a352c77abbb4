"""The report's adjusted shares: a predictions frame and the run's oof.npz in, tables out; no I/O.

Domains: the quantifier corrects the mean of the proba_<domain> columns
predict wrote. Digital flag: predictions carry the yes/no flag only, so it is
corrected by ACC on the flag (its false-positive and false-negative rates on
the labeled rows, from their out-of-fold P(yes) cut as predict cuts them).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline.domains import digital_known
from pipeline.quantify.fit import DEFAULT_METHOD, binary_proba
from pipeline.quantify.intervals import MIN_GROUP, N_BOOTSTRAP, bootstrap_shares
from pipeline.quantify.store import OutOfFold

COLUMNS = ["domain", "n", "share", "share_adjusted", "ci_low", "ci_high"]
DIGITAL_METHOD = "ACC"
ALL = "ensemble"


@dataclass
class AdjustedShares:
    method: str
    adjusted: bool                 # False: raw shares only (no labeled rows, or no proba columns)
    why_not: str                   # why not adjusted ("" when adjusted)
    n_labeled: int = 0             # labeled rows the correction was fitted on
    labeled_sources: dict = field(default_factory=dict)
    n_labeled_digital: int = 0
    domains: pd.DataFrame | None = None   # COLUMNS, one row per domain (all predictions)
    digital: dict | None = None           # n, share, share_adjusted, ci_low, ci_high of digital = yes
    groups: pd.DataFrame | None = None    # group_by, group, then COLUMNS (NaN where not computed)
    too_few: bool = False                 # not adjusted because the report has too few rows, not for the model


def _rows(shares, names) -> pd.DataFrame:
    return pd.DataFrame({"domain": names, "n": shares.n.astype(int), "share": shares.share,
                         "share_adjusted": shares.share_adjusted, "ci_low": shares.ci_low,
                         "ci_high": shares.ci_high})


def domain_fit_rows(oof: OutOfFold, headline: str | None) -> np.ndarray:
    """The labeled rows the domain correction is fitted on: every row of the `headline` source (real
    titles drawn at random), and the other sources' rows not flagged digital. The annotated set
    over-samples digital projects, whose confusions differ from ordinary titles': with them the
    correction moved natural samples further from the truth (docs/quantification.md)."""
    if headline is None or headline not in set(oof.source):
        return np.ones(oof.n, dtype=bool)
    return (oof.source == headline) | (oof.digital != "yes")


def raw_table(pred: pd.DataFrame, codes: list[str]) -> pd.DataFrame:
    """Counts and raw shares, nothing adjusted (rows with a domain only)."""
    with_domain = pred[pred["domain"] != ""]
    n = with_domain["domain"].value_counts().reindex(codes, fill_value=0)
    share = n / max(len(with_domain), 1)
    nan = np.full(len(codes), np.nan)
    return pd.DataFrame({"domain": codes, "n": n.to_numpy(int), "share": share.to_numpy(float),
                         "share_adjusted": nan, "ci_low": nan, "ci_high": nan})


def group_samples(labels: pd.Series, mask, sample, by: str) -> dict:
    """`sample`'s rows of each group of `labels[mask]` ("" or missing: in no group), keyed "by\x1fgroup",
    in the categories' order when `labels` is categorical (the size bands, smallest first), else sorted
    (the years)."""
    labels = labels[mask]
    values = labels.astype(object).where(labels.notna(), "").astype(str).to_numpy()
    present = set(values) - {""}
    order = ([str(c) for c in labels.cat.categories if str(c) in present]
             if isinstance(labels.dtype, pd.CategoricalDtype) else sorted(present))
    return {f"{by}\x1f{g}": sample[values == g] for g in order}


def adjusted_shares(pred: pd.DataFrame, codes: list[str], oof: OutOfFold | None, groups: dict[str, pd.Series],
                    method: str = DEFAULT_METHOD, n_bootstrap: int = N_BOOTSTRAP, min_group: int = MIN_GROUP,
                    seed: int = 0, why_not: str = "", headline: str | None = None) -> AdjustedShares:
    """Adjusted shares and 95 % intervals, overall and by each group (a label per row of `pred`).

    With `oof` None (or `why_not` given) the shares are raw, marked as such. `headline`: the
    source of real titles drawn at random (see `domain_fit_rows`).
    """
    missing = [c for c in (oof.classes if oof is not None else []) if f"proba_{c}" not in pred.columns]
    if oof is not None and missing:
        why_not = why_not or f"colonnes proba_… absentes des prédictions ({', '.join(missing[:3])}…)"
    if oof is None or why_not or oof.n == 0:
        return AdjustedShares(method, False, why_not or "pas de lignes étiquetées", domains=raw_table(pred, codes))
    rows = (pred["domain"] != "").to_numpy()
    if rows.sum() < min_group:  # as for a group: no interval on so few rows, nor any figure "adjusted"
        return AdjustedShares(method, False, f"{rows.sum()} initiatives seulement ont un domaine, moins des "
                              f"{min_group} sous lesquelles la correction et son intervalle ne sont pas calculés",
                              domains=raw_table(pred, codes), too_few=True)
    classes = list(oof.classes)
    proba = pred.loc[rows, [f"proba_{c}" for c in classes]].to_numpy(float)
    proba = proba / np.clip(proba.sum(1, keepdims=True), 1e-12, None)  # rounded to 4 decimals by predict
    fit = domain_fit_rows(oof, headline)
    y = np.searchsorted(oof.classes, oof.y[fit])
    samples = {ALL: proba}
    for by, labels in groups.items():
        samples.update(group_samples(labels, rows, proba, by))
    got = bootstrap_shares(oof.proba[fit], y, samples, method, n_bootstrap, min_group, seed=seed)
    result = AdjustedShares(method, True, "", int(fit.sum()), oof.subset(fit).sources())
    # Domains the model cannot predict (no training example) keep a zero count and no adjustment.
    full = raw_table(pred, codes).set_index("domain")
    table = _rows(got[ALL], classes).set_index("domain")
    full.loc[table.index, COLUMNS[1:]] = table[COLUMNS[1:]]
    result.domains = full.reset_index()[COLUMNS]
    parts = []
    for name, s in got.items():
        if name != ALL:
            by, g = name.split("\x1f")
            parts.append(_rows(s, classes).assign(group_by=by, group=g))
    if parts:
        result.groups = pd.concat(parts, ignore_index=True)[["group_by", "group", *COLUMNS]]
    result.digital, result.n_labeled_digital = _digital(pred, oof, groups, n_bootstrap, min_group, seed, result)
    return result


def _digital(pred, oof: OutOfFold, groups, n_bootstrap, min_group, seed, result) -> tuple[dict | None, int]:
    known = oof.digital_known()
    flagged = digital_known(pred["digital"]) & (pred["domain"] != "").to_numpy()
    if known.sum() == 0 or len(set(oof.digital[known])) < 2 or not flagged.any():
        return None, int(known.sum())
    fit_p = binary_proba(oof.digital_said_yes()[known])
    fit_y = (oof.digital[known] == "yes").astype(int)
    sample = binary_proba((pred.loc[flagged, "digital"] == "yes").to_numpy(float))
    samples = {ALL: sample}
    for by, labels in groups.items():
        samples.update(group_samples(labels, flagged, sample, by))
    got = bootstrap_shares(fit_p, fit_y, samples, DIGITAL_METHOD, n_bootstrap, min_group, seed=seed)
    one = lambda s: {"n": int(s.n[1]), "share": float(s.share[1]), "share_adjusted": float(s.share_adjusted[1]),
                     "ci_low": float(s.ci_low[1]), "ci_high": float(s.ci_high[1])}
    if result.groups is not None:
        extra = [{"group_by": name.split("\x1f")[0], "group": name.split("\x1f")[1], "domain": "numerique",
                  **one(s)} for name, s in got.items() if name != ALL]
        result.groups = pd.concat([result.groups, pd.DataFrame(extra)], ignore_index=True)
    return one(got[ALL]), int(known.sum())
