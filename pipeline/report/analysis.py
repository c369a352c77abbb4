"""The barometer's aggregations and statistics: functions of DataFrames, no file I/O.

Input is a predictions frame (every input column, then domain, confidence, digital,
needs_review, model_run_id...) and, for the commune sections, a CommuneReference.
`build_report` runs every step and returns plain tables and numbers; report_render
turns them into sentences, HTML and Markdown, report.py reads and writes the files.
"""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from pipeline.report.communes import SIZE_LABELS, CommuneReference, lookup, size_band
from pipeline.report.communes import plain as _plain
from pipeline.domains import LabelSet
from pipeline.errors import PipelineError

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
SUBSIDY_COLUMNS = ["subvention", "montant_subvention", "montant_engage", "montant_aide", "aide"]

ENTITY_LABELS = {
    "commune": "Commune",
    "groupement": "EPCI ou syndicat",
    "departement": "Département",
    "region": "Région",
    "autre": "Autre bénéficiaire",
    "inconnu": "Non renseigné (ni type ni code commune)",
}
JOIN_LABELS = {
    "current": "code d'une commune actuelle",
    "former": "ancien code (commune fusionnée) ou arrondissement, rattaché à la commune actuelle",
    "no_code": "commune sans code INSEE",
    "invalid": "code mal formé",
    "unknown": "code absent du référentiel",
    "not_commune": "bénéficiaire qui n'est pas une commune",
}
SIGNIFICANCE = 0.05


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

    @classmethod
    def detect(cls, columns, code: str | None = None) -> "Columns":
        columns = [str(c) for c in columns]
        if code and code not in columns:
            raise PipelineError(f"no column {code!r} in the predictions (columns: {', '.join(columns)})")
        return cls(code=code or find_column(columns, CODE_COLUMNS), type=find_column(columns, TYPE_COLUMNS),
                   name=find_column(columns, NAME_COLUMNS), year=find_column(columns, YEAR_COLUMNS),
                   departement=find_column(columns, DEP_COLUMNS), cost=find_column(columns, COST_COLUMNS),
                   subsidy=find_column(columns, SUBSIDY_COLUMNS))


# --- Cleaning -------------------------------------------------------------------------

def _text(series: pd.Series) -> pd.Series:
    out = series.astype(object).where(series.notna(), "").astype(str).str.strip()
    return out.mask(out.str.lower().isin(["nan", "none", "null", "<na>"]), "")


def prepare_predictions(frame: pd.DataFrame, labels: LabelSet, source: str = "predictions") -> pd.DataFrame:
    """Check the prediction columns and give them one type each, whatever file they came from.

    domain: text ("" for rows without text); confidence: float; digital: "yes"/"no"/"";
    needs_review: boolean (a missing column is an error only for `domain`).
    """
    if "domain" not in frame.columns:
        raise PipelineError(f"{source}: no 'domain' column; is this the output of `make predict`? "
                            f"(columns: {', '.join(map(str, frame.columns))})")
    out = frame.copy()
    out["domain"] = _text(out["domain"])
    unknown = sorted(set(out["domain"]) - set(labels.codes) - {""})
    if unknown:
        log.warning("%s: domain(s) outside config/domains.csv: %s (reported with their code)", source,
                    ", ".join(unknown))
    out["confidence"] = pd.to_numeric(out["confidence"], errors="coerce") if "confidence" in out else np.nan
    out["digital"] = _text(out["digital"]).str.lower() if "digital" in out else ""
    if "needs_review" in out:
        raw = out["needs_review"]
        if raw.dtype == bool:
            out["needs_review"] = raw
        else:
            out["needs_review"] = _text(raw).str.lower().isin(["true", "1", "yes", "oui", "vrai"])
    else:
        out["needs_review"] = out["domain"] == ""
    out["model_run_id"] = _text(out["model_run_id"]) if "model_run_id" in out else ""
    return out


