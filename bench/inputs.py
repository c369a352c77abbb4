"""The benchmark's inputs: the DGCL files of the shared data, and the model the predict sections use."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipeline.io.tables import read_table

YEARS = ("2018", "2019", "2023")


def model_run(ctx) -> Path:
    """The model the predict sections use: --model, else the one trained with EXTRA, else on the seed set."""
    return ctx.runs.get("given") or ctx.runs.get("extra") or ctx.runs["seed"]


def dgcl_files(data: Path) -> list[Path]:
    return [data / "dgcl" / f"dotations-{y}.csv" for y in YEARS]


def combined_dgcl(ctx) -> Path:
    """The three DGCL years as one input (same columns): what `make predict` gets from a yearly export."""
    path = ctx.tmp / "dgcl-2018-2019-2023.csv"
    if not path.exists():
        pd.concat([read_table(p) for p in dgcl_files(ctx.data)]).to_csv(path, sep=";", index=False)
    return path


def dgcl_texts(data: Path) -> dict[str, list[str]]:
    return {p.name: read_table(p)["intitule"].fillna("").astype(str).str.strip().tolist() for p in dgcl_files(data)}
