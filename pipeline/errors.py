"""The exceptions the command line turns into a plain message instead of a crash log."""
import signal


class PipelineError(Exception):
    """A problem with the user's input, files or models, worded for a data scientist (exit code 2)."""


class WorkerDied(Exception):
    """A worker process of predict ended in the middle of the run, by no stop signal of this run: most
    often the system's out-of-memory killer (signal 9). Not the input's fault (exit code 1), but nothing
    in a traceback would help either."""

    def __init__(self, exit_codes: list[int]):
        self.exit_codes = exit_codes
        how = ", ".join(f"killed by signal {-c}" if c < 0 else f"exit code {c}" for c in exit_codes) or "its exit code unknown"
        oom = " (signal 9 is how the system ends a process when memory runs out)" if -signal.SIGKILL in exit_codes else ""
        super().__init__(f"a worker process of predict ended in the middle of the run ({how}){oom}: nothing was "
                         "written. Run again with fewer processes (--jobs 1) or a smaller [predict] chunk_size")
