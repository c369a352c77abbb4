"""Filled review workbooks as training rows: data/reviewed/*.xlsx, plus the paths given with --reviewed.

The rows join the training data with source `reviewed:<file name>` and the
weight of config [review] reviewed_weight; `summary` is what metadata.json
records (the rows counted, each workbook named with its sha256).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from pipeline.domains import LabelSet
from pipeline.errors import PipelineError
from pipeline.io.files import sha256_of
from pipeline.io.sources import COLUMNS, SourceReport
from pipeline.modeling.cv import duplicate_key
from pipeline.review.answers import REVIEWED_COLUMNS, check_conflicts, parse_answers
from pipeline.review.workbook import read_workbook

log = logging.getLogger(__name__)


def review_files(folder: str | Path | None, extra_paths=()) -> list[Path]:
    """The workbooks of `folder` (absent: none), then those of `extra_paths` (files or folders), each once."""
    files = sorted(Path(folder).glob("*.xlsx")) if folder and Path(folder).is_dir() else []
    for p in map(Path, extra_paths or ()):
        if p.is_dir():
            files += sorted(p.glob("*.xlsx"))
        elif p.is_file():
            files.append(p)
        else:
            raise PipelineError(f"--reviewed: no such file or folder: {p}")
    # Excel's lock files (~$name.xlsx) sit beside an open workbook: never data.
    files = [f for f in files if not f.name.startswith(("~$", ".~lock"))]
    return list(dict.fromkeys(f.resolve() for f in files))


def answered_titles(files: list[Path], labels: LabelSet) -> set[str]:
    """The titles the workbooks answer (a domain or `none`), as the CV groups copies (duplicate_key)."""
    keys: set[str] = set()
    for path in files:
        header, body, meta = read_workbook(path)
        frame, _ = parse_answers(path.name, header, body, meta, labels)
        keys.update(frame["text"].map(duplicate_key))
    return keys


def load_reviewed(files: list[Path], labels: LabelSet, weight: float = 1.0) -> tuple[pd.DataFrame, list, dict]:
    """Training rows of the reviewed workbooks, their SourceReports and the metadata summary."""
    frames, reports, workbooks = [], [], []
    names = [f.name for f in files]
    for path in files:
        # Two workbooks of one name in different folders: the source names them by path.
        name = path.name if names.count(path.name) == 1 else str(path)
        header, body, meta = read_workbook(path)
        frame, counts = parse_answers(name, header, body, meta, labels, weight)
        sha = sha256_of(path)
        frames.append(frame)
        reports.append(SourceReport(f"reviewed:{name}", str(path), sha, counts.rows, 0, counts.none, 0,
                                    not_answered=counts.rows - counts.reviewed))
        workbooks.append({"path": str(path), "sha256": sha, "kind": meta.get("kind", ""),
                          "model_run_id": meta.get("model_run_id", ""), **asdict(counts)})
        log.info("%s: %d rows reviewed of %d (%d confirmed, %d corrected, %d none)", name, counts.reviewed,
                 counts.rows, counts.confirmed, counts.corrected, counts.none)
    rows = check_conflicts(pd.concat(frames, ignore_index=True)) if frames else pd.DataFrame(columns=REVIEWED_COLUMNS)
    # The totals count each text once, as trained: a text in two workbooks (a copy filed twice) is one row.
    none = rows["domain"] == "none"
    trained = rows[~none]
    used, left_out = trained["source"].value_counts(), rows.loc[none, "source"].value_counts()
    # A `none` answer filed twice is left out once, as the summary counts it (metadata's rows_left_out_none);
    # the other copies are `repeated`.
    reports = [replace(r, rows_used=int(used.get(r.name, 0)), left_out=int(left_out.get(r.name, 0)),
                       repeated=r.rows_read - r.not_answered - int(used.get(r.name, 0)) - int(left_out.get(r.name, 0)))
               for r in reports]
    summary = {"rows_reviewed": int(len(rows)), "rows_trained": int(len(trained)),
               "confirmed": int((rows["domain"] == rows["proposed"]).sum()),
               "corrected": int((~none & (rows["domain"] != rows["proposed"])).sum()), "none": int(none.sum()),
               "weight": weight, "workbooks": workbooks}
    return trained[COLUMNS].reset_index(drop=True), reports, summary
