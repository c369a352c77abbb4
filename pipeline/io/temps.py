"""Temporary outputs: their names, their cleaning after a killed run, and the umask they follow.

An output is written under ".<name>.<pid>.<random>.part" beside it and renamed
when complete. A run killed before the rename leaves that temporary behind;
the next run to the same output removes those whose process is gone.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path


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


def remove_stale_temps(path: Path) -> list[Path]:
    """Remove the temporary files and folders beside `path` left by runs whose process is gone."""
    removed = []
    prefix = f".{path.name}."
    with contextlib.suppress(OSError):
        for entry in path.parent.iterdir():
            rest = entry.name[len(prefix):] if entry.name.startswith(prefix) else ""
            pid = rest.split(".", 1)[0]
            ours = pid.isdigit() and rest.endswith((".part", ".part.old"))
            if not ours or _pid_alive(int(pid)):  # a live run's temporaries are its own business
                continue
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
    """
    for _ in range(5):
        with contextlib.suppress(FileNotFoundError):
            os.replace(folder, old)
        try:
            os.replace(tmp, folder)
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        shutil.rmtree(old, ignore_errors=True)
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
