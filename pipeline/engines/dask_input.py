"""The input of `predict --engine dask` as a Dask DataFrame, one partition per piece of a file.

INPUT is a file, a glob or a folder (partitioned as `key=value/`
folders included) of CSV or Parquet files. Files are taken in natural name
order (part.2 before part.10), a CSV file is cut into byte ranges at line
ends, a Parquet file into runs of row groups, and the partitions follow
that order: the rows of the Dask DataFrame are the rows of the input, in
order, with no order column to carry. Each piece knows its file, so a bad
file (a missing column, undecodable bytes) is reported by name.

CSV is read as the local engine reads it (pipeline.io.csvfile), with its
options and checks: every cell as text, separator and encoding detected on
the first file unless given, each file's columns named by its own header,
and a separator ending the lines (or a value after the last column) handled
as the local engine handles it, decided on the first file's first chunk.
Like Dask's own read_csv, cutting a CSV file assumes no quoted field spans
lines; a file whose fields do is read whole with a blocksize of 0.
Parquet rows are converted as the local reader converts them (io/read.py's
parquet_frame: a saved pandas index kept as columns, categories as values).
"""
from __future__ import annotations

import codecs
import contextlib
import glob
import io
import re
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from pipeline.errors import PipelineError
from pipeline.io.columns import no_column
from pipeline.io.csvfile import (
    TRAILING,
    CsvLayout,
    check_unique,
    csv_layout,
    layout_like,
    pandas_options,
    parsing_errors,
    read_csv,
    trailing_field,
)
from pipeline.io.read import parquet_frame, parquet_index
from pipeline.io.rows import place_rows
from pipeline.io.tables import CSV_SUFFIXES

PARQUET_SUFFIXES = {".parquet", ".pq"}

# Bytes of CSV, or rows of Parquet, in a partition: ~100,000 titles, a few seconds of work.
BLOCK_BYTES = 8 << 20
PARQUET_ROWS = 100_000


class Piece(NamedTuple):
    """One partition: bytes [start, end) of a CSV file, or row groups [start, end) of a Parquet file."""

    path: str
    start: int
    end: int
    hive: tuple[tuple[str, str], ...] = ()  # key=value folders above a partitioned Parquet file


def _natural(path: Path) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(path))]


def input_files(spec: str | Path) -> tuple[list[Path], Path | None]:
    """The files INPUT names, in order, and the folder they were found under (None for a file or glob)."""
    spec = str(spec)
    path = Path(spec)
    root = None
    if path.is_dir():
        root = path
        files = [f for f in path.rglob("*") if f.is_file() and f.suffix.lower() in CSV_SUFFIXES | PARQUET_SUFFIXES
                 and not any(p.startswith((".", "_")) for p in f.relative_to(path).parts)]
    elif glob.has_magic(spec):
        files = [Path(f) for f in glob.glob(spec, recursive=True) if Path(f).is_file()]
    elif path.is_file():
        files = [path]
    else:
        raise PipelineError(f"file not found: {spec}")
    if not files:
        raise PipelineError(f"{spec}: no CSV or Parquet file there")
    files = sorted(files, key=_natural)
    kinds = {"parquet" if f.suffix.lower() in PARQUET_SUFFIXES else "csv" if f.suffix.lower() in CSV_SUFFIXES
             else f.suffix for f in files}
    if kinds - {"csv", "parquet"} or len(kinds) > 1:
        raise PipelineError(f"{spec}: --engine dask reads CSV files or Parquet files, one kind at a time "
                            f"(found {', '.join(sorted(kinds))})")
    return files, root


def _hive(f: Path, root: Path | None) -> tuple[tuple[str, str], ...]:
    """The key=value folders between `root` (a folder INPUT) and the file `f`."""
    return () if root is None else tuple(tuple(p.split("=", 1)) for p in f.relative_to(root).parts[:-1] if "=" in p)


