"""Training and cross-validated evaluation: functions of DataFrames, no file I/O.

`train` takes the labeled rows (columns text, domain, digital, source, weight)
and returns the fitted model and its metrics. The spaCy pass runs once over
the distinct texts; cross-validation then only refits the vectorizers and
classifiers.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict

from . import estimators
from .domains import LabelSet
from .errors import PipelineError
from .model import BarometerModel
from .preprocess import SpacyLemmatizer, normalize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    cv_folds: int = 5
    random_state: int = 42
    spacy_model: str = "fr_core_news_sm"
    lemma_mode: str = "lookup"
    batch_size: int = 512
    n_process: int = 1


def duplicate_groups(texts: pd.Series) -> np.ndarray:
    """One group id per near-duplicate title, so CV never splits a title's copies.

    Case, accents, punctuation and numbers are ignored: "Videoprotection (tranche 2)"
    and "VIDÉOPROTECTION tranche 3" fall in one group.
    """
    keys = [re.sub(r"[^a-z]+", " ", normalize(t)).strip() for t in texts]
    return pd.factorize(pd.Series(keys))[0]


def check_trainable(frame: pd.DataFrame, labels: LabelSet, folds: int) -> None:
    unknown = sorted(set(frame["domain"]) - set(labels.codes))
    if unknown:
        raise PipelineError(f"labels outside the taxonomy: {', '.join(unknown)}")
    counts = frame["domain"].value_counts()
    missing = [d for d in labels.codes if d not in counts]
    if missing:
        log.warning("no training example for: %s (the model will never predict them)", ", ".join(missing))
    small = counts[counts < folds]
    if len(small):
        detail = ", ".join(f"{d} ({n})" for d, n in small.items())
        raise PipelineError(
            f"too few examples for {folds}-fold cross-validation: {detail}; "
            f"add examples or lower [train] cv_folds"
        )


def _fit_params(estimator, weights):
    # Pipelines route the weights to their last step; plain estimators take them directly.
    name = estimator.steps[-1][0] + "__sample_weight" if hasattr(estimator, "steps") else "sample_weight"
    return {name: np.asarray(weights)}


def _oof(estimator, X, y, groups, weights, cv, proba: bool):
    method = "predict_proba" if proba else "predict"
    return cross_val_predict(clone(estimator), X, y, groups=groups, cv=cv, method=method,
                             params=_fit_params(estimator, weights))


def scores(y_true, y_pred, labels: list[str]) -> dict:
    """Macro-F1, accuracy and per-class precision/recall/F1 over the labels present."""
    present = [l for l in labels if l in set(y_true)]
    report = classification_report(y_true, y_pred, labels=present, output_dict=True, zero_division=0)
    return {
        "macro_f1": round(float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)), 4),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "n": int(len(y_true)),
        "per_class": {l: {k: round(float(v), 4) for k, v in report[l].items()} for l in present},
    }


def train(frame: pd.DataFrame, labels: LabelSet, settings: TrainSettings) -> tuple[BarometerModel, dict]:
    """Choose the classifier by grouped, stratified CV macro-F1; refit it on everything."""
    check_trainable(frame, labels, settings.cv_folds)
    texts, y = frame["text"].tolist(), frame["domain"].to_numpy()
    weights = frame["weight"].to_numpy(dtype=float)
    groups = duplicate_groups(frame["text"])
    cv = StratifiedGroupKFold(n_splits=settings.cv_folds, shuffle=True, random_state=settings.random_state)
    order = [c for c in labels.codes if c in set(y)]

    log.info("spaCy %s preprocessing of %d texts", settings.spacy_model, len(texts))
    lemmatizer = SpacyLemmatizer(settings.spacy_model, settings.lemma_mode,
                                 settings.batch_size, settings.n_process).fit(texts)
    lemmas = lemmatizer.transform(texts)

    results, oof_proba = {}, {}
    for name, est in estimators.candidates(settings.random_state).items():
        proba = _oof(est, lemmas, y, groups, weights, cv, proba=True)
        classes = np.unique(y)
        oof_proba[name] = (classes, proba)
        results[name] = _with_sources(scores(y, classes[proba.argmax(1)], order), frame, classes[proba.argmax(1)], order)
        log.info("candidate %-12s CV macro-F1 %.3f  accuracy %.3f", name,
                 results[name]["macro_f1"], results[name]["accuracy"])
    baseline_results = {}
    for name, est in estimators.baselines(settings.random_state).items():
        pred = _oof(est, texts, y, groups, weights, cv, proba=False)
        baseline_results[name] = _with_sources(scores(y, pred, order), frame, pred, order)
        log.info("baseline  %-20s CV macro-F1 %.3f  accuracy %.3f", name,
                 baseline_results[name]["macro_f1"], baseline_results[name]["accuracy"])

    best = max(results, key=lambda n: results[n]["macro_f1"])
    classes, proba = oof_proba[best]
    best_pred = classes[proba.argmax(1)]
    domain_clf = clone(estimators.candidates(settings.random_state)[best])
    domain_clf.fit(lemmas, y, **_fit_params(domain_clf, weights))

    digital_clf, digital_metrics = _train_digital(frame, lemmas, groups, cv)
    model = BarometerModel(lemmatizer, domain_clf, digital_clf, labels.codes)
    metrics = {
        "chosen": best,
        "chosen_because": f"highest grouped {settings.cv_folds}-fold CV macro-F1 among {sorted(results)}",
        "cv_folds": settings.cv_folds,
        "n_train": int(len(y)),
        "domain": results[best],
        "candidates": {n: {k: r[k] for k in ("macro_f1", "accuracy")} for n, r in results.items()},
        "baselines": baseline_results,
        "digital": digital_metrics,
        "confusion_matrix": {
            "labels": order,
            "matrix": confusion_matrix(y, best_pred, labels=order).tolist(),
        },
        "oof_confidence": np.round(proba.max(1), 4).tolist(),
        "oof_correct": (best_pred == y).astype(int).tolist(),
    }
    return model, metrics


def _with_sources(result: dict, frame: pd.DataFrame, pred, order: list[str]) -> dict:
    """Add the scores of each training source's own rows (pooled CV hides them)."""
    by_source = {}
    for source, idx in frame.groupby("source").indices.items():
        s = scores(frame["domain"].to_numpy()[idx], np.asarray(pred)[idx], order)
        by_source[source] = {k: s[k] for k in ("macro_f1", "accuracy", "n")}
    return {**result, "by_source": by_source}


def _train_digital(frame: pd.DataFrame, lemmas: list[str], groups, cv):
    mask = frame["digital"].isin(["yes", "no"]).to_numpy()
    y = frame["digital"].to_numpy()[mask]
    if mask.sum() == 0 or len(set(y)) < 2:
        log.warning("no digital yes/no labels: the digital flag is not trained")
        return None, {"trained": False}
    X = [l for l, m in zip(lemmas, mask) if m]
    clf = estimators.digital_classifier()
    pred = cross_val_predict(clone(clf), X, y, groups=groups[mask], cv=cv)
    clf.fit(X, y)
    f1_yes = f1_score(y, pred, pos_label="yes")
    log.info("digital flag: CV F1(yes) %.3f on %d rows", f1_yes, len(y))
    return clf, {"trained": True, "n": int(len(y)), "f1_yes": round(float(f1_yes), 4),
                 "accuracy": round(float(accuracy_score(y, pred)), 4)}
