"""Joining the predictions to the commune reference: which rows are communes', how their codes matched."""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.io.cells import as_text
from pipeline.report.communes import CommuneReference, lookup, size_band
from pipeline.report.frformat import plain as _plain
from pipeline.report.prepare import (
    ENTITY_LABELS,
    Columns,
    classify_beneficiaries,
    normalize_commune_code,
    normalize_departement,
)

JOIN_LABELS = {
    "current": "code d'une commune actuelle",
    "former": "ancien code (commune fusionnée) ou arrondissement, rattaché à la commune actuelle",
    "no_code": "commune sans code INSEE",
    "invalid": "code mal formé",
    "unknown": "code absent du référentiel",
    "not_commune": "bénéficiaire qui n'est pas une commune",
}


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
        other = (kind == "commune") & (current != "") & ~ref.is_named(current, as_text(frame[columns.name]))
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
    names = as_text(frame.loc[bad.index, columns.name]) if columns.name else pd.Series("", index=bad.index)
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
