"""Helpers every step shares: a file's sha256, a JSON file, a run's metrics, the code's git commit."""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

from pipeline.config import PROJECT_DIR
from pipeline.errors import PipelineError

# A run id names a folder directly under models/: no "/", no "..", nothing hidden.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


METRICS_FILE = "metrics.json"  # a run folder's CV metrics, written by train


def read_metrics(folder: Path) -> dict:
    """A run folder's metrics.json; PipelineError saying which file and why when it cannot be used."""
    path = Path(folder) / METRICS_FILE
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found (the run was not trained to its end)") from None
    except (OSError, ValueError) as exc:
        raise PipelineError(f"{path} cannot be read ({type(exc).__name__}: {exc})") from None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("domain"), dict):
        raise PipelineError(f"{path} is not a training run's metrics (no 'domain' scores)")
    return metrics


def git_commit() -> str:
    """The commit of the code that ran, with "-dirty" when tracked files were changed."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_DIR,
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else "unknown"
    except OSError:
        return "unknown"
