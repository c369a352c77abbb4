"""Label issues in the training data by confident learning: functions of arrays, no I/O.

Northcutt, Jiang and Chuang, "Confident learning: estimating uncertainty in
dataset labels" (JAIR 2021), written out here in a few lines rather than
taken from cleanlab (AGPL-3.0). Each class j gets a threshold t_j, the mean
out-of-fold probability of j over the rows labeled j (its self-confidence).
A row labeled y is an issue when its probability of y is below t_y while
another class k reaches t_k: the model, not having seen the row, confidently
says k. Issues are ranked by margin, p_k - p_y, the surest first.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def class_thresholds(proba: np.ndarray, y, classes) -> np.ndarray:
    """Per class, the mean out-of-fold probability of that class over its own rows (NaN when it has none)."""
    y, classes = np.asarray(y), np.asarray(classes)
    return np.array([proba[y == c, j].mean() if (y == c).any() else np.nan for j, c in enumerate(classes)])


def label_issues(proba: np.ndarray, y, classes) -> pd.DataFrame:
    """The rows the model confidently contradicts: row, given label, suggested class, their probabilities, margin.

    The suggested class is, among the classes at or above their threshold, the
    most probable one. Sorted by margin, largest first.
    """
    proba, y, classes = np.asarray(proba, dtype=float), np.asarray(y), np.asarray(classes)
    t = class_thresholds(proba, y, classes)
    position = {c: j for j, c in enumerate(classes)}
    given = np.fromiter((position[v] for v in y), dtype=np.intp, count=len(y))
    rows = np.arange(len(y))
    p_given = proba[rows, given]
    above = proba >= np.nan_to_num(t, nan=np.inf)[None, :]
    above[rows, given] = False
    claimed = np.where(above, proba, -1.0)
    suggested = claimed.argmax(axis=1)
    issue = (p_given < t[given]) & above.any(axis=1)
    idx = np.flatnonzero(issue)
    out = pd.DataFrame({"row": idx, "label": y[idx], "suggested": classes[suggested[idx]],
                        "p_label": p_given[idx].round(4), "p_suggested": proba[idx, suggested[idx]].round(4)})
    out["margin"] = (out["p_suggested"] - out["p_label"]).round(4)
    return out.sort_values("margin", ascending=False, kind="stable").reset_index(drop=True)


def other_labels(groups, y) -> np.ndarray:
    """Per row, the other domains the copies of its title carry, comma-separated ("" when none)."""
    frame = pd.DataFrame({"group": np.asarray(groups), "label": np.asarray(y)})
    labels_of_group = frame.groupby("group")["label"].agg(lambda s: sorted(set(s)))
    return np.array([", ".join(other for other in group if other != own)
                     for group, own in zip(frame["group"].map(labels_of_group), frame["label"])], dtype=object)


def conflict_rows(proba: np.ndarray, y, classes, others: np.ndarray, listed) -> pd.DataFrame:
    """The rows of a title labeled with two domains or more that `listed` (label_issues' rows) leaves out,
    as label_issues gives its rows, the model's first domain as the suggestion; copies together.

    The grouped CV gives every copy of a title one prediction: at most the copies whose label
    differs from it can be issues, and none is when the model hesitates between the two."""
    proba, y, classes = np.asarray(proba, dtype=float), np.asarray(y), np.asarray(classes)
    idx = np.setdiff1d(np.flatnonzero(others != ""), np.asarray(listed, dtype=np.intp))
    position = {c: j for j, c in enumerate(classes)}
    given = np.fromiter((position[v] for v in y[idx]), dtype=np.intp, count=len(idx))
    first = proba[idx].argmax(axis=1) if len(idx) else np.array([], dtype=np.intp)
    out = pd.DataFrame({"row": idx, "label": y[idx], "suggested": classes[first],
                        "p_label": proba[idx, given].round(4), "p_suggested": proba[idx, first].round(4)})
    out["margin"] = (out["p_suggested"] - out["p_label"]).round(4)
    return out
