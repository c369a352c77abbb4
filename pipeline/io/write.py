"""Writing outputs: atomically (a temporary file renamed into place), with the umask's permissions.

CSV/TSV outputs neutralise the cells a spreadsheet would run as a formula
(formulas.py: a leading apostrophe); --raw-cells keeps them. Parquet keeps
every value; Excel (.xlsx) writes text cells typed as text, so none is a
formula either, and refuses a text longer than an Excel cell holds rather
than cut it.
"""
from __future__ import annotations

import contextlib
import csv
import errno
import io
import logging
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from pipeline import interrupt
from pipeline.errors import PipelineError
from pipeline.io import options
from pipeline.io.formulas import neutralise_frame, refuse_unholdable, text_cell
from pipeline.io.temps import current_umask, remove_stale_temps, swap_folder, temp_owner, temp_prefix

log = logging.getLogger(__name__)

CSV_SUFFIXES = {".csv", ".txt"}
KINDS = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}
EXCEL_MAX_ROWS = 1_048_576


def _output_file(path: Path) -> None:
    """`path` can become a file: it is none of a folder, a device, a pipe; its folder is made."""
    if path.is_dir():
        raise PipelineError(f"{path}: is a folder; give a file name for the output")
    if path.exists() and not path.is_file():  # a device or a pipe: the rename would replace it
        raise PipelineError(f"{path}: not a regular file; give a file name for the output")
    _output_folder(path)


