"""The review loop simulated on hand-labeled titles: functions of arrays, no I/O.

A model trained on the seed set labels a pool of real titles; a strategy
picks a batch of them, whose hand labels are then revealed (as a reviewer's
corrections would be); the model is retrained on the seed set plus every
revealed row; and so on. Each round is scored three ways:
- list: what an analyst publishes, the reviewed rows as corrected and the
  others as the retrained model predicts them, over the whole pool;
- unreviewed: the retrained model on the pool rows nobody reviewed, beside
  the first model on those same rows (did they lose accuracy?);
- test: the retrained model on titles set aside, never in the pool.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline.modeling.metrics import scores
from pipeline.review.select import select_at_random, select_for_review

# fit(texts, labels, weights) -> a fitted classifier with classes_ and predict_proba
Fit = Callable[[list, np.ndarray, np.ndarray], object]


@dataclass
class LoopData:
    """Lemma strings and labels of the seed rows, the pool and (optionally) the test part."""

    seed_X: list
    seed_y: np.ndarray
    pool_X: list
    pool_y: np.ndarray
    pool_keys: np.ndarray
    test_X: list | None = None
    test_y: np.ndarray | None = None


@dataclass(frozen=True)
class Strategy:
    """How rows are picked: "margin" (select_for_review, with `max_share`) or "random"."""

    name: str
    kind: str = "margin"
    max_share: float | None = None


def pick(strategy: Strategy, proba: np.ndarray, classes: np.ndarray, keys, n: int, eligible,
         rng: np.random.Generator) -> np.ndarray:
    if strategy.kind == "random":
        return select_at_random(keys, n, rng, eligible)
    return select_for_review(proba, classes[proba.argmax(1)], keys, n, strategy.max_share, eligible)


def learning_curve(data: LoopData, fit: Fit, strategy: Strategy, order: list[str], batch: int = 50,
                   max_reviewed: int = 400, weight: float = 1.0, seed: int = 0) -> list[dict]:
    """One row of scores per round, from 0 reviewed rows to `max_reviewed` by `batch`."""
    rng = np.random.default_rng(seed)
    reviewed = np.zeros(len(data.pool_y), dtype=bool)
    reviewed_keys: set = set()
    first_pred = None
    rows = []
    while True:
        X = list(data.seed_X) + [x for x, r in zip(data.pool_X, reviewed) if r]
        y = np.concatenate([data.seed_y, data.pool_y[reviewed]])
        w = np.concatenate([np.ones(len(data.seed_y)), np.full(int(reviewed.sum()), weight)])
        model = fit(X, y, w)
        proba = model.predict_proba(data.pool_X)
        pred = model.classes_[proba.argmax(1)]
        first_pred = pred if first_pred is None else first_pred
        listed = np.where(reviewed, data.pool_y, pred)
        row = {"strategy": strategy.name, "weight": weight, "seed": seed, "reviewed": int(reviewed.sum()),
               **_prefixed("list", scores(data.pool_y, listed, order)),
               **_prefixed("unreviewed", scores(data.pool_y[~reviewed], pred[~reviewed], order)),
               "unreviewed_first_model_accuracy": _accuracy(data.pool_y[~reviewed], first_pred[~reviewed])}
        if data.test_X is not None:
            test_pred = model.predict(data.test_X)
            row.update(_prefixed("test", scores(data.test_y, test_pred, order)))
        rows.append(row)
        if reviewed.sum() >= max_reviewed:
            return rows
        # A key reviewed once is not offered again: its copies are the same title.
        eligible = ~reviewed & ~np.isin(data.pool_keys, list(reviewed_keys))
        chosen = pick(strategy, proba, model.classes_, data.pool_keys, min(batch, max_reviewed - int(reviewed.sum())),
                      eligible, rng)
        if len(chosen) == 0:
            return rows
        reviewed[chosen] = True
        reviewed_keys.update(data.pool_keys[chosen])


def _prefixed(prefix: str, s: dict) -> dict:
    return {f"{prefix}_accuracy": s["accuracy"], f"{prefix}_macro_f1": s["macro_f1"], f"{prefix}_n": s["n"]}


def _accuracy(y, pred) -> float:
    return round(float(np.mean(np.asarray(y) == np.asarray(pred))), 4) if len(y) else float("nan")


def rows_to_reach(curve: dict[int, float], target: float) -> int | None:
    """The fewest reviewed rows at which a (mean) curve reaches `target`, or None."""
    reached = [n for n, value in sorted(curve.items()) if value >= target - 1e-9]
    return reached[0] if reached else None
