"""The barometer's counts and shares: by domain, by group, per commune, amounts (functions of DataFrames)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pipeline.domains import LabelSet, digital_known
from pipeline.io.cells import as_text
from pipeline.report.communes import CommuneReference, size_band
from pipeline.report.frformat import NBSP, fr_num
from pipeline.report.prepare import Columns, parse_amount

# --- Domains ------------------------------------------------------------------------------

def domain_order(pred: pd.DataFrame, labels: LabelSet) -> list[str]:
    extra = sorted(set(pred["domain"]) - set(labels.codes) - {""})
    return list(labels.codes) + extra


def overview(pred: pd.DataFrame) -> dict:
    n = len(pred)
    with_domain = int((pred["domain"] != "").sum())
    known = int(digital_known(pred["digital"]).sum())
    digital = int((pred["digital"] == "yes").sum())
    review = int(pred["needs_review"].sum())
    return {
        "rows": n, "with_domain": with_domain, "without_domain": n - with_domain,
        "digital": digital, "digital_known": known,
        "digital_share": digital / known if known else math.nan,
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


def rate_table(counts: pd.DataFrame, group: pd.Series, order: list[str], years: int = 1) -> pd.DataFrame:
    """Per group of communes: communes, with an initiative, initiatives, per commune and per 1,000 inhabitants.

    The rates are per year: with several years of files, a commune's initiatives are
    divided by the number of years (`annees`), not pooled.
    """
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
    agg["annees"] = years
    agg["initiatives_par_commune"] = agg["initiatives"] / agg["communes"].replace(0, np.nan) / years
    agg["initiatives_pour_1000_hab"] = 1000 * agg["initiatives"] / agg["population"].replace(0, np.nan) / years
    agg.index.name = "groupe"
    return agg[["communes", "communes_avec_initiative", "part_communes_avec_initiative", "initiatives", "annees",
                "initiatives_par_commune", "population", "initiatives_pour_1000_hab"]]


def domain_gaps(table: pd.DataFrame, min_group: int) -> pd.DataFrame:
    """Per domain of a domain × group crosstab: its highest and lowest share across groups, and the gap.

    Groups with fewer than `min_group` initiatives are left out (unless every group is
    that small); sorted by decreasing gap.
    """
    sizes = table.sum(axis=0)
    keep = sizes[sizes >= min_group].index
    if len(keep) < 2:
        keep = sizes[sizes > 0].index
    shares = column_shares(table[keep]) if len(keep) else table.iloc[:, :0]
    if shares.shape[1] < 2:
        return pd.DataFrame(columns=["groupe_max", "part_max", "groupe_min", "part_min", "ecart"])
    out = pd.DataFrame({"groupe_max": shares.idxmax(axis=1), "part_max": shares.max(axis=1),
                        "groupe_min": shares.idxmin(axis=1), "part_min": shares.min(axis=1)})
    out["ecart"] = out["part_max"] - out["part_min"]
    return out.sort_values("ecart", ascending=False, kind="stable")


def share_within(pred: pd.DataFrame, domain: str, group: pd.Series, within: pd.Series, order: list[str],
                 within_order: list[str], min_group: int) -> pd.DataFrame:
    """The share of one domain by `group` (columns) inside each value of `within` (rows), e.g. by age
    quartile within each size band; cells with fewer than `min_group` initiatives are left empty."""
    keep = (pred["domain"] != "") & group.notna() & within.notna() & (within.astype(str) != "")
    frame = pd.DataFrame({"g": group[keep].astype(str), "w": within[keep].astype(str),
                          "hit": pred.loc[keep, "domain"] == domain})
    grouped = frame.groupby(["w", "g"])["hit"]
    shares = grouped.mean().where(grouped.size() >= min_group).unstack("g")
    return shares.reindex(index=[w for w in within_order if w in shares.index],
                          columns=[o for o in order if o in shares.columns])


def age_groups(pct: pd.Series, q: int = 4) -> tuple[pd.Series, list[str]]:
    """Quartiles (by default) of the share of inhabitants aged 75+, labelled with their bounds."""
    values = pd.to_numeric(pct, errors="coerce")
    known = values.dropna()
    if known.nunique() < q:
        return pd.Series(np.nan, index=pct.index), []
    edges = np.unique(np.quantile(known, np.linspace(0, 1, q + 1)))
    labels = []
    for i in range(len(edges) - 1):
        low, high = fr_num(edges[i], 1), fr_num(edges[i + 1], 1)
        labels.append(f"Q{i + 1} : {low} à {high}{NBSP}%")  # as fr_pct: "%" never alone on a line
    groups = pd.cut(values, bins=edges, labels=labels, include_lowest=True)
    return groups, labels


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
        known = digital_known(part["digital"]).sum()
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
                as_text(has[columns.cost]) != "")).sum()) if columns.cost else 0,
            "subsidy_read": int(subsidy.notna().sum()), "subsidy_unreadable": int((subsidy.isna() & (
                as_text(has[columns.subsidy]) != "")).sum()) if columns.subsidy else 0,
            "cost_total": float(cost.sum()), "subsidy_total": float(subsidy.sum()),
            "rate_overall": float(frame.loc[both, "subvention"].sum() / frame.loc[both, "cout"].sum())
            if both.any() else math.nan}
    return table, info


def departement_rates(joined: pd.DataFrame, ref: CommuneReference, years: int = 1) -> pd.DataFrame:
    """Per département of the reference: initiatives (every beneficiary, by the row's département),
    population, and initiatives per 1,000 inhabitants and per year."""
    population = ref.communes.groupby("departement")["population"].sum()
    counts = joined["departement"].value_counts()
    out = pd.DataFrame({"population": population})
    out["initiatives"] = counts.reindex(out.index, fill_value=0).astype(int)
    out["pour_1000_hab_par_an"] = 1000 * out["initiatives"] / out["population"].replace(0, np.nan) / years
    if "nom" in ref.departements:
        out.insert(0, "nom", ref.departements["nom"].reindex(out.index).fillna(""))
    out.index.name = "departement"
    return out
