"""Training: choose the recipe by cross-validation, refit it on every row; no file I/O.

`train` takes the labeled rows (columns text, domain, digital, source, weight)
and, optionally, unlabeled real titles for self-training; it returns the
fitted model and its metrics. The spaCy pass runs once over the distinct
texts; cross-validation then only refits the vectorizers and classifiers.
"""
from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from pipeline.domains import LabelSet, digital_known
from pipeline.errors import PipelineError
from pipeline.features.lemmatizer import SpacyLemmatizer
from pipeline.io.sources import SUBMISSION_KIND
from pipeline.modeling import estimators
from pipeline.modeling.cv import (
    as_kinds,
    baseline_scores,
    cross_validated_proba,
    digital_cv,
    digital_yes,
    duplicate_groups,
    duplicate_key,
    fit_digital,
    fit_domain,
    repeat_settings,
)
from pipeline.modeling.metrics import (
    accuracy_at_coverage,
    by_certainty,
    by_source,
    digital_f1_yes,
    intervals,
    mean_scores,
    review_threshold,
    review_warning,
    scores,
)
from pipeline.modeling.model import BarometerModel
from pipeline.modeling.periods import period_out_scores
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
    # The folds keep a title's copies together: what a fold can hold out is distinct titles, not rows.
    titles = frame.assign(group=duplicate_groups(frame["text"])).groupby("domain")["group"].nunique()
    needed = fewest_titles(folds)
    small = titles[titles < needed]
    if len(small):
        sources = frame.groupby("domain")["source"].unique()
        detail = ", ".join(f"{d} ({n} in {counts[d]} rows, from {', '.join(sorted(sources[d]))})"
                           for d, n in small.items())
        raise PipelineError(
            f"too few distinct titles for {folds}-fold cross-validation: {detail}; each domain needs {needed} "
            f"(copies and near-copies of a title count once): add examples or lower [train] cv_folds (--cv-folds)"
        )


def fewest_titles(folds: int) -> int:
    """The distinct titles a domain needs so that each fold's training rows still hold
    CALIBRATION_FOLDS of them, and that every fold can hold one out."""
    n = folds
    while n - math.ceil(n / folds) < estimators.CALIBRATION_FOLDS:
        n += 1
    return n


def label_conflicts(groups, y) -> int:
    """How many titles (their copies grouped as the CV groups them) carry more than one domain."""
    return int((pd.Series(np.asarray(y)).groupby(np.asarray(groups)).nunique() > 1).sum())


def selection_rows(frame: pd.DataFrame, select_on: tuple[str, ...], locked) -> np.ndarray:
    """The rows whose out-of-fold scores choose the recipe: those of the `select_on` sources
    present, less the locked test rows; every unlocked row when none is present."""
    select = frame["source"].isin(select_on).to_numpy() & ~locked
    return select if select.any() else ~locked