def csv_pieces(files: list[Path], blocksize: int, whole: bool = False, root: Path | None = None) -> list[Piece]:
    """Byte ranges of at most `blocksize` (0, or `whole`: one piece per file); the key=value folders under
    `root` as columns."""
    pieces = []
    for f in files:
        size = f.stat().st_size
        if size == 0:
            raise PipelineError(f"{f}: the file is empty")
        step = size if whole or blocksize <= 0 else blocksize
        pieces += [Piece(str(f), start, min(start + step, size), _hive(f, root)) for start in range(0, size, step)]
    return pieces


def parquet_pieces(files: list[Path], root: Path | None, rows: int = PARQUET_ROWS) -> list[Piece]:
    """Runs of whole row groups of about `rows` rows; the key=value folders under `root` as columns."""
    import pyarrow.parquet as pq

    pieces = []
    for f in files:
        hive = _hive(f, root)
        try:
            meta = pq.ParquetFile(f).metadata
        except Exception as exc:  # not Parquet, or truncated: say which file
            raise PipelineError(f"{f}: not a readable Parquet file ({exc})") from None
        start, count = 0, 0
        for group in range(meta.num_row_groups):
            count += meta.row_group(group).num_rows
            if count >= rows:
                pieces.append(Piece(str(f), start, group + 1, hive))
                start, count = group + 1, 0
        if start < meta.num_row_groups or meta.num_row_groups == 0:
            pieces.append(Piece(str(f), start, meta.num_row_groups, hive))
    return pieces


class CsvRead(NamedTuple):
    """How every piece of a CSV input is read: the first file's layout (its encoding and separator serve
    every file), and whether the field after its header's last name is a column (`keep`, as the local
    reader decides on its first chunk) or a separator ending the lines."""

    layout: CsvLayout
    keep: bool


def csv_read(first: Path, sep: str | None, encoding: str | None, chunk_size: int) -> tuple[CsvRead, pd.DataFrame]:
    """How to read the pieces, detected on the first file unless given; and the frame's columns (no rows),
    from the local reader's first chunk of `chunk_size` rows (its errors are the local engine's)."""
    layout = csv_layout(first, None, sep, encoding)
    with contextlib.closing(read_csv(layout, chunk_size)) as chunks:
        meta = next(chunks).iloc[:0]
    keep = TRAILING in layout.names and len(meta.columns) == len(layout.names)
    return CsvRead(layout, keep), meta


def _parse_csv(piece: Piece, read: CsvRead) -> pd.DataFrame:
    """The rows of a piece, read as the local reader reads the whole file."""
    path = Path(piece.path)
    layout = read.layout if path == read.layout.path else layout_like(read.layout, path)
    encoding = layout.encoding
    if encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # strips a BOM at the start of the file and of each piece's header
    data, data_start = _csv_bytes(piece, _width_line(layout))
    # In a later piece pandas numbers the lines of its text: the header, the width line, the piece's lines.
    lines_before = (lambda: _lines_before(path, data_start)[0] - 2) if data_start else None
    with parsing_errors(layout, lines_before):
        frame = pd.read_csv(io.BytesIO(data), encoding=encoding, encoding_errors=layout.errors,
                            **pandas_options(layout))
    if not data_start:  # the file from its start, read as the local reader reads it
        return trailing_field(place_rows(frame, 2, csv_layout=layout), read.keep, path)
    frame = frame.iloc[1:].reset_index(drop=True)  # the width line
    # A row is named as the local reader names it: the frame is placed in the file (the filled lines
    # before the piece counted, the header's too) only then.
    return trailing_field(frame, read.keep, path,
                          place=lambda f: place_rows(f, 1 + _lines_before(path, data_start)[1], csv_layout=layout))


