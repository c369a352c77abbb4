"""The document rendered as HTML and Markdown.

The HTML page is self-contained (charts as base64 PNG, inline CSS, no script, no
outside resource); the Markdown points at figures/ and tables/.
"""
from __future__ import annotations

import base64
import html
import re

from pipeline.report.document import Chart, Document, Table
from pipeline.report.frformat import fr_int

MAX_ROWS = 30  # rows of a long table shown in the page; the CSV has them all


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1b1b1b;line-height:1.5}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #1f5fa8;padding-bottom:.2em;margin-top:2em}
.subtitle{color:#555;margin-top:0}nav ol{columns:2}figure{margin:1.5em 0}figure img{max-width:100%;height:auto;
border:1px solid #ddd}figcaption{color:#555;font-size:.9em}table{border-collapse:collapse;margin:1em 0;
font-size:.88em}caption{text-align:left;font-weight:600;padding:.3em 0}th,td{border:1px solid #ccc;
padding:.25em .5em;vertical-align:top}th{background:#eef3fa}td.n{text-align:right;white-space:nowrap}
.more{color:#555;font-size:.85em}code{background:#f3f3f3;padding:0 .2em}
"""


def _esc(text) -> str:
    """Escape text content (quotes stay as they are: only attributes need them escaped)."""
    return html.escape(str(text), quote=False)


def _inline_md(text: str) -> str:
    """Escape for HTML, then turn **bold** and `code` into tags."""
    out = _esc(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def _is_numeric_text(v: str) -> bool:
    t = v.replace("\u00a0", "").replace(" ", "").replace("%", "").replace("€", "").replace("M", "")
    t = t.replace(",", "").replace("–", "").replace("-", "")
    return t.isdigit()


def _html_table(t: Table) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in t.shown.columns)
    rows = []
    for _, row in t.shown.head(MAX_ROWS).iterrows():
        cells = "".join(f'<td class="n">{_esc(v)}</td>' if _is_numeric_text(str(v))
                        else f"<td>{_esc(v)}</td>" for v in row)
        rows.append(f"<tr>{cells}</tr>")
    more = ""
    if len(t.shown) > MAX_ROWS:
        more = (f'<p class="more">{fr_int(MAX_ROWS)} premières lignes sur {fr_int(len(t.shown))} ; '
                f'toutes dans <a href="{t.csv_name}">{t.csv_name}</a>.</p>')
    return (f'<table><caption>{_esc(t.caption)} — <a href="{t.csv_name}">CSV</a></caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}")


def to_html(doc: Document) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="fr"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_esc(doc.title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{_esc(doc.title)}</h1>", f'<p class="subtitle">{_esc(doc.subtitle)}</p>',
             "<nav><ol>" + "".join(f'<li><a href="#{s.anchor}">{_esc(s.title)}</a></li>'
                                   for s in doc.sections) + "</ol></nav>"]
    for s in doc.sections:
        parts.append(f'<section id="{s.anchor}"><h2>{_esc(s.title)}</h2>')
        for b in s.blocks:
            if isinstance(b, str):
                parts.append(f"<p>{_inline_md(b)}</p>")
            elif isinstance(b, list):
                parts.append("<ul>" + "".join(f"<li>{_inline_md(x)}</li>" for x in b) + "</ul>")
            elif isinstance(b, Table):
                parts.append(_html_table(b))
            elif isinstance(b, Chart):
                data = base64.b64encode(b.png).decode("ascii")
                parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(b.title)}">'
                             f"<figcaption>{_esc(b.title)}</figcaption></figure>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _md_cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> str:
    cols = list(t.shown.columns)
    lines = [f"*{t.caption}* — [CSV]({t.csv_name})", "", "| " + " | ".join(map(_md_cell, cols)) + " |",
             "|" + "|".join("---:" if _is_numeric_text(str(t.shown[c].iloc[0])) and len(t.shown) else "---"
                            for c in cols) + "|"]
    for _, row in t.shown.head(MAX_ROWS).iterrows():
        lines.append("| " + " | ".join(_md_cell(v) for v in row) + " |")
    if len(t.shown) > MAX_ROWS:
        lines += ["", f"{fr_int(MAX_ROWS)} premières lignes sur {fr_int(len(t.shown))} ; toutes dans "
                      f"[{t.csv_name}]({t.csv_name})."]
    return "\n".join(lines)


def to_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", "", f"*{doc.subtitle}*", ""]
    out += [f"{i}. [{s.title}](#{s.anchor})" for i, s in enumerate(doc.sections, start=1)] + [""]
    for s in doc.sections:
        out += [f'<a id="{s.anchor}"></a>', "", f"## {s.title}", ""]
        for b in s.blocks:
            if isinstance(b, str):
                out += [b, ""]
            elif isinstance(b, list):
                out += [f"- {x}" for x in b] + [""]
            elif isinstance(b, Table):
                out += [_md_table(b), ""]
            elif isinstance(b, Chart):
                out += [f"![{b.title}](figures/{b.name}.png)", ""]
    return "\n".join(out)
