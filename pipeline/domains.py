"""The label set: the barometer domains, read from one explicit file."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.config import read_settings_text
from pipeline.errors import PipelineError
from pipeline.features.text import normalize

# In labeled data, an item that fits no domain or is too vague is marked so,
# and left out of training (taxonomy.md).
NONE_LABEL = "none"
NONE_LABEL_FR = "Aucun domaine"  # `none` as the review workbooks' Guide writes it, beside the French labels
# The digital flag's two answers; blank leaves it unknown.
DIGITAL_VALUES = ("yes", "no")
# How a yes/no answer (the digital flag, the annotator's `sure`) may be written in the
# files users fill (labeled files, review workbooks), any case, spaces and accents aside.
YES_NO_SPELLINGS = {"yes": "yes", "no": "no", "oui": "yes", "non": "no"}


def yes_no(answer) -> str | None:
    """The answer as "yes" or "no" (an accepted spelling), "" (blank), or None (anything else)."""
    answer = normalize("" if answer is None else answer)
    return YES_NO_SPELLINGS.get(answer) if answer else ""


def digital_known(values) -> np.ndarray:
    """True where a digital flag (Series, array or list) is answered yes or no."""
    return np.isin(np.asarray(values, dtype=object), DIGITAL_VALUES)


@dataclass(frozen=True)
class LabelSet:
    codes: tuple[str, ...]
    labels_fr: dict[str, str]

    def __contains__(self, code: str) -> bool:
        return code in self.labels_fr

    def label(self, code: str) -> str:
        return self.labels_fr.get(code, code)


def load_label_set(path: str | Path) -> LabelSet:
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"label set not found: {path}")
    reader = csv.DictReader(io.StringIO(read_settings_text(path), newline=""), restval="")
    if {"code", "label_fr"} - {name.strip() for name in reader.fieldnames or ()}:
        raise PipelineError(f"{path}: expected columns code,label_fr")
    labels_fr = {}
    for row in reader:
        cells = {(name or "").strip(): (value if isinstance(value, str) else "").strip() for name, value in row.items()}
        if not any(cells.values()):  # a line of spaces or commas (an editor's last line)
            continue
        code, label = cells["code"], cells["label_fr"]
        if not code or not label:
            raise PipelineError(f"{path}, line {reader.line_num}: give a code and its French label (code,label_fr)")
        if code in labels_fr:
            raise PipelineError(f"{path}, line {reader.line_num}: the domain code {code!r} is listed twice")
        labels_fr[code] = label
    return LabelSet(tuple(labels_fr), labels_fr)


def label_lookup(labels: LabelSet) -> dict[str, str]:
    """How a domain may be written in the files users fill (labeled files, review workbooks) -> its code:
    the code or the French label of config/domains.csv, and none or « Aucun domaine », any case, spaces and
    accents aside (keys normalised)."""
    out = {normalize(NONE_LABEL): NONE_LABEL, normalize(NONE_LABEL_FR): NONE_LABEL}
    for code in labels.codes:
        out[normalize(code)] = code
        out[normalize(labels.label(code))] = code
    return out
