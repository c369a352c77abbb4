"""Reading and writing the tables users bring: CSV, Excel, Parquet.

CSV is read as text, column by column unchanged (codes like "01004" keep
their zeros), with its separator and encoding found when not given: UTF-8
with or without BOM, UTF-16 with BOM, else cp1252 as French spreadsheets
export it. Outputs go to a temporary file moved into place at the end, so a
failed run leaves no half-written file.
"""
from __future__ import annotations

import codecs
import contextlib
import csv
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from pipeline.errors import PipelineError
from pipeline.io.temps import current_umask, remove_stale_temps, swap_folder, temp_prefix

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
PARQUET_SUFFIXES = {".parquet", ".pq"}


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise PipelineError(f"file not found: {path}")
    if path.stat().st_size == 0:
        raise PipelineError(f"{path}: the file is empty")


def detect_encoding(path: Path) -> str:
    """utf-16 / utf-8-sig by their BOM, utf-8 if the whole file decodes, else cp1252."""
    with path.open("rb") as fh:
        head = fh.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        encoding = "utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for block in iter(lambda: fh.read(1 << 20), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            pass
    check_decodes(path, "cp1252")
    return "cp1252"


def check_decodes(path: Path, encoding: str) -> None:
    """Raise an error naming the line of the first byte that `encoding` cannot decode."""
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            try:
                line.decode(encoding)
            except UnicodeDecodeError as exc:
                raise PipelineError(
                    f"{path}, line {lineno}: byte {line[exc.start:exc.start + 1]!r} cannot be decoded as "
                    f"{encoding}; re-export the file as UTF-8 or give its encoding"
                ) from None


def detect_separator(path: Path, encoding: str) -> str:
    with path.open(encoding=encoding, newline="") as fh:
        header = fh.readline()
    counts = {sep: header.count(sep) for sep in (";", ",", "\t", "|")}
    sep = max(counts, key=counts.get)
    return sep if counts[sep] else ","


def _csv_options(path: Path, sep: str | None, encoding: str | None) -> dict:
    encoding = encoding or detect_encoding(path)
    if encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # harmless without BOM, strips it when present
    return dict(sep=sep or detect_separator(path, encoding), encoding=encoding,
                dtype=str, keep_default_na=False, na_filter=False)


@contextlib.contextmanager
def _reading(path: Path):
    """Turn pandas' parsing errors into messages that name the file."""
    try:
        yield
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{path}: the file has no header and no rows") from None
    except pd.errors.ParserError as exc:
        raise PipelineError(f"{path}: malformed CSV: {exc}") from None
    except UnicodeDecodeError as exc:
        raise PipelineError(f"{path}: cannot be decoded ({exc}); give its encoding") from None


def read_table(path: str | Path, sep: str | None = None, encoding: str | None = None) -> pd.DataFrame:
    """Read a whole CSV, Excel or Parquet file; every CSV cell as text."""
    path = Path(path)
    _check_file(path)
    suffix = path.suffix.lower()
    with _reading(path):
        if suffix in EXCEL_SUFFIXES:
            return pd.read_excel(path, dtype=str).fillna("")
        if suffix in PARQUET_SUFFIXES:
            return pd.read_parquet(path)
        return pd.read_csv(path, **_csv_options(path, sep, encoding))


def iter_table(path: str | Path, chunk_size: int, sep: str | None = None,
               encoding: str | None = None) -> Iterator[pd.DataFrame]:
    """Yield the table in chunks of rows (CSV and Parquet stream; Excel is read whole)."""
    path = Path(path)
    _check_file(path)
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_size):
            yield batch.to_pandas()
    elif suffix in EXCEL_SUFFIXES:
        yield read_table(path)
    else:
        with _reading(path):
            yield from pd.read_csv(path, chunksize=chunk_size, **_csv_options(path, sep, encoding))


def count_rows(path: str | Path) -> int | None:
    """Rows of a Parquet file, or data lines of a CSV (for the progress bar); None if unknown."""
    path = Path(path)
    _check_file(path)
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if suffix in EXCEL_SUFFIXES:
        return None
    with path.open("rb") as fh:
        return max(sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) - 1, 0)


def find_text_columns(columns, requested: str | None, candidates: list[str], path) -> list[str]:
    """The text column(s): the requested ones ("titre,description" joins both), or the first usual name."""
    columns = [str(c) for c in columns]
    if requested:
        wanted = [c.strip() for c in requested.split(",") if c.strip()]
        missing = [c for c in wanted if c not in columns]
        if missing:
            raise PipelineError(f"{path}: no column {', '.join(map(repr, missing))} "
                                f"(columns: {', '.join(columns)})")
        return wanted
    lowered = {c.lower(): c for c in columns}
    for name in candidates:
        if name in lowered:
            return [lowered[name]]
    raise PipelineError(f"{path}: no text column found among {', '.join(columns)}; "
                        f"name it with TEXT_COL=... (or --text-col)")


@contextlib.contextmanager
def atomic_output(path: str | Path):
    """Yield a temporary path beside `path`; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp's 0600 would outlive the rename
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class TableWriter:
    """Append chunks to a CSV or Parquet file by the output's suffix (used inside atomic_output)."""

    def __init__(self, path: Path, kind: str):
        self.path, self.kind, self._parquet, self._first = path, kind, None, True

    @staticmethod
    def kind_of(path: str | Path) -> str:
        suffix = Path(path).suffix.lower()
        if suffix in PARQUET_SUFFIXES:
            return "parquet"
        if suffix in CSV_SUFFIXES:
            return "csv"
        raise PipelineError(f"{path}: output must end in .csv or .parquet")

    def write(self, frame: pd.DataFrame) -> None:
        if self.kind == "csv":
            frame.to_csv(self.path, mode="w" if self._first else "a", header=self._first,
                         index=False, encoding="utf-8", quoting=csv.QUOTE_MINIMAL)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema)
            self._parquet.write_table(table.cast(self._parquet.schema))
        self._first = False

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()


@contextlib.contextmanager
def atomic_folder(folder: str | Path):
    """Yield a temporary folder beside `folder`; it replaces `folder` only if the block succeeds."""
    import shutil

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(folder)
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(folder), suffix=".part", dir=folder.parent))
    old = tmp.with_name(tmp.name + ".old")  # this process's own: concurrent runs never share it
    try:
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp's 0700 would outlive the rename
        yield tmp
        swap_folder(tmp, folder, old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
