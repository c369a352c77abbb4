"""Ctrl-C and SIGTERM as a clean stop: temporary outputs removed, one line, the shell's exit code.

A stop signal raises KeyboardInterrupt wherever the run is, so that atomic_output
removes its temporary file. While predict's worker pool runs it is only noted
(`deferred`): raised inside the pool's own machinery it could leave the pool
waiting forever on workers the same signal killed; the predict loop calls
`check` between parts instead.
"""
from __future__ import annotations

import contextlib
import signal
import threading
import time

# The stop signals of this run, in the order they came.
received: list[int] = []
# The outputs this run put in place, whole: a stop that comes after one (one waiting for a folder's swap
# to end, `held`) says so, where "nothing was written" would be false.
written: list[str] = []
_deferring = 0

_DEFAULTS = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}


def _note(signum, frame) -> None:
    received.append(signum)
    if not _deferring:
        raise KeyboardInterrupt


@contextlib.contextmanager
def stop_on(*signums: int):
    """Within the block, `signums` (SIGINT, SIGTERM) stop the run instead of their default.

    Only those still at their default (a background job ignores Ctrl-C), and only
    in the main thread (the only one that may set a handler).
    """
    taken = {}
    if threading.current_thread() is threading.main_thread():
        taken = {s: signal.getsignal(s) for s in signums if signal.getsignal(s) == _DEFAULTS[s]}
    for signum in taken:
        signal.signal(signum, _note)
    try:
        yield
    finally:
        for signum, handler in taken.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def deferred():
    """Within the block a stop signal is only noted: the code calls `check` where it can stop.
    One noted and not yet acted on stops the run on leaving the block."""
    global _deferring
    if not _deferring:
        received.clear()  # those of an earlier run in this process (tests, a notebook) are acted on already
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    check()


def check(wait: float = 0) -> None:
    """Stop here (KeyboardInterrupt) if a stop signal came, or comes within `wait` seconds."""
    deadline = time.monotonic() + wait
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)  # the signal's handler runs meanwhile
    if received:
        raise KeyboardInterrupt


@contextlib.contextmanager
def held():
    """Within the block Ctrl-C and SIGTERM wait, and act on leaving it: two steps that belong together
    (moving a folder aside, renaming its replacement into place) are never parted. Their handlers are
    swapped for one that notes them (Python runs handlers in the main thread, whichever thread the
    system gave the signal to: a signal mask would hold it back from this thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    waiting: list[int] = []
    before = {s: signal.signal(s, lambda signum, frame: waiting.append(signum))
              for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
        for signum in waiting:
            signal.raise_signal(signum)  # now, to the handler the run had


def exit_code() -> int:
    """The shell's code for a stopped run: 128 + the signal (130 for Ctrl-C, 143 for SIGTERM)."""
    return 128 + (received[0] if received else signal.SIGINT)
