"""Reading a predictions frame: which columns it has, one type per column, codes, amounts, beneficiaries.

Functions of DataFrames, no file I/O. `prepare_predictions` checks and types the
prediction columns; the rest parse the input's own columns (commune and département
codes, French amounts) and say which kind of beneficiary carries each row.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.domains import LabelSet
from pipeline.errors import PipelineError
from pipeline.io.cells import as_text, whole_text
from pipeline.io.columns import no_column
from pipeline.io.predictions import earlier_predictions
from pipeline.io.rows import row_in_file
from pipeline.io.sources import yes_no_answers
from pipeline.report.frformat import plain as _plain

log = logging.getLogger(__name__)

# Looked for, in this order, case- and accent-insensitively.
CODE_COLUMNS = ["beneficiaire_code_insee", "code_commune", "code_insee", "code_commune_insee", "insee",
                "codgeo", "depcom", "com"]
TYPE_COLUMNS = ["beneficiaire_type", "type_beneficiaire", "type_collectivite", "type_porteur"]
NAME_COLUMNS = ["beneficiaire_nom", "nom_beneficiaire_principal", "nom_beneficiaire", "beneficiaire",
                "nom_collectivite", "collectivite", "porteur"]
YEAR_COLUMNS = ["exercice", "annee", "year", "millesime"]
DEP_COLUMNS = ["beneficiaire_dep", "code_departement", "departement", "dep", "code_dep"]
COST_COLUMNS = ["cout_ht", "cout_total_ht", "cout_total", "cout", "montant_projet", "montant_total"]
SCHEME_COLUMNS = ["dispositif", "dotation", "type_dotation", "fonds"]  # the funding scheme (DETR, DSIL...)
SUBSIDY_COLUMNS = ["subvention", "montant_subvention", "montant_engage", "montant_aide", "aide"]

ENTITY_LABELS = {
    "commune": "Commune",
    "groupement": "EPCI ou syndicat",
    "departement": "Département",
    "region": "Région",
    "autre": "Autre bénéficiaire",
    "inconnu": "Non renseigné (ni type ni code commune)",
}


def find_column(columns, candidates: list[str]) -> str | None:
    """The first column whose name matches a candidate, ignoring case and accents."""
    plain = {}
    for c in columns:
        plain.setdefault(_plain(c), c)
    return next((plain[c] for c in candidates if c in plain), None)


@dataclass
class Columns:
    """Which input columns the report uses (None where the input has none)."""

    code: str | None = None
    type: str | None = None
    name: str | None = None
    year: str | None = None
    departement: str | None = None
    cost: str | None = None
    subsidy: str | None = None
    scheme: str | None = None

    @classmethod
    def detect(cls, columns, code: str | None = None) -> "Columns":
        columns = [str(c) for c in columns]
        if code and code not in columns:
            raise no_column("the predictions", code, columns, "(--code-col)")
        return cls(code=code or find_column(columns, CODE_COLUMNS), type=find_column(columns, TYPE_COLUMNS),
                   name=find_column(columns, NAME_COLUMNS), year=find_column(columns, YEAR_COLUMNS),
                   departement=find_column(columns, DEP_COLUMNS), cost=find_column(columns, COST_COLUMNS),
                   subsidy=find_column(columns, SUBSIDY_COLUMNS), scheme=find_column(columns, SCHEME_COLUMNS))


def align_columns(frames: list[pd.DataFrame], sources: list[str], code: str | None = None) -> list[pd.DataFrame]:
    """Each file's report columns under the name the first file gives them: stacked, a file's `annee`
    (or `Exercice`) beside another's `exercice` would leave its rows without a year. `code`: the
    --code-col given, used as named in every file."""
    found = [vars(Columns.detect(f.columns)) for f in frames]
    first: dict[str, str] = {}
    for roles in found:
        for role, column in roles.items():
            if column and not (code and role == "code"):
                first.setdefault(role, column)
    out = []
    for frame, roles, source in zip(frames, found, sources):
        renames = {column: first[role] for role, column in roles.items()
                   if role in first and column and column != first[role] and first[role] not in frame.columns}
        if renames:
            log.info("%s: column(s) %s read as %s", source, ", ".join(renames), ", ".join(renames.values()))
        out.append(frame.rename(columns=renames))
    return out


def refuse_repeated_files(frames: list[pd.DataFrame], sources: list[str]) -> None:
    """Stop when two files hold the same input columns and every row of one is a row of the other (the
    same predictions in two formats, a .parquet and its .csv: each row would count twice); warn of rows
    two files share otherwise. Rows are compared on the input columns both hold, as text."""
    inputs = [set(map(str, f.columns)) - set(earlier_predictions(f.columns)) for f in frames]
    for j in range(1, len(frames)):
        for i in range(j):
            common = sorted(inputs[i] & inputs[j])
            if not common or frames[i].empty or frames[j].empty:
                continue
            key_i, key_j = (pd.util.hash_pandas_object(frames[k][common].astype(str), index=False) for k in (i, j))
            in_i, in_j = key_j.isin(set(key_i)), key_i.isin(set(key_j))
            if inputs[i] == inputs[j] and (in_i.all() or in_j.all()):
                raise PipelineError(f"{sources[j]} and {sources[i]}: every row of one is a row of the other (the "
                                    f"same predictions twice?) and would be counted twice; give one of them")
            if in_i.any():
                log.warning("%s and %s share %d row(s) (the same values in every input column both hold): "
                            "each is counted twice", sources[j], sources[i], int(in_i.sum()))


# --- Cleaning -------------------------------------------------------------------------

def prepare_predictions(frame: pd.DataFrame, labels: LabelSet, source: str = "predictions") -> pd.DataFrame:
    """Check the prediction columns and give them one type each, whatever file they came from.

    domain: text ("" for rows without text); confidence: float; digital: "yes"/"no"/"" (another
    answer than yes/no, oui/non is an error naming its row);
    needs_review: boolean (a missing column is an error only for `domain`).
    """
    if "domain" not in frame.columns:
        raise PipelineError(f"{source}: no 'domain' column; is this the output of `make predict`? "
                            f"(columns: {', '.join(map(str, frame.columns))})")
    out = frame.copy()
    out["domain"] = as_text(out["domain"])
    unknown = sorted(set(out["domain"]) - set(labels.codes) - {""})
    if unknown:
        log.warning("%s: domain(s) outside config/domains.csv: %s (reported with their code)", source,
                    ", ".join(unknown))
    out["confidence"] = pd.to_numeric(out["confidence"], errors="coerce") if "confidence" in out else np.nan
    out["digital"] = as_text(out["digital"]) if "digital" in out else ""
    # predict writes yes/no or nothing: another answer would silently leave the digital shares.
    out["digital"] = yes_no_answers(out, "digital", source)
    if "needs_review" in out:
        raw = out["needs_review"]
        if raw.dtype == bool:
            out["needs_review"] = raw
        else:
            out["needs_review"] = as_text(raw).str.lower().isin(["true", "1", "yes", "oui", "vrai"])
    else:
        out["needs_review"] = out["domain"] == ""
    out["model_run_id"] = as_text(out["model_run_id"]) if "model_run_id" in out else ""
    refuse_missing_probas(out, source)
    return out


def refuse_missing_probas(frame: pd.DataFrame, source: str) -> None:
    """predict fills every proba_ cell (0 on a row without text): an empty one on a row with a domain (a cell
    cleared by hand) stopped the share correction on an IndexError deep in its arithmetic."""
    with_domain = (frame["domain"] != "").to_numpy()
    for column in [c for c in frame.columns if str(c).startswith("proba_")]:
        empty = pd.to_numeric(frame[column], errors="coerce").isna().to_numpy() & with_domain
        if empty.any():
            i = int(empty.nonzero()[0][0])
            raise PipelineError(f"{source}, {row_in_file(frame, i)}: no value in column {column!r} of a row with a "
                                f"domain ({int(empty.sum())} such row(s)); give the output of `make predict`")


def normalize_year(raw: pd.Series, column: str) -> pd.Series:
    """Years as 4-digit text (2024, 2024.0 and "2024" are "2024"), "" where not given. A value that
    is no year is warned of (the column, how many rows, one of them) and counted as not given."""
    year = whole_text(raw)
    bad = (year != "") & ~year.str.fullmatch(r"\d{4}")
    if bad.any():
        log.warning("column %s: %d row(s) hold no year (such as %r): counted as year not given", column,
                    int(bad.sum()), as_text(raw)[bad].iloc[0])
        year = year.mask(bad, "")
    if missing := int((year == "").sum()):
        log.info("column %s: %d row(s) without a year, left out of the figures by year", column, missing)
    return year


def normalize_commune_code(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(5-character code or "", valid?): a 4-digit code lost its leading zero; "1004.0" is 01004."""
    code = whole_text(raw).str.replace(" ", "", regex=False)
    code = code.mask(code.str.fullmatch(r"\d{4}"), code.str.zfill(5))
    valid = code.str.fullmatch(r"\d{5}|2[AB]\d{3}")
    return code, valid.fillna(False).astype(bool)


