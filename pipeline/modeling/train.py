"""Training: choose the recipe by cross-validation, refit it on every row; no file I/O.

`train` takes the labeled rows (columns text, domain, digital, source, weight)
and, optionally, unlabeled real titles for self-training; it returns the
fitted model and its metrics. The spaCy pass runs once over the distinct
texts; cross-validation then only refits the vectorizers and classifiers.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from pipeline.domains import LabelSet
from pipeline.errors import PipelineError
from pipeline.features.lemmatizer import SpacyLemmatizer
from pipeline.io.sources import SUBMISSION_KIND
from pipeline.modeling import estimators
from pipeline.modeling.cv import (baseline_scores, as_kinds, cross_validated_proba, digital_cv, duplicate_groups,
                                  duplicate_key, fit_domain, repeat_settings)
from pipeline.modeling.metrics import accuracy_at_coverage, by_source, mean_scores, review_threshold, scores
from pipeline.modeling.model import BarometerModel
from pipeline.modeling.settings import TrainSettings

log = logging.getLogger(__name__)


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


def train(frame: pd.DataFrame, labels: LabelSet, settings: TrainSettings,
          unlabeled_texts: list[str] | None = None) -> tuple[BarometerModel, dict]:
    """Choose the recipe by grouped, stratified CV macro-F1; refit it on everything."""
    check_trainable(frame, labels, settings.cv_folds)
    frame = frame.reset_index(drop=True)
    texts, y = frame["text"].tolist(), frame["domain"].to_numpy()
    weights = frame["weight"].to_numpy(dtype=float)
    kinds = text_kinds(frame)
    groups = duplicate_groups(texts)
    classes = np.unique(y)
    order = [c for c in labels.codes if c in set(y)]

    lemmatizer, lemmas, unlabeled = preprocess_texts(texts, unlabeled_texts, settings)

    select = (frame["source"] == settings.select_on).to_numpy(copy=True)
    if not select.any():
        select[:] = True
    select_name = settings.select_on if not select.all() else "all rows"
    # A recipe whose ingredient is missing is not measured: self-training
    # without unlabeled texts, kind weights with a single kind of text.
    usable = {"self_training": bool(unlabeled), "by_kind": len(set(kinds)) > 1}
    recipes = [r for r in (estimators.RECIPES[n] for n in settings.recipes)
               if all(usable[k] or not getattr(r, k) for k in usable)] or [estimators.RECIPES["svm_balanced"]]
    skipped = [n for n in settings.recipes if n not in {r.name for r in recipes}]
    if skipped:
        log.info("recipes not measured (no unlabeled texts, or a single kind of text): %s", ", ".join(skipped))

    # Only the selection rows are scored out of fold; every other row trains
    # every fold, as it trains the shipped model (see evaluation_folds).
    results, oof = {}, {}
    for recipe in recipes:
        repeats = [cross_validated_proba(lemmas, y, weights, groups, unlabeled, recipe, repeat, classes, kinds,
                                         evaluated=select)
                   for repeat in repeat_settings(settings)]
        preds = [classes[p.argmax(1)][select] for p in repeats]
        evaluated = [scores(y[select], p, order) for p in preds]
        oof[recipe.name] = repeats[0]  # one model's probabilities: the review threshold's and confusion's
        results[recipe.name] = {
            **mean_scores(evaluated),
            "by_source": mean_scores([by_source(frame[select], p, order) for p in preds]),
            "accuracy_per_repeat": [e["accuracy"] for e in evaluated],
        }
        log.info("recipe %-18s CV on %s: macro-F1 %.3f accuracy %.3f (accuracy per repeat %s)", recipe.name,
                 select_name, results[recipe.name]["macro_f1"], results[recipe.name]["accuracy"],
                 results[recipe.name]["accuracy_per_repeat"])
    baseline_results = baseline_scores(texts, y, weights, groups, select, settings, order)

    best = max(results, key=lambda n: results[n]["macro_f1"])
    proba = oof[best]
    best_pred, confidence = classes[proba.argmax(1)][select], proba.max(1)[select]
    review = review_threshold(confidence, best_pred == y[select], settings.review_accuracy)
    log.info("needs_review below confidence %.2f: keeps %.0f %% of %s at accuracy %.3f", review["threshold"],
             100 * review["coverage"], select_name, review["accuracy"])

    domain_clf, n_pseudo = fit_domain(lemmas, y, weights, unlabeled, estimators.RECIPES[best],
                                      settings.random_state, kinds)
    digital_clf, digital_metrics = _train_digital(frame, lemmas, groups, settings)
    model = BarometerModel(lemmatizer, domain_clf, digital_clf, labels.codes,
                           review_threshold=review["threshold"])
    metrics = {
        "chosen": best,
        "chosen_because": (f"highest grouped {settings.cv_folds}-fold CV macro-F1 on {select_name} "
                           f"(mean of {settings.cv_repeats} repeat(s)) "
                           f"among {[r.name for r in recipes]}"),
        "recipe": estimators.RECIPES[best].__dict__,
        "selected_on": select_name,
        "cv_folds": settings.cv_folds,
        "cv_repeats": settings.cv_repeats,
        "n_train": int(len(y)),
        "n_pseudo_labeled": n_pseudo,
        "text_kinds": sorted(set(kinds)) if estimators.RECIPES[best].by_kind else [],
        "domain": results[best],
        "candidates": {n: {k: r[k] for k in ("macro_f1", "accuracy", "accuracy_per_repeat")}
                       for n, r in results.items()},
        "baselines": baseline_results,
        "digital": digital_metrics,
        "review": review,
        "accuracy_at_80pct_coverage": accuracy_at_coverage(review["curve"], 0.8),
        "confusion_matrix": {"labels": order,
                             "matrix": confusion_matrix(y[select], best_pred, labels=order).tolist()},
    }
    return model, metrics


def text_kinds(frame: pd.DataFrame) -> np.ndarray:
    """Each row's text kind (`text_kind` of sources.toml); submissions where the column is absent."""
    if "text_kind" not in frame:
        return as_kinds(None, len(frame))
    return frame["text_kind"].fillna(SUBMISSION_KIND).to_numpy(dtype=object)


