"""A year the model never saw: each period's rows scored by a model trained without that period.

The grouped CV mixes the years of the real titles in every fold, but an
observatory labels next year's list with a model that holds none of its
labeled rows. Sources that name each row's year (`period_column` of
sources.toml) give that figure: for each period, the chosen recipe is trained
on every row of the other periods and of the sources without one (near-duplicates
of the scored titles left out, as in the CV), and scores the period's rows; the
digital flag likewise, on the period's rows labeled yes or no.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from pipeline.domains import digital_known
from pipeline.modeling.cv import digital_yes, fit_digital, fit_domain
from pipeline.modeling.estimators import CALIBRATION_FOLDS, Recipe, digital_labels
from pipeline.modeling.metrics import by_source, digital_f1_yes, scores, summary
from pipeline.modeling.settings import TrainSettings

log = logging.getLogger(__name__)


def period_out_scores(frame: pd.DataFrame, lemmas: list[str], groups, evaluated, unlabeled, recipe: Recipe,
                      settings: TrainSettings, order: list[str], kinds=None,
                      classes=None) -> tuple[dict | None, np.ndarray | None, np.ndarray | None]:
    """Scores of each period's `evaluated` rows by a model trained on no row of that period, per source
    with the digital flag's F1 of yes, and pooled over the periods; those rows' probabilities (rows of
    `frame` × `classes`, sorted, default the domains of `frame`) and P(digital = yes), NaN on the rows
    no period model scored, which the quantifier's evaluation corrects as it would a new year's list.
    (None, None, None) when fewer than two periods are present (a fresh clone: the seed set has none).

    `frame` holds the rows' domain, source, weight and period; `lemmas` and `groups` align with it.
    The periods' models are fitted in `settings.n_jobs` processes; a row's domain is its likeliest
    class, as `predict` says.
    """
    if "period" not in frame:
        return None, None, None
    period = frame["period"].fillna("").astype(str).to_numpy()
    evaluated = np.asarray(evaluated, dtype=bool) & (period != "")
    periods = sorted(set(period[evaluated]))
    if len(periods) < 2:
        return None, None, None
    lemmas, groups = np.asarray(lemmas, dtype=object), np.asarray(groups)
    y, weights = frame["domain"].to_numpy(), frame["weight"].to_numpy(dtype=float)
    classes = np.unique(y) if classes is None else np.asarray(classes)  # sorted, as training's
    digital = frame["digital"].fillna("").to_numpy()
    tests = {p: np.flatnonzero(evaluated & (period == p)) for p in periods}
    trains = {p: _calibratable(np.flatnonzero((period != p) & ~np.isin(groups, groups[tests[p]])), y, p)
              for p in periods}
    kinds = None if kinds is None else np.asarray(kinds, dtype=object)
    log.info("scoring each of %d periods (%s) by a model trained without it", len(periods), ", ".join(periods))
    fitted = Parallel(n_jobs=min(settings.n_jobs, len(periods)))(
        delayed(_fit_predict)(lemmas[trains[p]], y[trains[p]], weights[trains[p]],
                              None if kinds is None else kinds[trains[p]], lemmas[tests[p]], unlabeled, recipe,
                              settings, digital[trains[p]])
        for p in periods)
    pred, flag = np.empty(len(y), dtype=object), np.full(len(y), "", dtype=object)
    proba, flag_proba = np.full((len(y), len(classes)), np.nan), np.full(len(y), np.nan)
    out = {}
    for p, (fitted_classes, period_proba, flag_yes) in zip(periods, fitted):
        proba[tests[p]] = 0.0
        proba[np.ix_(tests[p], np.searchsorted(classes, fitted_classes))] = period_proba
        predicted = fitted_classes[period_proba.argmax(1)]
        pred[tests[p]] = predicted
        if flag_yes is not None:
            flag_proba[tests[p]] = flag_yes
            flag[tests[p]] = digital_labels(flag_yes, settings.digital.threshold)
        rows = frame.iloc[tests[p]]
        out[p] = {**summary(scores(y[tests[p]], predicted, order)), "n_train": int(len(trains[p])),
                  "by_source": _by_source_with_flag(rows, predicted, flag[tests[p]], order)}
        log.info("period %s scored by a model without it (%d rows): %s", p, len(tests[p]),
                 "; ".join(f"{s} accuracy {v['accuracy']:.3f} macro-F1 {v['macro_f1']:.3f}"
                           for s, v in out[p]["by_source"].items()))
    scored = np.flatnonzero(evaluated)
    result = {"by_period": out,
              "pooled": _by_source_with_flag(frame.iloc[scored], pred[scored], flag[scored], order),
              "protocol": ("each period's rows scored by the chosen recipe trained on every row of the other "
                           "periods and of the sources without one; locked rows out, near-duplicates of the "
                           "scored titles out of training; the self-training pool is kept whole (a new year's "
                           "unlabeled list can join [[unlabeled]] before training)")}
    return result, proba, flag_proba


def _calibratable(rows: np.ndarray, y: np.ndarray, period: str) -> np.ndarray:
    """A period model's training rows, less those of a domain with too few of them to calibrate on
    (most of its rows in the period scored): that model cannot predict the domain, as it cannot
    one that only the period holds, rather than the fit stopping the whole training."""
    domains, counts = np.unique(y[rows], return_counts=True)
    few = domains[counts < CALIBRATION_FOLDS]
    if len(few):
        log.warning("period %s: the model trained without it leaves out %s (fewer than %d rows in the other "
                    "periods)", period, ", ".join(map(str, few)), CALIBRATION_FOLDS)
    return rows[~np.isin(y[rows], few)]


def _by_source_with_flag(rows: pd.DataFrame, predicted, flag, order: list[str]) -> dict:
    """Each source's domain scores and its flag's F1 of yes (None without a true yes)."""
    out = by_source(rows, predicted, order)
    truth = rows["digital"].fillna("").to_numpy()
    for source, idx in rows.groupby("source").indices.items():
        out[source]["digital_f1_yes"] = digital_f1_yes(truth[idx], flag[idx])
    return out


def _fit_predict(train_lemmas, train_y, train_weights, train_kinds, test_lemmas, unlabeled, recipe,
                 settings: TrainSettings, train_digital):
    """The model's classes, the test rows' probabilities, and their P(digital = yes) (None when training
    holds a single flag value)."""
    model, _ = fit_domain(list(train_lemmas), train_y, train_weights, unlabeled, recipe, settings.random_state,
                          train_kinds)
    proba = model.predict_proba(list(test_lemmas))
    flagged = digital_known(train_digital)
    if len(set(train_digital[flagged])) < 2:
        return model.classes_, proba, None
    flag_model, _ = fit_digital(train_lemmas[flagged], train_digital[flagged], unlabeled, settings.digital)
    return model.classes_, proba, digital_yes(flag_model, test_lemmas)
