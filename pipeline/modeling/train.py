"""Training and cross-validated evaluation: functions of DataFrames, no file I/O.

`train` takes the labeled rows (columns text, domain, digital, source, weight)
and, optionally, unlabeled real titles for self-training; it returns the
fitted model and its metrics. The spaCy pass runs once over the distinct
texts; cross-validation then only refits the vectorizers and classifiers.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
from tqdm import tqdm

from pipeline.modeling import estimators
from pipeline.domains import LabelSet
from pipeline.errors import PipelineError
from pipeline.modeling.estimators import Recipe
from pipeline.modeling.model import BarometerModel
from pipeline.features.lemmatizer import SpacyLemmatizer, normalize
from pipeline.io.sources import SUBMISSION_KIND

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    cv_folds: int = 5
    # Each recipe's CV is repeated with this many shuffles of the folds and its
    # scores averaged: one split of 698 commune titles moves accuracy by ±0.01.
    cv_repeats: int = 1
    random_state: int = 42
    spacy_model: str = "fr_core_news_sm"
    lemma_mode: str = "lookup"
    batch_size: int = 512
    n_process: int = 1
    recipes: tuple[str, ...] = ("svm_balanced", "svm_by_kind")
    # The source whose rows' CV macro-F1 picks the recipe: real commune titles,
    # the kind of text users submit. All rows are used when it is absent.
    select_on: str = "dgcl-annotated"
    # needs_review threshold: the lowest confidence at which the rows kept
    # reach this accuracy out of fold.
    review_accuracy: float = 0.9
    # Processes for the cross-validation folds (1: this one only).
    n_jobs: int = 1

    @classmethod
    def from_config(cls, config: dict) -> "TrainSettings":
        """config/pipeline.toml's [train] and [preprocess] (n_jobs 0: one process per core)."""
        from pipeline.modeling.workers import process_count

        t, p = config["train"], config["preprocess"]
        return cls(cv_folds=t["cv_folds"], cv_repeats=t.get("cv_repeats", 1), random_state=t["random_state"],
                   spacy_model=p["spacy_model"], batch_size=p["batch_size"], n_process=p["n_process"],
                   recipes=tuple(t["recipes"]), select_on=t["select_on"], review_accuracy=t["review_accuracy"],
                   n_jobs=process_count(t.get("n_jobs", 0)))


def duplicate_key(text: str) -> str:
    return re.sub(r"[^a-z]+", " ", normalize(text)).strip()


def duplicate_groups(texts) -> np.ndarray:
    """One group id per near-duplicate title, so CV never splits a title's copies.

    Case, accents, punctuation and numbers are ignored: "Videoprotection (tranche 2)"
    and "VIDÉOPROTECTION tranche 3" fall in one group.
    """
    return pd.factorize(pd.Series([duplicate_key(t) for t in texts]))[0]


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


def scores(y_true, y_pred, labels: list[str]) -> dict:
    """Macro-F1, accuracy and per-class precision/recall/F1 over the labels present in y_true."""
    present = [l for l in labels if l in set(y_true)]
    report = classification_report(y_true, y_pred, labels=present, output_dict=True, zero_division=0)
    return {
        "macro_f1": round(float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)), 4),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "n": int(len(y_true)),
        "per_class": {l: {k: round(float(v), 4) for k, v in report[l].items()} for l in present},
    }


def mean_scores(runs: list):
    """The mean of the numbers of several `scores` (or dicts of them), key by key, over CV repeats."""
    first = runs[0]
    if isinstance(first, dict):
        return {k: mean_scores([r[k] for r in runs]) for k in first}
    if isinstance(first, float):
        return round(float(np.mean(runs)), 4)
    return first


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


def review_threshold(confidence: np.ndarray, correct: np.ndarray, target_accuracy: float) -> dict:
    """The lowest confidence threshold at which the rows kept reach `target_accuracy`.

    Also returns the coverage/accuracy curve it was read from.
    """
    curve = []
    for t in np.round(np.arange(0.0, 1.0, 0.02), 2):
        kept = confidence >= t
        if kept.sum() == 0:
            break
        curve.append({"threshold": float(t), "coverage": round(float(kept.mean()), 4),
                      "accuracy": round(float(correct[kept].mean()), 4)})
    reaching = [c for c in curve if c["accuracy"] >= target_accuracy]
    chosen = reaching[0] if reaching else curve[-1]
    return {"threshold": chosen["threshold"], "coverage": chosen["coverage"], "accuracy": chosen["accuracy"],
            "target_accuracy": target_accuracy, "curve": curve}


def accuracy_at_coverage(curve: list[dict], coverage: float) -> float | None:
    """Accuracy of the most confident `coverage` share of rows (read off the curve)."""
    above = [c for c in curve if c["coverage"] >= coverage]
    return above[-1]["accuracy"] if above else None


def by_source(frame: pd.DataFrame, pred, order: list[str], column: str = "domain") -> dict:
    """Scores of each source's own rows (the overall figure hides them)."""
    out = {}
    for source, idx in frame.groupby("source").indices.items():
        s = scores(frame[column].to_numpy()[idx], np.asarray(pred)[idx], order)
        out[source] = {k: s[k] for k in ("macro_f1", "accuracy", "n")}
    return out


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
    baseline_results = _baselines(texts, y, weights, groups, select, settings, order)

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


def as_kinds(kinds, n: int) -> np.ndarray:
    """`kinds` as an array, or n submissions when None."""
    return np.full(n, SUBMISSION_KIND, dtype=object) if kinds is None else np.asarray(kinds, dtype=object)


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


def _baselines(texts, y, weights, groups, evaluated, settings, order) -> dict:
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


def digital_cv(frame: pd.DataFrame, lemmas: list[str], groups, settings: TrainSettings) -> tuple[np.ndarray, dict]:
    """Out-of-fold `digital` predictions on the rows labeled yes/no, and their scores."""
    mask = frame["digital"].isin(["yes", "no"]).to_numpy()
    y = frame["digital"].to_numpy()[mask]
    if len(set(y)) < 2:
        log.warning("no digital yes/no labels: the digital flag is not trained")
        return mask, {"trained": False}
    cv = StratifiedGroupKFold(n_splits=settings.cv_folds, shuffle=True, random_state=settings.random_state)
    X = [l for l, m in zip(lemmas, mask) if m]
    pred = cross_val_predict(estimators.digital_classifier(), X, y, groups=groups[mask], cv=cv)
    sub = frame[mask].assign(pred=pred)
    per_source = {s: {"f1_yes": round(float(f1_score(g["digital"], g["pred"], pos_label="yes", zero_division=0)), 4),
                      "n": int(len(g))} for s, g in sub.groupby("source")}
    f1_yes = f1_score(y, pred, pos_label="yes")
    log.info("digital flag: CV F1(yes) %.3f on %d rows", f1_yes, len(y))
    return mask, {"trained": True, "n": int(len(y)), "f1_yes": round(float(f1_yes), 4),
                  "accuracy": round(float(accuracy_score(y, pred)), 4), "by_source": per_source}


def _train_digital(frame: pd.DataFrame, lemmas: list[str], groups, settings: TrainSettings):
    mask, metrics = digital_cv(frame, lemmas, groups, settings)
    if not metrics["trained"]:
        return None, metrics
    clf = estimators.digital_classifier()
    clf.fit([l for l, m in zip(lemmas, mask) if m], frame["digital"].to_numpy()[mask])
    return clf, metrics