def preprocess_texts(texts: list[str], unlabeled_texts: list[str] | None, settings: TrainSettings):
    """The one spaCy step of training and evaluation: the fitted lemmatizer, the
    labeled texts' lemmas and the self-training pool's lemmas."""
    log.info("spaCy %s preprocessing of %d texts", settings.spacy_model, len(texts))
    lemmatizer = SpacyLemmatizer(settings.spacy_model, settings.lemma_mode,
                                 settings.batch_size, settings.n_process).fit(texts)
    lemmas, pool = lemmatizer.transform(texts), unlabeled_lemmas(unlabeled_texts, texts, lemmatizer)
    log.info("lemmas of %d texts ready (%d in the self-training pool)", len(lemmas), len(pool))
    return lemmatizer, lemmas, pool


def unlabeled_lemmas(unlabeled_texts, labeled_texts, lemmatizer) -> list[str]:
    """Distinct unlabeled texts, minus those that near-duplicate a labeled one, as lemmas."""
    if not unlabeled_texts:
        return []
    labeled_keys = {duplicate_key(t) for t in labeled_texts}
    distinct = {duplicate_key(t): t for t in unlabeled_texts if str(t).strip()}
    kept = [t for k, t in distinct.items() if k not in labeled_keys]
    log.info("self-training pool: %d distinct unlabeled texts (%d near-duplicates of labeled ones left out)",
             len(kept), len(distinct) - len(kept))
    return lemmatizer.transform(kept)


def _train_digital(frame: pd.DataFrame, lemmas: list[str], groups, settings: TrainSettings):
    mask, metrics = digital_cv(frame, lemmas, groups, settings)
    if not metrics["trained"]:
        return None, metrics
    clf = estimators.digital_classifier()
    clf.fit([l for l, m in zip(lemmas, mask) if m], frame["digital"].to_numpy()[mask])
    return clf, metrics
