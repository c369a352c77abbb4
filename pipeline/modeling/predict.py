"""Labeling new submissions: a function of a DataFrame, no file I/O.

`label_frame` labels one DataFrame; `predict_texts` gives the probabilities
of a list of texts, the unit that worker processes (modeling/workers.py) run.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from pipeline.io.predictions import PREDICTED, earlier_predictions, kept_name
from pipeline.modeling.estimators import digital_labels
from pipeline.modeling.model import BarometerModel

log = logging.getLogger(__name__)


def output_columns(domains) -> list[str]:
    """Columns predict appends, in order, after every input column."""
    return [*PREDICTED[:3], *[f"proba_{d}" for d in domains], *PREDICTED[3:]]


def texts_of(frame: pd.DataFrame, text_columns: list[str]) -> pd.Series:
    """The text to classify: one column, or several joined ("titre. description")."""
    parts = [frame[c].fillna("").astype(str).str.strip() for c in text_columns]
    text = parts[0]
    for part in parts[1:]:
        text = (text + ". " + part).str.strip(". ")
    return text


def label_frame(model: BarometerModel, frame: pd.DataFrame, text_columns: list[str],
                review_threshold: float | None = None, warn: bool = True) -> pd.DataFrame:
    """Return `frame` unchanged, followed by the predicted columns (see `output_columns`).

    needs_review is true when the chosen domain's probability is below
    `review_threshold` (default: the one the model chose at training from
    out-of-fold probabilities), or when the text is empty (no domain is then given).
    """
    texts = texts_of(frame, text_columns)
    return with_predictions(model, frame, texts, predict_texts(model, texts.tolist()), review_threshold, warn)


def predict_texts(model: BarometerModel, texts: list[str], dedup: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per text, the probability of each of `model.domains` (zeros for an empty text) and
    the digital flag ("yes", "no", or "" when empty or not trained). No pandas: worker
    processes get and return only these."""
    empty = np.fromiter((t == "" for t in texts), dtype=bool, count=len(texts))
    domains = list(model.domains)
    proba = np.zeros((len(texts), len(domains)))
    digital = np.full(len(texts), "", dtype=object)
    if (~empty).any():
        class_proba, digital_proba = model.predict_proba_texts([t for t, e in zip(texts, empty) if not e], dedup=dedup)
        cols = [domains.index(c) for c in model.classes_]
        proba[np.ix_(~empty, cols)] = class_proba
        if digital_proba is not None:
            digital[~empty] = digital_labels(digital_proba, model.digital_threshold)
    return proba, digital


def applied_review_threshold(model: BarometerModel, review_threshold: float | None = None) -> float:
    """The review threshold predict applies: `review_threshold`, or the model's own."""
    return model.review_threshold if review_threshold is None else review_threshold


def with_predictions(model: BarometerModel, frame: pd.DataFrame, texts: pd.Series,
                     scores: tuple[np.ndarray, np.ndarray], review_threshold: float | None = None,
                     warn: bool = True) -> pd.DataFrame:
    """`frame` followed by the predicted columns, from the output of `predict_texts` over `texts`.

    needs_review is true below `review_threshold` (default: the model's own) or for an empty text.
    Earlier predictions in `frame` are replaced (see `without_clashes`; `warn`: say so, once a file).
    """
    review_threshold = applied_review_threshold(model, review_threshold)
    proba, digital = scores
    empty = (texts == "").to_numpy()
    domains = list(model.domains)
    top2 = np.argsort(-proba, axis=1)[:, :2]
    rows = np.arange(len(frame))
    confidence = proba[rows, top2[:, 0]]
    names = np.array(domains, dtype=object)
    out = {
        "domain": np.where(empty, "", names[top2[:, 0]]),
        "confidence": confidence.round(4),
        "domain_2": np.where(empty, "", names[top2[:, 1]]),
        **{f"proba_{d}": proba[:, i].round(4) for i, d in enumerate(domains)},
        "digital": digital,
        "needs_review": empty | (confidence < review_threshold),
        # The threshold applied (the model's, or predict's --threshold): the report states this one.
        "review_threshold": float(review_threshold),
        "model_run_id": model.run_id,
    }
    predicted = pd.DataFrame(out, index=frame.index)
    return pd.concat([without_clashes(frame, predicted.columns, warn), predicted], axis=1)


def without_clashes(frame: pd.DataFrame, predicted, warn: bool = True) -> pd.DataFrame:
    """`frame` ready to take the `predicted` columns: a predictions file's earlier predictions are
    dropped (labeling again replaces them); another column of a predicted name (a hand label
    `domain`) is kept as input_<name>, so that no reader takes it for the prediction."""
    earlier = earlier_predictions(frame.columns)
    if earlier and warn:
        log.warning("the input holds predictions already: its column(s) %s are replaced by the new ones",
                    ", ".join(earlier))
    frame = frame.drop(columns=earlier)
    clash = [c for c in predicted if c in frame.columns]
    renamed = {c: kept_name(c, list(frame.columns) + list(predicted)) for c in clash}
    if renamed and warn:
        log.warning("the input has column(s) of a name predict writes: kept as %s",
                    ", ".join(f"{new} (was {old})" for old, new in renamed.items()))
    return frame.rename(columns=renamed)
