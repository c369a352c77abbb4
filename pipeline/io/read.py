"""Reading the tables users bring: CSV (plain or .gz/.zip/.bz2/.xz), Excel (.xlsx, .xls), .ods, Parquet.

One reader for every format, chosen by the file's content first (a .csv that
is really gzip or a workbook is read as what it is). Column names are text
(surrounding spaces stripped, in a CSV as in a workbook), unique, and never
renamed silently; a file with a header but no rows is refused. CSV details are
in csvfile.py, bytes and encodings in encoding.py.
"""
from __future__ import annotations

import logging
import lzma
import re
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from pipeline.errors import PipelineError
from pipeline.io import options
from pipeline.io.cells import sheet_cell_text
from pipeline.io.columns import no_column
from pipeline.io.csvfile import SEPARATORS, check_unique, csv_layout, read_csv
from pipeline.io.encoding import file_format, open_bytes
from pipeline.io.formulas import restore_frame
from pipeline.io.rows import place_rows
from pipeline.io.unsaved_formulas import refuse_unsaved_formulas
from pipeline.io.zero_padded import show_zero_padding

log = logging.getLogger(__name__)

# What a damaged archive raises, besides OSError (gzip.BadGzipFile is one).
ARCHIVE_ERRORS = (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError, RuntimeError, NotImplementedError)
WORKBOOK_ENGINES = {"xlsx": "openpyxl", "xls": "xlrd", "ods": "odf"}
ENGINE_PACKAGES = {"openpyxl": "openpyxl", "xlrd": "xlrd", "odf": "odfpy"}
TITLE_ROWS = 5  # rows of one value above a sheet's header that are read as its title, at most


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise PipelineError(f"{path}: is a folder; give a file")
    if path.exists() and not path.is_file():  # a pipe or a device: read once, or never ends
        raise PipelineError(f"{path}: not a regular file; save the table to a file first")
    if not path.is_file():
        raise PipelineError(f"file not found: {path}")
    try:
        with path.open("rb"):
            pass
    except PermissionError:
        raise PipelineError(f"{path}: cannot be read (permission denied)") from None
    if path.stat().st_size == 0:
        raise PipelineError(f"{path}: the file is empty")


def _format(path: Path) -> tuple[str, str | None]:
    _check_file(path)
    try:
        fmt, compression = file_format(path)
    except ARCHIVE_ERRORS as exc:  # a corrupt archive
        raise PipelineError(f"{path}: cannot be read ({type(exc).__name__}: {exc})") from None
    if compression:
        log.info("%s: %s-compressed CSV", path, compression)
    return fmt, compression


def read_table(path: str | Path, sep: str | None = None, encoding: str | None = None,
               sheet: str | None = None) -> pd.DataFrame:
    """The whole table; every CSV cell as text."""
    frames = list(iter_table(path, None, sep=sep, encoding=encoding, sheet=sheet))
    if len(frames) == 1:
        return frames[0]
    table = pd.concat(frames, ignore_index=True)
    table.attrs = dict(frames[0].attrs)  # where its rows sit (rows.py): from the first piece's; concat drops them
    return table


def read_output(path: str | Path) -> pd.DataFrame:
    """A table this tool wrote (predict's output, read by review, report, quantify): a CSV's cells
    get back the text that the formula guard had given a leading apostrophe (formulas.py)."""
    frame = read_table(path)
    return restore_frame(frame) if file_format(Path(path))[0] == "csv" else frame


def iter_table(path: str | Path, chunk_size: int | None, sep: str | None = None,
               encoding: str | None = None, sheet: str | None = None) -> Iterator[pd.DataFrame]:
    """The table in chunks of `chunk_size` rows (CSV and Parquet stream; a workbook comes whole)."""
    path = Path(path)
    fmt, compression = _format(path)
    sheet = sheet or options.current().sheet
    warn_unused_options(path, fmt, sep, encoding, sheet)
    if fmt == "parquet":
        chunks = _parquet(path, chunk_size)
    elif fmt in WORKBOOK_ENGINES:
        chunks = iter([_workbook(path, fmt, sheet)])
    else:
        chunks = _csv_chunks(path, compression, chunk_size, sep, encoding)
    rows = 0
    for chunk in chunks:
        if rows and chunk.empty:
            continue
        rows += len(chunk)
        if not rows:
            raise PipelineError(f"{path}: the file has a header but no rows")
        yield chunk


def warn_unused_options(path: Path, fmt: str, sep: str | None, encoding: str | None, sheet: str | None) -> None:
    """A reading option the file's format has no use for is named in a warning, not an error: a default
    (a Makefile's SEP, say) may pass it for every input."""
    used = {"--sep": fmt == "csv", "--encoding": fmt == "csv", "--sheet": fmt in WORKBOOK_ENGINES}
    unused = [name for name, value in (("--sep", sep), ("--encoding", encoding), ("--sheet", sheet))
              if value and not used[name]]
    if unused:
        kind = "a CSV file" if fmt == "csv" else "a Parquet file" if fmt == "parquet" else f"a workbook (.{fmt})"
        names = ", ".join(unused[:-1]) + " and " + unused[-1] if len(unused) > 1 else unused[0]
        log.warning("%s: %s ignored: the file is %s", path, names, kind)


