"""A CSV file's layout: encoding, separator, column names; and its reading by pandas.

Every cell is read as text (codes like "01004" keep their zeros). The
separator is the one that splits the header into most fields and at least
half of the first 200 rows into as many (quotes respected, as csv.reader reads
them; a header is never split by a separator it does not contain); none
does: a one-column file, whose cells may hold commas. A separator at
the end of every line (French exports) adds no column: the rows' last, empty
field is checked empty and dropped, so no column moves. Duplicate column
names are refused rather than renamed. A field after the header's last name
that holds values in the first chunk is kept, as "Unnamed: <n>", with a warning.
"""
from __future__ import annotations

import contextlib
import csv
import io
import logging
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.errors import PipelineError
from pipeline.io.encoding import check_encoding_name, decode_problem, detect_decoding, open_bytes
from pipeline.io.rows import place_rows, row_in_file

log = logging.getLogger(__name__)

SEPARATORS = [";", ",", "\t", "|"]
ONE_COLUMN = "\x1f"  # ASCII unit separator: absent from text, so a one-column file is never cut
TRAILING = "\x00trailing"  # the empty field after a trailing separator
SAMPLE_ROWS = 200
SAMPLE_CHARS = 1 << 20


@dataclass(frozen=True)
class CsvLayout:
    path: Path
    compression: str | None
    encoding: str
    errors: str
    sep: str
    names: list[str]
    # The file whose encoding this one is read with, when not its own: a later file of a Dask input
    # takes the first file's (a decoding error says so).
    encoding_from: Path | None = None

    def open_text(self):
        return io.TextIOWrapper(open_bytes(self.path, self.compression), encoding=self.encoding,
                                errors=self.errors, newline="")


def check_sep(sep: str) -> str:
    sep = {"\\t": "\t", "tab": "\t"}.get(sep, sep)
    if len(sep) != 1 or sep in "\r\n\"":
        raise PipelineError(f"--sep {sep!r}: the separator must be one character (e.g. ';', ',', '\\t', '|')")
    return sep


def csv_layout(path: Path, compression: str | None, sep: str | None, encoding: str | None) -> CsvLayout:
    if encoding:
        encoding, errors = check_encoding_name(encoding), "strict"
        if encoding == "utf-8":
            encoding = "utf-8-sig"  # harmless without BOM, strips it when present
    else:
        encoding, errors = detect_decoding(path, compression)
    return _layout(path, compression, encoding, errors, sep)


def layout_like(first: CsvLayout, path: Path) -> CsvLayout:
    """The layout of `path`, another file of the same input: `first`'s encoding and separator, its own names.
    A first file of one column has no separator to share: the file's own is found."""
    sep = None if first.sep == ONE_COLUMN else first.sep
    return _layout(path, first.compression, first.encoding, first.errors, sep, first.encoding_from or first.path)


def _layout(path: Path, compression: str | None, encoding: str, errors: str, sep: str | None,
            encoding_from: Path | None = None) -> CsvLayout:
    layout = CsvLayout(path, compression, encoding, errors, ",", [], encoding_from)
    try:
        with layout.open_text() as fh:
            sample = fh.read(SAMPLE_CHARS)
            truncated = bool(fh.read(1))
    except UnicodeError as exc:  # a byte the encoding cannot decode, or a stream it refuses (utf-16 without BOM)
        raise PipelineError(_decode_problem(layout, exc)) from None
    sep = check_sep(sep) if sep else sniff_separator(sample, truncated)
    records = _records(sample, sep, truncated)
    if not records or not any(records[0]):
        raise PipelineError(f"{path}: the first line is empty; it must name the columns")
    names = column_names(records[0], records[1] if len(records) > 1 else None, path)
    return CsvLayout(path, compression, encoding, errors, sep, names, encoding_from)


