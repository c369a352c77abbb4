"""Scores of predictions against labels: functions of arrays, no I/O."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, f1_score

from pipeline.domains import digital_known


def scores(y_true, y_pred, labels: list[str]) -> dict:
    """Macro-F1, accuracy and per-class precision/recall/F1 over the labels in y_true or y_pred.

    A domain the model names for no true row still counts, at F1 0, as in scikit-learn's
    default: leaving it out would hide the rows wrongly sent there from macro-F1 (a year's
    titles without a citoyennete project, one of them labeled citoyennete). Labels outside
    `labels` (a stale model's) count in accuracy only.
    """
    seen = set(y_true) | set(y_pred)
    present = [l for l in labels if l in seen]
    report = classification_report(y_true, y_pred, labels=present, output_dict=True, zero_division=0)
    return {
        "macro_f1": round(float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)), 4),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "n": int(len(y_true)),
        "per_class": {l: {k: round(float(v), 4) for k, v in report[l].items()} for l in present},
    }


def intervals(y_true, predictions: list, labels: list[str], level: float = 0.95, resamples: int = 2000,
              seed: int = 0) -> dict:
    """Percentile bootstrap intervals of accuracy and macro-F1 (as `scores` computes them) over the rows scored.

    `predictions` holds one array per CV shuffle of the same rows: each resample of
    rows scores the mean over the shuffles, as the headline figure is. The interval
    says how much the figure could move on another draw of titles of the same kind;
    with classes of one or two rows, most of macro-F1's width is theirs.
    """
    y_true, predictions = np.asarray(y_true), [np.asarray(p) for p in predictions]
    # Values outside `labels` count in accuracy but not in macro-F1, as in `scores`.
    values = list(labels) + sorted(set(y_true).union(*predictions) - set(labels))
    index = {label: i for i, label in enumerate(values)}
    in_labels = np.arange(len(values)) < len(labels)
    truth = np.eye(len(values))[[index[v] for v in y_true]]
    counts = np.random.default_rng(seed).multinomial(len(y_true), np.full(len(y_true), 1 / len(y_true)),
                                                     size=resamples).astype(float)
    support = counts @ truth
    accuracy, macro_f1 = np.zeros(resamples), np.zeros(resamples)
    for predicted in predictions:
        predicted = np.eye(len(values))[[index[v] for v in predicted]]
        hits, said = counts @ (truth * predicted), counts @ predicted
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(support + said > 0, 2 * hits / (support + said), 0.0)
        present = ((support > 0) | (said > 0)) & in_labels  # the classes the resample holds or names, as `scores`
        macro_f1 += (f1 * present).sum(1) / present.sum(1) / len(predictions)
        accuracy += hits.sum(1) / len(y_true) / len(predictions)
    tails = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    return {"accuracy": [round(float(v), 4) for v in np.percentile(accuracy, tails)],
            "macro_f1": [round(float(v), 4) for v in np.percentile(macro_f1, tails)],
            "level": level, "resamples": resamples}


def mean_scores(runs: list):
    """The mean of the numbers of several `scores` (or dicts of them), key by key, over CV repeats."""
    first = runs[0]
    if isinstance(first, dict):
        return {k: mean_scores([r[k] for r in runs]) for k in first}
    if isinstance(first, float):
        return round(float(np.mean(runs)), 4)
    return first


def review_threshold(confidence: np.ndarray, correct: np.ndarray, target_accuracy: float) -> dict:
    """The lowest confidence threshold at which the rows kept reach `target_accuracy`.

    Also returns the coverage/accuracy curve it was read from, and the share of
    the errors that fall below the threshold (the ones `needs_review` points at).
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
    errors = ~np.asarray(correct, dtype=bool)
    flagged = errors & (confidence < chosen["threshold"])
    return {"threshold": chosen["threshold"], "coverage": chosen["coverage"], "accuracy": chosen["accuracy"],
            "errors_flagged": round(float(flagged.sum() / errors.sum()), 4) if errors.any() else None,
            "target_accuracy": target_accuracy, "curve": curve}


def review_threshold_warning(threshold: float, given: bool = False) -> str | None:
    """predict's: why needs_review will flag only empty texts at this threshold; None when it can flag more.
    `given`: the user chose it (--threshold, [predict] review_threshold), not the model.
    (Training says more, from the out-of-fold curve: `review_warning`.)"""
    if threshold > 0:
        return None
    if given:
        return (f"the review threshold given is {threshold:.2f}: needs_review marks only empty texts "
                "(give a higher one to flag the rows the model is unsure of)")
    return (f"the review threshold is {threshold:.2f}: needs_review marks only empty texts (the model reached "
            "[train] review_accuracy with every row kept: retrain with a higher one, or pass --threshold)")


def review_warning(review: dict) -> str | None:
    """What is wrong with a review threshold that flags no row, or cannot reach its target; None otherwise."""
    if review["threshold"] == 0.0:
        return (f"needs_review will flag no row: the rows scored reach accuracy {review['accuracy']:.3f} with all "
                f"of them kept, at or above [train] review_accuracy = {review['target_accuracy']}; raise it to "
                "point at the doubtful rows")
    if review["accuracy"] < review["target_accuracy"]:
        return (f"no confidence threshold reaches [train] review_accuracy = {review['target_accuracy']}: "
                f"needs_review flags every row below {review['threshold']:.2f}, "
                f"{100 * (1 - review['coverage']):.0f} % of them")
    return None


def accuracy_at_coverage(curve: list[dict], coverage: float) -> float | None:
    """Accuracy of the most confident `coverage` share of rows (read off the curve)."""
    above = [c for c in curve if c["coverage"] >= coverage]
    return above[-1]["accuracy"] if above else None


def digital_f1_yes(truth, predicted) -> float | None:
    """F1 of the digital flag's `yes` over the rows both label yes or no; None without a true yes."""
    truth, predicted = pd.Series(truth).to_numpy(), pd.Series(predicted).to_numpy()
    has = digital_known(truth) & digital_known(predicted)
    if not (truth[has] == "yes").any():
        return None
    return round(float(f1_score(truth[has], predicted[has], pos_label="yes")), 4)


def summary(s: dict) -> dict:
    """The headline of `scores`: macro-F1, accuracy and the row count."""
    return {k: s[k] for k in ("macro_f1", "accuracy", "n")}


def by_certainty(frame: pd.DataFrame, pred, order: list[str]) -> dict:
    """Per source, the scores of the rows their annotator was sure of (`sure` yes) and of the others (no).

    Sources without a `sure` column have no entry. The two parts say how much of the
    error is on titles where the annotator hesitated too.
    """
    sure = frame["sure"].fillna("").to_numpy() if "sure" in frame else np.full(len(frame), "")
    y, pred = frame["domain"].to_numpy(), np.asarray(pred)
    out = {}
    for source, idx in frame.groupby("source").indices.items():
        parts = {name: idx[sure[idx] == answer] for name, answer in (("sure", "yes"), ("unsure", "no"))}
        if any(len(part) for part in parts.values()):
            out[source] = {name: summary(scores(y[part], pred[part], order)) for name, part in parts.items() if len(part)}
    return out


def by_source(frame: pd.DataFrame, pred, order: list[str], column: str = "domain") -> dict:
    """Scores of each source's own rows (the overall figure hides them)."""
    return {source: summary(scores(frame[column].to_numpy()[idx], np.asarray(pred)[idx], order))
            for source, idx in frame.groupby("source").indices.items()}
