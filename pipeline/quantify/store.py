"""The run folder's oof.npz: what the share correction is fitted on.

The out-of-fold probabilities of the labeled rows that chose the recipe
(real titles when training had them, the seed set's otherwise), their true
labels, sources and ids, and their digital labels and out-of-fold P(yes).
Plain arrays of numbers and fixed-width strings: loading needs no pickle.
"""
from __future__ import annotations

import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.domains import digital_known
from pipeline.errors import PipelineError
from pipeline.io.files import RUN_ID
from pipeline.modeling.estimators import SAVED_WITHOUT_THRESHOLD, digital_labels

OOF_FILE = "oof.npz"
FIELDS = ("classes", "proba", "y", "source", "row_id", "digital", "digital_proba")
PERIOD_FIELDS = ("period", "period_proba", "period_digital_proba")  # absent from the files of runs before 2026-12-04


@dataclass(frozen=True)
class OutOfFold:
    classes: np.ndarray        # (k,) domain codes, the columns of proba
    proba: np.ndarray          # (n, k) out-of-fold P(domain)
    y: np.ndarray              # (n,) true domain
    source: np.ndarray         # (n,) source name of each row
    row_id: np.ndarray         # (n,) "<source>:<id>" or ""
    digital: np.ndarray        # (n,) "yes", "no" or "" (unknown)
    digital_proba: np.ndarray  # (n,) out-of-fold P(digital = yes), NaN where unknown
    digital_threshold: float = SAVED_WITHOUT_THRESHOLD  # the model's cut of P(yes)
    period: np.ndarray | None = None        # (n,) each row's year ("" if none); None before it was saved
    period_proba: np.ndarray | None = None  # (n, k) P(domain) by a model trained without the row's period
    period_digital_proba: np.ndarray | None = None  # (n,) P(digital = yes) by that period's flag

    @property
    def n(self) -> int:
        return len(self.y)

    def sources(self) -> dict[str, int]:
        names, counts = np.unique(self.source, return_counts=True)
        return {str(s): int(c) for s, c in zip(names, counts)}

    def digital_known(self) -> np.ndarray:
        """The rows with a true yes/no flag and an out-of-fold P(yes)."""
        return digital_known(self.digital) & ~np.isnan(self.digital_proba)

    def digital_said_yes(self) -> np.ndarray:
        """1.0 where the model's flag says yes out of fold (cut where `predict` cuts), else 0.0."""
        return (digital_labels(self.digital_proba, self.digital_threshold) == "yes").astype(float)

    @classmethod
    def from_arrays(cls, data) -> "OutOfFold":
        """From a mapping of the fields' arrays: an oof.npz, or `train`'s out_of_fold_record."""
        threshold = float(data["digital_threshold"]) if "digital_threshold" in data else SAVED_WITHOUT_THRESHOLD
        return cls(*(np.asarray(data[f]) for f in FIELDS), threshold,
                   *(np.asarray(data[f]) if f in data else None for f in PERIOD_FIELDS))

    def period_scored(self) -> np.ndarray:
        """The rows that a model trained without their period scored."""
        if self.period_proba is None:
            return np.zeros(self.n, bool)
        return ~np.isnan(self.period_proba).any(axis=1)

    def period_said_yes(self) -> np.ndarray:
        """As `digital_said_yes`, for the flag of the model trained without the row's period (NaN where none)."""
        p = np.full(self.n, np.nan) if self.period_digital_proba is None else self.period_digital_proba
        return np.where(np.isnan(p), np.nan, digital_labels(p, self.digital_threshold) == "yes")

    def subset(self, mask) -> "OutOfFold":
        return OutOfFold(self.classes, *(getattr(self, f)[mask] for f in FIELDS[1:]), self.digital_threshold,
                         *(None if getattr(self, f) is None else getattr(self, f)[mask] for f in PERIOD_FIELDS))


def save_oof(path: str | Path, record: dict) -> None:
    """Write the record (the arrays of `train`'s out_of_fold_record) atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **{f: np.asarray(record[f])
                                   for f in (*FIELDS, "digital_threshold", *PERIOD_FIELDS) if f in record})
    os.replace(tmp, path)


def load_oof(path: str | Path) -> OutOfFold:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return OutOfFold.from_arrays(data)
    # A damaged file fails in zipfile or zlib (a CRC, a cut stream), not as an OSError.
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise PipelineError(f"{path} cannot be read ({type(exc).__name__}: {exc}): run `make train` again") from None


def load_for_report(models_dir: str | Path, run_ids: list[str], real_sources,
                    metrics: dict[str, dict]) -> tuple[OutOfFold | None, str, dict | None]:
    """The out-of-fold rows the report's correction is fitted on, why not (French, "" when there are
    some), and the model's scores on real titles from its metrics.json (`metrics`: each run's, as
    read for the report, by run id; a run without one has no scores).

    Only the rows of `real_sources` (real labeled titles) are kept: a model trained
    on the seed set alone has none, and its shares are not adjusted (docs/quantification.md).
    """
    ids = [r for r in run_ids if r]
    if len(ids) != 1:
        return None, ("les prédictions viennent de plusieurs modèles" if ids else
                      "les prédictions ne disent pas quel modèle les a faites (colonne model_run_id)"), None
    folder = Path(models_dir) / ids[0]
    if not RUN_ID.fullmatch(ids[0]) or not (folder / OOF_FILE).is_file():  # never outside models/
        return None, (f"{OOF_FILE} du modèle {ids[0]!r} introuvable (modèle entraîné avant cette version, "
                      "ou absent)"), None
    oof = load_oof(folder / OOF_FILE)
    m = metrics.get(ids[0], {})
    try:
        scores = {"source": m.get("headline_source"), "n": m["domain"].get("n"),
                  "accuracy": m["domain"]["accuracy"], "macro_f1": m["domain"]["macro_f1"],
                  "locked": m.get("locked_test"), "unseen_years": m.get("shares_period_out")}
    except (KeyError, TypeError):
        scores = None
    real = np.isin(oof.source, list(real_sources))
    if not real.any():
        # Read by the report's readers: no command line here (the report's log says how to adjust them).
        return None, "modèle entraîné sans titres réels étiquetés (sur le seul jeu d'amorçage du projet)", None
    return oof.subset(real), "", scores