def _csv_chunks(path, compression, chunk_size, sep, encoding) -> Iterator[pd.DataFrame]:
    try:
        yield from read_csv(csv_layout(path, compression, sep, encoding), chunk_size)
    except ARCHIVE_ERRORS as exc:  # a truncated or corrupt .gz/.xz/.bz2/.zip, an encrypted .zip
        if isinstance(exc, OSError) and exc.filename:
            raise
        raise PipelineError(f"{path}: the compressed file is truncated or corrupt "
                            f"({type(exc).__name__}: {exc})") from None


def _parquet(path: Path, chunk_size: int | None) -> Iterator[pd.DataFrame]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except pa.ArrowException as exc:
        raise PipelineError(f"{path}: not a readable Parquet file ({exc})") from None
    names = pf.schema_arrow.names
    check_unique(names, path)
    index = parquet_index(pf.schema_arrow)
    if pf.metadata.num_rows == 0:
        yield pd.DataFrame(columns=names)
        return
    batches = pf.iter_batches(batch_size=chunk_size or max(pf.metadata.num_rows, 1))
    first_row = 1  # no header line a user sees: the table's rows from 1 (rows.py)
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowException, OSError) as exc:  # a damaged row group
            raise PipelineError(f"{path}: the Parquet file is damaged ({exc})") from None
        if batch is None:
            return
        yield place_rows(parquet_frame(batch, index), first_row, of_table=True)
        first_row += batch.num_rows


def parquet_index(schema) -> list[str]:
    """The columns of a Parquet file (its pyarrow `schema`) that hold a pandas index saved with it."""
    meta = schema.pandas_metadata or {}
    return [c for c in meta.get("index_columns", []) if isinstance(c, str) and c in schema.names]


def parquet_frame(data, index: list[str]) -> pd.DataFrame:
    """Rows of a Parquet file (a pyarrow batch or table) as every engine reads them: a pandas index saved in
    the file (`index`: parquet_index) becomes the first column(s) (named `index` when it had no name);
    categorical columns become plain values (their nulls stay nulls)."""
    # integer_object_nulls: an integer column with a null stays integers (as float64 it would be written
    # "1004.0", and a code past 2**53 would change).
    frame = data.to_pandas(ignore_metadata=True, integer_object_nulls=True)
    if index:
        frame = frame[index + [c for c in frame.columns if c not in index]]
        frame = frame.rename(columns={c: "index" if c == "__index_level_0__" else c for c in index})
    for name in frame.columns[frame.dtypes.map(lambda d: isinstance(d, pd.CategoricalDtype)).to_numpy()]:
        frame[name] = frame[name].astype(object)
    return frame


def _workbook(path: Path, fmt: str, sheet: str | None) -> pd.DataFrame:
    engine = WORKBOOK_ENGINES[fmt]
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The xlrd engine is deprecated")  # pandas 3.1: use calamine
            with pd.ExcelFile(path, engine=engine) as book:
                names = [str(n) for n in book.sheet_names]
                chosen = pick_sheet(names, sheet, path)
                # keep_default_na=False: a cell holding the text "NA", "N/A", "null" or "None" is that text, not empty.
                raw = pd.read_excel(book, sheet_name=book.sheet_names[names.index(chosen)], header=None,
                                    dtype=object, keep_default_na=False).map(sheet_cell_text)
            if fmt == "xlsx":  # what the sheet's cells hold beside what pandas reads of them
                refuse_unsaved_formulas(path, book.sheet_names[names.index(chosen)])
                raw = show_zero_padding(raw, path, book.sheet_names[names.index(chosen)])
    except ImportError:
        raise PipelineError(f"{path}: reading .{fmt} files needs the package {ENGINE_PACKAGES[engine]} "
                            f"(pip install {ENGINE_PACKAGES[engine]})") from None
    except PipelineError:
        raise
    except Exception as exc:  # each engine has its own errors for a corrupt workbook
        raise PipelineError(f"{path}: cannot be read as .{fmt} ({type(exc).__name__}: {exc})") from None
    where = f"sheet {chosen!r}" + (f" of {len(names)} ({', '.join(map(repr, names))}; choose with --sheet)"
                                   if len(names) > 1 else "")
    (log.warning if len(names) > 1 and sheet is None else log.info)("%s: reading %s", path, where)
    holds = raw.notna() & raw.ne("")  # an empty cell is "" (an error value such as #N/A, NaN)
    top = header_row(holds, path, where)
    raw, holds = raw.iloc[top:], holds.iloc[top:]
    header = ["" if pd.isna(v) else str(v).strip() for v in raw.iloc[0]]
    # Columns with neither a name nor a value are formatting leftovers, not data.
    keep = [h != "" or holds.iloc[1:, i].any() for i, h in enumerate(header)]
    raw, header = raw.loc[:, keep], [h for h, k in zip(header, keep) if k]
    for i, name in enumerate(header):
        if name == "":
            header[i] = f"Unnamed: {i}"
            log.warning("%s, %s: column %d has no name; called %r", path, where, i + 1, header[i])
    check_unique(header, f"{path}, {where}")
    if len(raw) == 1:
        raise PipelineError(f"{path}: {where} has a header but no rows")
    table = raw.iloc[1:].set_axis(header, axis=1).reset_index(drop=True).fillna("")
    # The header may sit below empty rows or a title: its own row number, read from the sheet, is top + 1.
    return place_rows(table, top + 2, chosen)


