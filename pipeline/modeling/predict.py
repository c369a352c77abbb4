"""Labeling new submissions: a function of a DataFrame, no file I/O.

`label_frame` labels one DataFrame. `Scorer` scores a stream of chunks,
optionally in worker processes (one per core), for `make predict`.
"""
from __future__ import annotations

import gc
import logging
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from pipeline.modeling.model import BarometerModel

log = logging.getLogger(__name__)

def output_columns(domains) -> list[str]:
    """Columns predict appends, in order, after every input column."""
    return ["domain", "confidence", "domain_2", *[f"proba_{d}" for d in domains],
            "digital", "needs_review", "model_run_id"]


def texts_of(frame: pd.DataFrame, text_columns: list[str]) -> pd.Series:
    """The text to classify: one column, or several joined ("titre. description")."""
    parts = [frame[c].fillna("").astype(str).str.strip() for c in text_columns]
    text = parts[0]
    for part in parts[1:]:
        text = (text + ". " + part).str.strip(". ")
    return text


def label_frame(model: BarometerModel, frame: pd.DataFrame, text_columns: list[str],
                review_threshold: float | None = None) -> pd.DataFrame:
    """Return `frame` unchanged, followed by the predicted columns (see `output_columns`).

    needs_review is true when the chosen domain's probability is below
    `review_threshold` (default: the one the model chose at training from
    out-of-fold probabilities), or when the text is empty (no domain is then given).
    """
    texts = texts_of(frame, text_columns)
    return with_predictions(model, frame, texts, score(model, texts.tolist()), review_threshold)


def score(model: BarometerModel, texts: list[str], dedup: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per text, the probability of each of `model.domains` (zeros for an empty text) and
    the digital flag ("yes", "no", or "" when empty or not trained). No pandas: worker
    processes get and return only these."""
    empty = np.fromiter((t == "" for t in texts), dtype=bool, count=len(texts))
    domains = list(model.domains)
    proba = np.zeros((len(texts), len(domains)))
    digital = np.full(len(texts), "", dtype=object)
    if (~empty).any():
        class_proba, digital_proba = model.score_texts([t for t, e in zip(texts, empty) if not e], dedup=dedup)
        cols = [domains.index(c) for c in model.classes_]
        proba[np.ix_(~empty, cols)] = class_proba
        if digital_proba is not None:
            digital[~empty] = np.where(digital_proba >= 0.5, "yes", "no")
    return proba, digital


def with_predictions(model: BarometerModel, frame: pd.DataFrame, texts: pd.Series,
                     scores: tuple[np.ndarray, np.ndarray], review_threshold: float | None = None) -> pd.DataFrame:
    """`frame` followed by the predicted columns, from the output of `score` over `texts`.

    needs_review is true below `review_threshold` (default: the model's own) or for an empty text.
    """
    if review_threshold is None:
        review_threshold = model.review_threshold
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
        "model_run_id": model.run_id,
    }
    predicted = pd.DataFrame(out, index=frame.index)
    clash = [c for c in predicted.columns if c in frame.columns]
    if clash:
        log.warning("input already has column(s) %s: predictions go to pred_<name>", ", ".join(clash))
        predicted = predicted.rename(columns={c: f"pred_{c}" for c in clash})
    return pd.concat([frame, predicted], axis=1)


# -- many chunks, on every core ----------------------------------------------------
_WORKER_MODEL: BarometerModel | None = None


def _init_worker(model: BarometerModel) -> None:
    global _WORKER_MODEL
    _WORKER_MODEL = model


def _score_in_worker(texts: list[str], dedup: bool):
    return score(_WORKER_MODEL, texts, dedup)


def can_fork() -> bool:
    """Worker processes are forked, so that they share the loaded model instead of loading it again."""
    return "fork" in multiprocessing.get_all_start_methods()


class Scorer:
    """Scores a stream of (payload, texts) items with `score`, here or in worker processes.

    `n_jobs` is the number of processes in all. With 1, this process scores
    everything. With n > 1, n - 1 forked worker processes score the items
    while this one reads and writes around them, and scores an item itself
    when every worker already has two queued; at most 2 (n - 1) + 1 items
    are in flight, so memory does not grow with the input. Used as a context manager: the workers are forked
    on entry (before the caller starts a progress bar's thread) and stopped
    on exit.
    """

    def __init__(self, model: BarometerModel, n_jobs: int = 1, dedup: bool = True):
        self.model, self.n_jobs, self.dedup = model, n_jobs, dedup
        self.workers = max(n_jobs - 1, 0) if can_fork() else 0
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "Scorer":
        if self.workers:
            self.model.load()
            gc.collect()
            gc.freeze()  # the model's objects stay out of the workers' garbage collection: fewer copied pages
            try:
                self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"),
                                                 initializer=_init_worker, initargs=(self.model,))
                self._pool.submit(int).result()  # fork now
            except BaseException:
                self.__exit__()
                raise
            finally:
                gc.unfreeze()
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map(self, items: Iterable[tuple[object, list[str]]]) -> Iterator[tuple[object, tuple[np.ndarray, np.ndarray]]]:
        """For each (payload, texts) of `items`, yield (payload, score(model, texts)), in order."""
        if self._pool is None:
            for payload, texts in items:
                yield payload, score(self.model, texts, self.dedup)
            return
        pending: deque = deque()
        for payload, texts in items:
            if sum(not f.done() for _, f in pending) >= 2 * self.workers:
                # every worker has work queued: score this item here rather than wait idle
                pending.append((payload, _Ready(score(self.model, texts, self.dedup))))
            else:
                pending.append((payload, self._pool.submit(_score_in_worker, texts, self.dedup)))
            while pending and (pending[0][1].done() or len(pending) > 2 * self.workers + 1):
                payload_done, future = pending.popleft()
                yield payload_done, future.result()
        while pending:
            payload_done, future = pending.popleft()
            yield payload_done, future.result()


class _Ready:
    """A result computed here, standing in the queue beside the workers' futures."""

    def __init__(self, value):
        self.value = value

    def done(self) -> bool:
        return True

    def result(self):
        return self.value


def scored(model: BarometerModel, items: Iterable[tuple[object, list[str]]], n_jobs: int = 1,
           dedup: bool = True) -> Iterator[tuple[object, tuple[np.ndarray, np.ndarray]]]:
    """`Scorer(model, n_jobs, dedup).map(items)`, the workers stopped at the end."""
    with Scorer(model, n_jobs, dedup) as scorer:
        yield from scorer.map(items)
