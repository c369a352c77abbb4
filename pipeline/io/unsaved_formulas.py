"""Formulas an .xlsx sheet holds without their result: refused, since they would read as empty cells.

A spreadsheet saves each formula's last result beside it, and that result is what
is read. A workbook written by a program (openpyxl, a script) and never opened
and saved in Excel or LibreOffice has formulas without one: pandas reads those
cells as empty, so a title built by a formula would get no domain and nothing
would say why. Excel's own empty results (a formula giving "") are typed as text
and pass.
"""
from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from pipeline.errors import PipelineError

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_PACKAGE_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"


def refuse_unsaved_formulas(path: Path, sheet: str, remedy: str = "open the file in Excel or LibreOffice and save "
                            "it, or export it as CSV") -> None:
    """Stop with one line naming `sheet`'s first cells whose formula has no saved result, and `remedy`."""
    with zipfile.ZipFile(path) as book:
        part = _sheet_part(book, sheet)
        if part is None:
            return
        with book.open(part) as xml:
            if not _holds_formula(xml):  # most sheets hold none: the parse below is spared
                return
        with book.open(part) as xml:
            cells = _unsaved(xml)
    if cells:
        shown = ", ".join(cells[:3]) + (f" and {len(cells) - 3} more" if len(cells) > 3 else "")
        raise PipelineError(f"{path}: sheet {sheet!r}, cell(s) {shown}: a formula whose result was never saved "
                            "(the workbook was written by a program, not saved by a spreadsheet), which would be "
                            f"read as empty; {remedy}")


def _sheet_part(book: zipfile.ZipFile, sheet: str) -> str | None:
    """The zip member holding the sheet named `sheet` (workbook.xml names it, its relationships place it)."""
    try:
        sheets = ElementTree.fromstring(book.read("xl/workbook.xml")).iter(f"{_MAIN}sheet")
        targets = {r.get("Id"): r.get("Target", "")
                   for r in ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels")).iter(_PACKAGE_REL)}
    except (KeyError, ElementTree.ParseError):
        return None
    for element in sheets:
        if element.get("name") == sheet:
            target = targets.get(element.get(_REL), "")
            part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
            return part if part in book.namelist() else None
    return None


def _holds_formula(xml, chunk: int = 1 << 20) -> bool:
    """Whether the sheet's XML holds a formula element, read a chunk at a time (a sheet can be large)."""
    tail = b""
    while block := xml.read(chunk):
        if b"<f" in tail + block:
            return True
        tail = block[-1:]  # "<" at a chunk's end, "f" at the next one's start
    return False


def _unsaved(xml) -> list[str]:
    """References of the cells holding a formula and no saved result (no value, or an empty one not typed as text)."""
    found = []
    for _, cell in ElementTree.iterparse(xml):
        if cell.tag != f"{_MAIN}c":
            continue
        value = cell.find(f"{_MAIN}v")
        if cell.find(f"{_MAIN}f") is not None and (value is None or not value.text) and cell.get("t") != "str":
            found.append(cell.get("r", "?"))
        cell.clear()
    return found
