"""Years and digital services: each domain's share by year and its change, the digital share by group.

Functions of DataFrames, no file I/O. The intervals are the sampling intervals of
shares and of differences of shares (Wilson, Newcombe): they say how much a change
between two years could be chance, not how wrong the model's labels are.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipeline.domains import LabelSet, digital_known

Z95 = 1.959963984540054


def wilson(hits: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a share hits/n."""
    if n <= 0:
        return math.nan, math.nan
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(x1: float, n1: float, x2: float, n2: float, z: float = Z95) -> tuple[float, float, float]:
    """Difference of two shares p2 - p1 with Newcombe's hybrid score interval (his method 10)."""
    if n1 <= 0 or n2 <= 0:
        return math.nan, math.nan, math.nan
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    d = p2 - p1
    low = d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return d, low, high


def year_order(values) -> list[str]:
    """Years in numeric order when they are numbers ("2018" < "2019" < "2023"), else sorted as text."""
    values = [str(v) for v in values if str(v) != ""]
    return sorted(values, key=lambda v: (0, float(v), v) if v.replace(".", "", 1).isdigit() else (1, 0.0, v))


def year_changes(table: pd.DataFrame, labels: LabelSet) -> pd.DataFrame:
    """From a domain × year crosstab: each domain's share per year, and its change from the first year to
    the last in percentage points with a 95 % interval (columns part_<year>, evolution_points, ci_low, ci_high)."""
    years = year_order(table.columns)
    table = table[years]
    totals = table.sum(axis=0)
    out = pd.DataFrame({"libelle": [labels.label(c) for c in table.index]}, index=table.index)
    for y in years:
        out[f"part_{y}"] = table[y] / totals[y] if totals[y] else np.nan
    first, last = years[0], years[-1]
    changes = [newcombe(table.at[d, first], totals[first], table.at[d, last], totals[last]) for d in table.index]
    out["evolution_points"] = [100 * c[0] for c in changes]
    out["ci_low"] = [100 * c[1] for c in changes]
    out["ci_high"] = [100 * c[2] for c in changes]
    out.attrs.update(first=first, last=last, years=years)
    return out


def digital_by(pred: pd.DataFrame, group: pd.Series, order: list[str] | None = None) -> pd.DataFrame:
    """Per group: its initiatives, the digital ones, and their share among those whose flag is known.

    `initiatives` counts every row of the group, as the other tables by size, age or year do: a row
    without text (no flag) left out of it made the same group two counts on one page."""
    grouped = (group.notna() & (group.astype(str) != "")).to_numpy()
    known = digital_known(pred["digital"])
    frame = pd.DataFrame({"g": group[grouped].astype(str), "known": known[grouped],
                          "yes": (pred["digital"] == "yes").to_numpy()[grouped]})
    agg = frame.groupby("g").agg(initiatives=("known", "size"), connus=("known", "sum"), numeriques=("yes", "sum"))
    keys = order if order is not None else year_order(agg.index)
    agg = agg.reindex([k for k in keys if k in agg.index and agg.at[k, "connus"] > 0])  # no flag read: no share
    agg["numeriques"] = agg["numeriques"].astype(int)
    agg["part_numeriques"] = agg["numeriques"] / agg.pop("connus")
    agg.index.name = "groupe"
    return agg
