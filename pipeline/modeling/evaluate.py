"""Evaluation across sources: functions of DataFrames, no file I/O.

For every labeled source it gives
- "within": the source's own rows scored out of fold in a grouped CV over
  its rows, every other source training every fold (as they train the model
  `make train` ships);
- "cross": a model trained on every *other* source, scored on this one
  (how the model does on a kind of text it has never seen);
- baselines on the source alone (raw-text TF-IDF, most frequent class), and
  the previous default recipe (all sources weighted 1, balanced classes, no
  self-training) scored the same way.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict

from pipeline.io.sources import SUBMISSION_KIND
from pipeline.modeling import estimators
from pipeline.modeling.cv import as_kinds, cross_validated_proba, digital_cv, duplicate_groups, fit_domain
from pipeline.modeling.estimators import Recipe
from pipeline.modeling.metrics import accuracy_at_coverage, review_threshold, scores, summary
from pipeline.modeling.settings import TrainSettings
from pipeline.modeling.train import text_kinds

log = logging.getLogger(__name__)

PREVIOUS_DEFAULT = Recipe("previous_default", balanced=True)
# The settings each source is scored in, in the order the tables show them.
SETTINGS = ("within", "within_digital", "within_restricted", "within_as_submission", "cross", "previous_default",
            "tfidf_raw_text_alone", "dummy_most_frequent_alone")


def evaluate_sources(frame: pd.DataFrame, lemmas: list[str], unlabeled: list[str], recipe: Recipe,
                     settings: TrainSettings, order: list[str]) -> dict:
    """Scores of `recipe` per source, within and across sources, beside the baselines."""
    frame = frame.reset_index(drop=True)
    y, weights = frame["domain"].to_numpy(), frame["weight"].to_numpy(dtype=float)
    groups = duplicate_groups(frame["text"])
    kinds = text_kinds(frame)
    classes = np.unique(y)
    lemmas_arr = np.asarray(lemmas, dtype=object)

    sources = frame["source"].to_numpy()
    proba = per_source_proba(lemmas, y, weights, groups, unlabeled, recipe, settings, classes, kinds, sources)
    pred, confidence = classes[proba.argmax(1)], proba.max(1)
    prev_pred = classes[per_source_proba(lemmas, y, np.ones(len(y)), groups, [], PREVIOUS_DEFAULT, settings,
                                         classes, kinds, sources).argmax(1)]
    as_submission = None
    other_kind_sources = sorted(set(sources[kinds != SUBMISSION_KIND]))
    if recipe.by_kind and other_kind_sources:
        # What predict gives without --kind: the rows of other kinds as submissions.
        as_submission = classes[per_source_proba(lemmas, y, weights, groups, unlabeled, recipe, settings, classes,
                                                 kinds, sources, as_kinds(None, len(y)),
                                                 only=other_kind_sources).argmax(1)]
    restricted = restricted_predictions(proba, classes, frame)

    indices = frame.groupby("source").indices
    crosses = Parallel(n_jobs=min(settings.n_jobs, len(indices)))(
        delayed(_cross)(lemmas_arr, y, weights, kinds, idx, unlabeled, recipe, settings, order)
        for idx in indices.values())
    results = {}
    for (source, idx), cross in zip(indices.items(), crosses):
        log.info("evaluating source %s (%d rows)", source, len(idx))
        within = scores(y[idx], pred[idx], order)
        digital = idx[frame["digital"].to_numpy()[idx] == "yes"] if "digital" in frame else idx[:0]
        results[source] = {
            "within": within,
            # Its digital-service initiatives alone (rows labeled digital = yes).
            **({"within_digital": summary(scores(y[digital], pred[digital], order))} if len(digital) else {}),
            "within_restricted": summary(scores(y[idx], restricted[idx], order)),
            **({"within_as_submission": summary(scores(y[idx], as_submission[idx], order))}
               if as_submission is not None and set(kinds[idx]) != {SUBMISSION_KIND} else {}),
            **cross,
            "previous_default": summary(scores(y[idx], prev_pred[idx], order)),
            **_alone_baselines(frame.loc[idx, "text"].tolist(), y[idx], groups[idx], settings, order),
            "confusion_matrix": confusion_matrix(y[idx], pred[idx], labels=order).tolist(),
            "review": review_threshold(confidence[idx], pred[idx] == y[idx], settings.review_accuracy),
        }
        results[source]["accuracy_at_80pct_coverage"] = accuracy_at_coverage(results[source]["review"]["curve"], 0.8)
    _, _, digital = digital_cv(frame, lemmas, groups, settings, unlabeled)
    source_kinds = dict(zip(frame["source"], kinds))
    return {"recipe": recipe.summary(), "labels": order, "sources": results, "digital": digital,
            "text_kinds": source_kinds}


def per_source_proba(lemmas, y, weights, groups, unlabeled, recipe: Recipe, settings: TrainSettings,
                     classes: np.ndarray, kinds, sources: np.ndarray, predict_kinds=None, only=None) -> np.ndarray:
    """Out-of-fold probabilities of each source's rows (of the sources in `only`, default all) by a CV
    over that source's rows alone, the other sources training every fold (`evaluation_folds`)."""
    proba = np.zeros((len(y), len(classes)))
    for source in (np.unique(sources) if only is None else only):
        log.info("CV of %s on the rows of %s", recipe.name, source)
        proba += cross_validated_proba(lemmas, y, weights, groups, unlabeled, recipe, settings, classes, kinds,
                                       predict_kinds, evaluated=sources == source)
    return proba


