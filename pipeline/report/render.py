"""The document rendered through the Jinja2 templates of templates/: HTML (autoescaped), Markdown, PDF.

The HTML page is self-contained (charts as base64 PNG, inline CSS, no script, no
outside resource); the Markdown points at figures/ and tables/. Both come from the
same Document. The PDF is the HTML page printed by WeasyPrint with the print
stylesheet (A4, page numbers, one section per page).
"""
from __future__ import annotations

import base64
import logging
import re
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from pipeline.report.document import Chart, Document, Finding, Table
from pipeline.report.frformat import fr_int, fr_typeset, plain

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
MAX_ROWS = 30  # rows of a long table shown in the page; the CSV and the workbook have them all


def _inline(text) -> Markup:
    """Escape, then turn the two marks the sentences use, **bold** and `code`, into tags."""
    out = str(escape(fr_typeset(str(text))))
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return Markup(re.sub(r"`(.+?)`", r"<code>\1</code>", out))


def _is_numeric_text(v) -> bool:
    t = str(v).replace("\u00a0", "").replace(" ", "").replace("%", "").replace("€", "").replace("M", "")
    t = t.replace(",", "").replace("–", "").replace("-", "").replace("+", "").replace("−", "")
    return t.isdigit()


def _slug(text) -> str:
    return plain(text, "-")


# Markdown passes HTML through (a title "<script>…" would run where the file is rendered) and reads
# * _ [ ] ` as marks: a text given by the user or read from the data is written with them escaped.
_MD_MARKS = re.compile(r"([\\`*_\[\]<>&|#])")


def _md_cell(v) -> str:
    """A text shown as typed: a title, a source, a table's cell, a tile (one line)."""
    return _MD_MARKS.sub(r"\\\1", str(v)).replace("\n", " ")


def _md_inline(text) -> str:
    """A sentence of the report, as _inline makes it for the page: everything escaped, then its two marks,
    **bold** and `code`, written back (a code span shows backslashes: none inside)."""
    out = re.sub(r"\\\*\\\*(.+?)\\\*\\\*", r"**\1**", _md_cell(text))
    return re.sub(r"\\`(.+?)\\`", lambda m: "`" + re.sub(r"\\(.)", r"\1", m.group(1)) + "`", out)


def _environment(markdown: bool) -> Environment:
    # Every text written into a page keeps its French no-break spaces and minus signs; Markup (the
    # stylesheet, _inline's output, which applies them itself) is left as it is.
    env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined, trim_blocks=False,
                      finalize=lambda v: fr_typeset(v) if isinstance(v, str) and not isinstance(v, Markup) else v,
                      autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=not markdown,
                                                   default=not markdown))
    env.filters.update(inline=_inline if not markdown else _md_inline, fr_int=fr_int, slug=_slug, cell=_md_cell,
                       b64=lambda png: base64.b64encode(png).decode("ascii"))
    env.tests.update(chart=lambda b: isinstance(b, Chart), table_=lambda b: isinstance(b, Table),
                     finding=lambda b: isinstance(b, Finding), numeric_text=_is_numeric_text)
    return env


@lru_cache(maxsize=2)
def _template(name: str):
    return _environment(markdown=name.endswith(".md")).get_template(name)


def to_html(doc: Document) -> str:
    css = (TEMPLATES / "rapport.css").read_text(encoding="utf-8")
    return _template("rapport.html").render(doc=doc, css=Markup(css), max_rows=MAX_ROWS)


def to_markdown(doc: Document) -> str:
    text = _template("rapport.md").render(doc=doc, max_rows=MAX_ROWS)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def to_pdf(page: str) -> bytes:
    """The HTML page printed to PDF by WeasyPrint (pure Python over Pango; no browser, no network)."""
    from weasyprint import HTML  # imported here: it loads Pango, which only the PDF needs
    from weasyprint.urls import URLFetcher

    # The page embeds everything (data: URLs): nothing is fetched from the disk or the network.
    # Tagged (pdf_tags): the page's headings, tables, lists and the images' alt as a structure tree, with its
    # language and title, for a screen reader (same layout, pages and look; no PDF/UA claim, unverified).
    return HTML(string=page, base_url=None, url_fetcher=URLFetcher(allowed_protocols=["data"])).write_pdf(
        pdf_tags=True)
