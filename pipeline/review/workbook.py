"""The review workbook (.xlsx, openpyxl): written for analysts, read back as raw cells.

Sheet "Relecture" (the review sheet): the input's columns, the text
classified, the model's domain, confidence, runner-up and digital flag, then
the three columns the reviewer fills (`correction` with a drop-down of the
domain codes and `none`, `digital_correction` yes/no, `comment`), then
`row_id` and `model_run_id`. Sheet "Guide": the domains, their French labels,
what belongs there, and how to fill the sheet. A hidden sheet "meta" holds
the label set's fingerprint, so that a workbook made for another label set
is refused when read back (pipeline/review/answers.py).
"""
from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from pipeline.config import read_settings_text
from pipeline.domains import DIGITAL_VALUES, NONE_LABEL, NONE_LABEL_FR, LabelSet
from pipeline.errors import PipelineError
from pipeline.io.formulas import refuse_long_texts, texts_as_text
from pipeline.io.predictions import kept_name
from pipeline.io.tables import atomic_output, save_workbook
from pipeline.io.unsaved_formulas import refuse_unsaved_formulas

REVIEW_SHEET, GUIDE_SHEET, META_SHEET = "Relecture", "Guide", "meta"
FORMAT = "barometre-review 1"
MODEL_COLUMNS = ["text", "domain", "confidence", "domain_2", "digital"]
ANSWER_COLUMNS = ["correction", "digital_correction", "comment"]
ID_COLUMNS = ["row_id", "model_run_id"]
REQUIRED_COLUMNS = ["text", "domain", "correction", "digital_correction"]
HOW_TO = [
    "Comment remplir la feuille « Relecture »",
    "Les lignes sont triées : d'abord celles où le modèle hésite le plus, dont la relecture lui apprend le plus.",
    "correction : choisissez dans la liste le domaine juste (un code ci-dessus), même s'il est celui proposé "
    "(domain) : la ligne compte alors comme confirmée. « none » : aucun domaine ne convient ou le texte est trop vague.",
    "digital_correction : yes si l'initiative est un service ou outil numérique, no sinon ; vide = non relu.",
    "digital_correction rempli et correction vide : le domaine proposé (domain) est tenu pour confirmé.",
    "Laisser correction et digital_correction vides = ligne non relue : elle est ignorée.",
    "comment : libre, jamais lu par le modèle.",
    "Ne modifiez ni les en-têtes, ni row_id, ni les colonnes text et domain.",
    "Fichier terminé : déposez-le dans data/reviewed/ ; le prochain « make train » l'apprend.",
]


def label_fingerprint(labels: LabelSet) -> str:
    """A short hash of the label set (codes and French labels, in order)."""
    text = "\n".join(f"{c}\t{labels.label(c)}" for c in labels.codes)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_guide(path: str | Path) -> dict[str, str]:
    """What belongs in each domain (config/domain_guide.csv: code,what_belongs)."""
    path = Path(path)
    try:
        rows = csv.DictReader(io.StringIO(read_settings_text(path), newline=""))
        return {r["code"].strip(): r["what_belongs"].strip() for r in rows}
    except (OSError, KeyError) as exc:
        raise PipelineError(f"{path}: cannot read the domain guide (columns code,what_belongs): {exc}") from None


def review_table(inputs: pd.DataFrame, model: pd.DataFrame, row_id, run_id: str) -> pd.DataFrame:
    """The review sheet's columns: `inputs`' own (renamed input_<name> on a clash, as predict renames them:
    `kept_name`), the model's, empty answers, ids."""
    ours = set(MODEL_COLUMNS + ANSWER_COLUMNS + ID_COLUMNS)
    taken = [*map(str, inputs.columns), *ours]
    inputs = inputs.rename(columns={c: kept_name(str(c), taken) for c in inputs.columns if str(c) in ours})
    out = pd.concat([inputs.reset_index(drop=True), model.reset_index(drop=True)], axis=1)
    for col in ANSWER_COLUMNS:
        out[col] = ""
    out["row_id"] = list(row_id)
    out["model_run_id"] = run_id
    return out


