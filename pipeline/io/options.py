"""Reading and writing options the command line sets for one command (--sheet, --raw-cells).

Held in a context variable so that the readers and writers get them without
every caller in between passing them along.
"""
from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class IOOptions:
    sheet: str | None = None       # workbook sheet read: name, or number from 1 (default: the first)
    raw_cells: bool = False        # CSV outputs keep cells that start like a formula as they are
    excel_fr: bool = False         # CSV outputs in French Excel's dialect: ';', decimal comma, UTF-8 with BOM


_OPTIONS: contextvars.ContextVar[IOOptions] = contextvars.ContextVar("io_options", default=IOOptions())  # noqa: B039 (frozen)


def current() -> IOOptions:
    return _OPTIONS.get()


@contextlib.contextmanager
def io_options(**values):
    token = _OPTIONS.set(replace(_OPTIONS.get(), **{k: v for k, v in values.items() if v is not None}))
    try:
        yield
    finally:
        _OPTIONS.reset(token)