def train(frame: pd.DataFrame, labels: LabelSet, settings: TrainSettings,
          unlabeled_texts: list[str] | None = None, locked=None) -> tuple[BarometerModel, dict]:
    """Choose the recipe by grouped, stratified CV macro-F1; refit it on everything.

    `locked`: a boolean mask of rows kept out of every choice (the locked test
    set): they neither train nor are scored in the CV; a model of the chosen
    recipe trained on every other row is scored on them once, then the shipped
    model trains on all rows.
    """
    check_trainable(frame, labels, settings.cv_folds)
    frame = frame.reset_index(drop=True)
    locked = np.zeros(len(frame), dtype=bool) if locked is None else np.asarray(locked, dtype=bool)
    texts, y = frame["text"].tolist(), frame["domain"].to_numpy()
    weights = frame["weight"].to_numpy(dtype=float)
    kinds = text_kinds(frame)
    groups = duplicate_groups(texts)
    if conflicts := label_conflicts(groups, y):
        log.warning("%d title(s) appear, copies aside, with two domains or more among the training rows: the model "
                    "learns both; `make audit` lists the rows it contradicts", conflicts)
    classes = np.unique(y)
    order = [c for c in labels.codes if c in set(y)]

    lemmatizer, lemmas, unlabeled = preprocess_texts(texts, unlabeled_texts, settings)

    select = selection_rows(frame, settings.select_on, locked)
    present = [s for s in settings.select_on if (frame["source"][select] == s).any()]
    select_name = " + ".join(present) if present else "all rows"
    # A recipe whose ingredient is missing is not measured: self-training
    # without unlabeled texts, kind weights with a single kind of text.
    usable = {"self_training": bool(unlabeled), "by_kind": len(set(kinds)) > 1}
    recipes = [r for r in (settings.recipe(n) for n in settings.recipes)
               if all(usable[k] or not getattr(r, k) for k in usable)] or [settings.recipe("svm_balanced")]
    skipped = [n for n in settings.recipes if n not in {r.name for r in recipes}]
    if skipped:
        log.info("recipes not measured (no unlabeled texts, or a single kind of text): %s", ", ".join(skipped))

    # The locked rows (and their near-duplicates) are left out of the CV altogether.
    cv_rows = ~np.isin(groups, groups[locked])
    cv_index = np.flatnonzero(cv_rows)
    cv_frame, cv_select = frame[cv_rows].reset_index(drop=True), select[cv_rows]
    cv_lemmas = [lemmas[i] for i in cv_index]
    cv_y = y[cv_rows][cv_select]
    # The headline is the first selection source's rows: real titles drawn as users submit them.
    headline = (cv_frame["source"][cv_select] == present[0]).to_numpy() if present else np.ones(len(cv_y), bool)
    results, oof = {}, {}
    for recipe in recipes:
        repeats = [cross_validated_proba(cv_lemmas, y[cv_rows], weights[cv_rows], groups[cv_rows], unlabeled, recipe,
                                         repeat, classes, kinds[cv_rows], evaluated=cv_select)
                   for repeat in repeat_settings(settings)]
        preds = [classes[p.argmax(1)][cv_select] for p in repeats]
        evaluated = [scores(cv_y[headline], p[headline], order) for p in preds]
        oof[recipe.name] = repeats[0]  # one model's probabilities: the review threshold's and confusion's
        results[recipe.name] = {
            **mean_scores(evaluated),
            "by_source": mean_scores([by_source(cv_frame[cv_select], p, order) for p in preds]),
            "by_certainty": mean_scores([by_certainty(cv_frame[cv_select], p, order) for p in preds]),
            "accuracy_per_repeat": [e["accuracy"] for e in evaluated],
            "interval": intervals(cv_y[headline], [p[headline] for p in preds], order),
        }
        log.info("recipe %-18s CV on %s: %s", recipe.name, select_name,
                 "; ".join(f"{s} macro-F1 {v['macro_f1']:.3f} accuracy {v['accuracy']:.3f}"
                           for s, v in results[recipe.name]["by_source"].items()))
    baseline_results = baseline_scores([texts[i] for i in cv_index], y[cv_rows], weights[cv_rows], groups[cv_rows],
                                       cv_select, settings, order)

    best = max(results, key=lambda n: choice_key(results[n], present))
    proba = oof[best]
    best_pred, confidence = classes[proba.argmax(1)][cv_select], proba.max(1)[cv_select]
    review = review_threshold(confidence, best_pred == cv_y, settings.review_accuracy)
    log.info("needs_review below confidence %.2f: keeps %.0f %% of %s at accuracy %.3f", review["threshold"],
             100 * review["coverage"], select_name, review["accuracy"])
    if warning := review_warning(review):
        log.warning(warning)
    recipe = settings.recipe(best)
    locked_scores = score_locked(lemmas, y, weights, kinds, groups, locked, unlabeled, recipe, settings, order)
    year_out, year_out_proba, year_out_digital = period_out_scores(
        cv_frame, cv_lemmas, groups[cv_rows], cv_select, unlabeled, recipe, settings, order, kinds[cv_rows], classes)

    domain_clf, n_pseudo = fit_domain(lemmas, y, weights, unlabeled, recipe, settings.random_state, kinds)
    digital_clf, digital_metrics, digital_proba = _train_digital(frame, lemmas, groups, settings, unlabeled, locked)
    model = BarometerModel(lemmatizer, domain_clf, digital_clf, labels.codes,
                           review_threshold=review["threshold"], digital_threshold=settings.digital.threshold)
    metrics = {
        "chosen": best,
        "chosen_because": (f"highest grouped {settings.cv_folds}-fold CV macro-F1 on {select_name} "
                           f"(in that order; mean of {settings.cv_repeats} repeat(s)) "
                           f"among {[r.name for r in recipes]}"),
        "recipe": recipe.summary(),
        "selected_on": select_name,
        "headline_source": present[0] if present else "all rows",
        "cv_folds": settings.cv_folds,
        "cv_repeats": settings.cv_repeats,
        "n_train": int(len(y)),
        "n_locked": int(locked.sum()),
        "n_pseudo_labeled": n_pseudo,
        "text_kinds": sorted(set(kinds)) if recipe.by_kind else [],
        "domain": results[best],
        "locked_test": locked_scores,
        "period_out": year_out,
        "candidates": {n: {k: r[k] for k in ("macro_f1", "accuracy", "accuracy_per_repeat", "by_source")}
                       for n, r in results.items()},
        "baselines": baseline_results,
        "digital": digital_metrics,
        "review": review,
        "accuracy_at_80pct_coverage": accuracy_at_coverage(review["curve"], 0.8),
        "confusion_matrix": {"labels": order, "matrix": confusion_matrix(cv_y, best_pred, labels=order).tolist()},
    }
    # Arrays, not JSON: the command pops them into the run folder's oof.npz (the quantifier's input).
    metrics[OOF_KEY] = out_of_fold_record(frame.iloc[cv_index[cv_select]], classes, proba[cv_select],
                                          digital_proba[cv_index[cv_select]] if digital_proba is not None else None,
                                          settings.digital.threshold,
                                          *(None if a is None else a[cv_select] for a in (year_out_proba, year_out_digital)))
    return model, metrics