def normalize_departement(raw: pd.Series) -> pd.Series:
    """Département codes as the COG writes them: "001" -> "01", "20A" -> "2A", "691" (Lyon) -> "69"."""
    code = whole_text(raw)

    def one(c: str) -> str:
        if not c:
            return ""
        if c in ("20A", "2A"):
            return "2A"
        if c in ("20B", "2B"):
            return "2B"
        if c.isdigit():
            if len(c) == 1:
                return c.zfill(2)
            if len(c) == 3 and c.startswith("0"):
                return c[1:]
            if len(c) == 3 and c.startswith(("97", "98")):
                return c
            return c[:2]
        if re.fullmatch(r"\d{2}[A-Z]", c):  # 67A: a collectivity inside the département
            return c[:2]
        return c

    return code.map(one)


_NUMBER_JUNK = re.compile(r"[\s\u00a0\u202f€']|eur(os?)?", re.IGNORECASE)


def parse_amount(raw: pd.Series) -> pd.Series:
    """Amounts written the French way ("21 667,00 €", "310000,0", "1.234,5") as floats; NaN if unreadable."""
    def one(value: str) -> float:
        s = _NUMBER_JUNK.sub("", value)
        if not s:
            return math.nan
        if "," in s and "." in s:
            decimal = "," if s.rfind(",") > s.rfind(".") else "."
            s = s.replace("." if decimal == "," else ",", "").replace(",", ".")
        elif s.count(",") == 1:
            s = s.replace(",", ".")
        elif s.count(",") > 1 or s.count(".") > 1:
            s = s.replace(",", "").replace(".", "")
        try:
            return float(s)
        except ValueError:
            return math.nan

    if pd.api.types.is_numeric_dtype(raw):
        return raw.astype(float)
    text = as_text(raw)
    uniques = {v: one(v) for v in text.unique()}
    return text.map(uniques).astype(float)


