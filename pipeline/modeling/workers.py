"""Worker processes for predict: forked once, they share the loaded model and label parts of the input.

`predict_jobs` says how many processes an input deserves; `ParallelPredictor`
runs `predict_texts` over a stream of parts, here or in the workers, in order.
"""
from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from pipeline import interrupt
from pipeline.errors import WorkerDied
from pipeline.modeling.model import BarometerModel
from pipeline.modeling.predict import predict_texts

# Rows a worker process scores at a time; and below this many rows a worker costs more than it saves.
PART_ROWS = 5000
MIN_ROWS_PER_WORKER = 5000
# Seconds between two looks for a stop signal while waiting on a worker; and how long a broken pool
# waits for the stop signal that may have killed its workers (sent one process at a time, it can reach
# them first: pkill, a scheduler stopping each process of the job).
WAIT_STEP = 0.2
STOP_GRACE = 0.5


def process_count(setting: int) -> int:
    """`setting` processes, or one per core this process may use when it is 0."""
    if setting and int(setting) > 0:
        return int(setting)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def predict_jobs(setting: int, total_rows: int | None) -> int:
    """Processes for predict, this one included: `setting` (0 = one per core), fewer for a small input.

    1 means no worker process: inputs of unknown size (Excel) and where fork is not available.
    """
    jobs = process_count(setting)
    if total_rows is None or not can_fork():
        return 1
    return max(1, min(jobs, 1 + total_rows // MIN_ROWS_PER_WORKER))


_WORKER_MODEL: BarometerModel | None = None


def _init_worker(model: BarometerModel, parent: int) -> None:
    global _WORKER_MODEL
    _WORKER_MODEL = model
    # Ctrl-C reaches the whole process group: the parent stops the pool and says so in one line,
    # instead of each worker printing a KeyboardInterrupt traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The parent's SIGTERM handler (pipeline/interrupt.py) came with the fork: a worker ends on SIGTERM (its
    # parent's death, a stop of the whole group) at once and without a word, as by default.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    end_with_parent(parent)


def end_with_parent(parent: int) -> None:
    """End this worker when `parent` dies (a kill -9 runs no cleanup, and a worker
    waiting on the task queue would otherwise wait forever, an orphan holding the terminal).

    Linux: the kernel sends SIGTERM (prctl PR_SET_PDEATHSIG). Elsewhere: a thread
    watches for the worker being handed to another parent.
    """
    import sys
    import threading
    import time

    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(1, int(signal.SIGTERM), 0, 0, 0) == 0:  # 1 = PR_SET_PDEATHSIG
                if os.getppid() != parent:  # the parent died before prctl: no signal will come
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


def _predict_in_worker(texts: list[str], dedup: bool):
    return predict_texts(_WORKER_MODEL, texts, dedup)


def can_fork() -> bool:
    """Worker processes are forked, so that they share the loaded model instead of loading it again."""
    return "fork" in multiprocessing.get_all_start_methods()


class ParallelPredictor:
    """Predicts a stream of (payload, texts) items with `predict_texts`, here or in worker processes.

    `n_jobs` is the number of processes in all. With 1, this process scores
    everything. With n > 1, n - 1 forked worker processes score the items
    while this one reads and writes around them, and scores an item itself
    when every worker already has two queued; at most 2 (n - 1) + 1 items
    are in flight, so memory does not grow with the input. Used as a context manager: the workers are forked
    on entry (before the caller starts a progress bar's thread) and stopped
    on exit. While they run, a stop signal (Ctrl-C, SIGTERM) ends the run between two items
    (pipeline/interrupt.py), and the workers are then killed, not waited on.
    """

    def __init__(self, model: BarometerModel, n_jobs: int = 1, dedup: bool = True):
        self.model, self.n_jobs, self.dedup = model, n_jobs, dedup
        self.workers = max(n_jobs - 1, 0) if can_fork() else 0
        self._pool: ProcessPoolExecutor | None = None
        self._stack: contextlib.ExitStack | None = None

    def __enter__(self) -> "ParallelPredictor":
        if self.workers:
            with contextlib.ExitStack() as stack:
                stack.enter_context(interrupt.deferred())  # from before the fork to after the workers' end
                self._pool = stack.enter_context(_worker_pool(self.model, self.workers))
                self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc) -> None:
        if self._stack is not None:
            stack, self._stack, self._pool = self._stack, None, None
            stack.__exit__(*exc)

    def map(self, items: Iterable[tuple[object, list[str]]]) -> Iterator[tuple[object, tuple[np.ndarray, np.ndarray]]]:
        """For each (payload, texts) of `items`, yield (payload, predict_texts(model, texts)), in order."""
        if self._pool is None:
            for payload, texts in items:
                yield payload, predict_texts(self.model, texts, self.dedup)
            return
        pending: deque = deque()
        for payload, texts in items:
            interrupt.check()
            if sum(not f.done() for _, f in pending) >= 2 * self.workers:
                # every worker has work queued: score this item here rather than wait idle
                pending.append((payload, _Ready(predict_texts(self.model, texts, self.dedup))))
            else:
                pending.append((payload, self._pool.submit(_predict_in_worker, texts, self.dedup)))
            while pending and (pending[0][1].done() or len(pending) > 2 * self.workers + 1):
                payload_done, future = pending.popleft()
                yield payload_done, _result(future, self._pool)
        while pending:
            payload_done, future = pending.popleft()
            yield payload_done, _result(future, self._pool)


@contextlib.contextmanager
def _worker_pool(model: BarometerModel, workers: int):
    """`workers` forked processes holding `model`. Shut down in order after a success; after a failure or
    a stop, at once (`_end_at_once`)."""
    model.load()
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_init_worker, initargs=(model, os.getpid()))
    try:
        gc.collect()
        gc.freeze()  # the model's objects stay out of the workers' garbage collection: fewer copied pages
        try:
            _result(pool.submit(int), pool)  # fork now
        finally:
            gc.unfreeze()
        yield pool
    except BrokenProcessPool as broken:
        codes = _ended_workers(pool)
        codes = sorted({c for c in codes if c != -signal.SIGTERM}) or codes  # the pool SIGTERMs the others itself
        _end_at_once(pool)
        interrupt.check(wait=STOP_GRACE)  # workers killed by a stop signal: the stop, not a crash
        raise WorkerDied(codes) from broken
    except BaseException:
        _end_at_once(pool)
        raise
    pool.shutdown(wait=True)


