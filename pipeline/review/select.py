"""Which predicted rows a reviewer should see first: functions of arrays, no I/O.

A row teaches the model most when the model hesitates on it: the smallest
margin between its two most probable domains first (uncertainty sampling by
margin), the lowest confidence breaking ties. Near-duplicate titles are
reviewed once (the first of their copies in that order), and no predicted
domain may take more than `max_share` of the rows picked, so that one crowded
confusion (urbanism against environment, say) does not fill the whole sheet.
docs/review.md gives the measurements behind the defaults.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np


def top_two(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the best and second-best probabilities."""
    part = np.sort(np.asarray(proba, dtype=float), axis=1)
    return part[:, -1], part[:, -2]


def margins(proba: np.ndarray) -> np.ndarray:
    """Probability of the chosen domain minus that of the runner-up, per row (0 = a coin toss)."""
    best, second = top_two(proba)
    return best - second


def priority_order(proba: np.ndarray) -> np.ndarray:
    """Row positions, most informative first: smallest margin, then lowest confidence."""
    best, second = top_two(proba)
    return np.lexsort((best, best - second))


def select_for_review(proba: np.ndarray, predicted, keys, n: int, max_share: float | None = None,
                      eligible=None) -> np.ndarray:
    """Positions of the `n` rows to review, in the order a reviewer should take them.

    proba: rows × domains; predicted: each row's predicted domain; keys: each
    row's near-duplicate key (`pipeline.modeling.cv.duplicate_key`), rows of
    one key being reviewed once; eligible: rows that may be picked (default
    all; e.g. not empty, not reviewed yet). A predicted domain takes at most
    ceil(max_share * n) rows, unless too few rows of other domains are left.
    """
    predicted, keys = np.asarray(predicted, dtype=object), np.asarray(keys, dtype=object)
    eligible = np.ones(len(keys), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    order = [i for i in priority_order(proba) if eligible[i]]
    cap = math.ceil(max_share * n) if max_share else n
    chosen, seen, per_domain, held_back = [], set(), Counter(), []
    for i in order:
        if len(chosen) == n:
            break
        if keys[i] in seen:
            continue
        if per_domain[predicted[i]] >= cap:
            held_back.append(i)
            continue
        chosen.append(i)
        seen.add(keys[i])
        per_domain[predicted[i]] += 1
    _take_distinct(held_back, keys, n, chosen, seen)  # the cap left the sheet short: fill it in priority order
    return np.asarray(chosen, dtype=np.intp)


def _take_distinct(order, keys, n: int, chosen: list, seen: set) -> None:
    """Append to `chosen` the rows of `order` whose key is not yet seen, until it holds `n`."""
    for i in order:
        if len(chosen) == n:
            break
        if keys[i] not in seen:
            chosen.append(i)
            seen.add(keys[i])


def select_at_random(keys, n: int, rng: np.random.Generator, eligible=None) -> np.ndarray:
    """`n` rows of distinct keys drawn at random among the eligible ones (the baseline)."""
    keys = np.asarray(keys, dtype=object)
    eligible = np.ones(len(keys), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    chosen: list = []
    _take_distinct(rng.permutation(np.flatnonzero(eligible)), keys, n, chosen, set())
    return np.asarray(chosen, dtype=np.intp)