_GROUPING_TYPE = re.compile(r"epci|syndicat|communaute|metropole|^(?:cc|ca|cu|cdc|sivu|sivom|petr|ept|pays|pole)\b"
                            r"|intercommunal|groupement|etablissement_public|^sm|^si")
_GROUPING_NAME = re.compile(r"^(?:cc|ca|cu|cdc|c_c|com_com|sivu|sivom|sivos|sirp|si|sm|smi|smictom|sictom|petr|ept|"
                            r"pays|pole|met)_|^synd|syndicat|communaute|metropole|intercommunal|^agglo")
_DEPARTEMENT = re.compile(r"^(?:departement|dep|dept)(?:_|$)|conseil_departemental|^cd_?\d|collectivite_europeenne")
_REGION = re.compile(r"^(?:region|reg)(?:_|$)|conseil_regional|collectivite_territoriale")


def classify_beneficiaries(types: pd.Series | None, names: pd.Series | None, has_code: pd.Series) -> pd.Series:
    """commune / groupement (EPCI, syndicate) / departement / region / autre / inconnu, one per row.

    The type column decides when it is filled; else a name such as "CC du ..." or
    "SYND ..." marks a grouping; else a row with a commune code is a commune.
    """
    index = has_code.index
    kind = pd.Series("", index=index, dtype=object)
    if types is not None:
        plain = as_text(types).map(_plain)
        kind = kind.mask(plain.str.match(r"^(commune|com|cne|mairie|ville)(_|$)")
                         & ~plain.str.startswith("communaute"), "commune")
        rest = (kind == "") & (plain != "")
        kind = kind.mask(rest & plain.str.contains(_GROUPING_TYPE), "groupement")
        kind = kind.mask((kind == "") & rest & plain.str.contains(_DEPARTEMENT), "departement")
        kind = kind.mask((kind == "") & rest & plain.str.contains(_REGION), "region")
        kind = kind.mask((kind == "") & rest, "autre")
    if names is not None:
        plain = as_text(names).map(_plain)
        open_ = kind == ""
        kind = kind.mask(open_ & plain.str.contains(_GROUPING_NAME), "groupement")
        kind = kind.mask((kind == "") & open_ & plain.str.contains(_DEPARTEMENT), "departement")
        kind = kind.mask((kind == "") & open_ & plain.str.contains(_REGION), "region")
    kind = kind.mask((kind == "") & has_code, "commune")
    return kind.mask(kind == "", "inconnu")
