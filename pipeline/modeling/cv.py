"""Cross-validation: grouped folds of the evaluated rows, out-of-fold probabilities, baselines.

Copies of a title (case, accents, numbers aside) never sit on both sides of a
fold, whatever their source.
"""
from __future__ import annotations

import logging
import re
from dataclasses import replace

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedGroupKFold
from tqdm import tqdm

from pipeline.domains import digital_known
from pipeline.features.text import normalize
from pipeline.io.sources import SUBMISSION_KIND
from pipeline.modeling import estimators
from pipeline.modeling.estimators import Recipe
from pipeline.modeling.metrics import mean_scores, scores
from pipeline.modeling.settings import TrainSettings

log = logging.getLogger(__name__)


def duplicate_key(text: str) -> str:
    return re.sub(r"[^a-z]+", " ", normalize(text)).strip()


def duplicate_groups(texts) -> np.ndarray:
    """One group id per near-duplicate title, so CV never splits a title's copies.

    Case, accents, punctuation and numbers are ignored: "Videoprotection (tranche 2)"
    and "VIDÉOPROTECTION tranche 3" fall in one group.
    """
    return pd.factorize(pd.Series([duplicate_key(t) for t in texts]))[0]


def fit_domain(lemmas, y, weights, unlabeled, recipe: Recipe, random_state: int, kinds=None):
    """Fit the domain classifier by `recipe`; returns it and the number of pseudo-labeled rows.

    `kinds`: each row's text kind (default: all submissions); pseudo-labeled
    rows are submissions.
    """
    X, y, w = list(lemmas), np.asarray(y), np.asarray(weights, dtype=float)
    kinds = as_kinds(kinds, len(X))
    n_pseudo = 0
    if recipe.self_training and unlabeled:
        first = estimators.teacher(recipe, random_state).fit(X, y, **estimators.fit_params(recipe, w, kinds))
        margins = first.decision_function(unlabeled)
        if margins.ndim == 1:  # two classes: one signed margin
            margins = np.column_stack([-margins, margins])
        top2 = np.sort(margins, axis=1)[:, -2:]
        keep = (top2[:, 1] - top2[:, 0]) >= recipe.pseudo_margin
        n_pseudo = int(keep.sum())
        X = X + [u for u, k in zip(unlabeled, keep) if k]
        y = np.concatenate([y, first.classes_[margins[keep].argmax(axis=1)]])
        w = np.concatenate([w, np.full(n_pseudo, recipe.pseudo_weight)])
        kinds = np.concatenate([kinds, np.full(n_pseudo, SUBMISSION_KIND, dtype=object)])
    model = estimators.domain_classifier(recipe, random_state)
    return model.fit(X, y, **estimators.fit_params(recipe, w, kinds)), n_pseudo


def evaluation_folds(y, groups, evaluated, settings: TrainSettings) -> list[tuple[np.ndarray, np.ndarray]]:
    """Grouped, stratified folds of the `evaluated` rows; every other row trains in every fold.

    A row sharing a near-duplicate group with a fold's test rows never trains
    that fold, whatever its source. With every row evaluated these are the
    plain grouped folds. With the rows of one source evaluated, each fold's
    model holds all the other sources, as the model `make train` ships does:
    pooling them into the folds would score a model short of a fifth of them.
    """
    cv = StratifiedGroupKFold(n_splits=settings.cv_folds, shuffle=True, random_state=settings.random_state)
    rows = np.flatnonzero(evaluated)
    folds = []
    for _, test in cv.split(rows, y[rows], groups[rows]):
        test_idx = rows[test]
        folds.append((np.flatnonzero(~np.isin(groups, groups[test_idx])), test_idx))
    return folds


