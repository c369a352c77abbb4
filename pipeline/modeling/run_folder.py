"""The run folder: models/<run_id>/ with the model, its metadata, metrics and card.

models/LATEST names the newest run. A run folder is written under a
temporary name and renamed when complete, so a failed training leaves
nothing half-written behind.

A model file is a pickle: loading one runs whatever it holds. So metadata.json
records the model file's sha256 at training and a model is unpickled only when
its bytes match it; run ids and LATEST resolve inside the models folder, and a
folder elsewhere is used only when the user names its path. metadata.json also
records the sha256 of every other file of the folder (`files`): metrics.json and
oof.npz feed the report's figures, and a byte changed in them would change a
published number without a word. They are checked whenever a run is used.
"""
from __future__ import annotations

import io
import os
import platform
import secrets
from datetime import UTC, datetime
from pathlib import Path

import joblib

from pipeline import interrupt
from pipeline.errors import PipelineError
from pipeline.io.files import (
    FILES_KEY,
    METADATA_FILE,
    METRICS_FILE,
    MODEL_FILE,
    RETRAIN,
    RUN_ID,
    sha256_of,
    verified_metadata,
    write_json,
)
from pipeline.io.tables import atomic_folder
from pipeline.io.temps import remove_stale_temps, temp_prefix
from pipeline.modeling.model import BarometerModel

LATEST = "LATEST"
HASH_KEY = "model_sha256"
# A run id: letters, digits and . _ - only, so that it names a folder directly under models/.


def library_versions() -> dict:
    import numpy
    import pandas
    import scipy
    import sklearn
    import spacy

    # numpy and scipy too: their float sums (BLAS, sparse products) are what a retraining reproduces.
    return {"python": platform.python_version(), "spacy": spacy.__version__,
            "scikit-learn": sklearn.__version__, "pandas": pandas.__version__,
            "joblib": joblib.__version__, "numpy": numpy.__version__, "scipy": scipy.__version__}


def installed_spacy_model(recorded: str) -> str:
    """`recorded` ("fr_core_news_sm 3.8.0", as metadata.json has it) with the version installed here."""
    from importlib.metadata import PackageNotFoundError, version

    name = recorded.split(" ")[0]
    try:
        return f"{name} {version(name)}"
    except PackageNotFoundError:
        return f"{name} not installed"


def new_run_id() -> str:
    """UTC time to the microsecond plus a random suffix: distinct for trainings run at once, sortable by time."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ") + "-" + secrets.token_hex(3)


def save_run(models_dir: str | Path, model: BarometerModel, metadata: dict, metrics: dict,
             extra_files: dict[str, callable]) -> Path:
    """Write the run folder; `extra_files` maps a file name to a writer taking its path.

    `metadata` gets the sha256 of the model file, hashed once the file is written, and of every file
    of the folder (FILES_KEY).
    """
    models_dir = Path(models_dir)
    if not RUN_ID.fullmatch(model.run_id or ""):
        raise PipelineError(f"run id {model.run_id!r} cannot name a folder under {models_dir}")
    final = models_dir / model.run_id
    remove_stale_temps(models_dir, any_name=True)  # what killed trainings left, whatever their run id
    if final.exists():
        raise PipelineError(f"{final} already exists: a run id is never reused")
    with atomic_folder(final) as tmp:
        joblib.dump(model, tmp / MODEL_FILE, compress=3)
        metadata[HASH_KEY] = sha256_of(tmp / MODEL_FILE)
        write_json(tmp / METRICS_FILE, metrics)
        for name, writer in extra_files.items():
            writer(tmp / name)
        # Written last, so that it can hash every other file (in the folder's rename, with the rest).
        metadata[FILES_KEY] = {p.name: sha256_of(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        write_json(tmp / METADATA_FILE, metadata)
    write_latest(models_dir, model.run_id)
    return final


def write_latest(models_dir: Path, run_id: str) -> None:
    """Point models/LATEST at `run_id` atomically, through this process's own temporary file."""
    pointer = models_dir / LATEST
    remove_stale_temps(pointer)
    tmp = models_dir / f"{temp_prefix(pointer)}{secrets.token_hex(4)}.part"
    try:
        with open(tmp, "x", encoding="utf-8") as fh:  # created with the umask's mode, as any output
            fh.write(run_id + "\n")
        os.replace(tmp, pointer)
        interrupt.written.append(str(pointer))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _inside(models_dir: Path, name: str, what: str) -> Path:
    """models_dir/name, refused unless `name` is a run id whose real folder lies inside models_dir."""
    if not RUN_ID.fullmatch(name):
        name = name if len(name) <= 80 else name[:80] + "..."  # LATEST may hold anything: quote a little
        raise PipelineError(f"{what} {name!r} is not a run id of {models_dir} (letters, digits, '.', '_', '-'); "
                            f"to use a folder elsewhere, give its path")
    folder = models_dir / name
    if not folder.is_dir():
        raise PipelineError(f"{what} {name!r}: no such run in {models_dir}")
    if not folder.resolve().is_relative_to(models_dir.resolve()):
        raise PipelineError(f"{what} {name!r}: {folder} leads outside {models_dir} (a symbolic link); "
                            f"to use that folder, give its path")
    return folder


