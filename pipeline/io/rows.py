"""Where a table's rows sit in the file it was read from, so that errors name a row as the user finds it.

The readers (read.py, csvfile.py) record it in the frame's attrs, which pandas
keeps through copies, selections and `assign`: the number of the first data
row as a spreadsheet shows it (2 under a header on row 1; lower in a workbook
whose header sits below empty rows), and the sheet of a workbook.

A CSV's blank lines are rows in a spreadsheet and lines in a text editor, but
pandas skips them, and pandas cannot tell a blank line from a row of empty
cells (";;"). So a CSV's rows are placed as if it had none, with the file's
layout beside them; `row_in_file` then reads the file up to the row it names
(only when an error names one) and counts them. A quoted cell spanning lines
makes the text line differ from the row: both are given then.

A Parquet file has no header line a user sees: its rows are numbered from 1,
as a table's (pandas' or pyarrow's index from 0, plus one), and named "row N
of the table".
"""
from __future__ import annotations

import csv

import pandas as pd

FIRST_ROW, SHEET, CSV_LAYOUT, OF_TABLE = "first_row", "sheet", "csv_layout", "of_table"


def place_rows(frame: pd.DataFrame, first_row: int, sheet: str | None = None, csv_layout=None,
               of_table: bool = False) -> pd.DataFrame:
    """`frame`, its first row recorded as row `first_row` (of `sheet`) of its file; for a CSV, its
    layout (csvfile.CsvLayout), with `first_row` counted as if the file had no blank line; `of_table`:
    a file without a header line (Parquet), its rows numbered from 1."""
    frame.attrs[FIRST_ROW] = first_row
    if of_table:
        frame.attrs[OF_TABLE] = True
    if sheet is not None:
        frame.attrs[SHEET] = sheet
    if csv_layout is not None:
        frame.attrs[CSV_LAYOUT] = csv_layout
    return frame


def row_in_file(frame: pd.DataFrame | pd.Series, i: int) -> str:
    """The frame's i-th row (from 0) as the user finds it: "row 13", "sheet 'Données', row 13", for a
    CSV whose quoted cells span lines, "row 13 (line 15)", for a Parquet file "row 12 of the table".

    A frame no reader placed is taken for a CSV's rows under a header on row 1.
    """
    row = frame.attrs.get(FIRST_ROW, 2) + i
    layout = frame.attrs.get(CSV_LAYOUT)
    place = _csv_place(layout, row - 2) if layout is not None else None
    if place is not None:
        row, line = place
        return f"row {row}" if line == row else f"row {row} (line {line})"
    if frame.attrs.get(OF_TABLE):  # i = -1, the header's row elsewhere, is its column names
        return f"row {row} of the table" if row >= 1 else "the column names"
    sheet = frame.attrs.get(SHEET)
    return f"sheet {sheet!r}, row {row}" if sheet else f"row {row}"


def _csv_place(layout, data_row: int) -> tuple[int, int] | None:
    """The spreadsheet row and the text line where the CSV's data row `data_row` (0: the first under the
    header) starts, blank lines counted; None when csv.reader cannot read as far as pandas did."""
    row, line, seen = 0, 1, -2  # seen: -1 once the header (the first line not blank) is read
    try:
        with layout.open_text() as fh:
            reader = csv.reader(fh, delimiter=layout.sep)
            for record in reader:
                row += 1
                if record:
                    seen += 1
                    if seen == data_row:
                        return row, line
                line = reader.line_num + 1
    except (csv.Error, UnicodeError, OSError):  # a NUL byte, a huge cell: the row as pandas counted it
        return None
    return None