def cross_validated_proba(lemmas, y, weights, groups, unlabeled, recipe: Recipe, settings: TrainSettings,
                          classes: np.ndarray, kinds=None, predict_kinds=None, evaluated=None) -> np.ndarray:
    """Out-of-fold probabilities (rows × classes); self-training redone inside every fold.

    `kinds`: the rows' text kinds (default: all submissions); each row is
    predicted as `predict_kinds` says (default: its own kind). `evaluated`:
    the rows given out-of-fold probabilities (default: all; the others' stay
    0), see `evaluation_folds`. The folds run in `settings.n_jobs` processes.
    """
    lemmas, y, weights = np.asarray(lemmas, dtype=object), np.asarray(y), np.asarray(weights, dtype=float)
    groups = np.asarray(groups)
    kinds = as_kinds(kinds, len(y))
    predict_kinds = kinds if predict_kinds is None else np.asarray(predict_kinds, dtype=object)
    evaluated = np.ones(len(y), dtype=bool) if evaluated is None else np.asarray(evaluated, dtype=bool)
    folds = evaluation_folds(y, groups, evaluated, settings)
    jobs = Parallel(n_jobs=min(settings.n_jobs, len(folds)), return_as="generator_unordered")(
        delayed(_fold_proba)(lemmas[train_idx], y[train_idx], weights[train_idx], kinds[train_idx],
                             lemmas[test_idx], predict_kinds[test_idx], unlabeled, recipe, settings.random_state, test_idx)
        for train_idx, test_idx in folds)
    proba = np.zeros((len(y), len(classes)))
    for test_idx, fold_classes, fold_proba in tqdm(jobs, total=len(folds), desc=f"CV {recipe.name}",
                                                   unit="fold", disable=None, leave=False):
        proba[np.ix_(test_idx, np.searchsorted(classes, fold_classes))] = fold_proba
    return proba


def _fold_proba(train_lemmas, train_y, train_weights, train_kinds, test_lemmas, test_kinds, unlabeled, recipe,
                random_state, test_idx):
    model, _ = fit_domain(train_lemmas, train_y, train_weights, unlabeled, recipe, random_state, train_kinds)
    return test_idx, model.classes_, estimators.predict_proba_by_kind(model, test_lemmas, test_kinds)


def as_kinds(kinds, n: int) -> np.ndarray:
    """`kinds` as an array, or n submissions when None."""
    return np.full(n, SUBMISSION_KIND, dtype=object) if kinds is None else np.asarray(kinds, dtype=object)


def baseline_scores(texts, y, weights, groups, evaluated, settings, order) -> dict:
    """The baselines scored like the recipes: on the `evaluated` rows, the same folds as the first repeat."""
    folds = evaluation_folds(y, groups, evaluated, settings)
    texts = np.asarray(texts, dtype=object)
    out = {}
    for name, est in estimators.baselines(settings.random_state).items():
        param = "clf__sample_weight" if hasattr(est, "steps") else "sample_weight"
        pred = np.empty(len(y), dtype=object)
        for train_idx, test_idx in folds:
            fitted = clone(est).fit(texts[train_idx], y[train_idx], **{param: weights[train_idx]})
            pred[test_idx] = fitted.predict(texts[test_idx])
        out[name] = scores(y[evaluated], pred[evaluated], order)
        log.info("baseline %-20s CV macro-F1 %.3f accuracy %.3f", name, out[name]["macro_f1"], out[name]["accuracy"])
    return out


def repeat_settings(settings: TrainSettings) -> list[TrainSettings]:
    """One settings per CV repeat: the same folds count, shuffled by another seed."""
    return [replace(settings, random_state=settings.random_state + r) for r in range(settings.cv_repeats)]


def digital_cv(frame: pd.DataFrame, lemmas: list[str], groups, settings: TrainSettings, unlabeled=None,
               locked=None):
    """The rows labeled yes/no, the first shuffle's out-of-fold P(digital = yes) (see digital_oof), and
    the scores averaged over `settings.cv_repeats` shuffles of the folds, as the domain's: 33 digital
    titles of dgcl-random move from 0.81 to 0.90 between shuffles (docs/model.md)."""
    runs = [digital_oof(frame, lemmas, groups, s, unlabeled, locked) for s in repeat_settings(settings)]
    # each shuffle's line says which it is: three bare "CV F1(yes)" lines read as three different measures
    each = [digital_scores(frame, mask, proba_yes, settings.digital.threshold,
                           f", shuffle {i} of {len(runs)}" if len(runs) > 1 else "")
            for i, (mask, proba_yes) in enumerate(runs, 1)]
    metrics = mean_scores(each)
    if metrics["trained"]:
        metrics["f1_yes_per_repeat"] = [e["f1_yes"] for e in each]
        for source, scored in metrics["by_source"].items():
            scored["f1_yes_per_repeat"] = [e["by_source"][source]["f1_yes"] for e in each]
        if len(each) > 1:
            log.info("digital flag: CV F1(yes) %.3f, mean of %d shuffles", metrics["f1_yes"], len(each))
    return (*runs[0], metrics)