def check_workbook_path(path: str | Path) -> Path:
    """`path` as a review workbook's name: checked before the work that fills it (audit's cross-validation
    takes minutes), not after."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise PipelineError(f"{path}: a review workbook must end in .xlsx")
    return path


def write_workbook(path: str | Path, table: pd.DataFrame, labels: LabelSet, guide: dict[str, str],
                   meta: dict) -> Path:
    """Write `table` (see review_table) as a review workbook, atomically."""
    from openpyxl import Workbook

    path = check_workbook_path(path)
    # The texts joined from several columns, and audit's training rows: none may be cut silently either.
    refuse_long_texts(table, lambda i: f"{path}, sheet {REVIEW_SHEET!r}, row {i + 2}", "shorten the text in the input")
    wb = Workbook()
    ws = wb.active
    ws.title = REVIEW_SHEET
    _fill_review_sheet(ws, table, labels)
    _fill_guide(wb.create_sheet(GUIDE_SHEET), labels, guide)
    info = wb.create_sheet(META_SHEET)
    info.sheet_state = "hidden"
    meta = {"format": FORMAT, "label_fingerprint": label_fingerprint(labels), "labels": ",".join(labels.codes),
            "created": datetime.now(UTC).isoformat(timespec="seconds"), **meta}
    for key, value in meta.items():
        info.append([key, str(value)])
    texts_as_text(wb)  # a title starting with "=" stays a title: read back as written, never run
    with atomic_output(path) as tmp:
        save_workbook(wb, tmp)
    return path


def _fill_review_sheet(ws, table: pd.DataFrame, labels: LabelSet) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    columns = [str(c) for c in table.columns]
    ws.append(columns)
    for values in table.itertuples(index=False):
        ws.append([_cell(v) for v in values])
    answer_fill, model_fill = PatternFill("solid", fgColor="FFF2CC"), PatternFill("solid", fgColor="DDEBF7")
    for j, name in enumerate(columns, start=1):
        head = ws.cell(row=1, column=j)
        head.font = Font(bold=True)
        if name in ANSWER_COLUMNS or name in MODEL_COLUMNS:
            head.fill = answer_fill if name in ANSWER_COLUMNS else model_fill
        values = [str(v) for v in table.iloc[:200, j - 1]]
        wide = max([len(name)] + [len(v) for v in values])
        # The correction column fits its longest choice (acces_numerique), the text wraps at 70.
        least = 18 if name == "correction" else 10
        ws.column_dimensions[get_column_letter(j)].width = 70 if name == "text" else min(max(wide + 2, least), 40)
        if name == "text":
            for cell in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                cell[0].alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    last = max(len(table) + 1, 2)
    lists = {"correction": [*labels.codes, NONE_LABEL], "digital_correction": list(DIGITAL_VALUES)}
    for name, choices in lists.items():
        letter = get_column_letter(columns.index(name) + 1)
        dv = DataValidation(type="list", formula1='"' + ",".join(choices) + '"', allow_blank=True,
                            showErrorMessage=True, errorTitle="Valeur hors liste",
                            error="Choisissez une valeur de la liste (feuille Guide).")
        dv.add(f"{letter}2:{letter}{last}")
        ws.add_data_validation(dv)


def _fill_guide(ws, labels: LabelSet, guide: dict[str, str]) -> None:
    from openpyxl.styles import Alignment, Font

    ws.append(["code", "domaine", "ce qui en relève"])
    for code in [*labels.codes, NONE_LABEL]:
        ws.append([code, labels.label(code) if code != NONE_LABEL else NONE_LABEL_FR, guide.get(code, "")])
    ws.append([])
    for i, line in enumerate(HOW_TO):
        ws.append([line])
        if i == 0:
            ws.cell(row=ws.max_row, column=1).font = Font(bold=True)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in ws.iter_rows(min_row=2, max_row=len(labels.codes) + 2, min_col=3, max_col=3):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")
    for letter, width in (("A", 18), ("B", 34), ("C", 100)):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"


def _cell(value):
    """A value openpyxl can write: NaN as empty, numpy scalars as Python ones."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def read_workbook(path: str | Path) -> tuple[list[str], list[tuple[int, list]], dict[str, str]]:
    """The review sheet's header, its rows as (sheet row number, values), and the meta sheet's entries."""
    from openpyxl import load_workbook

    path = Path(path)
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # a corrupt or foreign file: say which
        raise PipelineError(f"{path}: not a readable .xlsx workbook ({exc})") from None
    try:
        if REVIEW_SHEET not in wb.sheetnames:
            raise PipelineError(f"{path}: no sheet {REVIEW_SHEET!r} (sheets: {', '.join(wb.sheetnames)}); "
                                f"is it a workbook written by `make review`?")
        rows = wb[REVIEW_SHEET].iter_rows(values_only=True)
        header = [str(h).strip() if h is not None else "" for h in next(rows, ())]
        # A correction filled by a formula a script wrote (never saved by a spreadsheet) reads as empty.
        refuse_unsaved_formulas(path, REVIEW_SHEET, "open the file in Excel or LibreOffice and save it")
        body = [(i, list(r)) for i, r in enumerate(rows, start=2) if any(v not in (None, "") for v in r)]
        meta = {}
        if META_SHEET in wb.sheetnames:
            meta = {str(r[0]): str(r[1]) for r in wb[META_SHEET].iter_rows(values_only=True)
                    if r and r[0] is not None and len(r) > 1}
    finally:
        wb.close()
    return header, body, meta
