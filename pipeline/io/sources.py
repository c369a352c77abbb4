"""Labeled training data: the project's seed set plus the outside sets of sources.toml.

Every loader returns the same frame: text, domain, digital (yes/no/""),
source, weight. Rows labeled `none`, or whose outside label maps to "none",
are dropped and counted; any other label outside the taxonomy is an error
that names the file, the row and the value.
"""
from __future__ import annotations

import logging
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.config import read_settings_text
from pipeline.domains import NONE_LABEL, LabelSet, label_lookup, yes_no
from pipeline.errors import PipelineError
from pipeline.features.text import normalize
from pipeline.io.cells import whole_number_text
from pipeline.io.columns import no_column
from pipeline.io.files import sha256_of
from pipeline.io.rows import row_in_file
from pipeline.io.tables import read_table

log = logging.getLogger(__name__)

# row_id: "<source>:<id>" for sources with an id_column (the locked test set names rows so), else "".
# period: the row's year (period_column), "" where the source has none.
# sure: yes or no, whether the annotator was sure of the label (sure_column), "" where not said.
# file_row: the row's number in its source's file (1 = first data row), where a maintainer finds it to fix
# it: the frame leaves out `none` and empty rows, so its own positions are not the file's.
COLUMNS = ["text", "domain", "digital", "source", "weight", "text_kind", "row_id", "period", "sure", "file_row"]
# The kind of text users submit (the seed set and the commune titles): the
# model's default view (see estimators.KindAdaptedLinearSVC).
SUBMISSION_KIND = "submission"


@dataclass(frozen=True)
class SourceSpec:
    """How to read one outside labeled set (an entry of sources.toml)."""

    name: str
    path: str
    text_column: str
    label_column: str
    # None: detected as predict detects them (a data/labeled file has nowhere to say them).
    sep: str | None = None
    encoding: str | None = None
    digital_column: str | None = None
    mapping: dict = field(default_factory=dict)
    row_weight: float = 1.0
    # Sources of one kind share kind-specific weights besides the common ones.
    text_kind: str = SUBMISSION_KIND
    # A column that names each row for good (the locked test set lists such ids).
    id_column: str | None = None
    # The year (or any period) a row was submitted in: training then also scores
    # each period by a model that saw none of its labeled rows (a new year's list).
    period_column: str | None = None
    # Whether the annotator was sure of each row's label (yes/no): training then also
    # scores the rows they were sure of apart from the others (metrics.json `by_certainty`).
    sure_column: str | None = None

    def __post_init__(self):
        # Weight 0 would count rows as trained that teach nothing; a negative or nan one fits silently wrong.
        w = self.row_weight
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w <= 0:
            raise ValueError(f"source {self.name!r}: row_weight {w!r} is not a positive number")


@dataclass
class SourceReport:
    name: str
    path: str
    sha256: str
    rows_read: int
    rows_used: int
    left_out: int
    empty_text: int
    gave_way: int = 0  # rows of a title a reviewed workbook answers with another domain (not in rows_used)
    # A reviewed workbook's rows nobody answered, and answers to a text an earlier row already answered
    # (a copy filed twice): with them, every row read is counted once.
    not_answered: int = 0
    repeated: int = 0


@dataclass(frozen=True)
class UnlabeledSpec:
    """A file of unlabeled real texts (an [[unlabeled]] entry of sources.toml)."""

    name: str
    path: str
    text_column: str
    sep: str | None = None
    encoding: str | None = None


