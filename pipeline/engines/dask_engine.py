"""`predict --engine dask`: the same labeling as the local engine, on a Dask cluster.

The input is a Dask DataFrame (engines/dask_input.py) labeled partition by
partition with `map_partitions` and `pipeline.modeling.predict.label_frame`,
the local engine's own function. The model reaches each worker once, through
a WorkerPlugin set up on every worker (and on any worker that joins or
replaces a lost one): it loads the run folder by path when every worker
sees it, else it unpickles the model's bytes the plugin carried. Tasks name
the plugin, never the model, so no spaCy object is in the task graph.

Output: Parquet, one file (OUTPUT.parquet: the partitions are gathered here,
in order) or a folder of part-00000.parquet... (OUTPUT without suffix,
written by the workers, which must see it). Either is written under a
temporary name beside OUTPUT and renamed only once every partition has
succeeded. Without --scheduler a LocalCluster of --workers processes runs
here; with it, any running cluster.
"""
from __future__ import annotations

import contextlib
import logging
import os
import pickle
import re
import signal
import socket
import uuid
from pathlib import Path

import pandas as pd
from distributed.diagnostics.plugin import WorkerPlugin

from pipeline import interrupt
from pipeline.engines.dask_input import (
    BLOCK_BYTES,
    PARQUET_SUFFIXES,
    csv_pieces,
    csv_read,
    input_files,
    parquet_meta,
    parquet_pieces,
    read_piece,
    with_hive,
)
from pipeline.errors import PipelineError
from pipeline.io import options as io_options
from pipeline.io.tables import TableWriter, atomic_folder, atomic_output, find_text_columns, warn_unused_options
from pipeline.io.write import check_replaceable, warn_unused_output_options
from pipeline.modeling.metrics import review_threshold_warning
from pipeline.modeling.predict import applied_review_threshold, label_frame
from pipeline.modeling.run_folder import MODEL_FILE, check_versions, load_run

log = logging.getLogger(__name__)

# A task that raised is run again this many times (a flaky disk or network); a task whose
# worker died is rescheduled by Dask on its own, up to distributed.scheduler.allowed-failures.
RETRIES = 2
# The files of a folder output (part-00000.parquet...): the only ones a run may replace.
PART_NAME = re.compile(r"part-\d{5,}\.parquet")


class ModelPlugin(WorkerPlugin):
    """Holds the model on a worker: loaded from the run `folder`, or unpickled from `payload`, once."""

    def __init__(self, folder: str | None, payload: bytes | None, text_kind: str, versions: dict, run_id: str = ""):
        self.folder, self.payload, self.text_kind = folder, payload, text_kind
        self.versions, self.run_id = versions, run_id  # the versions the model was made with (its metadata)
        self.model = None

    def setup(self, worker) -> None:
        from pipeline.commands.predict import use_text_kind

        if self.payload is not None:
            check_versions(self.versions, f"model {self.run_id} (sent to worker {worker.address})", "worker")
            model = pickle.loads(self.payload)
            self.payload = None  # a worker that joins later gets its own copy from the scheduler
        else:
            model, _ = load_run(Path(self.folder))
        use_text_kind(model, self.text_kind)
        self.model = model.load()  # spaCy's tokenizer now, not in the first partition
        _quiet_user_errors()


