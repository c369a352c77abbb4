"""The whole barometer's data: every table and statistic, from a prepared predictions frame.

Input is a predictions frame (every input column, then domain, confidence, digital,
needs_review, model_run_id...) and, for the commune sections, a CommuneReference.
`build_report` runs the steps of prepare, join, aggregates and statistics and returns
plain tables and numbers; the render side turns them into a document, the
commands/report.py shell reads and writes the files.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from pipeline.domains import LabelSet
from pipeline.io.cells import as_text
from pipeline.report.aggregates import (
    age_groups,
    amounts_by_domain,
    column_shares,
    commune_counts,
    crosstab,
    departement_rates,
    domain_gaps,
    domain_table,
    group_summary,
    overview,
    rate_table,
    share_within,
    top_domains,
)
from pipeline.report.communes import SIZE_LABELS, CommuneReference
from pipeline.report.join import JOIN_LABELS, join_communes, join_summary, unjoined_codes
from pipeline.report.prepare import (
    CODE_COLUMNS,
    ENTITY_LABELS,
    Columns,
    classify_beneficiaries,
    normalize_departement,
)
from pipeline.report.statistics import independence, partial_spearman, spearman
from pipeline.report.trends import digital_by, year_changes, year_order
from pipeline.report.verdicts import MIN_GROUP


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
    gaps: pd.DataFrame | None = None     # per domain: highest and lowest share across groups (domain_gaps)
    within: pd.DataFrame | None = None   # the most varying domain's share by group within each size band (age)


def analyse_groups(pred: pd.DataFrame, counts: pd.DataFrame, measure: pd.Series, commune_group: pd.Series,
                   row_group: pd.Series, order: list[str], labels: LabelSet,
                   control: pd.Series | None = None, years: int = 1) -> GroupAnalysis:
    """Initiatives against a measure of communes (population, share aged 75+), and domains by its groups.

    counts: one row per commune (initiatives, population); measure and commune_group
    are aligned on it; row_group gives each predictions row its commune's group.
    """
    table = crosstab(pred, row_group, labels, order)
    return GroupAnalysis(
        rates=rate_table(counts, commune_group, order, years),
        correlation=spearman(counts["initiatives"], measure),
        crosstab=table, test=independence(table), top=top_domains(table),
        partial=partial_spearman(counts["initiatives"], measure, control) if control is not None else None,
        communes=int(measure.notna().sum()),
        smallest=float(counts.loc[measure.notna(), "population"].min()) if measure.notna().any() else math.nan,
        gaps=domain_gaps(table, MIN_GROUP),
    )


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
    years_count: int = 1                          # distinct years of the year column (1 without one)
    undated: int = 0                              # rows without a year when others have one
    year_list: list[str] = field(default_factory=list)
    year_changes: pd.DataFrame | None = None      # each domain's share by year and its change (trends)
    digital_by_year: pd.DataFrame | None = None
    digital_by_size: pd.DataFrame | None = None
    digital_by_age: pd.DataFrame | None = None
    scheme_by_size: pd.DataFrame | None = None    # funding scheme (DETR...) × size band, shares per band
    departement_rates: pd.DataFrame | None = None # initiatives per 1,000 inhabitants per year, for the map
    # Shares corrected for the model's errors (pipeline/quantify), by group: group_by ("taille", "annee"),
    # group, domain, share, share_adjusted, ci_low, ci_high (NaN where not computed); see attach_adjusted.
    adjusted_groups: pd.DataFrame | None = None


def attach_adjusted(data: ReportData, domains: pd.DataFrame, groups: pd.DataFrame | None) -> None:
    """Put the adjusted shares beside the counted ones, for the domain charts' error bars and tables:
    data.domains gains part_ajustee (its French name, as published in domaines.csv and read by the
    chart), ci_low, ci_high; data.adjusted_groups the groups' (digital flag left out).

    domains, groups: pipeline/quantify's tables (columns domain, share_adjusted, ci_low, ci_high, fractions).
    """
    adj = domains.set_index("domain").reindex(data.domains.index)
    data.domains["part_ajustee"] = adj["share_adjusted"].astype(float)
    data.domains["ci_low"] = adj["ci_low"].astype(float)
    data.domains["ci_high"] = adj["ci_high"].astype(float)
    if groups is not None and len(groups):
        data.adjusted_groups = groups[groups["domain"] != "numerique"].reset_index(drop=True)


def build_report(pred: pd.DataFrame, labels: LabelSet, ref: CommuneReference | None,
                 columns: Columns) -> ReportData:
    """Every table and statistic of the barometer from a prepared predictions frame."""
    ov = overview(pred)
    domains = domain_table(pred, labels)
    data = ReportData(overview=ov, columns=columns, domains=domains,
                      confidence=pred.loc[pred["domain"] != "", "confidence"].dropna())
    if ov["without_domain"]:
        data.left_out.append({"what": "lignes sans texte (aucun domaine prédit)", "rows": ov["without_domain"],
                              "where": "parts par domaine, croisements, montants (comptées dans « à revoir »)"})

    dated = pd.Series(True, index=pred.index)  # the rows the annual rates count
    if columns.year:
        year = as_text(pred[columns.year])
        data.year_list = year_order(set(year))
        data.years_count = max(len(data.year_list), 1)
        data.years = group_summary(pred, year, labels, order=data.year_list)
        data.years_crosstab = crosstab(pred, year, labels, order=data.year_list)
        data.digital_by_year = digital_by(pred, year, data.year_list)
        if len(data.year_list) > 1:
            data.year_changes = year_changes(data.years_crosstab, labels)
        if data.year_list and (year == "").any():
            # Rates are initiatives divided by the years given: a row of no year would swell them.
            dated = year != ""
            data.undated = int((~dated).sum())
            data.left_out.append({"what": "lignes sans année", "rows": data.undated,
                                  "where": "chiffres par année, taux annuels par commune et par département"})
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

    data.departement_rates = departement_rates(joined[dated], ref, data.years_count)
    counts = commune_counts(joined[dated], ref)
    if counts.empty:
        data.commune_note = "aucun code commune n'a pu être rapproché du référentiel"
    else:
        data.size = analyse_groups(pred, counts, counts["population"], counts["taille"],
                                   joined["taille"], SIZE_LABELS, labels, years=data.years_count)
        data.digital_by_size = digital_by(pred, joined["taille"].astype(object), SIZE_LABELS)
        if columns.scheme:
            scheme = as_text(pred[columns.scheme]).str.upper()
            data.scheme_by_size = column_shares(pd.crosstab(scheme.where(scheme != "", "(non renseigné)"),
                                                            joined["taille"]).reindex(columns=SIZE_LABELS))
        if ref.has_age:
            with_age = counts[counts["pct_75p"].notna()]
            groups, order = age_groups(with_age["pct_75p"])
            row_groups = joined["code_actuel"].map(groups.astype(object)).where(joined["code_actuel"] != "")
            data.age = analyse_groups(pred, with_age, with_age["pct_75p"], groups, row_groups, order,
                                      labels, control=with_age["population"], years=data.years_count)
            data.digital_by_age = digital_by(pred, row_groups, order)
            if data.age.gaps is not None and len(data.age.gaps):
                data.age.within = share_within(pred, data.age.gaps.index[0], row_groups, joined["taille"], order,
                                               SIZE_LABELS, MIN_GROUP)
        else:
            # Read by the report's readers: no command line here (the report's log says how to add them).
            data.age_note = ("le référentiel des communes utilisé n'a pas de données d'âge (le paquet d'Etalab "
                             "n'en contient pas)")

    if columns.cost or columns.subsidy:
        data.amounts, data.amounts_info = amounts_by_domain(pred, columns, labels)
    return data
