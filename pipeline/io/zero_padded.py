"""Numbers a workbook shows with leading zeros: a code typed as a number under a format such as "00000"
(Excel's "Special > Zip code" format), which the sheet shows as 01004 and pandas reads as 1004.

The cell's text is what the sheet shows (01004), as for a code typed as text; other formats (dates,
decimals, thousands) are left to pandas' reading. Only .xlsx files say so in a form read here.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd

ZEROS = re.compile(r"0{2,}")  # "00000"; a single "0" pads nothing


def show_zero_padding(raw: pd.DataFrame, path: Path, sheet: str) -> pd.DataFrame:
    """`raw` (the sheet's cells as text, row i and column j of the frame being the sheet's i + 1 and j + 1)
    with each whole number under a format of zeros written with that format's width."""
    from openpyxl import load_workbook

    if not _has_zero_formats(path):  # no cell to look at: the second reading (slow) is spared
        return raw
    with path.open("rb") as fh:  # a file object: openpyxl refuses a path not named .xlsx
        return _padded(raw, load_workbook(fh, read_only=True, data_only=True), sheet)


def _has_zero_formats(path: Path) -> bool:
    """Whether the workbook's styles define a number format of zeros (its custom formats, in styles.xml)."""
    with zipfile.ZipFile(path) as book:
        try:
            styles = book.read("xl/styles.xml")
        except KeyError:
            return False
    return bool(re.search(rb'formatCode="0{2,}"', styles))


def _padded(raw: pd.DataFrame, book, sheet: str) -> pd.DataFrame:
    try:
        for row in book[sheet].iter_rows():
            for cell in row:
                width = _zeros(cell)
                if width and cell.row <= len(raw) and cell.column <= raw.shape[1]:
                    raw.iat[cell.row - 1, cell.column - 1] = f"{int(cell.value):0{width}d}"
    finally:
        book.close()
    return raw


def _zeros(cell) -> int:
    """The width of `cell`'s format of zeros when it holds a whole number under one, else 0."""
    value, fmt = getattr(cell, "value", None), getattr(cell, "number_format", None)
    if (isinstance(value, (int, float)) and not isinstance(value, bool) and fmt and ZEROS.fullmatch(fmt)
            and float(value).is_integer() and value >= 0):
        return len(fmt)
    return 0