def restricted_predictions(proba: np.ndarray, classes: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
    """For each row, the likeliest domain among those its source's labels can name.

    Toulouse's label set maps onto 3 domains only, Paris's onto 9: a playground
    filed under "Cadre de vie" is urbanisme there, sport_loisirs here. Scoring
    within the source's own label set is what its baseline, trained on it
    alone, is scored on.
    """
    out = np.empty(len(frame), dtype=object)
    for _, idx in frame.groupby("source").indices.items():
        allowed = np.isin(classes, frame["domain"].to_numpy()[idx])
        masked = np.where(allowed, proba[idx], -1.0)
        out[idx] = classes[masked.argmax(1)]
    return out


def _cross(lemmas, y, weights, kinds, idx, unlabeled, recipe, settings, order) -> dict:
    """A model trained on every other source, scored on this one (none when the others miss a domain).

    The rows are predicted as their kind: with the common weights alone when no other source is of it.
    """
    others = np.setdiff1d(np.arange(len(y)), idx)
    if len(np.unique(y[others])) < 2:
        return {}
    model, _ = fit_domain(lemmas[others], y[others], weights[others], unlabeled, recipe, settings.random_state,
                          kinds[others])
    proba = estimators.predict_proba_by_kind(model, lemmas[idx], kinds[idx])
    return {"cross": summary(scores(y[idx], model.classes_[proba.argmax(1)], order))}


def _alone_baselines(texts, y, groups, settings: TrainSettings, order) -> dict:
    """Baselines trained by grouped CV on the source's own rows only."""
    folds = min(settings.cv_folds, int(pd.Series(y).value_counts().min()))
    if folds < 2:
        return {}
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=settings.random_state)
    return {f"{name}_alone": summary(scores(y, cross_val_predict(clone(est), texts, y, groups=groups, cv=cv), order))
            for name, est in estimators.baselines(settings.random_state).items()}


def summary_table(result: dict) -> pd.DataFrame:
    """One row per source and setting: macro-F1, accuracy, rows."""
    rows = []
    for source, r in result["sources"].items():
        for setting in SETTINGS:
            if setting in r:
                rows.append({"source": source, "setting": setting, **summary(r[setting])})
    return pd.DataFrame(rows)