def _records(sample: str, sep: str, truncated: bool) -> list[list[str]]:
    """The first rows of `sample` as csv.reader splits them (a quoted cell may hold a line break)."""
    records = []
    try:
        for record in csv.reader(io.StringIO(sample, newline=""), delimiter=sep):
            if record:
                records.append(record)
            if len(records) > SAMPLE_ROWS + 1:
                break
    except csv.Error:  # a NUL byte, a huge cell: the lines, split plainly
        records = [line.split(sep) for line in sample.splitlines()[:SAMPLE_ROWS + 2] if line]
    if truncated and len(records) > 1 and len(records) <= SAMPLE_ROWS + 1:
        records = records[:-1]  # the last row may be cut by the sample
    return records[:SAMPLE_ROWS + 1]


def sniff_separator(sample: str, truncated: bool = False) -> str:
    """The separator that splits the header and most rows alike, else ONE_COLUMN."""
    best, best_score = ONE_COLUMN, (-1.0, 0)
    for sep in SEPARATORS:
        records = _records(sample, sep, truncated)
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0]) - (records[0][-1] == "")  # a trailing separator adds no column
        rows = records[1:]
        fits = sum(len(r) == width or (len(r) == width + 1 and r[-1] == "") for r in rows)
        splits = sum(len(r) > 1 for r in rows)
        score = (fits / len(rows) if rows else 1.0, width)
        # Rows split but unlike the header: still this separator, and pandas names the bad line.
        eligible = score[0] >= 0.5 or (rows and splits / len(rows) >= 0.8)
        if eligible and score > best_score:
            best, best_score = sep, score
    return best


def column_names(header: list[str], first_row: list[str] | None, path: Path) -> list[str]:
    """The header's names, stripped as the workbook reader strips them (" intitule " is intitule),
    plus TRAILING for a separator ending the lines; duplicates refused."""
    names = [name.strip() for name in header]
    if len(names) == 1 and names[0] == "":
        raise PipelineError(f"{path}: the first line is empty; it must name the columns")
    # Lines ending with a separator: pandas would take the first column for an index. The
    # extra field gets a name, and is checked empty as the rows are read. (pandas sets the
    # number of fields from the first row: a later row with more is a parsing error.)
    if len(names) > 1 and names[-1] == "":
        names[-1] = TRAILING
    elif first_row is not None and len(first_row) == len(names) + 1:
        names.append(TRAILING)
    unnamed = [i for i, name in enumerate(names) if name == ""]
    for i in unnamed:
        names[i] = f"Unnamed: {i}"
    if unnamed:
        log.warning("%s: column(s) %s have no name; called 'Unnamed: <column - 1>' as pandas does", path,
                    ", ".join(str(i + 1) for i in unnamed))
    check_unique(names, path)
    return names


def check_unique(names, path) -> None:
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name in seen:
            raise PipelineError(f"{path}: two columns are named {name!r} (columns {seen[name]} and {i}); "
                                f"rename one")
        seen[name] = i


def pandas_options(layout: CsvLayout) -> dict:
    """How pandas reads the file's text: the layout's names (a trailing separator's field named, so that
    pandas takes no column for an index), every cell as text."""
    return dict(sep=layout.sep, names=layout.names, header=0, index_col=False, dtype=str,
                keep_default_na=False, na_filter=False, engine="c")


def read_csv(layout: CsvLayout, chunk_size: int | None = None) -> Iterator[pd.DataFrame]:
    """The rows as text frames (one frame, or chunks of chunk_size rows)."""
    options = pandas_options(layout)
    first_row = 2  # the header is row 1; blank lines are counted only when an error names a row (rows.py)
    with layout.open_text() as fh, parsing_errors(layout):
        frames = pd.read_csv(fh, chunksize=chunk_size, **options) if chunk_size else [pd.read_csv(fh, **options)]
        keep = None
        for frame in frames:
            if keep is None:  # decided on the first chunk, so that every chunk has the same columns
                keep = _trailing_holds_values(frame, layout.path)
            yield trailing_field(place_rows(frame, first_row, csv_layout=layout), keep, layout.path)
            first_row += len(frame)


