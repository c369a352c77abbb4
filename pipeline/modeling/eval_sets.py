"""Scores of a trained model on the written evaluation sets (data/eval/*.csv), per split.

Each set is split once, before any measurement, into `dev` rows (whose errors may be
read to write seed rows) and `test` rows (scored only): data/eval/README.md. No file I/O.
"""
from __future__ import annotations

import pandas as pd

from pipeline.errors import PipelineError
from pipeline.io.rows import row_in_file
from pipeline.modeling.metrics import digital_f1_yes, scores, summary

SPLITS = ("dev", "test")


def check_splits(split: pd.Series, path) -> None:
    """Every row dev or test, else a PipelineError naming the first bad row as the user finds it."""
    bad = ~split.isin(SPLITS)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise PipelineError(f"{path}, {row_in_file(split, i)}: split {split.iloc[i]!r} in column 'split' is not "
                            f"one of {', '.join(SPLITS)} ({int(bad.sum())} such rows)")


def split_scores(truth: pd.DataFrame, predicted: pd.DataFrame, order: list[str]) -> dict:
    """Accuracy, macro-F1 (and the digital flag's F1 of yes) per split and over all rows.

    `truth` has columns domain, digital, split; `predicted` domain, digital, on the same rows.
    """
    out = {}
    for name in (*SPLITS, "all"):
        rows = truth["split"].eq(name).to_numpy() if name != "all" else slice(None)
        t, p = truth[rows], predicted[rows]
        if t.empty:
            continue
        entry = summary(scores(t["domain"].to_numpy(), p["domain"].to_numpy(), order))
        f1_yes = digital_f1_yes(t["digital"], p["digital"])
        out[name] = entry if f1_yes is None else {**entry, "digital_f1_yes": f1_yes}
    return out


def eval_sets_markdown(result: dict) -> list[str]:
    """The SUMMARY.md section of the eval sets (empty when there are none)."""
    if not result or not result.get("sets"):
        return []
    lines = ["", "## Written evaluation sets (data/eval/)", "",
             f"Model `{result['model_run_id']}` (the latest trained) on texts the project wrote to look like "
             "real ones (data/eval/README.md): optimistic proxies, not real texts. Only dev rows' errors "
             "may be read.", "",
             "| set | split | n | accuracy | macro-F1 | digital F1(yes) |", "|---|---|---|---|---|---|"]
    for name, by_split in result["sets"].items():
        for split, s in by_split.items():
            lines.append(f"| {name} | {split} | {s['n']} | {s['accuracy']:.3f} | {s['macro_f1']:.3f} | "
                         f"{s.get('digital_f1_yes', '')} |")
    return lines
