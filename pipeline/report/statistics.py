"""The statistics behind the findings: Spearman (plain and partial), chi-square and Cramér's V."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

SIGNIFICANCE = 0.05


def spearman(x: pd.Series, y: pd.Series) -> dict:
    """Spearman's rank correlation (ties averaged) with its two-sided p-value."""
    pair = pd.concat([pd.to_numeric(x, errors="coerce"), pd.to_numeric(y, errors="coerce")], axis=1).dropna()
    n = len(pair)
    if n < 3 or pair.iloc[:, 0].nunique() < 2 or pair.iloc[:, 1].nunique() < 2:
        return {"rho": math.nan, "p": math.nan, "n": n}
    result = stats.spearmanr(pair.iloc[:, 0], pair.iloc[:, 1])
    return {"rho": float(result.statistic), "p": float(result.pvalue), "n": n}


def partial_spearman(x: pd.Series, y: pd.Series, z: pd.Series) -> dict:
    """Spearman correlation of x and y with z held constant (from the three pairwise rhos; t-test, n-3 df)."""
    frame = pd.concat([pd.to_numeric(s, errors="coerce") for s in (x, y, z)], axis=1).dropna()
    n = len(frame)
    if n < 5:
        return {"rho": math.nan, "p": math.nan, "n": n}
    r = frame.rank().corr().to_numpy()
    rxy, rxz, ryz = r[0, 1], r[0, 2], r[1, 2]
    denom = math.sqrt(max((1 - rxz ** 2) * (1 - ryz ** 2), 0))
    if denom == 0:
        return {"rho": math.nan, "p": math.nan, "n": n}
    rho = (rxy - rxz * ryz) / denom
    rho = max(min(rho, 1.0), -1.0)
    df = n - 3
    t = rho * math.sqrt(df / max(1 - rho ** 2, 1e-300))
    return {"rho": float(rho), "p": float(2 * stats.t.sf(abs(t), df)), "n": n}


def independence(table: pd.DataFrame) -> dict:
    """Chi-square test of independence of a contingency table, and Cramér's V.

    Empty rows and columns are dropped first. V = sqrt(chi2 / (n (min(r, c) - 1))).
    """
    t = table.loc[table.sum(axis=1) > 0, table.sum(axis=0) > 0]
    n = int(t.to_numpy().sum())
    if t.shape[0] < 2 or t.shape[1] < 2:
        return {"chi2": math.nan, "dof": 0, "p": math.nan, "cramers_v": math.nan, "n": n,
                "rows": t.shape[0], "columns": t.shape[1], "low_expected_share": math.nan}
    result = stats.chi2_contingency(t.to_numpy(), correction=False)
    k = min(t.shape) - 1
    expected = np.asarray(result.expected_freq)
    return {"chi2": float(result.statistic), "dof": int(result.dof), "p": float(result.pvalue),
            "cramers_v": float(math.sqrt(result.statistic / (n * k))), "n": n,
            "rows": t.shape[0], "columns": t.shape[1],
            "low_expected_share": float((expected < 5).mean())}
