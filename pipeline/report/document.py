"""The barometer as a document: sections of paragraphs, bullet lists, tables and charts.

No file I/O and no output format: sections.py and compose.py fill a Document,
render.py writes it as HTML and Markdown.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from pipeline.report.frformat import fr_int, fr_num, fr_pct


@dataclass
class Chart:
    name: str
    title: str
    png: bytes


@dataclass
class Table:
    name: str               # CSV file name without .csv
    caption: str
    data: pd.DataFrame      # what the CSV holds (raw numbers)
    shown: pd.DataFrame     # the same, formatted in French, with French headers

    @property
    def csv_name(self) -> str:
        return f"tables/{self.name}.csv"


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)  # str (paragraph), list[str] (bullets), Table, Chart
    anchor: str = ""


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]
    findings: dict[str, dict]
    summary: dict

    @property
    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]

    @property
    def charts(self) -> list[Chart]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Chart)]


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