def _output_folder(path: Path) -> None:
    """Create the folder `path` goes in, or say in one line why it cannot be."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in [*reversed(path.parents)] if p.exists() and not p.is_dir()), path.parent)
        raise PipelineError(f"{path}: cannot be written, {blocker} is a file, not a folder") from None
    except PermissionError:
        raise PipelineError(f"{path}: cannot create its folder (permission denied)") from None


def _temp_in(folder: Path, make):
    try:
        return make()
    except PermissionError:
        raise PipelineError(f"{folder}: cannot write in this folder (permission denied)") from None
    except OSError as exc:
        raise PipelineError(f"{folder}: cannot write in this folder ({exc.strerror})") from None


# A full disk or quota: the system's bare "No space left on device" names no file.
NO_SPACE = {errno.ENOSPC, errno.EDQUOT}


def _no_space(exc: BaseException, path: Path) -> None:
    """Raise one line naming `path` for a write that ran out of space (the temporary is gone by then). An
    earlier `path` is named only when there is one: a new output (a training's run folder) has none."""
    if isinstance(exc, OSError) and exc.errno in NO_SPACE:
        quota = " (disk quota exceeded)" if exc.errno == errno.EDQUOT else ""
        kept = f" and the earlier {path.name} is unchanged" if path.exists() else ""
        raise PipelineError(f"{path}: no space left on the device{quota}; nothing was written{kept}: "
                            "free some space or write elsewhere") from None


def check_writable(path: str | Path) -> None:
    """Stop now, with the line the write at the end would give, when the output `path` (a file or a folder)
    cannot be written: its folder read-only or refused, or the disk full. For the commands that write only
    after minutes of computation. A temporary file is made, written and removed beside `path`, as the
    output's own would be: os.access misses a read-only mount and a full disk, and root passes it always."""
    path = Path(path)
    _output_folder(path)
    fd, tmp = _temp_in(path.parent, lambda: tempfile.mkstemp(prefix=temp_prefix(path), suffix=".part",
                                                             dir=path.parent))
    try:
        os.write(fd, b"\n")
        os.fsync(fd)  # a disk that fills at the flush (a network folder) says so here
    except OSError as exc:
        _no_space(exc, path)
        raise
    finally:
        os.close(fd)
        os.unlink(tmp)


@contextlib.contextmanager
def atomic_output(path: str | Path):
    """Yield a temporary path beside `path`; move it into place only if the block succeeds.

    The temporary name holds this process's id, so that the next run to the same
    output removes those a killed run left (pipeline/io/temps.py).
    """
    path = Path(path)
    _output_file(path)
    remove_stale_temps(path)
    fd, tmp = _temp_in(path.parent, lambda: tempfile.mkstemp(prefix=temp_prefix(path), suffix=".part",
                                                             dir=path.parent))
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes it 0600; an output follows the umask
        yield Path(tmp)
        os.replace(tmp, path)
        interrupt.written.append(str(path))
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        _no_space(exc, path)
        raise


@contextlib.contextmanager
def atomic_folder(folder: str | Path):
    """Yield a temporary folder beside `folder`; it replaces `folder` only if the block succeeds."""
    folder = Path(folder)
    if folder.is_file():  # one test: a folder another run is renaming may be missing for an instant
        raise PipelineError(f"{folder}: is a file; the output must be a folder")
    _output_folder(folder)
    remove_stale_temps(folder)
    tmp = Path(_temp_in(folder.parent, lambda: tempfile.mkdtemp(prefix=temp_prefix(folder), suffix=".part",
                                                                dir=folder.parent)))
    old = tmp.with_name(tmp.name + ".old")  # this process's own: concurrent runs never share it
    try:
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp's 0700 would outlive the rename
        yield tmp
        swap_folder(tmp, folder, old)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        _no_space(exc, folder)
        raise
    finally:  # a stop that waited for the swap acts after it: the previous folder goes all the same
        shutil.rmtree(old, ignore_errors=True)


def save_workbook(book, path: Path) -> None:
    """book.save(path), but a failed write (a full disk) leaves nothing to print at exit.

    openpyxl leaves its zip archive open when writing to a file fails; closed by the
    garbage collector, the archive wrote again, failed again, and a traceback followed
    the run's one error line. The workbook is made in memory, then written at once.
    """
    buffer = io.BytesIO()
    book.save(buffer)
    Path(path).write_bytes(buffer.getbuffer())


def check_replaceable(folder: Path, force: bool, ours, what: str, advice: str, not_ours=lambda folder: []) -> None:
    """Refuse to replace the output folder `folder` unless `force` (`advice`: what to do instead); refuse even
    then when it holds anything but the names `ours` (what `what` writes there) and what `not_ours(folder)`
    does not list: nothing is deleted silently."""
    if not folder.exists():
        return
    if not force:
        raise PipelineError(f"{folder} already exists: {advice}")
    others = (sorted(p.name for p in folder.iterdir() if p.name not in ours) + not_ours(folder)
              if folder.is_dir() else [])
    if not folder.is_dir() or others:
        raise PipelineError(f"{folder} holds files {what} does not write ({', '.join(others[:5]) or 'not a folder'})"
                            f": move them away first, nothing is deleted silently")


def csv_dialect(first: bool) -> dict:
    """to_csv's options: plain CSV, or French Excel's (--excel-fr: ';', decimal comma, a BOM so that
    Excel reads UTF-8; the BOM only at the file's start)."""
    if options.current().excel_fr:
        return dict(sep=";", decimal=",", encoding="utf-8-sig" if first else "utf-8")
    return dict(sep=",", encoding="utf-8")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """A whole table as a CSV output: formula cells neutralised, in the chosen dialect."""
    csv_cells(frame).to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL, **csv_dialect(first=True))


