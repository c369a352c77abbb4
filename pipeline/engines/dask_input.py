"""The input of `predict --engine dask` as a Dask DataFrame, one partition per piece of a file.

INPUT is a file, a glob or a folder (Parquet partitioned as `key=value/`
folders included) of CSV or Parquet files. Files are taken in natural name
order (part.2 before part.10), a CSV file is cut into byte ranges at line
ends, a Parquet file into runs of row groups, and the partitions follow
that order: the rows of the Dask DataFrame are the rows of the input, in
order, with no order column to carry. Each piece knows its file, so a bad
file (a missing column, undecodable bytes) is reported by name.

CSV is read as the local engine reads it (pipeline.io.tables): every cell
as text, separator and encoding detected on the first file unless given.
Like Dask's own read_csv, cutting a CSV file assumes no quoted field spans
lines; a file whose fields do is read whole with a blocksize of 0.
"""
from __future__ import annotations

import glob
import io
import re
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from pipeline.errors import PipelineError
from pipeline.io.csvfile import csv_layout, malformed_csv
from pipeline.io.encoding import decode_problem
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


def csv_pieces(files: list[Path], blocksize: int, whole: bool = False) -> list[Piece]:
    """Byte ranges of at most `blocksize` (0, or `whole`: one piece per file)."""
    pieces = []
    for f in files:
        size = f.stat().st_size
        if size == 0:
            raise PipelineError(f"{f}: the file is empty")
        step = size if whole or blocksize <= 0 else blocksize
        pieces += [Piece(str(f), start, min(start + step, size)) for start in range(0, size, step)]
    return pieces


def parquet_pieces(files: list[Path], root: Path | None, rows: int = PARQUET_ROWS) -> list[Piece]:
    """Runs of whole row groups of about `rows` rows; the key=value folders under `root` as columns."""
    import pyarrow.parquet as pq

    pieces = []
    for f in files:
        hive = () if root is None else tuple(tuple(p.split("=", 1)) for p in f.relative_to(root).parts[:-1]
                                             if "=" in p)
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


def csv_read_options(first: Path, sep: str | None, encoding: str | None) -> dict:
    """pandas options of the local reader (pipeline.io.tables), detected on the first file unless given."""
    layout = csv_layout(first, None, sep, encoding)
    encoding = layout.encoding
    if encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # strips a BOM at the start of the file and of each piece's header
    return dict(sep=layout.sep, encoding=encoding, encoding_errors=layout.errors,
                dtype=str, keep_default_na=False, na_filter=False)


def _parse_csv(path: Path, data: bytes, options: dict, data_start: int = 0) -> pd.DataFrame:
    """The frame of `data`: the header line, then the file's lines from byte `data_start` (0: the whole file
    from its start, no header added)."""
    try:
        frame = pd.read_csv(io.BytesIO(data), **options)
        return frame.rename(columns=str.strip)  # " intitule " is intitule, as the local reader has it
    except UnicodeError as exc:
        raise PipelineError(f"{decode_problem(path, None, options['encoding'], exc)}; "
                            f"give its encoding (--encoding)") from None
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{path}: the file has no header and no rows") from None
    except pd.errors.ParserError as exc:  # pandas counts the piece's lines: the file's before it are added
        raise PipelineError(malformed_csv(path, options["sep"], exc, _lines_before(path, data_start))) from None


def _lines_before(path: Path, data_start: int) -> int:
    """What to add to a line number of a piece whose data starts at byte `data_start` (its header line is
    line 1): the file's lines before that byte, less the header's. Read only when an error names a line."""
    if data_start == 0:
        return 0
    with open(path, "rb") as fh:
        return sum(fh.read(min(1 << 20, data_start - done)).count(b"\n")
                   for done in range(0, data_start, 1 << 20)) - 1


def _csv_bytes(piece: Piece) -> tuple[bytes, int]:
    """The header line, then the lines that start in [start, end) (a line belongs to the piece of its first byte);
    and the byte where those lines start (0 for the first piece, which holds its own header)."""
    with open(piece.path, "rb") as fh:
        header = fh.readline()
        if piece.start == 0:
            fh.seek(0)
            header = b""
        else:
            fh.seek(piece.start - 1)
            fh.readline()  # the rest of a line that started before this piece
        pos = fh.tell()
        data = fh.read(piece.end - pos) if pos < piece.end else b""
        if data and not data.endswith(b"\n"):
            data += fh.readline()
    return header + data, (pos if piece.start else 0)


def read_piece(piece: Piece, kind: str, options: dict, expected: list[str], text_columns: list[str]) -> pd.DataFrame:
    """One partition, checked against the first file's columns (runs on a worker)."""
    frame = _read(piece, kind, options)
    check_columns(piece.path, list(frame.columns), expected, text_columns)
    return frame


def _read(piece: Piece, kind: str, options: dict) -> pd.DataFrame:
    path = Path(piece.path)
    if kind == "csv":
        data, data_start = _csv_bytes(piece)
        return _parse_csv(path, data, options, data_start)
    import pyarrow.parquet as pq

    try:
        frame = pq.ParquetFile(path).read_row_groups(list(range(piece.start, piece.end))).to_pandas()
    except Exception as exc:
        raise PipelineError(f"{path}: cannot be read as Parquet ({exc})") from None
    for key, value in piece.hive:
        if key not in frame.columns:
            frame[key] = pd.Series(value, index=frame.index, dtype="str")
    return frame


def check_columns(path, found: list, expected: list, text_columns: list[str]) -> None:
    found = [str(c) for c in found]
    missing = [c for c in text_columns if c not in found]
    if missing:
        raise PipelineError(f"{path}: no column {', '.join(map(repr, missing))} (columns: {', '.join(found)})")
    if found != expected:
        raise PipelineError(f"{path}: its columns ({', '.join(found)}) differ from the first file's "
                            f"({', '.join(expected)})")


def empty_frame(piece: Piece, kind: str, options: dict) -> pd.DataFrame:
    """The columns and types of the first piece, no rows: the Dask DataFrame's meta."""
    if kind == "csv":
        with open(piece.path, "rb") as fh:
            return _parse_csv(Path(piece.path), fh.readline(), options).iloc[:0]
    return _read(piece._replace(end=piece.start), kind, options).iloc[:0]
