"""The run folder: models/<run_id>/ with the model, its metadata, metrics and card.

models/LATEST names the newest run. A run folder is written under a
temporary name and renamed when complete, so a failed training leaves
nothing half-written behind.
"""
from __future__ import annotations

import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import joblib

from pipeline.errors import PipelineError
from pipeline.modeling.model import BarometerModel
from pipeline.io.files import write_json
from pipeline.io.tables import atomic_folder

MODEL_FILE = "model.joblib"
LATEST = "LATEST"


def library_versions() -> dict:
    import pandas
    import sklearn
    import spacy

    return {"python": platform.python_version(), "spacy": spacy.__version__,
            "scikit-learn": sklearn.__version__, "pandas": pandas.__version__,
            "joblib": joblib.__version__}


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def save_run(models_dir: str | Path, model: BarometerModel, metadata: dict, metrics: dict,
             extra_files: dict[str, callable]) -> Path:
    """Write the run folder; `extra_files` maps a file name to a writer taking its path."""
    models_dir = Path(models_dir)
    final = models_dir / model.run_id
    with atomic_folder(final) as tmp:
        joblib.dump(model, tmp / MODEL_FILE, compress=3)
        write_json(tmp / "metadata.json", metadata)
        write_json(tmp / "metrics.json", metrics)
        for name, writer in extra_files.items():
            writer(tmp / name)
    latest_tmp = models_dir / f".{LATEST}.tmp"
    latest_tmp.write_text(model.run_id + "\n", encoding="utf-8")
    os.replace(latest_tmp, models_dir / LATEST)
    return final


def resolve_run(models_dir: str | Path, run: str | None = None) -> Path:
    """The folder of `run` (an id or a path), or of the latest run."""
    models_dir = Path(models_dir)
    if run:
        folder = Path(run) if Path(run).is_dir() else models_dir / run
    else:
        pointer = models_dir / LATEST
        if not pointer.is_file():
            raise PipelineError(f"no trained model in {models_dir}: run `make train` first")
        folder = models_dir / pointer.read_text(encoding="utf-8").strip()
    if not (folder / MODEL_FILE).is_file():
        raise PipelineError(f"model folder {folder} is missing or incomplete (no {MODEL_FILE}): "
                            f"run `make train` again")
    return folder


def load_model(models_dir: str | Path, run: str | None = None) -> BarometerModel:
    """The model of `run` (an id under `models_dir`, or a folder), or of the latest run."""
    model, _ = load_run(resolve_run(models_dir, run))
    return model


def load_run(folder: Path) -> tuple[BarometerModel, dict]:
    """Load a model and its metadata, refusing one made by other library versions."""
    try:
        metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PipelineError(f"{folder}/metadata.json cannot be read ({exc}): run `make train` again") from None
    made, here = metadata.get("versions", {}), library_versions()
    differ = [f"{lib} {made.get(lib)} (here {here[lib]})" for lib in ("scikit-learn", "spacy")
              if made.get(lib) != here[lib]]
    if differ:
        raise PipelineError(f"model {folder} was made with other library versions: {', '.join(differ)}; "
                            f"retrain it with `make train`")
    try:
        model = joblib.load(folder / MODEL_FILE)
    except Exception as exc:  # a truncated or foreign file: say which
        raise PipelineError(f"{folder}/{MODEL_FILE} cannot be loaded ({exc}): run `make train` again") from None
    return model, metadata