def csv_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` as a CSV output writes it: formula cells neutralised unless --raw-cells."""
    return frame if options.current().raw_cells else neutralise_frame(frame)


def warn_unused_output_options(path: Path, kind: str) -> None:
    """--excel-fr shapes a CSV only, --raw-cells a CSV or TSV (a workbook keeps such cells as text, Parquet
    holds data): given for another output, they are named in a warning, as unused reading options are."""
    unused = [name for name, given, used in (("--excel-fr", options.current().excel_fr, kind == "csv"),
                                             ("--raw-cells", options.current().raw_cells, kind in ("csv", "tsv")))
              if given and not used]
    if unused:
        log.warning("%s: %s ignored: the output is %s", path, " and ".join(unused),
                    {"tsv": "a TSV file", "parquet": "a Parquet file", "xlsx": "a workbook (.xlsx)",
                     "parquet folder": "a folder of Parquet files"}.get(kind, kind))


def shown_name(path: Path) -> Path:
    """The output a temporary file of atomic_output stands for (for messages)."""
    owner = temp_owner(path.name)
    return path.with_name(owner[0]) if owner else path


def unique_columns(frame: pd.DataFrame, path: Path, warn: bool) -> pd.DataFrame:
    """One column per name: a later column (the new predictions) replaces an earlier one of that name."""
    dup = frame.columns.duplicated(keep="last")
    if not dup.any():
        return frame
    if warn:
        log.warning("%s: the input already has column(s) %s; the new values replace them", shown_name(path),
                    ", ".join(map(repr, dict.fromkeys(frame.columns[dup]))))
    return frame.loc[:, ~dup]


class TableWriter:
    """Append chunks to a CSV, TSV, Parquet or Excel file by the output's kind (used inside atomic_output,
    as a context manager: the file is finished only when the block succeeds)."""

    def __init__(self, path: Path, kind: str):
        self.path, self.kind, self._parquet, self._book, self._first = path, kind, None, None, True
        self.rows = 0
        warn_unused_output_options(shown_name(path), kind)

    @staticmethod
    def kind_of(path: str | Path) -> str:
        kind = KINDS.get(Path(path).suffix.lower())
        if kind is None:
            raise PipelineError(f"{path}: output must end in .csv, .tsv, .parquet or .xlsx")
        return kind

    def write(self, frame: pd.DataFrame) -> None:
        frame = unique_columns(frame, self.path, warn=self._first)
        if self.kind in ("csv", "tsv"):
            frame = csv_cells(frame)
            dialect = dict(sep="\t", encoding="utf-8") if self.kind == "tsv" else csv_dialect(self._first)
            frame.to_csv(self.path, mode="w" if self._first else "a", header=self._first, index=False,
                         quoting=csv.QUOTE_MINIMAL, **dialect)
        elif self.kind == "parquet":
            self._write_parquet(frame)
        else:
            self._write_xlsx(frame)
        self.rows += len(frame)
        self._first = False

    def _write_parquet(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.path, table.schema)
        schema = self._parquet.schema
        typed = [i for i, f in enumerate(schema) if pa.types.is_null(f.type) and not pa.types.is_null(table.field(i).type)]
        if typed:  # a column empty in every row so far has values now: its type is theirs
            for i in typed:
                schema = schema.set(i, schema.field(i).with_type(table.field(i).type))
            self._retype(schema)
        self._parquet.write_table(table.cast(self._parquet.schema))

    def _retype(self, schema) -> None:
        """Rewrite the rows written so far under `schema` (nulls of a column that was empty take its type)."""
        import pyarrow.parquet as pq

        self._parquet.close()
        # ".old" after the temporary's name: a run killed meanwhile leaves a file the next run removes (temps.py).
        written = self.path.with_name(self.path.name + ".old")
        os.replace(self.path, written)
        try:
            self._parquet = pq.ParquetWriter(self.path, schema)
            for batch in pq.ParquetFile(written).iter_batches():
                self._parquet.write_batch(batch.cast(schema))
        finally:
            written.unlink()

    def _write_xlsx(self, frame: pd.DataFrame) -> None:
        from openpyxl import Workbook

        if self.rows + len(frame) + 1 > EXCEL_MAX_ROWS:
            raise PipelineError(f"{shown_name(self.path)}: more than {EXCEL_MAX_ROWS:,} rows, Excel's limit; write .csv "
                                f"or .parquet")
        # Checked before a row is written: the header is row 1, this chunk's first row the one after those written.
        refuse_unholdable(frame, lambda i: f"{shown_name(self.path)}, row {1 if i < 0 else self.rows + i + 2}",
                          "write .csv or .parquet")
        if self._book is None:
            self._book = Workbook(write_only=True)
            self._sheet = self._book.create_sheet("predictions")
            self._sheet.append(self._cells(frame.columns))
        for row in frame.itertuples(index=False, name=None):
            self._sheet.append(self._cells(row))

    def _cells(self, values) -> list:
        """A row's values as the sheet's cells: texts typed as text, empty for NaN."""
        return [text_cell(self._sheet, value) if isinstance(value, str) else (None if pd.isna(value) else value)
                for value in values]

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        """Finish the file, or let go of it when the block failed (atomic_output removes it)."""
        if exc is None:
            self.close()
        elif self._parquet is not None:
            self._parquet.close()
        elif self._book is not None:
            # Closed now: left to the garbage collector, its row writer would write into a closed file.
            self._sheet.close()

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._book is not None:
            save_workbook(self._book, self.path)
