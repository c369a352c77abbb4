"""Every table of the report in one Excel workbook, a sheet per table (openpyxl), raw numbers as in the CSVs;
text cells typed as text, never formulas."""
from __future__ import annotations

import io
import re

import pandas as pd

from pipeline.io.formulas import refuse_unholdable, texts_as_text
from pipeline.report.document import Document

_BAD = re.compile(r"[\[\]:*?/\\]")  # characters Excel refuses in a sheet name


def sheet_names(names: list[str]) -> list[str]:
    """Excel sheet names (31 characters at most, unique, none of []:*?/\\) for the tables' names."""
    out: list[str] = []
    for name in names:
        base = _BAD.sub("_", name)[:31] or "tableau"
        candidate, i = base, 2
        while candidate.lower() in {o.lower() for o in out}:
            suffix = f"_{i}"
            candidate, i = base[:31 - len(suffix)] + suffix, i + 1
        out.append(candidate)
    return out


def to_xlsx(doc: Document, shown: str = "rapport.xlsx") -> bytes:
    """The workbook: a first sheet listing the tables with their captions and the source, then one per table.
    A table's text holding a control character (a funding scheme's name, say) is an error naming `shown`,
    the sheet, row and column: a workbook cannot hold it; so is a text longer than an Excel cell holds
    (openpyxl would cut it silently)."""
    tables = doc.tables
    names = sheet_names(["sommaire"] + [t.name for t in tables])[1:]
    for name, table in zip(names, tables):
        refuse_unholdable(table.data, lambda i, name=name: f"{shown}, sheet {name!r}, row {i + 2}")
    index = pd.DataFrame({"feuille": names, "tableau": [t.caption for t in tables]})
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        index.to_excel(writer, sheet_name="sommaire", index=False, startrow=3)
        sheet = writer.sheets["sommaire"]
        sheet["A1"], sheet["A2"] = doc.title, doc.source
        sheet.column_dimensions["A"].width, sheet.column_dimensions["B"].width = 28, 100
        for name, table in zip(names, tables):
            table.data.to_excel(writer, sheet_name=name, index=False)
            ws = writer.sheets[name]
            for i, column in enumerate(table.data.columns, start=1):
                ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(
                    max(len(str(column)) + 2, 10), 40)
            ws.freeze_panes = "A2"
        texts_as_text(writer.book)  # a name or title starting with "=" is shown, never run
    return buf.getvalue()
