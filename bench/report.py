"""What the benchmark prints and checks: its tables, and the targets of issue 5 with their verdicts."""
from __future__ import annotations

import sys

TARGETS = {
    "speedup_vs_full_spacy": 20.0,   # predict end to end, words/s, same run
    "macro_f1_gap": 0.01,            # lookup (fast) vs tagger (slow path)
    "rss_ratio_1m_vs_10k": 1.5,
    "time_ratio_1m_vs_100k": 11.0,
}


def table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(f"\n## {title}")
    for k, r in enumerate(cells):
        print("  " + "  ".join(c.rjust(w) if k and i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if k == 0:
            print("  " + "  ".join("-" * w for w in widths))
    sys.stdout.flush()


def _fmt(c) -> str:
    if isinstance(c, float):
        return f"{c:,.0f}" if abs(c) >= 1000 else (f"{c:.2f}" if abs(c) >= 1 else f"{c:.3f}")
    if isinstance(c, int):
        return f"{c:,}"
    return "" if c is None else str(c)


def verdicts(results: dict) -> dict:
    out = {}
    t = results.get("throughput")
    if t:
        r = t["ratios"]["predict_vs_full_spacy"]
        out["predict >= 20x full spaCy words/s"] = {"value": r, "met": r >= TARGETS["speedup_vs_full_spacy"]}
    f = results.get("f1")
    if f:
        for clf in f["classifiers"]:
            v = f["variants"]
            gap = round(v[f"{clf} / tagger"]["macro_f1"] - v[f"{clf} / lookup"]["macro_f1"], 4)
            out[f"macro-F1 lookup within 0.01 of tagger ({clf})"] = {"value": gap, "met": gap <= TARGETS["macro_f1_gap"]}
    m = results.get("memory")
    if m:
        ratios = m["ratios"]
        lo, mid, hi = ratios["rows"]
        for key in (f"max_rss_{hi}_vs_{lo}", f"tree_pss_{hi}_vs_{lo}"):
            if ratios.get(key) is not None:
                out[f"peak memory {key} <= 1.5"] = {"value": ratios[key], "met": ratios[key] <= TARGETS["rss_ratio_1m_vs_10k"]}
        key = f"time_{hi}_vs_{mid}"
        out[f"{key} <= 11"] = {"value": ratios[key], "met": ratios[key] <= TARGETS["time_ratio_1m_vs_100k"]}
    if t:
        p = t["predict"]
        gain = p["fast, 1 process, CSV out"]["predict_s"] / p["fast, 2 processes, CSV out"]["predict_s"]
        free = min(results.get("effective_cores_start") or 0, results.get("effective_cores_end") or 0)
        out["both cores used: 2 processes faster than 1"] = {
            "value": round(gain, 2), "met": gain > 1.1 if free >= 1.6 else None,
            "note": None if free >= 1.6 else f"not measurable: only {free} of the cores were free for this run"}
    return out
