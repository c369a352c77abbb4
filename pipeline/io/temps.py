"""Temporary outputs: their names, their cleaning after a killed run, and the umask they follow.

An output is written under ".<name>.<pid>.<random>.part" beside it and renamed
when complete. A run killed before the rename leaves that temporary behind;
the next run to the same output removes those whose process is gone.
"""
from __future__ import annotations

import contextlib
import errno
import os
import random
import shutil
import time
from pathlib import Path

from pipeline import interrupt


def temp_prefix(path: Path) -> str:
    """The start of this process's temporary names for `path` (tempfile adds the random part)."""
    return f".{path.name}.{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def temp_owner(name: str) -> tuple[str, int] | None:
    """(output name, pid) of a temporary named ".<name>.<pid>.<random>.part" (or ".part.old"), else None."""
    name = name.removesuffix(".old")
    if not (name.startswith(".") and name.endswith(".part")):
        return None
    parts = name[1:-len(".part")].rsplit(".", 2)  # the random part never holds a dot
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def remove_stale_temps(path: Path, any_name: bool = False) -> list[Path]:
    """Remove the temporaries beside `path` left by runs whose process is gone.

    With `any_name`, those of every output in the folder `path` (a killed
    training's run folder has an id the next training never uses again).
    """
    folder = path if any_name else path.parent
    removed = []
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            owner = temp_owner(entry.name)
            if owner is None or not (any_name or owner[0] == path.name) or _pid_alive(owner[1]):
                continue  # not ours, or a live run's: its own business
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
            removed.append(entry)
    return removed


def swap_folder(tmp: Path, folder: Path, old: Path) -> None:
    """Put `tmp` in place of `folder`, the previous one moved aside to `old` (this run's own name).

    Two runs writing the same folder at once: the one that renames second finds
    the other's new folder in place and moves it aside in turn, so the last wins.
    A stop signal waits for the end: one between the two renames left no folder in
    place, and the previous one, moved aside, was removed as a killed run's.
    """
    with interrupt.held():
        _swap(tmp, folder, old)
        interrupt.written.append(str(folder))  # before a stop that waited acts


def _swap(tmp: Path, folder: Path, old: Path) -> None:
    for attempt in range(100):
        with contextlib.suppress(FileNotFoundError):
            os.replace(folder, old)
        try:
            os.replace(tmp, folder)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        shutil.rmtree(old, ignore_errors=True)
        time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # another run renamed in between: step aside
    os.replace(tmp, folder)


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (else set and restored)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
