"""Cells of a table read as text, whatever type the reader gave their column.

A column of numbers with a blank cell comes back from pandas (or a Parquet file
with nulls) as floats: 2021 is read 2021.0, a commune code 1004.0. Values that
name something (a year, a code) are compared as text, so they are read back whole.
"""
from __future__ import annotations

import datetime

import pandas as pd


def as_text(series: pd.Series) -> pd.Series:
    """Stripped text, "" where missing (NaN, None, or the words a writer leaves for them)."""
    out = series.astype(object).where(series.notna(), "").astype(str).str.strip()
    return out.mask(out.str.lower().isin(["nan", "none", "null", "<na>"]), "")


def whole_number_text(series: pd.Series) -> pd.Series:
    """As `as_text`, with a float's zero decimals dropped: 2021.0 and "2021" are both "2021"."""
    return as_text(series).str.replace(r"(?<=\d)\.0+$", "", regex=True)


def whole_text(series: pd.Series) -> pd.Series:
    """Codes and years as text in upper case ("2a004" is 2A004), "" where missing, read back whole."""
    return whole_number_text(series).str.upper()


def sheet_cell_text(value):
    """A workbook cell (as pandas reads it, untyped) as the text pandas' dtype=str gives, except that a date
    without a time is the date alone: "2023-03-01", not "2023-03-01 00:00:00", a time the sheet never showed.
    Empty cells stay as they are."""
    if isinstance(value, datetime.datetime) and value.time() == datetime.time() and value.tzinfo is None:
        return value.date().isoformat()
    return value if isinstance(value, str) or pd.isna(value) else str(value)
