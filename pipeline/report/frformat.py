"""Text written the French way: 76 912 ; 22,5 % ; 0,34 ; −1,2 ; p < 0,0001; and plain keys of names."""
from __future__ import annotations

import math
import re
import unicodedata

NBSP = "\u00a0"  # no-break space: thousands separator and before % and €
MINUS = "\u2212"  # the minus sign of running text: a hyphen (-) is the data's, for CSV readers


# French sets a no-break space inside « » and before : ; ? ! % so that a line never starts with one of them,
# and between the groups of a number ("100 000 et plus", a size band written as text).
_SPACE_BEFORE = re.compile(r" ([»:;?!%])")
_DIGIT_GROUP = re.compile(r"(?<=\d) (?=\d{3}(?!\d))")


def fr_spaces(text: str) -> str:
    """`text` with the spaces French typography keeps unbroken: « Culture », « Verdicts : », 100 000."""
    return _DIGIT_GROUP.sub(NBSP, _SPACE_BEFORE.sub(NBSP + r"\1", text.replace("« ", "«" + NBSP)))


# A hyphen starting a number: not one inside a word, a code or a range of years (Z-622be6, 2018-2023).
_NEGATIVE = re.compile(r"(?<![\w.,\-])-(?=\d)")


def fr_minus(text: str) -> str:
    """`text` with the minus sign (U+2212) before its negative numbers: "de −17 à −10 points". For what a
    reader sees (the page, the PDF, the charts); the CSVs, resume.json and the workbook hold data, whose
    readers take a hyphen for a minus and not U+2212, so the fr_* formatters keep the hyphen."""
    return _NEGATIVE.sub(MINUS, text)


def fr_typeset(text: str) -> str:
    """`text` as the page sets it: unbroken French spaces, and the minus sign."""
    return fr_minus(fr_spaces(text))


def _missing(x) -> bool:
    try:
        return x is None or math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def fr_int(x) -> str:
    if _missing(x):
        return "–"
    return f"{int(round(float(x))):,}".replace(",", NBSP)


def fr_noun(x, noun: str) -> str:
    """The noun a number takes, singular under 2 as French has it: 0 initiative, 1,46 initiative, 2 initiatives."""
    return noun if not _missing(x) and abs(float(x)) < 2 else noun + "s"


def fr_count(x, noun: str) -> str:
    """A count and its noun: "0 initiative", "2 initiatives", "1 000 initiatives" (the noun agrees with the
    whole number shown)."""
    return f"{fr_int(x)} {fr_noun(x if _missing(x) else round(float(x)), noun)}"


def fr_num(x, digits: int = 2) -> str:
    if _missing(x):
        return "–"
    # + 0.0 turns the -0.0 of a small negative rounded to nothing into 0.0: "0,0", never "-0,0"
    text = f"{round(float(x), digits) + 0.0:,.{digits}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", NBSP)


def fr_signed(x, digits: int = 1) -> str:
    """A change with its sign ("+1,2", "-0,4"); one that rounds to nothing is "0,0", neither + nor -."""
    if _missing(x):
        return "–"
    return f"{'+' if round(float(x), digits) > 0 else ''}{fr_num(x, digits)}"


def fr_rate(x) -> str:
    """A rate (initiatives per commune, per 1,000 inhabitants) to two decimals, or to its first two significant
    digits when smaller than 0.1: 0.016 is "0,016" and 0.00043 "0,00043", never "0,00" beside initiatives."""
    rounded = float(f"{float(x):.2g}") if not _missing(x) else math.nan  # 0.00999 is 0.010, two digits
    if _missing(x) or abs(rounded) >= 0.1 or rounded == 0:
        return fr_num(x, 2)
    return fr_num(x, min(1 - math.floor(math.log10(abs(rounded))), 8))


def decimals_of_step(step: float) -> int:
    """The decimals a chart's ticks need so that two ticks `step` apart never read the same (0,25: 2)."""
    if not step > 0:
        return 0
    return max(0, next(d for d in range(10) if abs(round(step, d) - step) < step * 1e-6))


def fr_pct(x, digits: int = 1) -> str:
    """A share (0.225) as a percentage ("22,5 %")."""
    return "–" if _missing(x) else f"{fr_num(100 * float(x), digits)}{NBSP}%"


def fr_p(p) -> str:
    """A p-value: "p < 0,0001" when tiny, else "p = 0,032"."""
    if _missing(p):
        return "p non calculable"
    if p < 1e-4:
        return "p < 0,0001"
    return f"p = {fr_num(p, 4 if p < 0.01 else 3)}"


def fr_euros(x, millions: bool = False) -> str:
    if _missing(x):
        return "–"
    if millions:
        return f"{fr_num(float(x) / 1e6, 1)}{NBSP}M€"
    return f"{fr_int(x)}{NBSP}€"


def plain(text, sep: str = "_") -> str:
    """Lower case, no accents, runs of anything but letters and digits as one `sep` (keys, file names)."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", sep, text.lower()).strip(sep)
