"""The error of a column asked for that a file does not hold: the columns it does, the closest first."""
from __future__ import annotations

import difflib

from pipeline.errors import PipelineError


def closest(name, names, n: int = 3) -> list[str]:
    """Those of `names` close to `name` (a typo of it), the closest first; the case does not count."""
    by_lower = {str(c).lower(): str(c) for c in reversed(list(names))}
    return [by_lower[c] for c in difflib.get_close_matches(str(name).lower(), list(by_lower), n=n, cutoff=0.6)]


def no_column(where, name: str, columns, what: str = "") -> PipelineError:
    """`where: no column 'name' [what] (columns, closest first: ...)`: a typo (TEXT_COL=intitul) shows
    its column at the head of the list, not somewhere among thirty."""
    columns = [str(c) for c in columns]
    close = closest(name, columns)
    listed = close + [c for c in columns if c not in close]
    heading = "columns, closest first" if close else "columns"
    return PipelineError(f"{where}: no column {name!r}{' ' + what if what else ''} "
                         f"({heading}: {', '.join(map(repr, listed))})")