def _trailing_holds_values(frame: pd.DataFrame, path: Path) -> bool:
    """Whether the field after the header's last name holds values: then it is a column without a name."""
    if TRAILING not in frame.columns or not (frame[TRAILING].fillna("") != "").any():
        return False
    log.warning("%s: values after the last named column: column %d, called 'Unnamed: %d'", path,
                len(frame.columns), len(frame.columns) - 1)
    return True


def trailing_field(frame: pd.DataFrame, keep: bool, path: Path,
                   place: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> pd.DataFrame:
    """The field after the header's last name (TRAILING): a column without a name if `keep` (the first
    chunk held values there), else a separator ending the lines, checked empty and dropped. `place`: puts
    the frame's rows in their file (rows.place_rows) before one is named, for a reader that had not."""
    if TRAILING not in frame.columns:
        return frame
    if keep:
        return frame.rename(columns={TRAILING: f"Unnamed: {len(frame.columns) - 1}"})
    extra = frame[TRAILING].fillna("") != ""
    if extra.any():  # the first rows had none there: a separator ending the lines, not a column
        i = int(extra.to_numpy().nonzero()[0][0])
        frame = place(frame) if place else frame
        raise PipelineError(f"{path}, {row_in_file(frame, i)}: a value ({frame[TRAILING].iloc[i]!r}) after the last "
                            f"column; the header names {len(frame.columns) - 1} columns")
    return frame.drop(columns=TRAILING)


@contextlib.contextmanager
def parsing_errors(layout: CsvLayout, lines_before: Callable[[], int] | None = None):
    """Turn pandas' parsing and decoding errors into one line naming the file (and line). `lines_before`:
    the file's lines before the text pandas reads, when it reads a piece of the file (malformed_csv)."""
    path = layout.path
    try:
        with warnings.catch_warnings():
            # "Length of header or names does not match": pandas would drop a row's extra values.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            yield
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{path}: the file has no header and no rows") from None
    except pd.errors.ParserError as exc:
        raise PipelineError(malformed_csv(path, layout.sep, exc, lines_before() if lines_before else 0)
                            + _other_separator(layout)) from None
    except pd.errors.ParserWarning:
        raise PipelineError(f"{path}: some rows have more fields than the header names columns "
                            f"({len(layout.names)}, separator {layout.sep!r})" + _other_separator(layout)) from None
    except UnicodeError as exc:
        raise PipelineError(_decode_problem(layout, exc)) from None


def malformed_csv(path, sep: str, exc: pd.errors.ParserError, lines_before: int = 0) -> str:
    """pandas' parsing error as one line naming the file and the line; `lines_before`: the file's lines
    before the text pandas read (a piece of the file, the Dask engine's), added to the line it names (its
    tokenizer counts every line, blank ones too, as "line N" or "row N")."""
    problem = str(exc).replace("Error tokenizing data. C error: ", "").strip()
    if lines_before:
        problem = re.sub(r"\b(line|row) (\d+)", lambda m: f"{m[1]} {int(m[2]) + lines_before}", problem)
    return f"{path}: malformed CSV (separator {sep!r}): {problem}"


def _other_separator(layout: CsvLayout) -> str:
    """A hint when the file's own separator is not the one it was read with (a --sep given wrongly)."""
    with layout.open_text() as fh:
        sample = fh.read(SAMPLE_CHARS)
        truncated = bool(fh.read(1))
    found = sniff_separator(sample, truncated)
    return (f"; the file seems separated by {found!r}: drop --sep or pass --sep {found!r}"
            if found not in (layout.sep, ONE_COLUMN) else "")


def _decode_problem(layout: CsvLayout, exc: UnicodeError) -> str:
    problem = decode_problem(layout.path, layout.compression, layout.encoding, exc, layout.errors)
    if layout.encoding_from:
        problem += f" (the encoding of {layout.encoding_from}, which every file of the input is read with)"
    return f"{problem}; re-export the file as UTF-8 or give its encoding with --encoding"