class _UserErrorFilter(logging.Filter):
    """Drops a worker's "Compute Failed" report of a PipelineError: the input's fault, which the client
    raises as one clear line; the worker's own report repeats it with a traceback, once per retry."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (message.startswith("Compute Failed") and "PipelineError(" in message)


def _quiet_user_errors() -> None:
    worker_log = logging.getLogger("distributed.worker")
    if not any(isinstance(f, _UserErrorFilter) for f in worker_log.filters):
        worker_log.addFilter(_UserErrorFilter())


def _label_partition(frame: pd.DataFrame, plugin: str, text_columns: list[str],
                     review_threshold: float | None) -> pd.DataFrame:
    from distributed import get_worker

    return label_frame(get_worker().plugins[plugin].model, frame, text_columns, review_threshold, warn=False)


def _write_part(frame: pd.DataFrame, path: str) -> tuple[int, int]:
    frame.to_parquet(path, index=False)
    return _counts(frame)


def _counts(frame: pd.DataFrame) -> tuple[int, int]:
    """Rows of a labeled partition, and those flagged needs_review."""
    return len(frame), int(frame["needs_review"].sum())


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int):
    """A Client of the cluster at `scheduler`, or of a LocalCluster of `workers` processes started here."""
    from distributed import Client, LocalCluster

    # The scheduler of a LocalCluster runs in this process: its INFO lines would drown ours.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    if scheduler:
        _refuse_a_closed_port(scheduler)
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise PipelineError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        except ValueError as exc:  # no address at all: another scheme (http://), no port
            raise PipelineError(f"--scheduler {scheduler}: not a Dask scheduler address ({exc}); "
                                f"give tcp://HOST:PORT, as `dask scheduler` prints it") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.WARNING) as cluster, Client(cluster) as client:
        yield client


def _refuse_a_closed_port(scheduler: str) -> None:
    """Stop at once when nothing listens at a tcp:// scheduler's address: Client retries a refused
    connection until its timeout, 20 s of silence before the same error."""
    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port

    try:
        scheme, location = parse_address(scheduler)
        host, port = parse_host_port(location)
    except ValueError:
        return  # Client says what is wrong with the address
    if scheme != "tcp":
        return
    try:
        socket.create_connection((host, port), timeout=5).close()
    except ConnectionRefusedError:
        raise PipelineError(f"--scheduler {scheduler}: nothing listens at {host}:{port} (connection refused); "
                            f"start the scheduler (`dask scheduler`) or give the address it prints") from None
    except OSError:
        return  # unreachable or slow: Client waits its timeout and says so


def ship_model(client, folder: Path, model, metadata: dict, text_kind: str, how: str = "auto") -> str:
    """Register the model plugin on every worker; return its name.

    how: "path" (workers load the run folder), "bytes" (workers unpickle the model
    this process loaded), or "auto": path when every worker sees the run folder.
    """
    model_file = str(folder.resolve() / MODEL_FILE)
    if how == "auto":
        seen = client.run(os.path.isfile, model_file)
        how = "path" if seen and all(seen.values()) else "bytes"
    payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL) if how == "bytes" else None
    name = f"barometre-model-{uuid.uuid4().hex[:8]}"
    plugin = ModelPlugin(str(folder.resolve()) if how == "path" else None, payload, text_kind,
                         metadata.get("versions") or {}, model.run_id)
    log.info("model %s sent to %d worker(s) by %s", model.run_id, len(client.scheduler_info()["workers"]),
             "path" if payload is None else f"bytes ({len(payload) / 1e6:.1f} MB)")
    client.register_plugin(plugin, name=name)
    return name


def label_with_dask(folder: Path, input_spec: str | Path, output_path: str | Path, settings,
                    text_col: str | None = None, sep: str | None = None, encoding: str | None = None,
                    scheduler: str | None = None, workers: int = 2, ship: str = "auto",
                    blocksize: int = BLOCK_BYTES, client=None) -> Path:
    """Label INPUT with the model of run folder `folder` on a Dask cluster; write OUTPUT (Parquet).

    `settings`: the PredictSettings of the local engine (text kind, review threshold, text
    column names); `client`: an open Client to use instead of `scheduler`/`workers`.
    """
    from pipeline.commands.predict import log_labeled, use_text_kind

    output_path = Path(output_path)
    suffix = output_path.suffix.lower()
    if suffix and suffix not in PARQUET_SUFFIXES:
        raise PipelineError(f"{output_path}: --engine dask writes Parquet: OUTPUT.parquet for one file, "
                            f"or a name without suffix for a folder of parts")
    files, root = input_files(input_spec)
    if any(output_path.resolve() == f.resolve() or output_path.resolve() in f.resolve().parents for f in files):
        raise PipelineError(f"{output_path}: the output would overwrite the input; choose another OUTPUT")
    if not suffix and output_path.is_dir():  # the new folder replaces it whole: only an earlier run's parts may go
        check_replaceable(output_path, True, {p.name for p in output_path.iterdir() if PART_NAME.fullmatch(p.name)},
                          "predict --engine dask", "")
    kind = "parquet" if files[0].suffix.lower() in PARQUET_SUFFIXES else "csv"
    warn_unused_options(files[0], kind, sep, encoding, io_options.current().sheet)
    if kind == "csv":
        read, meta = csv_read(files[0], sep, encoding, settings.chunk_size)
        pieces = csv_pieces(files, blocksize, whole=read.layout.encoding.lower().startswith("utf-16"), root=root)
        meta = with_hive(meta, pieces[0])
    else:
        pieces = parquet_pieces(files, root)
        read, meta = None, parquet_meta(pieces[0])
    text_columns = find_text_columns(meta.columns, text_col, list(settings.text_columns), files[0])
    text_kind, review_threshold = settings.text_kind, settings.review_threshold
    model, metadata = load_run(folder)  # here too: checks versions before any worker starts, and gives the output's types
    use_text_kind(model, text_kind)
    out_meta = label_frame(model, meta, text_columns, review_threshold)
    threshold = applied_review_threshold(model, review_threshold)
    if warning := review_threshold_warning(threshold, review_threshold is not None):
        log.warning(warning)
    log.info("labeling %d file(s), %d partition(s), text from column(s) %s, model %s, with Dask",
             len(files), len(pieces), text_columns, model.run_id)

    with contextlib.ExitStack() as stack:
        # SIGTERM stops the run as Ctrl-C does (as in the local engine): the temporary output removed, the
        # cluster closed; by default it would end this process at once and leave both behind.
        stack.enter_context(interrupt.stop_on(signal.SIGTERM))
        if client is None:
            client = stack.enter_context(dask_client(scheduler, workers))
        log.info("Dask dashboard: %s", client.dashboard_link)
        plugin = ship_model(client, folder, model, metadata, text_kind, ship)
        stack.callback(_forget_plugin, client, plugin)
        del model
        import dask
        import dask.dataframe as dd

        # Columns keep the types the local engine gives them (pandas' str, not Dask's pyarrow strings).
        stack.enter_context(dask.config.set({"dataframe.convert-string": False}))
        frame = dd.from_map(read_piece, pieces, args=[kind, read, [str(c) for c in meta.columns], text_columns],
                            meta=meta, label="read-input")
        labeled = frame.map_partitions(_label_partition, plugin, text_columns, review_threshold, meta=out_meta)
        parts = labeled.to_delayed()
        if suffix:
            rows, flagged = _gather_to_file(client, parts, pieces, output_path)
        else:
            rows, flagged = _write_folder(client, parts, pieces, output_path)
    log_labeled(rows, output_path, flagged, threshold)
    return output_path


def _forget_plugin(client, name: str) -> None:
    """Remove the model from the workers of a cluster that outlives this run."""
    with contextlib.suppress(Exception):  # a cluster already gone: nothing to remove
        client.unregister_worker_plugin(name)


def _gather_to_file(client, parts, pieces, output_path: Path) -> tuple[int, int]:
    """Gather the labeled partitions here and append them to one Parquet file, in order; the rows, and
    those flagged needs_review."""
    with atomic_output(output_path) as tmp, TableWriter(tmp, "parquet") as writer:
        rows, flagged, ready = 0, 0, {}
        futures = client.compute(parts, retries=RETRIES)
        index = {f.key: i for i, f in enumerate(futures)}
        next_part = 0
        for future in _progress(futures, pieces):
            i = index[future.key]
            ready[i] = future.result()
            futures[i] = future = None  # the last reference: the cluster forgets the partition
            while next_part in ready:
                part = ready.pop(next_part)
                writer.write(part)
                rows += len(part)
                flagged += _counts(part)[1]
                next_part += 1
    return rows, flagged


def _write_folder(client, parts, pieces, output_path: Path) -> tuple[int, int]:
    """Let each worker write its partitions as part-NNNNN.parquet into a temporary folder, renamed at the end."""
    import dask

    warn_unused_output_options(output_path, "parquet folder")  # a file output's TableWriter says it itself

    with atomic_folder(output_path) as tmp:
        writes = [dask.delayed(_write_part)(part, str(tmp / f"part-{i:05d}.parquet")) for i, part in enumerate(parts)]
        counts = [f.result() for f in _progress(client.compute(writes, retries=RETRIES), pieces)]
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


def _progress(futures, pieces):
    """Yield the futures as they finish, with a progress bar; a failed one stops all, naming its file."""
    from distributed import as_completed
    from tqdm import tqdm

    index = {f.key: i for i, f in enumerate(futures)}
    with tqdm(total=len(futures), unit="part", desc="labeling (dask)", disable=None) as bar:
        for future in as_completed(futures):
            if future.status != "finished":
                exc = future.exception()
                for other in futures:
                    if other is not None:
                        other.cancel()
                if isinstance(exc, PipelineError):
                    raise exc
                piece = pieces[index[future.key]]
                raise PipelineError(f"{piece.path}: the partition of bytes/row groups {piece.start}-{piece.end} "
                                    f"failed: {type(exc).__name__}: {exc}")
            bar.update(1)
            yield future
