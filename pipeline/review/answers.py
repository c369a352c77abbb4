"""A filled review workbook's answers as labeled training rows: no I/O.

A row whose `correction` holds a domain code or its French label (any case,
accents optional) becomes a labeled row of kind submission; `none` marks it
reviewed but fitting no domain (left out, counted). `digital_correction`
(yes/no, oui/non) gives its digital label; filled alone, it confirms the
proposed domain (column `domain`). Both empty: not reviewed.
Every mistake is refused in one line naming the file, the sheet and the row.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.domains import NONE_LABEL, LabelSet, label_lookup, yes_no
from pipeline.errors import PipelineError
from pipeline.features.text import normalize
from pipeline.io.sources import COLUMNS, SUBMISSION_KIND
from pipeline.modeling.cv import duplicate_key
from pipeline.review.workbook import FORMAT, META_SHEET, REQUIRED_COLUMNS, REVIEW_SHEET, label_fingerprint


@dataclass
class ReviewCounts:
    """What one workbook held: rows offered, reviewed, confirmed, corrected, `none`."""

    rows: int = 0
    reviewed: int = 0
    confirmed: int = 0
    corrected: int = 0
    none: int = 0
    digital: int = 0


# A reviewed row: a training row (pipeline.io.sources), its sheet row and the domain the workbook proposed.
REVIEWED_COLUMNS = [*COLUMNS, "row", "proposed"]


def check_meta(name: str, meta: dict, labels: LabelSet) -> None:
    if meta.get("format") != FORMAT or "label_fingerprint" not in meta:
        raise PipelineError(f"{name}: no hidden sheet {META_SHEET!r} of a review workbook: only workbooks "
                            f"written by `make review` or `make audit` are read")
    if meta["label_fingerprint"] != label_fingerprint(labels):
        raise PipelineError(f"{name}: written for another label set ({meta.get('labels', '?')}) than "
                            f"config/domains.csv's; write a new workbook with `make review`")


def parse_answers(name: str, header: list[str], body: list[tuple[int, list]], meta: dict, labels: LabelSet,
                  weight: float = 1.0, source: str | None = None) -> tuple[pd.DataFrame, ReviewCounts]:
    """The reviewed rows of one workbook (REVIEWED_COLUMNS), and its counts."""
    check_meta(name, meta, labels)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise PipelineError(f"{name}, sheet {REVIEW_SHEET}: no column {', '.join(map(repr, missing))} "
                            f"(the header must stay as written)")
    # A copied column (two `correction`): the answers typed in the second would be ignored.
    doubled = [c for c in REQUIRED_COLUMNS if header.count(c) > 1]
    if doubled:
        raise PipelineError(f"{name}, sheet {REVIEW_SHEET}: column {', '.join(map(repr, doubled))} appears more "
                            f"than once; keep one (the header must stay as written)")
    col = {c: header.index(c) for c in REQUIRED_COLUMNS}
    lookup = label_lookup(labels)
    counts, rows = ReviewCounts(rows=len(body)), []
    for number, values in body:
        get = lambda c: _text(values[col[c]]) if col[c] < len(values) else ""  # noqa: E731, B023 (used here)
        answer, digital = get("correction"), get("digital_correction")
        if not (answer or digital):
            continue  # not reviewed
        where = f"{name}, sheet {REVIEW_SHEET}, row {number}"
        if yes_no(digital) is None:
            raise PipelineError(f"{where}: digital_correction {digital!r} is not yes or no")
        # A digital answer alone leaves the domain the row proposes standing: the analyst confirms it.
        code = lookup.get(normalize(answer or get("domain")))
        if code is None:
            raise PipelineError(f"{where}: correction {answer!r} is not in the list (a domain code of the Guide "
                                f"sheet, its French label, or none)" if answer else
                                f"{where}: a digital_correction but no correction, and the proposed domain "
                                f"{get('domain')!r} is not in the list: fill correction")
        text = get("text")
        if not text:
            raise PipelineError(f"{where}: an answer but no text")
        counts.reviewed += 1
        counts.none += code == NONE_LABEL
        counts.confirmed += code == get("domain")
        counts.corrected += code not in (NONE_LABEL, get("domain"))
        counts.digital += bool(digital)
        rows.append({"text": text, "domain": code, "digital": yes_no(digital),
                     "source": source or f"reviewed:{name}", "weight": float(weight),
                     "text_kind": SUBMISSION_KIND, "file_row": number - 1, "row": number,
                     "proposed": get("domain")})
    frame = pd.DataFrame(rows, columns=REVIEWED_COLUMNS)
    return frame, counts


def check_conflicts(frame: pd.DataFrame) -> pd.DataFrame:
    """Refuse one text given two answers (within or across workbooks); keep one row per text.

    Two answers: two domains, or both a yes and a no as digital; a row that
    leaves digital empty agrees with one that fills it. The domain is checked over
    the copies of a title as the CV groups them (answers_win gives the title one
    answer: two would leave the model learning both); the digital flag per text.
    """
    if frame.empty:
        return frame
    keyed = frame.assign(key=frame["text"].map(normalize), title=frame["text"].map(duplicate_key))
    for column, key in (("domain", "title"), ("digital", "key")):
        for _, group in keyed[keyed[key].duplicated(keep=False)].groupby(key, sort=False):
            given = group[group[column] != ""].drop_duplicates(column)
            if len(given) > 1:
                a, b = given.iloc[0], given.iloc[1]
                copy = "" if a["key"] == b["key"] else (f" (and its copy {b['text'][:60]!r}: case, accents, "
                                                          "punctuation and numbers aside)")
                raise PipelineError(f"{a['source']} row {a['row']} and {b['source']} row {b['row']}: the same text "
                                    f"{a['text'][:60]!r}{copy} reviewed twice with two answers ({column} "
                                    f"{a[column]} and {b[column]})")
    # One row per text, the one that gives a digital answer when there is one.
    keyed = keyed.assign(no_digital=keyed["digital"] == "").sort_values(["key", "no_digital"], kind="stable")
    kept = keyed.drop_duplicates("key").sort_index()
    return kept.drop(columns=["key", "title", "no_digital"]).reset_index(drop=True)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def answers_win(frame: pd.DataFrame, answers: pd.DataFrame, locked=None) -> tuple[pd.DataFrame, dict[str, int]]:
    """The training rows less those of a title (copies as the CV groups them) that a reviewed workbook
    answers with another domain, and how many gave way, by source.

    The analyst's answer is the title's label: an audit workbook's corrections so fix the training
    rows (an outside source's file cannot be edited), and a title reviewed in this year's list
    overrides an older label instead of teaching both. A `none` answer trains nothing and removes nothing.
    `locked` (a mask of `frame`'s rows): the locked test set's rows, which are test rows, never training
    rows: they never give way, or a title reviewed in a year's list would silently shrink the locked set."""
    answer_of = dict(zip(answers["text"].map(duplicate_key), answers["domain"]))
    answer = frame["text"].map(duplicate_key).map(answer_of)
    gives_way = (answer.notna() & (answer != frame["domain"])).to_numpy()
    if locked is not None:
        gives_way = gives_way & ~np.asarray(locked, dtype=bool)
    counts = frame.loc[gives_way, "source"].value_counts()
    return frame[~gives_way], {str(s): int(n) for s, n in counts.items()}
