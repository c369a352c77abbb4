"""`python -m pipeline audit`: training rows whose label the model confidently contradicts, as a review workbook.

Every training row (seed set, the sources of --extra, the reviewed
workbooks) gets out-of-fold probabilities from grouped cross-validation,
then pipeline.review.audit's confident learning lists the suspect rows, the
surest first, so that a maintainer can fix a seed row or a source's mapping.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.commands.train import add_reviewed
from pipeline.domains import load_label_set
from pipeline.errors import PipelineError
from pipeline.io.sources import load_training_data, locked_rows
from pipeline.io.tables import check_writable
from pipeline.modeling import estimators
from pipeline.modeling.cv import cross_validated_proba, duplicate_groups
from pipeline.modeling.settings import TrainSettings
from pipeline.modeling.train import check_trainable, preprocess_texts, text_kinds
from pipeline.review.audit import conflict_rows, label_issues, other_labels
from pipeline.review.workbook import check_workbook_path, load_guide, review_table, write_workbook

log = logging.getLogger(__name__)


def audit_frame(frame: pd.DataFrame, proba: np.ndarray, classes: np.ndarray,
                groups=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The review sheet of the label issues, then of the other rows of titles labeled with two domains
    (copies grouped by `groups`, as the CV groups them), and the count of issues per source."""
    y = frame["domain"].to_numpy()
    others = other_labels(groups, y) if groups is not None else np.full(len(frame), "", dtype=object)
    issues = label_issues(proba, y, classes)
    conflicts = conflict_rows(proba, y, classes, others, issues["row"])
    if groups is not None:  # the copies of a title side by side
        conflicts = conflicts.iloc[np.argsort(np.asarray(groups)[conflicts["row"]], kind="stable")]
    issues = pd.concat([issues, conflicts], ignore_index=True)
    rows = frame.iloc[issues["row"]].reset_index(drop=True)
    p = proba[issues["row"]].copy()
    p[np.arange(len(p)), [list(classes).index(s) for s in issues["suggested"]]] = -1
    inputs = pd.DataFrame({"source": rows["source"], "label": rows["domain"], "p_label": issues["p_label"],
                           "margin": issues["margin"], "other_labels": others[issues["row"]]})
    model = pd.DataFrame({"text": rows["text"], "domain": issues["suggested"], "confidence": issues["p_suggested"],
                          "domain_2": classes[p.argmax(axis=1)] if len(p) else [], "digital": rows["digital"]})
    # row_id: where the row sits in its source's file, not its place among the training rows.
    table = review_table(inputs, model, rows["file_row"], "")
    counts = (frame.groupby("source").size().rename("rows").to_frame()
              .join(rows.groupby("source").size().rename("issues")).fillna(0).astype(int))
    counts["share"] = (counts["issues"] / counts["rows"]).round(4)
    return table, counts


def without_locked_rows(frame: pd.DataFrame, locked_file) -> pd.DataFrame:
    """The training rows less the locked test set's: their errors are never read, so that its figure stays
    a measure (config/locked_test.toml); listing them here would show them to whoever fixes labels."""
    locked = locked_rows(frame, locked_file)
    if locked.any():
        log.info("%d rows of the locked test set left out of the audit: their labels are never shown", locked.sum())
    return frame[~locked]


def run_audit(config: dict, output: str | Path, extra: str | None = None, recipe: str = "svm_balanced") -> Path:
    paths = config["paths"]
    output = check_workbook_path(output)
    if recipe not in estimators.RECIPES:
        raise PipelineError(f"--recipe {recipe}: not one of {', '.join(estimators.RECIPES)}")
    check_writable(output)  # now, not after the minutes of cross-validation
    labels = load_label_set(paths["labels"])
    frame, reports = load_training_data(paths["labeled"], labels, extra, paths["sources"])
    frame, _, _ = add_reviewed(config, frame, reports, labels)
    frame = without_locked_rows(frame, paths.get("locked_test"))
    settings = TrainSettings.from_config(config)
    check_trainable(frame, labels, settings.cv_folds)
    frame = frame.reset_index(drop=True)
    texts, y = frame["text"].tolist(), frame["domain"].to_numpy()
    _, lemmas, _ = preprocess_texts(texts, None, settings)
    classes = np.unique(y)
    groups = duplicate_groups(texts)
    proba = cross_validated_proba(lemmas, y, frame["weight"].to_numpy(dtype=float), groups, [],
                                  settings.recipe(recipe), settings, classes, text_kinds(frame))
    table, counts = audit_frame(frame, proba, classes, groups)
    write_workbook(output, table, labels, load_guide(paths["domain_guide"]), {
        "kind": "audit", "recipe": recipe, "cv_folds": settings.cv_folds, "rows": len(frame), "issues": len(table)})
    log.info("%d label issues among %d training rows, by source:\n%s", len(table), len(frame), counts.to_string())
    return output