def resolve_run(models_dir: str | Path, run: str | None = None) -> Path:
    """The folder of `run` (an id under `models_dir`, or a folder path), or of the latest run.

    A bare name is a run id under `models_dir`; a path (holding a separator)
    names a folder anywhere, the user's explicit choice.
    """
    models_dir = Path(models_dir)
    if run and (os.sep in run or (os.altsep and os.altsep in run)):
        folder = Path(run)
        if not folder.is_dir():
            raise PipelineError(f"--run {run}: no such model folder")
    elif run:
        folder = _inside(models_dir, run, "--run")
    else:
        pointer = models_dir / LATEST
        if not pointer.is_file():
            raise PipelineError(f"no trained model in {models_dir}: run `make train` first")
        try:
            name = pointer.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise PipelineError(f"{pointer} cannot be read ({exc}): run `make train` again") from None
        folder = _inside(models_dir, name, f"{pointer} names")
    if not (folder / MODEL_FILE).is_file():
        raise PipelineError(f"model folder {folder} is missing or incomplete (no {MODEL_FILE}): "
                            f"run `make train` again")
    return folder


def load_model(models_dir: str | Path, run: str | None = None) -> BarometerModel:
    """The model of `run` (an id under `models_dir`, or a folder path), or of the latest run."""
    model, _ = load_run(resolve_run(models_dir, run))
    return model


# The libraries whose objects a model pickle holds: another version may unpickle them wrongly (scikit-learn
# says so of any other version, patch releases included).
PICKLED_LIBRARIES = ("scikit-learn", "spacy")


def check_versions(made: dict, what: str, where: str = "here") -> None:
    """Refuse to unpickle a model made with other versions of the libraries it holds."""
    here = library_versions()
    differ = [f"{lib} {made.get(lib)} ({where} {here[lib]})" for lib in PICKLED_LIBRARIES if made.get(lib) != here[lib]]
    # The spaCy model lemmatises every text predicted: another version gives other lemmas, other features.
    if made.get("spacy_model") and made["spacy_model"] != (installed := installed_spacy_model(made["spacy_model"])):
        differ.append(f"{made['spacy_model']} ({where} {installed.split(' ', 1)[1]})")
    if differ:
        raise PipelineError(f"{what} was made with other library versions: {', '.join(differ)}; "
                            f"retrain it with `make train` or install the versions it was made with")


def load_run(folder: Path) -> tuple[BarometerModel, dict]:
    """Load a model and its metadata, refusing a run folder changed since training or made by other versions."""
    metadata = verified_metadata(folder, hashed_later=(MODEL_FILE,))  # its bytes are hashed as they are loaded
    check_versions(metadata.get("versions") or {}, f"model {folder}")
    data = _trusted_bytes(folder, metadata.get(HASH_KEY))
    try:
        model = joblib.load(io.BytesIO(data))  # the bytes just checked, not the file again
    except (ModuleNotFoundError, AttributeError) as exc:
        raise PipelineError(f"{folder}/{MODEL_FILE} was made by an older version of barometre whose classes "
                            f"moved ({exc}): retrain it with `make train`") from None
    except Exception as exc:  # a truncated or foreign file: say which
        raise PipelineError(f"{folder}/{MODEL_FILE} cannot be loaded ({exc}): {RETRAIN}") from None
    if not isinstance(model, BarometerModel):
        raise PipelineError(f"{folder}/{MODEL_FILE} holds a {type(model).__name__}, not a barometre model: "
                            f"run `make train` again")
    return model, metadata


def _trusted_bytes(folder: Path, expected) -> bytes:
    """The model file's bytes, if their sha256 is the one recorded at training."""
    import hashlib

    if not isinstance(expected, str) or not expected:
        raise PipelineError(f"{folder}/metadata.json records no sha256 of {MODEL_FILE} (a model from an older "
                            f"version of barometre, or an edited file), so it is not loaded: retrain with `make train`")
    try:
        data = (folder / MODEL_FILE).read_bytes()
    except OSError as exc:
        raise PipelineError(f"{folder}/{MODEL_FILE} cannot be read ({exc.strerror}): {RETRAIN}") from None
    if hashlib.sha256(data).hexdigest() != expected.lower():
        raise PipelineError(f"{folder}/{MODEL_FILE} is not the file trained with it (its sha256 differs from "
                            f"metadata.json): refused, since loading a model runs its code; {RETRAIN}")
    return data
