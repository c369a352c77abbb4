"""Where a table's rows sit in the file it was read from, so that errors name a row as the user finds it.

The readers (read.py, csvfile.py) record it in the frame's attrs, which pandas
keeps through copies, selections and `assign`: the number of the first data
row as a spreadsheet shows it (2 under a header on row 1; lower in a workbook
whose header sits below empty rows), and the sheet of a workbook.
"""
from __future__ import annotations

import pandas as pd

FIRST_ROW, SHEET = "first_row", "sheet"


def place_rows(frame: pd.DataFrame, first_row: int, sheet: str | None = None) -> pd.DataFrame:
    """`frame`, its first row recorded as row `first_row` (of `sheet`) of its file."""
    frame.attrs[FIRST_ROW] = first_row
    if sheet is not None:
        frame.attrs[SHEET] = sheet
    return frame


def row_in_file(frame: pd.DataFrame, i: int) -> str:
    """The frame's i-th row (from 0) as the user finds it: "row 13", or "sheet 'Données', row 13".

    A frame no reader placed is taken for a CSV's rows under a header on row 1.
    """
    row = f"row {frame.attrs.get(FIRST_ROW, 2) + i}"
    sheet = frame.attrs.get(SHEET)
    return f"sheet {sheet!r}, {row}" if sheet else row
