"""Cells a spreadsheet would run as a formula: the CSV guard, its undoing, and text typed as text in workbooks.

CSV/TSV outputs give such a cell a leading apostrophe (OWASP's CSV injection:
a cell starting with =, +, -, @, tab or carriage return; numbers such as -3.5
or "-1 234,5 %" are left as they are). `restore` takes that apostrophe off
again when the tool reads its own output back (review, report, quantify). A
CSV cannot tell the guard's apostrophe from one the text had before such a
character: both are taken off, which only a text that began with one loses.

openpyxl takes a text starting with "=" for a formula (and "#N/A" for an
error): the workbooks the tool writes type every text cell as text instead.
A control character, which no workbook can hold, and a text longer than an
Excel cell holds (which openpyxl would cut silently) are refused before writing
(`refuse_unholdable`), in one line naming the
cell as the user finds it.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pipeline.errors import PipelineError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Left as they are: numbers, even French-formatted ("-1 234,5 %"): digits, spaces, separators,
# a sign and a percent sign cannot call anything.
_NUMBER = re.compile(r"[+-]?[\d\s.,\u00a0\u202f]*\d[\d\s.,\u00a0\u202f]*%?([eE][+-]?\d+)?")
GUARD = "'"


def _texts_where(series: pd.Series, test) -> np.ndarray:
    """Which of `series`' cells are texts `test` (given the series' .str) marks; other values never are."""
    if not _is_text(series):
        return np.zeros(len(series), dtype=bool)
    try:  # a value that is not text (None, a number in an object column) is never marked
        return np.array(pd.Series(test(series.str), index=series.index).fillna(False), dtype=bool)
    except AttributeError:  # an object column without any text
        return np.zeros(len(series), dtype=bool)


def _is_text(series: pd.Series) -> bool:
    return series.dtype == object or pd.api.types.is_string_dtype(series.dtype)


def _risky(series: pd.Series) -> np.ndarray:
    """Which of `series`' cells are texts a spreadsheet would run as a formula (numbers never are)."""
    risky = _texts_where(series, lambda text: text.startswith(FORMULA_START))
    if risky.any():
        risky[risky] = ~series[risky].astype(str).str.fullmatch(_NUMBER.pattern).to_numpy()
    return risky


def neutralise(series: pd.Series) -> pd.Series:
    """Cells a spreadsheet would take for a formula, with a leading apostrophe (plain numbers kept)."""
    risky = _risky(series)
    return series.mask(risky, GUARD + series[risky].astype(str)) if risky.any() else series


def restore(series: pd.Series) -> pd.Series:
    """`neutralise` undone: a cell of its apostrophe then a risky text gets the text back."""
    guarded = _texts_where(series, lambda text: text.startswith(GUARD))
    if guarded.any():
        guarded[guarded] = _risky(series[guarded].astype(str).str[len(GUARD):])
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


def _control_characters(series: pd.Series) -> np.ndarray:
    """Which of `series`' cells are texts holding a character Excel cannot hold (openpyxl's list)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return _texts_where(series, lambda text: text.contains(ILLEGAL_CHARACTERS_RE.pattern, regex=True, na=False))


EXCEL_MAX_CHARS = 32_767  # an Excel cell's most characters: openpyxl cuts a longer text there, silently


def _long_texts(series: pd.Series) -> np.ndarray:
    """Which of `series`' cells are texts longer than an Excel cell holds."""
    return _texts_where(series, lambda text: text.len() > EXCEL_MAX_CHARS)


def unholdable(text: str) -> str | None:
    """Why one text (a report's title, say) cannot go into a workbook cell as it is, or None."""
    if _control_characters(pd.Series([text], dtype=object))[0]:
        return "holds a control character, which a page, a PDF or a workbook cannot show; remove it"
    if len(text) > EXCEL_MAX_CHARS:
        return f"{len(text):,} characters, more than the {EXCEL_MAX_CHARS:,} an Excel cell holds; shorten it"
    return None


def refuse_control_characters(frame: pd.DataFrame, place, advice: str, columns=None) -> None:
    """Stop with one line when a column name or a cell of `frame` (of `columns`, default all) holds a control
    character, which a workbook cannot hold: openpyxl would stop the run with a traceback instead.

    The line names the row by `place(i)` (i: the frame's row from 0, -1 for the column names: the file and
    row as the user finds them), the column by its position in `frame` and its name, and the text; `advice`
    says what to do.
    """
    _refuse_first(frame, place, advice, columns, _control_characters,
                  lambda text, cell: "a control character Excel cannot hold" + (f", in {text[:60]!r}" if cell else ""))


def refuse_long_texts(frame: pd.DataFrame, place, advice: str, columns=None) -> None:
    """Stop with one line, as `refuse_control_characters`, when a column name or a cell of `frame` is longer
    than an Excel cell holds: openpyxl would write it cut, and nothing would say so."""
    _refuse_first(frame, place, advice, columns, _long_texts,
                  lambda text, cell: f"{len(text):,} characters, more than the {EXCEL_MAX_CHARS:,} an Excel cell "
                                     f"holds" + (f", starting {text[:40]!r}" if cell else ""))


def refuse_unholdable(frame: pd.DataFrame, place, advice: str | None = None, columns=None) -> None:
    """Both checks of what an Excel cell cannot hold (a control character, then a text too long), with one
    `advice` for both, or by default the fix of each in the input."""
    refuse_control_characters(frame, place, advice or "remove the character from the input", columns)
    refuse_long_texts(frame, place, advice or "shorten the text in the input", columns)


def _refuse_first(frame: pd.DataFrame, place, advice: str, columns, flagged, problem) -> None:
    """The error for the first column name, else the first cell in reading order, `flagged` marks:
    `problem(text, cell)` says what is wrong with `text` (a cell's when `cell`, else the column's name)."""
    wanted = set(frame.columns if columns is None else columns)
    positions = [j for j, c in enumerate(frame.columns) if c in wanted]
    names = pd.Series([str(frame.columns[j]) for j in positions], dtype=object)
    in_names = np.flatnonzero(flagged(names))
    if len(in_names):
        i, j = -1, int(in_names[0])
        what = problem(names[j], False)
    else:
        cells = np.argwhere(np.column_stack([flagged(frame.iloc[:, j]) for j in positions]
                                            or [np.zeros(len(frame), dtype=bool)]))  # in reading order
        if not len(cells):
            return
        i, j = (int(k) for k in cells[0])
        what = problem(str(frame.iloc[i, positions[j]]), True)
    raise PipelineError(f"{place(i)}, column {positions[j] + 1} ({names[j][:60]!r}): {what}; {advice}")
