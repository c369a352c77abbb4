"""The barometer as a document: sections of paragraphs, bullet lists, tables and charts.

No file I/O and no output format: sections.py and compose.py fill a Document,
render.py writes it as HTML and Markdown through the templates of templates/.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from pipeline.report.frformat import fr_int, fr_num, fr_pct


@dataclass
class Chart:
    name: str               # figures/<name>.png
    title: str
    png: bytes
    alt: str = ""           # what the chart shows, for readers who cannot see it (default: the title)
    data: tuple[str, ...] = ()  # the tables holding the figures it draws: its text alternative (RGAA 1.6)


@dataclass
class Table:
    name: str               # CSV file name without .csv, and the workbook's sheet
    caption: str
    data: pd.DataFrame      # what the CSV holds (raw numbers)
    shown: pd.DataFrame     # the same, formatted in French, with French headers
    row_headers: int = 1    # leading columns of `shown` that name the row (the page's <th scope="row">)

    @property
    def csv_name(self) -> str:
        return f"tables/{self.name}.csv"


@dataclass
class Tile:
    """A key figure of the first screen: "38,2 %" / "des initiatives sont numériques"."""

    value: str
    label: str
    detail: str = ""
    ci_low: str | None = None    # an interval, when the figure has one (issue "Shares you can defend")
    ci_high: str | None = None

    @property
    def interval(self) -> str:
        return f"IC 95 % : {self.ci_low} à {self.ci_high}" if self.ci_low and self.ci_high else ""


@dataclass
class Finding:
    """A block showing one finding (a dict of sentences.findings): verdict, plain sentence, then statistics."""

    finding: dict


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)  # str (paragraph), list[str] (bullets), Table, Chart, Finding
    anchor: str = ""
    annex: bool = False     # printed after the body, under "Annexes"


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]
    findings: dict[str, dict]
    summary: dict
    source: str = ""                                  # "Source : …", under every chart and table
    dateline: str = ""                                # when, from which files
    tiles: list[Tile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)    # first-screen paragraphs after the findings

    @property
    def body(self) -> list[Section]:
        return [s for s in self.sections if not s.annex]

    @property
    def annexes(self) -> list[Section]:
        return [s for s in self.sections if s.annex]

    @property
    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]

    @property
    def charts(self) -> list[Chart]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Chart)]

    def chart_tables(self, chart: Chart) -> list[tuple[Table, bool]]:
        """The tables holding a chart's figures, each with whether it is in the annexes."""
        where = {b.name: (b, s.annex) for s in self.sections for b in s.blocks if isinstance(b, Table)}
        return [where[name] for name in chart.data if name in where]

    def chart_alt(self, chart: Chart) -> str:
        """The chart's text alternative: what it shows, and where its figures are written out."""
        tables = self.chart_tables(chart)
        if not tables:
            return chart.alt or chart.title
        named = " et ".join(f"« {t.caption} »" + (" (annexe)" if annex else "") for t, annex in tables)
        return f"{chart.alt or chart.title} ; chiffres : tableau{'x' if len(tables) > 1 else ''} {named}"


# --- Tables formatted for reading -------------------------------------------------------------

def shown(frame: pd.DataFrame, spec: list[tuple[str, str, Callable]], index: str | None = None) -> pd.DataFrame:
    """A copy of `frame` with the columns of `spec` (column, French header, formatter)."""
    data = frame.reset_index() if index else frame
    out = pd.DataFrame({header: [fmt(v) for v in data[col]] for col, header, fmt in spec})
    return out


def txt(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def pct(v):
    return fr_pct(v)


def integer(v):
    return fr_int(v)


def num2(v):
    return fr_num(v, 2)