def _width_line(layout: CsvLayout) -> bytes:
    """A line of as many empty fields as the header names, read first in a later piece: pandas takes the
    number of fields of the first line under the header as the rule, and lets that line alone have more
    (it would take its first field for an index). So a piece's own first line is checked as the file's
    other lines are, and with the same expected count as in the whole file."""
    line = '""' + layout.sep * (len(layout.names) - 1) + "\n"
    encoding = codecs.lookup(layout.encoding).name
    return line.encode("utf-8" if encoding == "utf-8-sig" else encoding, layout.errors)  # no BOM mid-text


def _lines_before(path: Path, data_start: int) -> tuple[int, int]:
    """The file's lines before byte `data_start`, and those of them that are not blank (pandas skips
    blank lines). Read only when an error names a line or a row."""
    lines = filled = done = 0
    with open(path, "rb") as fh:
        for line in fh:
            lines, filled, done = lines + 1, filled + bool(line.strip()), done + len(line)
            if done >= data_start:
                break
    return lines, filled


def _csv_bytes(piece: Piece, width_line: bytes) -> tuple[bytes, int]:
    """For a later piece, the header line and `width_line`, then the lines that start in [start, end) (a line belongs to the
    piece of its first byte); and the byte where those lines start (0 for the first piece: the file from
    its start, as it is)."""
    with open(piece.path, "rb") as fh:
        header = b""
        if piece.start == 0:
            pos = 0
        else:
            header = fh.readline()
            while header and not header.strip():  # blank lines above the header: pandas skips them
                header = fh.readline()
            if fh.tell() < piece.start:  # else the piece starts in the header: its lines start after it
                fh.seek(piece.start - 1)
                fh.readline()  # the rest of a line that started before this piece
            pos = fh.tell()
            header = header.rstrip(b"\r\n") + b"\n" + width_line
        data = fh.read(piece.end - pos) if pos < piece.end else b""
        if data and not data.endswith(b"\n"):
            data += fh.readline()
    return header + data, pos


def read_piece(piece: Piece, kind: str, read: CsvRead | None, expected: list[str],
               text_columns: list[str]) -> pd.DataFrame:
    """One partition (`read`: how a CSV is read), checked against the first file's columns (runs on a worker)."""
    frame = _read(piece, kind, read)
    check_columns(piece.path, list(frame.columns), expected, text_columns)
    return frame


def _read(piece: Piece, kind: str, read: CsvRead | None) -> pd.DataFrame:
    return with_hive(_parse_csv(piece, read) if kind == "csv" else _read_parquet(piece), piece)


def with_hive(frame: pd.DataFrame, piece: Piece) -> pd.DataFrame:
    """`frame` with the piece's key=value folders as text columns (a column of the file's own name wins)."""
    for key, value in piece.hive:
        if key not in frame.columns:
            frame[key] = pd.Series(value, index=frame.index, dtype="str")
    return frame


def _read_parquet(piece: Piece) -> pd.DataFrame:
    import pyarrow.parquet as pq

    path = Path(piece.path)
    try:
        file = pq.ParquetFile(path)
        table = file.read_row_groups(list(range(piece.start, piece.end)))
    except Exception as exc:
        raise PipelineError(f"{path}: cannot be read as Parquet ({exc})") from None
    check_unique(file.schema_arrow.names, path)
    return parquet_frame(table, parquet_index(file.schema_arrow))  # as the local engine reads it


def check_columns(path, found: list, expected: list, text_columns: list[str]) -> None:
    found = [str(c) for c in found]
    missing = [c for c in text_columns if c not in found]
    if len(missing) == 1:
        raise no_column(path, missing[0], found)
    if missing:
        raise PipelineError(f"{path}: no column {', '.join(map(repr, missing))} (columns: {', '.join(found)})")
    if found != expected:
        raise PipelineError(f"{path}: its columns ({', '.join(found)}) differ from the first file's "
                            f"({', '.join(expected)})")


def parquet_meta(piece: Piece) -> pd.DataFrame:
    """The columns and types of the first piece, no rows: the Dask DataFrame's meta."""
    return _read(piece._replace(end=piece.start), "parquet", None).iloc[:0]
