"""Cells a spreadsheet would run as a formula: the CSV guard, its undoing, and text typed as text in workbooks.

CSV/TSV outputs give such a cell a leading apostrophe (OWASP's CSV injection:
a cell starting with =, +, -, @, tab or carriage return; numbers such as -3.5
or "-1 234,5 %" are left as they are). `restore` takes that apostrophe off
again when the tool reads its own output back (review, report, quantify). A
CSV cannot tell the guard's apostrophe from one the text had before such a
character: both are taken off, which only a text that began with one loses.

openpyxl takes a text starting with "=" for a formula (and "#N/A" for an
error): the workbooks the tool writes type every text cell as text instead.
"""
from __future__ import annotations

import re

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Left as they are: numbers, even French-formatted ("-1 234,5 %"): digits, spaces, separators,
# a sign and a percent sign cannot call anything.
_NUMBER = re.compile(r"[+-]?[\d\s.,\u00a0\u202f]*\d[\d\s.,\u00a0\u202f]*%?([eE][+-]?\d+)?")
GUARD = "'"


def _risky(text: pd.Series) -> pd.Series:
    """Which of `text` (strings, or other values never risky) a spreadsheet would run as a formula."""
    risky = text.str.startswith(FORMULA_START).fillna(False).astype(bool)
    if risky.any():
        risky[risky] = ~text[risky].astype(str).str.fullmatch(_NUMBER.pattern).to_numpy()
    return risky


def _is_text(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series.dtype)


def neutralise(series: pd.Series) -> pd.Series:
    """Cells a spreadsheet would take for a formula, with a leading apostrophe (plain numbers kept)."""
    if not _is_text(series):
        return series
    try:  # vectorised; a value that is not text (None, a bool in an object column) is never risky
        risky = _risky(series)
    except AttributeError:  # an object column without any text
        return series
    return series.mask(risky, GUARD + series[risky].astype(str)) if risky.any() else series


def restore(series: pd.Series) -> pd.Series:
    """`neutralise` undone: a cell of its apostrophe then a risky text gets the text back."""
    if not _is_text(series):
        return series
    try:
        guarded = series.str.startswith(GUARD).fillna(False).astype(bool)
    except AttributeError:
        return series
    if guarded.any():
        guarded[guarded] = _risky(series[guarded].astype(str).str[len(GUARD):]).to_numpy()
    return series.mask(guarded, series[guarded].astype(str).str[len(GUARD):]) if guarded.any() else series


def _columns(frame: pd.DataFrame, cells) -> pd.DataFrame:
    out = frame.apply(cells)
    out.columns = cells(pd.Series(frame.columns, dtype=object)).tolist()
    return out


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return _columns(frame, neutralise)


def restore_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return _columns(frame, restore)


def text_cell(sheet, value):
    """A write-only worksheet's cell holding `value` as text, even when it starts with "=": never a formula."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=str(value))
    cell.data_type = "s"
    return cell


def texts_as_text(book) -> None:
    """Every text cell of the openpyxl workbook `book` typed as text (not a formula, nor an error value)."""
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.data_type != "s":
                    cell.data_type = "s"