def _workers(pool: ProcessPoolExecutor) -> list:
    """The pool's worker processes: a private attribute of CPython's pool (read on 3.11), which has no public
    way to reach them."""
    return list((getattr(pool, "_processes", None) or {}).values())


def _ended_workers(pool: ProcessPoolExecutor) -> list[int]:
    """The exit codes of the pool's workers that have ended: while the pool runs, any is a death."""
    return [p.exitcode for p in _workers(pool) if p.exitcode is not None]


def _result(future: Future, pool: ProcessPoolExecutor):
    """The future's result. Waited for in steps: a stop signal noted meanwhile ends the wait (the worker may
    have died of it, or be busy for a while), and so does a worker's death. The pool notices a death on its
    own, unless the worker died while sending a result: its thread then waits forever for the rest."""
    while not future.done():
        interrupt.check()
        wait([future], timeout=WAIT_STEP)
        if not future.done() and _ended_workers(pool):
            raise BrokenProcessPool("a worker process ended")
    return future.result()


def _end_at_once(pool: ProcessPoolExecutor) -> None:
    """Stop the pool without waiting on its workers; their results are dropped anyway.

    A worker killed while sending a result (a SIGTERM to the whole group) leaves
    half a message in the results pipe: the pool's thread would wait forever for
    the rest, and so would shutdown(wait=True) and Python's exit, which joins that
    thread. So the workers are killed, and this process closes its own copy of the
    pipe's writing end: the thread then reads an end of file and ends. Private
    attributes of CPython's pool (read on 3.11): it has no public way to do this.
    The thread is then waited for, briefly: Python's exit wakes it through a pipe the
    thread closes as it ends, and on 3.11 the two race ("Exception ignored in
    threading._shutdown ... Bad file descriptor" after the run's last line).
    """
    processes = _workers(pool)
    results = getattr(pool, "_result_queue", None)
    thread = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()
    if results is not None:
        results._writer.close()
    if thread is not None:
        thread.join(timeout=STOP_GRACE)


class _Ready:
    """A result computed here, standing in the queue beside the workers' futures."""

    def __init__(self, value):
        self.value = value

    def done(self) -> bool:
        return True

    def result(self):
        return self.value

