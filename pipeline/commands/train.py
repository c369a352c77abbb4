"""`python -m pipeline train`: read the labeled sources, train, write the run folder."""
from __future__ import annotations

import logging
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from pipeline.domains import digital_known, load_label_set
from pipeline.io.files import git_commit
from pipeline.io.reviewed import load_reviewed, review_files
from pipeline.io.sources import load_training_data, load_unlabeled_texts, locked_ids, locked_rows
from pipeline.io.tables import check_writable
from pipeline.modeling import card, run_folder
from pipeline.modeling.estimators import RECIPES
from pipeline.modeling.settings import TrainSettings
from pipeline.modeling.train import OOF_KEY, train
from pipeline.quantify.evaluate import unseen_year_check
from pipeline.quantify.store import OOF_FILE, OutOfFold, save_oof
from pipeline.review.answers import answers_win

log = logging.getLogger(__name__)


def self_training_pool(config: dict, extra: str | None, recipes) -> tuple[list[str], list]:
    """The unlabeled texts of sources.toml under `extra`, read only when one of `recipes` self-trains."""
    if not extra or not any(RECIPES[name].self_training for name in recipes):
        return [], []
    return load_unlabeled_texts(extra, config["paths"]["sources"])


def add_reviewed(config: dict, frame, reports: list, labels, extra_paths=None):
    """The training rows plus the reviewed workbooks' (paths.reviewed, then `extra_paths`), and their summary."""
    files = review_files(config["paths"].get("reviewed"), extra_paths)
    if not files:
        return frame, reports, {"rows_reviewed": 0, "rows_trained": 0, "workbooks": []}
    weight = float(config.get("review", {}).get("reviewed_weight", 1.0))
    rows, more, summary = load_reviewed(files, labels, weight)
    # The locked rows never give way; run_train finds (and logs) them once the reviewed rows are in.
    locked = frame["row_id"].isin(locked_ids(config["paths"].get("locked_test"))[1]).to_numpy()
    frame, gave_way = answers_win(frame, rows, locked)
    if gave_way:
        log.info("%d training row(s) of titles the reviewed workbooks answer with another domain give way to "
                 "the answer (by source: %s)", sum(gave_way.values()), gave_way)
        reports = [replace(r, rows_used=r.rows_used - gave_way.get(r.name, 0), gave_way=gave_way.get(r.name, 0))
                   for r in reports]
    log.info("%d reviewed rows from %d workbook(s) join the training data", len(rows), len(files))
    return pd.concat([frame, rows], ignore_index=True), reports + more, summary


def run_train(config: dict, extra: str | None = None, reviewed: list[str] | None = None) -> Path:
    """Train on the seed set (plus the sources under `extra`, plus the review workbooks
    of data/reviewed/ and `reviewed`) and write a run folder."""
    paths = config["paths"]
    run_id = run_folder.new_run_id()
    # Now, not after the minutes of training: a read-only or full models folder, in the line save_run would give.
    check_writable(Path(paths["models"]) / run_id)
    labels = load_label_set(paths["labels"])
    frame, reports = load_training_data(paths["labeled"], labels, extra, paths["sources"])
    frame, reports, reviewed_summary = add_reviewed(config, frame, reports, labels, reviewed)
    locked = locked_rows(frame, paths.get("locked_test"))
    settings = TrainSettings.from_config(config)
    unlabeled, unlabeled_reports = self_training_pool(config, extra, settings.recipes)
    log.info("training on %d rows from %d source(s), %d unlabeled texts", len(frame), len(reports), len(unlabeled))
    model, metrics = train(frame, labels, settings, unlabeled, locked)
    oof = metrics.pop(OOF_KEY)
    metrics["out_of_fold_rows"] = {"file": OOF_FILE, "n": int(len(oof["y"])),
                                   "n_digital": int(digital_known(oof["digital"]).sum())}
    # The report's correction replayed on each year the model never saw: what its intervals are worth.
    metrics["shares_period_out"] = unseen_year_check(OutOfFold.from_arrays(oof), metrics["headline_source"])
    model.run_id = run_id
    metadata = {
        "run_id": model.run_id,
        "spacy_model": settings.spacy_model,
        "versions": {**run_folder.library_versions(),
                     "spacy_model": f"{settings.spacy_model} {model.lemmatizer.model_version_}"},
        "git_commit": git_commit(),
        "labels": {c: labels.label(c) for c in labels.codes},
        "sources": [asdict(r) for r in reports],
        "unlabeled_sources": [asdict(r) for r in unlabeled_reports],
        "rows_trained": int(len(frame)),
        "rows_left_out_none": sum(r.left_out for r in reports),
        "reviewed": reviewed_summary,
        "extra": str(extra) if extra else None,
        "settings": asdict(settings),
        "random_state": settings.random_state,
        "config": {k: v for k, v in config.items() if k != "paths"},
    }
    folder = run_folder.save_run(paths["models"], model, metadata, metrics, {
        "confusion_matrix.png": lambda p: card.confusion_png(metrics, labels, p),
        OOF_FILE: lambda p: save_oof(p, oof),
        "MODEL_CARD.md": lambda p: p.write_text(card.model_card(metadata, metrics, labels), encoding="utf-8"),
    })
    log.info("model %s written to %s (CV macro-F1 %.3f, accuracy %.3f)", model.run_id, folder,
             metrics["domain"]["macro_f1"], metrics["domain"]["accuracy"])
    return folder
