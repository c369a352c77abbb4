"""Predictions files as predict writes them: which columns hold predictions, and reading them back.

predict appends its columns after the input's own. Labeling a predictions file again
replaces its earlier predictions; an input column of a predicted name (a hand label
`domain`) is kept as input_<name>. Files written before that have pred_<name> columns
instead: `current_layout` reads them in today's layout, so that review and report never
take an input's own column for a prediction.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.errors import PipelineError
from pipeline.io.rows import row_in_file
from pipeline.io.tables import read_output

# predict's columns, in order; one proba_<domain> per domain goes after domain_2.
PREDICTED = ("domain", "confidence", "domain_2", "digital", "needs_review", "review_threshold", "model_run_id")


def predicted_column(name: str, columns) -> str:
    """Where a predictions file holds predict's column `name`: `pred_<name>` in a file written when
    predict renamed its clashing columns (the input's own column then kept the name), else `name`."""
    return f"pred_{name}" if f"pred_{name}" in columns else name


def earlier_predictions(columns) -> list[str]:
    """The columns an earlier run of predict wrote, when `columns` are a predictions file's (it has
    a model_run_id): domain... model_run_id and every proba_ column, whatever the label set."""
    columns = [str(c) for c in columns]
    if predicted_column("model_run_id", columns) not in columns:
        return []
    probas = [c.removeprefix("pred_") for c in columns if c.startswith(("proba_", "pred_proba_"))]
    names = {predicted_column(c, columns) for c in [*PREDICTED, *probas]}
    return [c for c in columns if c in names]


def kept_name(name: str, columns) -> str:
    """The name an input column clashing with a predicted one is kept under: input_<name>, free in `columns`."""
    while name in columns:
        name = f"input_{name}"
    return name


def current_layout(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its predictions under their own names: pred_<name> becomes <name>, the input's
    own <name> becomes input_<name> (a file written when predict renamed its clashing columns)."""
    columns = [str(c) for c in frame.columns]
    moved = [c for c in earlier_predictions(columns) if c.startswith("pred_")]
    renames = {c: kept_name(c, columns) for c in (m.removeprefix("pred_") for m in moved) if c in columns}
    return frame.rename(columns={**renames, **{c: c.removeprefix("pred_") for c in moved}})


def read_predictions_file(path: str | Path) -> pd.DataFrame:
    """A predictions file (any format `read_table` reads; a CSV's formula guard undone, `read_output`), in
    today's layout, its numeric prediction columns as numbers: a CSV of predict --excel-fr writes them
    with a decimal comma ("0,25")."""
    frame = current_layout(read_output(path))
    for column in [c for c in frame.columns if c in ("confidence", "review_threshold") or c.startswith("proba_")]:
        frame[column] = as_numbers(frame[column], column, path)
    return frame


def as_numbers(raw: pd.Series, column: str, path) -> pd.Series:
    """A column of numbers written either way ("0.25", "0,25"), NaN where empty; a cell that is no
    number is an error naming the file, the column and its row as the user finds it."""
    if pd.api.types.is_numeric_dtype(raw):
        return raw
    text = raw.astype(object).where(raw.notna(), "").astype(str).str.strip()
    numbers = pd.to_numeric(text.str.replace(r"^([-+]?\d*),(\d+)$", r"\1.\2", regex=True), errors="coerce")
    bad = numbers.isna() & (text != "")
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise PipelineError(f"{path}, {row_in_file(raw, i)}: {text.iloc[i]!r} in column {column!r} is not a number "
                            f"({int(bad.sum())} such row(s)); give the output of `make predict`")
    return numbers.astype(float)