def header_row(holds: pd.DataFrame, path: Path, where: str) -> int:
    """Where a sheet's header is (from 0; `holds`: which cells hold a value): its first row holding a value,
    unless the few rows above the first holding several hold one each, the row after it holding no more than
    it does: those are a title, a subtitle or a source line (often merged across the table), not the header."""
    counts = holds.sum(axis=1).to_numpy()
    filled = counts.nonzero()[0]
    if not len(filled):
        raise PipelineError(f"{path}: {where} is empty")
    for at, row in enumerate(filled[:TITLE_ROWS + 1]):
        if counts[row] > 1:
            if at and at + 1 < len(filled) and counts[filled[at + 1]] <= counts[row]:
                titles = ", ".join(str(r + 1) for r in filled[:at])
                log.warning("%s, %s: row(s) %s above the header hold one value each, read as a title and left out; "
                            "the header is row %d", path, where, titles, row + 1)
                return int(row)
            break
    return int(filled[0])



def pick_sheet(names: list[str], sheet: str | None, path: Path) -> str:
    """The sheet named `sheet`, or numbered `sheet` (from 1); the first by default."""
    if sheet is None:
        return names[0]
    if sheet in names:
        return sheet
    if sheet.isdigit() and 1 <= int(sheet) <= len(names):
        return names[int(sheet) - 1]
    raise PipelineError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(map(repr, names))}; "
                        f"--sheet takes a name or a number from 1)")


def count_rows(path: str | Path) -> int | None:
    """Rows of a Parquet file, or data lines of a CSV (for the progress bar); None if unknown."""
    path = Path(path)
    fmt, compression = _format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if fmt != "csv":
        return None
    with open_bytes(path, compression) as fh:
        return max(sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) - 1, 0)


def find_text_columns(columns, requested: str | None, candidates: list[str], path) -> list[str]:
    """The text column(s): the requested ones ("titre,description" joins both), or the first usual name.

    A requested name that is a column as it stands is taken whole, even with a
    comma in it; several names may quote theirs: '"Titre, court",description'.
    """
    import csv

    columns = [str(c) for c in columns]
    if requested:
        if requested in columns:
            return [requested]
        wanted = [c.strip() for c in next(csv.reader([requested], skipinitialspace=True)) if c.strip()]
        missing = [c for c in wanted if c not in columns]
        if len(missing) == 1:  # a typo: its column first
            raise PipelineError(f"{no_column(path, missing[0], columns)}{_header_hint(columns, path)}")
        if missing:
            raise PipelineError(f"{path}: no column {', '.join(map(repr, missing))} "
                                f"(columns: {', '.join(map(repr, columns))}){_header_hint(columns, path)}")
        return wanted
    lowered = {c.lower(): c for c in columns}
    for name in candidates:
        if name in lowered:
            return [lowered[name]]
    raise PipelineError(f"{path}: no text column found among {', '.join(map(repr, columns))}; "
                        f"name it with TEXT_COL=... (or --text-col){_header_hint(columns, path)}")


def _header_hint(columns: list[str], path) -> str:
    """What column names that hold no expected one suggest: a CSV read with the wrong separator (one
    name holding another), or a file without a header line (names that look like data)."""
    if len(columns) == 1 and Path(str(path)).suffix.lower().lstrip(".") not in {*WORKBOOK_ENGINES, "parquet", "pq"}:
        sep = max(SEPARATORS, key=columns[0].count)
        if sep in columns[0]:
            return f"; the file seems separated by {sep!r}: drop --sep or pass --sep {sep!r}"
    if len(columns) > 1 and all(c.startswith("Unnamed: ") for c in columns[1:]):
        return (f"; its first line holds one value ({columns[0]!r}): if it is a title above the header, "
                "remove that line")
    data_like = [c for c in columns if _looks_like_a_value(c)]
    return (f"; its first line looks like data, not column names ({', '.join(map(repr, data_like[:2]))}): "
            "if the file has no header line, add one that names the columns" if data_like else "")


def _looks_like_a_value(name: str) -> bool:
    """A date, a number or a sentence: what a header line's cells are when the line is a record."""
    name = name.strip()
    return bool(re.fullmatch(r"\d{1,4}([-/.]\d{1,2}[-/.]\d{1,4})?([ T][\d:]+)?|[\d\s.,]+", name)
                or len(name.split()) >= 6)