def load_source_specs(path: str | Path, kind: str = "source") -> list:
    """The [[source]] (or [[unlabeled]]) entries of the sources file."""
    path = Path(path)
    spec_class = SourceSpec if kind == "source" else UnlabeledSpec
    try:
        entries = tomllib.loads(read_settings_text(path)).get(kind, [])
    except FileNotFoundError:
        raise PipelineError(f"sources file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PipelineError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return [spec_class(**e) for e in entries]
    except (TypeError, ValueError) as exc:
        raise PipelineError(f"{path}: a [[{kind}]] entry is malformed: {exc}") from exc


def labeled_rows(raw: pd.DataFrame, spec: SourceSpec, labels: LabelSet, path: Path) -> tuple[pd.DataFrame, int, int]:
    """Map a raw labeled table to the common frame; return it with the counts left out."""
    for col in filter(None, (spec.text_column, spec.label_column, spec.digital_column, spec.id_column,
                             spec.period_column, spec.sure_column)):
        if col not in raw.columns:
            raise no_column(path, col, raw.columns)
    domain = domain_codes(raw, spec.label_column, labels, path, spec.mapping, spec.name)
    text = raw[spec.text_column].fillna("").astype(str).str.strip()
    row_id = (spec.name + ":" + raw[spec.id_column].astype(str).str.strip() if spec.id_column
              else pd.Series("", index=raw.index))
    period = (whole_number_text(raw[spec.period_column]) if spec.period_column
              else pd.Series("", index=raw.index))
    digital, sure = yes_no_answers(raw, spec.digital_column, path), yes_no_answers(raw, spec.sure_column, path)
    frame = pd.DataFrame({"text": text, "domain": domain, "digital": digital, "source": spec.name,
                          "weight": float(spec.row_weight), "text_kind": spec.text_kind, "row_id": row_id,
                          "period": period, "sure": sure,
                          "file_row": pd.Series(np.arange(1, len(raw) + 1), index=raw.index)})
    # Each row dropped is counted once, so that used + none + empty is the file's rows: a row
    # without text is empty whatever its label.
    empty_text, none = frame["text"] == "", frame["domain"] == NONE_LABEL
    frame = frame[~none & ~empty_text]
    return frame.reset_index(drop=True), int((none & ~empty_text).sum()), int(empty_text.sum())


def domain_codes(raw: pd.DataFrame, column: str, labels: LabelSet, path, mapping: dict | None = None,
                 mapping_name: str = "") -> pd.Series:
    """A column of hand labels as domain codes or `none`: through `mapping` when given, else a code or French
    label in any spelling (label_lookup); an empty or unknown label stops with its file, row and column."""
    raw_labels = raw[column].fillna("").astype(str).str.strip()
    spellings = label_lookup(labels)
    domain = (raw_labels.map(mapping) if mapping
              else raw_labels.map(lambda label: spellings.get(normalize(label), label)))
    unmapped = domain.isna() | ~(domain.isin(labels.codes) | (domain == NONE_LABEL))
    if unmapped.any():
        i = int(unmapped.to_numpy().nonzero()[0][0])
        what = (f"no label in column {column!r} (give a domain code, or {NONE_LABEL} to leave the row out)"
                if raw_labels.iloc[i] == "" else
                f"label {raw_labels.iloc[i]!r} in column {column!r} is not a domain of the taxonomy"
                f"{' nor in the mapping of ' + mapping_name if mapping else ''}")
        raise PipelineError(f"{path}, {row_in_file(raw, i)}: {what} ({unmapped.sum()} such rows)")
    return domain


def check_mapping(spec: SourceSpec, labels: LabelSet, sources_file) -> None:
    """Every label of a source's mapping leads to a domain or to none: a typo in a target would
    otherwise be reported on the data rows as a label missing from the mapping."""
    wrong = {k: v for k, v in spec.mapping.items() if v not in labels.codes and v != NONE_LABEL}
    if wrong:
        k, v = next(iter(wrong.items()))
        raise PipelineError(f"{sources_file}: the mapping of source {spec.name!r} maps {k!r} to {v!r}, which is not "
                            f"a domain of the taxonomy nor {NONE_LABEL!r} ({len(wrong)} such entries)")


def yes_no_answers(raw: pd.DataFrame, column: str | None, path) -> pd.Series:
    """A yes/no column (digital, sure) as yes, no or "" (not said), spelt as domains.yes_no reads it
    (yes/no, oui/non, any case); any other answer stops with its file, row and column."""
    if not column:
        return pd.Series("", index=raw.index)
    given = raw[column].fillna("").astype(str)
    answers = given.map({v: yes_no(v) for v in given.unique()})
    wrong = answers.isna()
    if wrong.any():
        i = int(wrong.to_numpy().nonzero()[0][0])
        raise PipelineError(f"{path}, {row_in_file(raw, i)}: {given.iloc[i]!r} in column {column!r} is not yes or no "
                            f"(nor oui or non; {int(wrong.sum())} such rows)")
    return answers.astype(object)


def load_source(spec: SourceSpec, base: Path, labels: LabelSet) -> tuple[pd.DataFrame, SourceReport]:
    path = base / spec.path
    raw = read_table(path, sep=spec.sep, encoding=spec.encoding)
    frame, left_out, empty = labeled_rows(raw, spec, labels, path)
    report = SourceReport(spec.name, str(path), sha256_of(path), len(raw), len(frame), left_out, empty)
    log.info("%s: %d rows used of %d (%d left out as none, %d empty)",
             spec.name, len(frame), len(raw), left_out, empty)
    return frame, report


SEED_SPEC = dict(text_column="text", label_column="domain", digital_column="digital")


# Tables the readers take that are not CSV: in data/labeled, named rather than skipped unsaid.
NOT_CSV_TABLES = (".xlsx", ".xlsm", ".xls", ".ods", ".parquet", ".pq", ".tsv", ".txt", ".gz", ".zip", ".bz2", ".xz")


def labeled_csv_files(folder: Path) -> list[Path]:
    """The CSV files of the seed folder, whatever the case of their suffix (a Windows export's .CSV);
    another table found there is named in a warning, since training leaves it out."""
    files = sorted(p for p in folder.glob("*") if p.is_file() and not p.name.startswith((".", "~$")))
    others = [p.name for p in files if p.suffix.lower() in NOT_CSV_TABLES]
    if others:
        log.warning("%s: %s not read: training reads the CSV files of this folder (save as CSV, or list the "
                    "file as a [[source]] of a sources file)", folder, ", ".join(others))
    return [p for p in files if p.suffix.lower() == ".csv"]


def load_training_data(labeled_dir: str | Path, labels: LabelSet, extra_dir: str | Path | None = None,
                       sources_file: str | Path | None = None) -> tuple[pd.DataFrame, list[SourceReport]]:
    """The seed set (every CSV of labeled_dir), plus every source of sources_file under extra_dir."""
    labeled_dir = Path(labeled_dir)
    seed_files = labeled_csv_files(labeled_dir)
    if not seed_files:
        raise PipelineError(f"no labeled CSV file in {labeled_dir}")
    specs = [(SourceSpec(name=f"seed:{p.stem}", path=p.name, **SEED_SPEC), labeled_dir) for p in seed_files]
    if extra_dir is not None:
        extra_dir = Path(extra_dir)
        if not extra_dir.is_dir():
            raise PipelineError(f"EXTRA folder not found: {extra_dir}")
        outside = load_source_specs(sources_file)
        for spec in outside:
            check_mapping(spec, labels, sources_file)
        specs += [(s, extra_dir) for s in outside]
    frames, reports = [], []
    for spec, base in specs:
        frame, report = load_source(spec, base, labels)
        frames.append(frame)
        reports.append(report)
    frame = pd.concat(frames, ignore_index=True).reindex(columns=COLUMNS)
    frame[["row_id", "period", "sure"]] = frame[["row_id", "period", "sure"]].fillna("")
    if frame["domain"].nunique() < 2:  # else a traceback from scikit-learn's fit
        found = f"one domain only ({frame['domain'].iloc[0]!r})" if len(frame) else "no row to train on"
        raise PipelineError(f"{', '.join(r.path for r in reports)}: {found}; training needs examples of "
                            f"at least two domains")
    return frame, reports


def locked_ids(locked_file: str | Path | None) -> tuple[str, set[str]]:
    """The locked test set's source and its rows' ids as training frames write them ("<source>:<id>");
    no file: ("", an empty set)."""
    if not locked_file:
        return "", set()
    path = Path(locked_file)
    try:
        spec = tomllib.loads(read_settings_text(path))
        source, ids = spec["source"], spec["ids"]
    except (OSError, tomllib.TOMLDecodeError, KeyError) as exc:
        raise PipelineError(f"{path}: not a locked test set file ({exc})") from None
    return source, {f"{source}:{i}" for i in ids}


def locked_rows(frame: pd.DataFrame, locked_file: str | Path | None) -> np.ndarray:
    """The rows of the locked test set (config/locked_test.toml: a source and the ids of its rows).

    Absent file or source (a fresh clone trains on the seed set alone): no row is locked.
    """
    source, wanted = locked_ids(locked_file)
    if not wanted or not (frame["source"] == source).any():
        return np.zeros(len(frame), dtype=bool)
    locked = frame["row_id"].isin(wanted).to_numpy()
    found = set(frame["row_id"][locked])
    log.info("locked test set: %d rows of %s kept out of every choice (%d of its ids are none or empty rows)",
             locked.sum(), source, len(wanted - found))
    return locked


def load_unlabeled_texts(extra_dir: str | Path, sources_file: str | Path) -> tuple[list[str], list[SourceReport]]:
    """Every text of the [[unlabeled]] files under extra_dir (the self-training pool)."""
    texts, reports = [], []
    for spec in load_source_specs(sources_file, kind="unlabeled"):
        path = Path(extra_dir) / spec.path
        raw = read_table(path, sep=spec.sep, encoding=spec.encoding)
        if spec.text_column not in raw.columns:
            raise no_column(path, spec.text_column, raw.columns)
        column = raw[spec.text_column].astype(str).str.strip()
        texts += column[column != ""].tolist()
        reports.append(SourceReport(spec.name, str(path), sha256_of(path), len(raw), int((column != "").sum()), 0,
                                    int((column == "").sum())))
    return texts, reports
