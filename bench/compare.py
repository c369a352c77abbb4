"""This run beside a baseline run (`--baseline results.json`): the same figures, side by side, with their ratio.

Times and memory are compared, not rates: a rate depends on the words counted, a time
on the work done, and the baseline may come from an older version of this script.
"""
from __future__ import annotations

# The figures compared, by their key in results.json; lower is better for all of them.
COMPARED = ("predict_s", "wall_s", "seconds", "max_rss_mb", "tree_pss_mb")


def figures(results: dict, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], float]:
    """Every compared figure of a results.json, by its path of keys."""
    out = {}
    for key, value in results.items():
        key = str(key)  # as JSON writes it: this run's memory section is keyed by rows (ints), the baseline's by text
        if isinstance(value, dict):
            out.update(figures(value, path + (key,)))
        elif key in COMPARED and isinstance(value, (int, float)) and not isinstance(value, bool):
            out[path + (key,)] = float(value)
    return out


def side_by_side(baseline: dict, current: dict) -> list[list]:
    """[figure, baseline, this run, this run / baseline] for the figures both runs have, in this run's order."""
    before = figures(baseline)
    rows = []
    for path, now in figures(current).items():
        if path in before:
            ratio = round(now / before[path], 2) if before[path] else None
            rows.append([" / ".join(path), before[path], now, ratio])
    return rows