def digital_oof(frame: pd.DataFrame, lemmas: list[str], groups, settings: TrainSettings, unlabeled=None,
                locked=None):
    """The rows labeled yes/no and each row's out-of-fold P(digital = yes) (NaN elsewhere; None when
    the labels hold a single value), self-training redone inside every fold. Rows sharing a group
    with a `locked` row are left out. The quantifier corrects the digital share with them."""
    mask = digital_known(frame["digital"])
    if locked is not None and np.any(locked):
        mask = mask & ~np.isin(groups, groups[np.asarray(locked, dtype=bool)])
    rows = np.flatnonzero(mask)
    y = frame["digital"].to_numpy()[rows]
    if len(set(y)) < 2:
        return mask, None
    cv = StratifiedGroupKFold(n_splits=settings.cv_folds, shuffle=True, random_state=settings.random_state)
    X = np.asarray(lemmas, dtype=object)[rows]
    folds = list(cv.split(rows, y, groups[rows]))
    jobs = Parallel(n_jobs=min(settings.n_jobs, len(folds)))(
        delayed(_digital_fold)(X[train], y[train], X[test], unlabeled, settings.digital) for train, test in folds)
    proba_yes = np.full(len(frame), np.nan)
    for (_, test), fold_yes in zip(folds, jobs):
        proba_yes[rows[test]] = fold_yes
    return mask, proba_yes


def _digital_fold(train_lemmas, train_y, test_lemmas, unlabeled, recipe):
    model, _ = fit_digital(train_lemmas, train_y, unlabeled, recipe)
    return digital_yes(model, test_lemmas)


def digital_yes(model, lemmas) -> np.ndarray:
    """P(digital = yes) of each lemma string."""
    return model.predict_proba(list(lemmas))[:, list(model.classes_).index("yes")]


def fit_digital(lemmas, y, unlabeled, recipe: estimators.DigitalRecipe):
    """Fit the digital flag: the recipe's flag, and with `recipe.word_counts_C` its second flag, each
    self-trained on its own (see DigitalRecipe), then their mean. Returns the model and the number
    of rows the first flag pseudo-labeled."""
    X, y = list(lemmas), np.asarray(y)
    first, n_pseudo = _self_trained_flag(X, y, unlabeled, recipe, word_counts=False)
    if recipe.word_counts_C <= 0:
        return first, n_pseudo
    second, _ = _self_trained_flag(X, y, unlabeled, recipe, word_counts=True)
    return estimators.mean_of_flags([first, second], X, y), n_pseudo


def _self_trained_flag(X: list, y: np.ndarray, unlabeled, recipe: estimators.DigitalRecipe, word_counts: bool):
    """One flag; with unlabeled texts, refitted with those it is sure of. The model and its pseudo-label count."""
    model = estimators.digital_classifier(recipe, word_counts).fit(X, y)
    if not unlabeled or recipe.pseudo_weight <= 0:
        return model, 0
    yes = digital_yes(model, unlabeled)
    sure = (yes >= recipe.pseudo_threshold) | (yes <= 1 - recipe.pseudo_threshold)
    weights = np.concatenate([np.ones(len(X)), np.full(int(sure.sum()), recipe.pseudo_weight)])
    X = X + [u for u, s in zip(unlabeled, sure) if s]
    y = np.concatenate([y, estimators.digital_labels(yes[sure], recipe.pseudo_threshold)])  # the sure side
    return estimators.digital_classifier(recipe, word_counts).fit(X, y, clf__sample_weight=weights), int(sure.sum())


def digital_scores(frame: pd.DataFrame, mask: np.ndarray, proba_yes, threshold: float, which: str = "") -> dict:
    """Scores of the out-of-fold digital predictions (cut at `threshold`, as `predict` cuts them); `which`
    ends the log line (", shuffle 2 of 3")."""
    if proba_yes is None:
        log.warning("no digital yes/no labels: the digital flag is not trained")
        return {"trained": False}
    y = frame["digital"].to_numpy()[mask]
    pred = estimators.digital_labels(proba_yes[mask], threshold)
    sub = frame[mask].assign(pred=pred)
    per_source = {s: {"f1_yes": round(float(f1_score(g["digital"], g["pred"], pos_label="yes", zero_division=0)), 4),
                      "n": int(len(g))} for s, g in sub.groupby("source")}
    f1_yes = f1_score(y, pred, pos_label="yes")
    log.info("digital flag: CV F1(yes) %.3f on %d rows%s", f1_yes, len(y), which)
    return {"trained": True, "n": int(len(y)), "f1_yes": round(float(f1_yes), 4),
            "accuracy": round(float(accuracy_score(y, pred)), 4), "by_source": per_source}
