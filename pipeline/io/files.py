"""Helpers every step shares: a file's sha256, a JSON file, a run's metrics, the code's git commit, and the
check of a run folder's files against the sha256 its metadata.json records (here, so that report need not
import the modeling half)."""
from __future__ import annotations

import hashlib
import json
import logging
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


log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"  # a run folder's CV metrics, written by train
MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
FILES_KEY = "files"  # in metadata.json: every other file of the run folder, by name, with its sha256


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


# What to do about a damaged run folder, at the end of each error about one.
RETRAIN = "run `make train` again, or pick another run (--run; make: RUN=)"
_UNVERIFIED: set[str] = set()  # the folders without sha256 of their files already named in the log


def verified_metadata(folder: Path, hashed_later: tuple[str, ...] = ()) -> dict:
    """The run's metadata.json, once every file it records is there with the sha256 it had at training
    (those of `hashed_later` only there: their caller hashes the bytes it reads).

    A folder saved before the files' sha256 were recorded is used as it is (its model file is still
    checked by load_run); the log says so once.
    """
    try:
        metadata = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PipelineError(f"{folder}/{METADATA_FILE} cannot be read ({exc}): {RETRAIN}") from None
    if not isinstance(metadata, dict):
        raise PipelineError(f"{folder}/{METADATA_FILE} is not a run's metadata: {RETRAIN}")
    recorded = metadata.get(FILES_KEY)
    if recorded is None:
        if str(folder) not in _UNVERIFIED:
            _UNVERIFIED.add(str(folder))
            log.info("%s was trained before its files' sha256 were recorded: its files other than %s are "
                     "not verified", folder, MODEL_FILE)
        return metadata
    if not isinstance(recorded, dict):
        raise PipelineError(f"{folder}/{METADATA_FILE}: its '{FILES_KEY}' is not a list of files: {RETRAIN}")
    for name, expected in recorded.items():
        path = folder / name
        if not RUN_ID.fullmatch(name) or not path.is_file():  # a name of the folder, nothing elsewhere
            raise PipelineError(f"{folder}/{name} is missing (metadata.json records it): {RETRAIN}")
        if name not in hashed_later and sha256_of(path) != expected:
            raise PipelineError(f"{folder}/{name} is not the file written at training (its sha256 differs from "
                                f"{METADATA_FILE}'s): {RETRAIN}")
    return metadata


def verify_if_run(folder: Path) -> None:
    """Check `folder` as verified_metadata does when it is a run folder as training writes it (a model
    file or metadata.json in it); files copied alone (a run's metrics.json) are read as they are."""
    if (folder / MODEL_FILE).exists() or (folder / METADATA_FILE).exists():
        verified_metadata(folder)