OOF_KEY = "_out_of_fold"


def out_of_fold_record(rows: pd.DataFrame, classes, proba, digital_proba, digital_threshold: float,
                       period_proba=None, period_digital_proba=None) -> dict:
    """The selection rows' out-of-fold domain probabilities (the chosen recipe's first repeat), true
    labels, sources and ids, their digital labels and out-of-fold P(yes) (NaN where unknown), the
    flag's cut, and each row's period with its domain probabilities and P(yes) by the models trained
    without that period (NaN where none scored it)."""
    n = len(rows)
    return {"classes": np.asarray(classes, dtype=str), "proba": np.asarray(proba, dtype=float),
            "y": rows["domain"].to_numpy(dtype=str), "source": rows["source"].to_numpy(dtype=str),
            "row_id": rows["row_id"].fillna("").to_numpy(dtype=str) if "row_id" in rows else np.full(n, ""),
            "digital": rows["digital"].fillna("").to_numpy(dtype=str),
            "digital_proba": (np.full(n, np.nan) if digital_proba is None else np.asarray(digital_proba, float)),
            "digital_threshold": float(digital_threshold),
            "period": rows["period"].fillna("").astype(str).to_numpy(dtype=str) if "period" in rows else np.full(n, ""),
            "period_proba": (np.full((n, len(classes)), np.nan) if period_proba is None
                             else np.asarray(period_proba, dtype=float)),
            "period_digital_proba": (np.full(n, np.nan) if period_digital_proba is None
                                     else np.asarray(period_digital_proba, dtype=float))}


def choice_key(result: dict, present: list[str]) -> tuple:
    """Recipes are compared on the selection sources in order (macro-F1 to 3 decimals), then overall."""
    by = result["by_source"]
    return (*(round(by[s]["macro_f1"], 3) for s in present), result["macro_f1"])


def score_locked(lemmas, y, weights, kinds, groups, locked, unlabeled, recipe, settings, order) -> dict | None:
    """The chosen recipe trained on every row but the locked ones (and their near-duplicates), scored on them."""
    if not locked.any():
        return None
    train_rows = ~np.isin(groups, groups[locked])
    model, _ = fit_domain([lemmas[i] for i in np.flatnonzero(train_rows)], y[train_rows], weights[train_rows],
                          unlabeled, recipe, settings.random_state, kinds[train_rows])
    pred = model.predict([lemmas[i] for i in np.flatnonzero(locked)])
    result = {**scores(y[locked], pred, order), "interval": intervals(y[locked], [pred], order)}
    log.info("locked test set (%d rows, never used to choose): macro-F1 %.3f (95 %% interval %.3f–%.3f) "
             "accuracy %.3f (%.3f–%.3f)", result["n"], result["macro_f1"], *result["interval"]["macro_f1"],
             result["accuracy"], *result["interval"]["accuracy"])
    return result


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


def _train_digital(frame: pd.DataFrame, lemmas: list[str], groups, settings: TrainSettings, unlabeled, locked):
    """The digital flag fitted on every yes/no row, its CV scores (locked rows out, then scored once, as
    the domain's) and out-of-fold P(yes)."""
    mask, proba_yes, metrics = digital_cv(frame, lemmas, groups, settings, unlabeled, locked)
    if not metrics["trained"]:
        return None, metrics, None
    labeled = digital_known(frame["digital"])
    truth = frame["digital"].to_numpy()
    if locked.any():
        test = np.flatnonzero(labeled & locked)
        train_rows = np.flatnonzero(mask)  # the CV's rows: labeled, no copy of a locked title
        held, _ = fit_digital([lemmas[i] for i in train_rows], truth[train_rows], unlabeled, settings.digital)
        pred = estimators.digital_labels(digital_yes(held, [lemmas[i] for i in test]), settings.digital.threshold)
        metrics["locked_test"] = {"f1_yes": digital_f1_yes(truth[test], pred), "n": int(len(test)),
                                  "n_yes": int((truth[test] == "yes").sum())}
        log.info("digital flag on the locked test set: F1(yes) %s on %d rows", metrics["locked_test"]["f1_yes"],
                 len(test))
    rows = np.flatnonzero(labeled)
    clf, metrics["n_pseudo_labeled"] = fit_digital([lemmas[i] for i in rows], truth[rows], unlabeled,
                                                   settings.digital)
    metrics["recipe"] = settings.digital.__dict__
    return clf, metrics, proba_yes