def normalize_commune_code(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(5-character code or "", valid?): a 4-digit code lost its leading zero; "1004.0" is 01004."""
    code = _text(raw).str.upper().str.replace(r"\.0+$", "", regex=True).str.replace(" ", "", regex=False)
    code = code.mask(code.str.fullmatch(r"\d{4}"), code.str.zfill(5))
    valid = code.str.fullmatch(r"\d{5}|2[AB]\d{3}")
    return code, valid.fillna(False).astype(bool)


def normalize_departement(raw: pd.Series) -> pd.Series:
    """Département codes as the COG writes them: "001" -> "01", "20A" -> "2A", "691" (Lyon) -> "69"."""
    code = _text(raw).str.upper().str.replace(r"\.0+$", "", regex=True)

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
    text = _text(raw)
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
        plain = _text(types).map(_plain)
        kind = kind.mask(plain.str.match(r"^(commune|com|cne|mairie|ville)(_|$)")
                         & ~plain.str.startswith("communaute"), "commune")
        rest = (kind == "") & (plain != "")
        kind = kind.mask(rest & plain.str.contains(_GROUPING_TYPE), "groupement")
        kind = kind.mask((kind == "") & rest & plain.str.contains(_DEPARTEMENT), "departement")
        kind = kind.mask((kind == "") & rest & plain.str.contains(_REGION), "region")
        kind = kind.mask((kind == "") & rest, "autre")
    if names is not None:
        plain = _text(names).map(_plain)
        open_ = kind == ""
        kind = kind.mask(open_ & plain.str.contains(_GROUPING_NAME), "groupement")
        kind = kind.mask((kind == "") & open_ & plain.str.contains(_DEPARTEMENT), "departement")
        kind = kind.mask((kind == "") & open_ & plain.str.contains(_REGION), "region")
    kind = kind.mask((kind == "") & has_code, "commune")
    return kind.mask(kind == "", "inconnu")


# --- Joining the commune reference ---------------------------------------------------------

def join_communes(frame: pd.DataFrame, columns: Columns, ref: CommuneReference) -> pd.DataFrame:
    """One row per input row: beneficiary kind, code, how it joined, and the commune's reference data.

    Columns: entite, code, code_actuel, jointure (see JOIN_LABELS), nom_commune, population,
    taille, pct_75p, departement, nom_departement, region, nom_region. The département of
    a joined commune comes from the reference; other rows keep the input's département.
    """
    index = frame.index
    if columns.code:
        code, valid = normalize_commune_code(frame[columns.code])
    else:
        code, valid = pd.Series("", index=index, dtype=object), pd.Series(False, index=index)
    kind = classify_beneficiaries(frame[columns.type] if columns.type else None,
                                  frame[columns.name] if columns.name else None, code != "")
    current, how = ref.resolve(code.where(valid, ""))
    if columns.type is None and columns.name is not None:
        # No type column: a row is a commune's only if its beneficiary is that commune by name
        # (lists like the Fonds vert give the place of the project, whoever carries it).
        other = (kind == "commune") & (current != "") & ~ref.is_named(current, _text(frame[columns.name]))
        kind = kind.mask(other, "autre")
    is_commune = kind == "commune"
    status = pd.Series(how, index=index, dtype=object)
    status = status.mask(is_commune & (code != "") & ~valid, "invalid")
    status = status.mask(is_commune & (code == ""), "no_code")
    status = status.mask(~is_commune, "not_commune")
    joined = status.isin(["current", "former"])
    current = current.where(joined, "")
    info = ref.communes.reindex(current.where(joined))
    info.index = index
    out = pd.DataFrame({
        "entite": kind, "code": code, "code_actuel": current, "jointure": status,
        "nom_commune": info["nom"].fillna(""), "population": info["population"],
        "pct_75p": info["pct_75p"],
    }, index=index)
    out["taille"] = size_band(out["population"])
    dep_input = (normalize_departement(frame[columns.departement]) if columns.departement
                 else pd.Series("", index=index, dtype=object))
    out["departement"] = info["departement"].fillna("").where(joined, dep_input)
    deps = ref.departements
    for column, source in (("nom_departement", "nom"), ("region", "region"), ("nom_region", "nom_region")):
        out[column] = lookup(out["departement"], deps[source]) if source in deps else ""
    return out


def join_summary(joined: pd.DataFrame) -> pd.DataFrame:
    """Rows by beneficiary kind, and commune rows by how their code joined."""
    n = len(joined)
    kinds = joined["entite"].value_counts().reindex(list(ENTITY_LABELS)).fillna(0).astype(int)
    kinds = kinds[kinds > 0]
    rows = [{"groupe": "bénéficiaire", "cle": k, "libelle": ENTITY_LABELS[k], "lignes": int(v),
             "part": v / n if n else np.nan} for k, v in kinds.items()]
    communes = joined[joined["entite"] == "commune"]
    m = len(communes)
    status = communes["jointure"].value_counts()
    for key in ("current", "former", "no_code", "invalid", "unknown"):
        if status.get(key, 0):
            rows.append({"groupe": "lignes de communes", "cle": key, "libelle": JOIN_LABELS[key],
                         "lignes": int(status[key]), "part": status[key] / m})
    return pd.DataFrame(rows, columns=["groupe", "cle", "libelle", "lignes", "part"])


def unjoined_codes(frame: pd.DataFrame, joined: pd.DataFrame, columns: Columns,
                   ref: CommuneReference) -> pd.DataFrame:
    """Every commune code that did not join, with its rows, an example name and a hint."""
    bad = joined[joined["jointure"].isin(["unknown", "invalid"])]
    if bad.empty:
        return pd.DataFrame(columns=["code", "lignes", "motif", "exemple_nom", "departement_saisi", "indice"])
    names = _text(frame.loc[bad.index, columns.name]) if columns.name else pd.Series("", index=bad.index)
    table = (pd.DataFrame({"code": bad["code"], "motif": bad["jointure"].map(JOIN_LABELS), "nom": names,
                           "dep": bad["departement"]})
             .groupby(["code", "motif"], as_index=False)
             .agg(lignes=("nom", "size"), exemple_nom=("nom", "first"), departement_saisi=("dep", "first")))

    def hint(code: str, name: str) -> str:
        communes = ref.postcodes.get(code, [])
        if not communes:
            return ""
        found = ref.communes.reindex(communes)["nom"].dropna()
        same = found[found.map(_plain) == _plain(name)]
        if len(same):
            return f"code postal de {same.iloc[0]} (code INSEE {same.index[0]})"
        names_ = found.tolist()
        return "code postal de " + ", ".join(names_[:3]) + (" …" if len(names_) > 3 else "")

    table["indice"] = [hint(c, n) for c, n in zip(table["code"], table["exemple_nom"])]
    table = table.sort_values(["lignes", "code"], ascending=[False, True]).reset_index(drop=True)
    return table[["code", "lignes", "motif", "exemple_nom", "departement_saisi", "indice"]]


# --- Domains ------------------------------------------------------------------------------

def domain_order(pred: pd.DataFrame, labels: LabelSet) -> list[str]:
    extra = sorted(set(pred["domain"]) - set(labels.codes) - {""})
    return list(labels.codes) + extra


def overview(pred: pd.DataFrame) -> dict:
    n = len(pred)
    with_domain = int((pred["domain"] != "").sum())
    digital_known = int(pred["digital"].isin(["yes", "no"]).sum())
    digital = int((pred["digital"] == "yes").sum())
    review = int(pred["needs_review"].sum())
    return {
        "rows": n, "with_domain": with_domain, "without_domain": n - with_domain,
        "digital": digital, "digital_known": digital_known,
        "digital_share": digital / digital_known if digital_known else math.nan,
        "needs_review": review, "needs_review_share": review / n if n else math.nan,
        "confidence_median": float(pred["confidence"].median()) if pred["confidence"].notna().any() else math.nan,
        "model_run_ids": sorted(set(pred["model_run_id"]) - {""}),
    }


def domain_table(pred: pd.DataFrame, labels: LabelSet) -> pd.DataFrame:
    """Per domain: initiatives and share, digital ones and their share, share left for review."""
    order = domain_order(pred, labels)
    has = pred[pred["domain"] != ""]
    digital = has[has["digital"] == "yes"]
    counts = has["domain"].value_counts().reindex(order, fill_value=0)
    dcounts = digital["domain"].value_counts().reindex(order, fill_value=0)
    review = has.groupby("domain")["needs_review"].sum().reindex(order, fill_value=0)
    table = pd.DataFrame({
        "libelle": [labels.label(c) for c in order],
        "initiatives": counts.astype(int),
        "part": counts / max(len(has), 1),
        "numeriques": dcounts.astype(int),
        "part_numeriques": dcounts / max(len(digital), 1),
        "a_revoir": review.astype(int),
        "part_a_revoir": (review / counts.replace(0, np.nan)),
    }, index=pd.Index(order, name="domaine"))
    return table


def crosstab(pred: pd.DataFrame, group: pd.Series, labels: LabelSet, order=None) -> pd.DataFrame:
    """Initiatives per domain (rows, label-set order) and group (columns); rows without domain left out."""
    keep = (pred["domain"] != "") & group.notna() & (group.astype(str) != "")
    table = pd.crosstab(pred.loc[keep, "domain"], group[keep])
    table = table.reindex(index=domain_order(pred, labels), fill_value=0)
    if order is not None:
        table = table.reindex(columns=[c for c in order], fill_value=0)
    table.index.name, table.columns.name = "domaine", None
    return table.astype(int)


def column_shares(table: pd.DataFrame) -> pd.DataFrame:
    return table / table.sum(axis=0).replace(0, np.nan)


def top_domains(table: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """The k most frequent domains in each column of a domain × group crosstab."""
    rows = []
    for col in table.columns:
        ranked = table[col].sort_values(ascending=False, kind="stable")
        ranked = ranked[ranked > 0]
        rows.append({"groupe": col, **{f"rang_{i + 1}": (ranked.index[i] if i < len(ranked) else "")
                                        for i in range(k)}})
    return pd.DataFrame(rows)


# --- Statistics --------------------------------------------------------------------------

def spearman(x: pd.Series, y: pd.Series) -> dict:
    """Spearman's rank correlation (ties averaged) with its two-sided p-value."""
    pair = pd.concat([pd.to_numeric(x, errors="coerce"), pd.to_numeric(y, errors="coerce")], axis=1).dropna()
    n = len(pair)
    if n < 3 or pair.iloc[:, 0].nunique() < 2 or pair.iloc[:, 1].nunique() < 2:
        return {"rho": math.nan, "p": math.nan, "n": n}
    result = stats.spearmanr(pair.iloc[:, 0], pair.iloc[:, 1])
    return {"rho": float(result.statistic), "p": float(result.pvalue), "n": n}


def partial_spearman(x: pd.Series, y: pd.Series, z: pd.Series) -> dict:
    """Spearman correlation of x and y with z held constant (from the three pairwise rhos; t-test, n-3 df)."""
    frame = pd.concat([pd.to_numeric(s, errors="coerce") for s in (x, y, z)], axis=1).dropna()
    n = len(frame)
    if n < 5:
        return {"rho": math.nan, "p": math.nan, "n": n}
    r = frame.rank().corr().to_numpy()
    rxy, rxz, ryz = r[0, 1], r[0, 2], r[1, 2]
    denom = math.sqrt(max((1 - rxz ** 2) * (1 - ryz ** 2), 0))
    if denom == 0:
        return {"rho": math.nan, "p": math.nan, "n": n}
    rho = (rxy - rxz * ryz) / denom
    rho = max(min(rho, 1.0), -1.0)
    df = n - 3
    t = rho * math.sqrt(df / max(1 - rho ** 2, 1e-300))
    return {"rho": float(rho), "p": float(2 * stats.t.sf(abs(t), df)), "n": n}


def independence(table: pd.DataFrame) -> dict:
    """Chi-square test of independence of a contingency table, and Cramér's V.

    Empty rows and columns are dropped first. V = sqrt(chi2 / (n (min(r, c) - 1))).
    """
    t = table.loc[table.sum(axis=1) > 0, table.sum(axis=0) > 0]
    n = int(t.to_numpy().sum())
    if t.shape[0] < 2 or t.shape[1] < 2:
        return {"chi2": math.nan, "dof": 0, "p": math.nan, "cramers_v": math.nan, "n": n,
                "rows": t.shape[0], "columns": t.shape[1], "low_expected_share": math.nan}
    result = stats.chi2_contingency(t.to_numpy(), correction=False)
    k = min(t.shape) - 1
    expected = np.asarray(result.expected_freq)
    return {"chi2": float(result.statistic), "dof": int(result.dof), "p": float(result.pvalue),
            "cramers_v": float(math.sqrt(result.statistic / (n * k))), "n": n,
            "rows": t.shape[0], "columns": t.shape[1],
            "low_expected_share": float((expected < 5).mean())}


def cramers_v_strength(v: float) -> str:
    """Conventional reading of Cramér's V (for tables with min(r, c) - 1 >= 3)."""
    if math.isnan(v):
        return "indéterminée"
    if v < 0.1:
        return "négligeable"
    if v < 0.2:
        return "faible"
    if v < 0.3:
        return "modérée"
    return "forte"


# --- Communes: size and age ------------------------------------------------------------------

def commune_counts(joined: pd.DataFrame, ref: CommuneReference) -> pd.DataFrame:
    """Every commune of the départements the input covers, with its initiatives (0 if none).

    The universe is the reference's communes in the départements where at least one
    commune row joined, so that a file about one département is compared with that
    département's communes, not with all of France.
    """
    rows = joined[joined["jointure"].isin(["current", "former"])]
    deps = set(rows["departement"]) - {""}
    universe = ref.communes[ref.communes["departement"].isin(deps)].copy()
    universe["initiatives"] = rows["code_actuel"].value_counts().reindex(universe.index, fill_value=0).astype(int)
    universe["taille"] = size_band(universe["population"])
    return universe


def rate_table(counts: pd.DataFrame, group: pd.Series, order: list[str]) -> pd.DataFrame:
    """Per group of communes: communes, with an initiative, initiatives, per commune, per 1,000 inhabitants."""
    frame = counts.assign(_g=group)
    frame = frame[frame["_g"].notna()]
    agg = frame.groupby("_g", observed=False).agg(
        communes=("initiatives", "size"),
        communes_avec_initiative=("initiatives", lambda s: int((s > 0).sum())),
        initiatives=("initiatives", "sum"),
        population=("population", "sum"))
    agg = agg.reindex(order).fillna(0)
    agg[["communes", "communes_avec_initiative", "initiatives"]] = agg[
        ["communes", "communes_avec_initiative", "initiatives"]].astype(int)
    agg["part_communes_avec_initiative"] = agg["communes_avec_initiative"] / agg["communes"].replace(0, np.nan)
    agg["initiatives_par_commune"] = agg["initiatives"] / agg["communes"].replace(0, np.nan)
    agg["initiatives_pour_1000_hab"] = 1000 * agg["initiatives"] / agg["population"].replace(0, np.nan)
    agg.index.name = "groupe"
    return agg[["communes", "communes_avec_initiative", "part_communes_avec_initiative", "initiatives",
                "initiatives_par_commune", "population", "initiatives_pour_1000_hab"]]


def age_groups(pct: pd.Series, q: int = 4) -> tuple[pd.Series, list[str]]:
    """Quartiles (by default) of the share of inhabitants aged 75+, labelled with their bounds."""
    values = pd.to_numeric(pct, errors="coerce")
    known = values.dropna()
    if known.nunique() < q:
        return pd.Series(np.nan, index=pct.index), []
    edges = np.unique(np.quantile(known, np.linspace(0, 1, q + 1)))
    labels = []
    for i in range(len(edges) - 1):
        low, high = _fr(edges[i]), _fr(edges[i + 1])
        labels.append(f"Q{i + 1} : {low} à {high} %")
    groups = pd.cut(values, bins=edges, labels=labels, include_lowest=True)
    return groups, labels


def _fr(x: float, digits: int = 1) -> str:
    return f"{x:.{digits}f}".replace(".", ",")


@dataclass
class GroupAnalysis:
    """The two questions for one grouping of communes (size band, or age quartile)."""

    rates: pd.DataFrame            # rate_table by group
    correlation: dict              # Spearman of initiatives per commune with the measure
    crosstab: pd.DataFrame         # domain × group counts (commune rows that joined)
    test: dict                     # chi-square and Cramér's V on the crosstab
    top: pd.DataFrame              # top 3 domains per group
    partial: dict | None = None    # Spearman with population held constant (age)
    communes: int = 0              # communes where the measure is known
    smallest: float = math.nan     # population of the smallest of them


def analyse_groups(pred: pd.DataFrame, counts: pd.DataFrame, measure: pd.Series, commune_group: pd.Series,
                   row_group: pd.Series, order: list[str], labels: LabelSet,
                   control: pd.Series | None = None) -> GroupAnalysis:
    """Initiatives against a measure of communes (population, share aged 75+), and domains by its groups.

    counts: one row per commune (initiatives, population); measure and commune_group
    are aligned on it; row_group gives each predictions row its commune's group.
    """
    table = crosstab(pred, row_group, labels, order)
    return GroupAnalysis(
        rates=rate_table(counts, commune_group, order),
        correlation=spearman(counts["initiatives"], measure),
        crosstab=table, test=independence(table), top=top_domains(table),
        partial=partial_spearman(counts["initiatives"], measure, control) if control is not None else None,
        communes=int(measure.notna().sum()),
        smallest=float(counts.loc[measure.notna(), "population"].min()) if measure.notna().any() else math.nan,
    )


# --- Other breakdowns ------------------------------------------------------------------------

UNKNOWN = "(non renseigné)"


def group_summary(pred: pd.DataFrame, group: pd.Series, labels: LabelSet, order=None,
                  by_count: bool = False) -> pd.DataFrame:
    """Per group: initiatives, share, digital share, review share, main domain and its share.

    Groups come in `order`, else by decreasing count if `by_count`, else sorted; the
    rows without a group come last.
    """
    frame = pred.assign(_g=group.where(group.notna(), "").astype(str))
    frame["_g"] = frame["_g"].mask(frame["_g"] == "", UNKNOWN)
    n = len(frame)
    rows = []
    for key, part in frame.groupby("_g", sort=True):
        has = part[part["domain"] != ""]
        top = has["domain"].value_counts()
        known = part["digital"].isin(["yes", "no"]).sum()
        rows.append({"groupe": key, "initiatives": len(part), "part": len(part) / n,
                     "part_numeriques": (part["digital"] == "yes").sum() / known if known else np.nan,
                     "part_a_revoir": part["needs_review"].mean(),
                     "domaine_principal": labels.label(top.index[0]) if len(top) else "",
                     "part_domaine_principal": top.iloc[0] / len(has) if len(top) else np.nan})
    table = pd.DataFrame(rows).set_index("groupe")
    keys = list(table.index)
    if order is not None:
        keys = [o for o in order if o in table.index] + [i for i in keys if i not in order]
    elif by_count:
        keys = list(table["initiatives"].sort_values(ascending=False, kind="stable").index)
    keys = [k for k in keys if k != UNKNOWN] + [k for k in keys if k == UNKNOWN]
    return table.reindex(keys)


def amounts_by_domain(pred: pd.DataFrame, columns: Columns, labels: LabelSet) -> tuple[pd.DataFrame, dict]:
    """Cost and subsidy per domain (sums in euros, medians, subsidy rate), and how many amounts were read."""
    has = pred[pred["domain"] != ""]
    cost = parse_amount(has[columns.cost]) if columns.cost else pd.Series(np.nan, index=has.index)
    subsidy = parse_amount(has[columns.subsidy]) if columns.subsidy else pd.Series(np.nan, index=has.index)
    frame = pd.DataFrame({"domain": has["domain"], "cout": cost, "subvention": subsidy})
    both = frame["cout"].notna() & frame["subvention"].notna() & (frame["cout"] > 0)
    order = domain_order(pred, labels)
    grouped = frame.groupby("domain")
    table = pd.DataFrame({
        "libelle": [labels.label(c) for c in order],
        "montants_lus": grouped["subvention"].count().reindex(order, fill_value=0)
        if columns.subsidy else grouped["cout"].count().reindex(order, fill_value=0),
        "cout_total": grouped["cout"].sum(min_count=1).reindex(order),
        "cout_median": grouped["cout"].median().reindex(order),
        "subvention_totale": grouped["subvention"].sum(min_count=1).reindex(order),
        "subvention_mediane": grouped["subvention"].median().reindex(order),
    }, index=pd.Index(order, name="domaine"))
    rate = frame[both].groupby("domain").agg(c=("cout", "sum"), s=("subvention", "sum"))
    table["taux_subvention"] = (rate["s"] / rate["c"]).reindex(order)
    info = {"rows": len(has),
            "cost_read": int(cost.notna().sum()), "cost_unreadable": int((cost.isna() & (
                _text(has[columns.cost]) != "")).sum()) if columns.cost else 0,
            "subsidy_read": int(subsidy.notna().sum()), "subsidy_unreadable": int((subsidy.isna() & (
                _text(has[columns.subsidy]) != "")).sum()) if columns.subsidy else 0,
            "cost_total": float(cost.sum()), "subsidy_total": float(subsidy.sum()),
            "rate_overall": float(frame.loc[both, "subvention"].sum() / frame.loc[both, "cout"].sum())
            if both.any() else math.nan}
    return table, info


# --- The whole report ---------------------------------------------------------------------------

@dataclass
class ReportData:
    overview: dict
    columns: Columns
    domains: pd.DataFrame
    confidence: pd.Series
    joined: pd.DataFrame | None = None
    join_summary: pd.DataFrame | None = None
    unjoined: pd.DataFrame | None = None
    commune_note: str = ""
    size: GroupAnalysis | None = None
    age: GroupAnalysis | None = None
    age_note: str = ""
    years: pd.DataFrame | None = None
    years_crosstab: pd.DataFrame | None = None
    types: pd.DataFrame | None = None
    regions: pd.DataFrame | None = None
    departements: pd.DataFrame | None = None
    amounts: pd.DataFrame | None = None
    amounts_info: dict = field(default_factory=dict)
    left_out: list[dict] = field(default_factory=list)


def build_report(pred: pd.DataFrame, labels: LabelSet, ref: CommuneReference | None,
                 columns: Columns) -> ReportData:
    """Every table and statistic of the barometer from a prepared predictions frame."""
    ov = overview(pred)
    domains = domain_table(pred, labels)
    data = ReportData(overview=ov, columns=columns, domains=domains,
                      confidence=pred.loc[pred["domain"] != "", "confidence"].dropna())
    if ov["without_domain"]:
        data.left_out.append({"what": "lignes sans texte (aucun domaine prédit)", "rows": ov["without_domain"],
                              "where": "parts par domaine, croisements (comptées dans « à revoir »)"})

    if columns.year:
        year = _text(pred[columns.year])
        data.years = group_summary(pred, year, labels)
        data.years_crosstab = crosstab(pred, year, labels)
    if ref is None or not columns.code:
        data.commune_note = ("le fichier de prédictions n'a pas de colonne de code commune INSEE "
                             f"(cherchée parmi : {', '.join(CODE_COLUMNS)})" if not columns.code
                             else "aucun référentiel des communes n'a été chargé")
        if columns.type:
            kinds = classify_beneficiaries(pred[columns.type], pred[columns.name] if columns.name else None,
                                           pd.Series(False, index=pred.index))
            data.types = group_summary(pred, kinds.map(ENTITY_LABELS), labels, list(ENTITY_LABELS.values()))
        if columns.departement:
            dep = normalize_departement(pred[columns.departement])
            data.departements = group_summary(pred, dep, labels)
        return data

    joined = join_communes(pred, columns, ref)
    data.joined = joined
    data.join_summary = join_summary(joined)
    data.unjoined = unjoined_codes(pred, joined, columns, ref)
    data.types = group_summary(pred, joined["entite"].map(ENTITY_LABELS), labels, list(ENTITY_LABELS.values()))
    for key in ("no_code", "invalid", "unknown"):
        n = int((joined["jointure"] == key).sum())
        if n:
            data.left_out.append({"what": f"lignes de communes : {JOIN_LABELS[key]}", "rows": n,
                                  "where": "sections par taille et par âge (listées si un code est donné)"})
    not_commune = joined["entite"] != "commune"
    if not_commune.any():
        data.left_out.append({"what": "lignes d'EPCI, syndicats, départements ou sans type ni code",
                              "rows": int(not_commune.sum()),
                              "where": "sections par taille et par âge (comptées à part par type de bénéficiaire)"})

    dep_label = joined["departement"] + " " + joined["nom_departement"]
    data.departements = group_summary(pred, dep_label.str.strip(), labels)
    data.regions = group_summary(pred, joined["nom_region"], labels, by_count=True)

    counts = commune_counts(joined, ref)
    if counts.empty:
        data.commune_note = "aucun code commune n'a pu être rapproché du référentiel"
    else:
        data.size = analyse_groups(pred, counts, counts["population"], counts["taille"],
                                   joined["taille"], SIZE_LABELS, labels)
        if ref.has_age:
            with_age = counts[counts["pct_75p"].notna()]
            groups, order = age_groups(with_age["pct_75p"])
            row_groups = joined["code_actuel"].map(groups.astype(object)).where(joined["code_actuel"] != "")
            data.age = analyse_groups(pred, with_age, with_age["pct_75p"], groups, row_groups, order,
                                      labels, control=with_age["population"])
        else:
            data.age_note = ("le référentiel des communes utilisé n'a pas de données d'âge (le paquet d'Etalab "
                             "n'en contient pas) : donner un CSV qui en a avec --communes, par exemple "
                             "../shared/data/communes/communes-2026-pop2023.csv")

    if columns.cost or columns.subsidy:
        data.amounts, data.amounts_info = amounts_by_domain(pred, columns, labels)
    return data
