"""The commands' work: read files, call the I/O-free steps, write the outputs."""
from __future__ import annotations

import logging
import os
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from pipeline.modeling import run_folder as artifacts

from pipeline.modeling import card
from pipeline.domains import load_label_set
from pipeline.errors import PipelineError
from pipeline.modeling.model import BarometerModel
from pipeline.modeling.estimators import RECIPES, set_text_kind
from pipeline.modeling.predict import Scorer, can_fork, texts_of, with_predictions
from pipeline.io.sources import SUBMISSION_KIND, load_training_data, load_unlabeled_texts
from pipeline.io.tables import TableWriter, atomic_output, count_rows, find_text_columns, iter_table
from pipeline.modeling.train import TrainSettings, train

log = logging.getLogger(__name__)


def train_settings(config: dict) -> TrainSettings:
    t, p = config["train"], config["preprocess"]
    return TrainSettings(cv_folds=t["cv_folds"], cv_repeats=t.get("cv_repeats", 1), random_state=t["random_state"],
                         spacy_model=p["spacy_model"], batch_size=p["batch_size"], n_process=p["n_process"],
                         recipes=tuple(t["recipes"]),
                         select_on=t["select_on"], review_accuracy=t["review_accuracy"],
                         n_jobs=process_count(t.get("n_jobs", 0)))


def self_training_pool(config: dict, extra: str | None, recipes) -> tuple[list[str], list]:
    """The unlabeled texts of sources.toml under `extra`, read only when one of `recipes` self-trains."""
    if not extra or not any(RECIPES[name].self_training for name in recipes):
        return [], []
    return load_unlabeled_texts(extra, config["paths"]["sources"])


def run_train(config: dict, extra: str | None = None) -> Path:
    """Train on the seed set (plus the sources under `extra`) and write a run folder."""
    paths = config["paths"]
    labels = load_label_set(paths["labels"])
    frame, reports = load_training_data(paths["labeled"], labels, extra, paths["sources"])
    settings = train_settings(config)
    unlabeled, unlabeled_reports = self_training_pool(config, extra, settings.recipes)
    log.info("training on %d rows from %d source(s), %d unlabeled texts", len(frame), len(reports), len(unlabeled))
    model, metrics = train(frame, labels, settings, unlabeled)
    model.run_id = artifacts.new_run_id()
    metadata = {
        "run_id": model.run_id,
        "spacy_model": settings.spacy_model,
        "versions": {**artifacts.library_versions(),
                     "spacy_model": f"{settings.spacy_model} {model.lemmatizer.model_version_}"},
        "git_commit": artifacts.git_commit(),
        "labels": {c: labels.label(c) for c in labels.codes},
        "sources": [asdict(r) for r in reports],
        "unlabeled_sources": [asdict(r) for r in unlabeled_reports],
        "rows_trained": int(len(frame)),
        "rows_left_out_none": sum(r.left_out for r in reports),
        "extra": str(extra) if extra else None,
        "settings": asdict(settings),
        "random_state": settings.random_state,
        "config": {k: v for k, v in config.items() if k != "paths"},
    }
    folder = artifacts.save_run(paths["models"], model, metadata, metrics, {
        "confusion_matrix.png": lambda p: card.confusion_png(metrics, labels, p),
        "MODEL_CARD.md": lambda p: p.write_text(card.model_card(metadata, metrics, labels), encoding="utf-8"),
    })
    log.info("model %s written to %s (CV macro-F1 %.3f, accuracy %.3f)", model.run_id, folder,
             metrics["domain"]["macro_f1"], metrics["domain"]["accuracy"])
    return folder


def load_model(config: dict, run: str | None = None) -> BarometerModel:
    model, _ = artifacts.load_run(artifacts.resolve_run(config["paths"]["models"], run))
    return model


def run_predict(config: dict, input_path: str | Path, output_path: str | Path, text_col: str | None = None,
                run: str | None = None, sep: str | None = None, encoding: str | None = None,
                n_jobs: int | None = None, model: BarometerModel | None = None, dedup: bool = True,
                text_kind: str | None = None) -> Path:
    """Label a file of submissions in chunks; write every input column, then the predictions.

    `n_jobs`: processes in all ([predict] n_jobs; 0 = one per core); beyond
    this one, which reads and writes, they score parts of the chunks. `model`:
    an already loaded model. `dedup`: classify the repeated texts of a part
    once (False only to measure what that saves). `text_kind`: predict with
    the weights of this kind of text ([predict] text_kind; sources.toml).
    """
    input_path, output_path = Path(input_path), Path(output_path)
    if output_path.resolve() == input_path.resolve():
        raise PipelineError(f"{output_path}: the output would overwrite the input; choose another OUTPUT")
    kind = TableWriter.kind_of(output_path)
    model = model or load_model(config, run)
    settings = config["predict"]
    use_text_kind(model, text_kind or settings.get("text_kind", SUBMISSION_KIND))
    threshold = None if settings["review_threshold"] == "model" else float(settings["review_threshold"])
    total = count_rows(input_path)
    jobs = predict_jobs(settings.get("n_jobs", 0) if n_jobs is None else n_jobs, total)
    rows = 0
    state: dict = {}

    # With worker processes, chunks go to them in parts, so that reading, scoring and writing overlap.
    part_rows = settings["chunk_size"] if jobs == 1 else min(settings["chunk_size"], PART_ROWS)

    def chunks():
        for chunk in iter_table(input_path, settings["chunk_size"], sep=sep, encoding=encoding):
            if "columns" not in state:
                state["columns"] = find_text_columns(chunk.columns, text_col, settings["text_columns"], input_path)
                log.info("labeling %s, text from column(s) %s, model %s, %d process(es)", input_path,
                         state["columns"], model.run_id, jobs)
            texts = texts_of(chunk, state["columns"])
            for i in range(0, len(chunk), part_rows):
                part = texts.iloc[i:i + part_rows]
                yield (chunk.iloc[i:i + part_rows], part), part.tolist()

    with atomic_output(output_path) as tmp:
        writer = TableWriter(tmp, kind)
        with Scorer(model, jobs, dedup) as scorer, tqdm(total=total, unit="rows", desc="labeling",
                                                          disable=None) as bar:
            for (chunk, texts), scores in scorer.map(chunks()):
                writer.write(with_predictions(model, chunk, texts, scores, threshold))
                rows += len(chunk)
                bar.update(len(chunk))
        writer.close()
        if "columns" not in state:
            raise PipelineError(f"{input_path}: the file has a header but no rows")
    log.info("%d rows labeled into %s", rows, output_path)
    return output_path


def use_text_kind(model: BarometerModel, kind: str) -> None:
    try:
        set_text_kind(model.domain_classifier, kind)
    except ValueError as exc:
        raise PipelineError(f"--kind: {exc}") from None
    if kind != SUBMISSION_KIND:
        log.info("predicting as texts of kind %s", kind)


# Rows a worker process scores at a time; and below this many rows a worker costs more than it saves.
PART_ROWS = 5000
MIN_ROWS_PER_WORKER = 5000


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


def default_output(config: dict, input_path: str | Path) -> Path:
    return Path(config["paths"]["predicted"]) / f"{Path(input_path).stem}.predictions.csv"
