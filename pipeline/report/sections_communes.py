"""The sections on communes: by size band and by age of the population (findings, charts, tables)."""
from __future__ import annotations

import pandas as pd

from pipeline.domains import LabelSet
from pipeline.report import charts
from pipeline.report.aggregates import column_shares
from pipeline.report.analysis import GroupAnalysis, ReportData
from pipeline.report.communes import SIZE_LABELS
from pipeline.report.document import Chart, Finding, Section, Table, integer, pct, shown, txt
from pipeline.report.frformat import fr_int, fr_pct, fr_rate


def domain_labels(index, labels: LabelSet) -> list[str]:
    return [labels.label(c) for c in index]


def adjusted_groups_chart(data: ReportData, labels: LabelSet, group_by: str, order: list[str], name: str,
                          what: str, axis_label: str) -> Chart | None:
    """Each domain's adjusted share by group (size band, year) with its 95 % interval, when the report
    computed them (pipeline/quantify: groups of 100 initiatives or more; "n.c." elsewhere)."""
    g = data.adjusted_groups
    if g is None or not (g["group_by"] == group_by).any():
        return None
    g = g[g["group_by"] == group_by]
    groups = [x for x in order if x in set(g["group"])] + sorted(set(g["group"]) - set(order))
    domains = [(c, labels.label(c)) for c in data.domains.index if c in set(g["domain"])]
    return Chart(name, f"Part ajustée de chaque domaine par {what}, intervalle de confiance à 95 %",
                 charts.group_intervals(g, domains, groups, f"Part ajustée de chaque domaine par {what}", axis_label),
                 data=("domain_shares_groups",))


def rates_table(name: str, caption: str, rates: pd.DataFrame, group_header: str) -> Table:
    per = " et par an" if len(rates) and rates["annees"].iloc[0] > 1 else ""
    return Table(name, caption, rates.reset_index(), shown(rates, [
        ("groupe", group_header, txt), ("communes", "Communes", integer),
        ("part_communes_avec_initiative", "Part avec au moins une initiative", pct),
        ("initiatives", "Initiatives", integer), ("initiatives_par_commune", f"Par commune{per}", fr_rate),
        ("population", "Population", integer),
        ("initiatives_pour_1000_hab", f"Pour 1 000 habitants{' par an' if per else ''}", fr_rate)],
        index="groupe"))


def crosstab_table(name: str, caption: str, g: GroupAnalysis, labels: LabelSet) -> Table:
    shares = column_shares(g.crosstab)
    data = g.crosstab.copy()
    data.insert(0, "libelle", domain_labels(data.index, labels))
    out = shares.map(fr_pct)
    out.insert(0, "Domaine", domain_labels(shares.index, labels))
    return Table(name, caption, data.reset_index(), out.reset_index(drop=True))


def _group_blocks(prefix: str, g: GroupAnalysis, found_count: dict, found_domains: dict, labels: LabelSet,
                  what: str, group_header: str, axis_label: str, adjusted: Chart | None = None) -> list:
    """What both groupings show: the count finding, its chart and table; the domain finding and its heatmap.
    The full domain × group table goes to the annexes (detail_tables)."""
    per = " par an" if len(g.rates) and g.rates["annees"].iloc[0] > 1 else ""
    return [
        Finding(found_count),
        Chart(f"{prefix}_taux", f"Initiatives par commune et pour 1 000 habitants{per}, par {what}",
              charts.rate_bars(g.rates, f"Initiatives{per} par {what}", axis_label), data=(prefix,)),
        rates_table(prefix, f"Initiatives par {what}", g.rates, group_header),
        Finding(found_domains),
        Chart(f"{prefix}_domaines", f"Part de chaque domaine par {what}",
              charts.heatmap(column_shares(g.crosstab), domain_labels(g.crosstab.index, labels),
                             f"Part de chaque domaine dans les initiatives, par {what} (%)", axis_label),
              data=(f"{prefix}_domaines",)),
        *[c for c in [adjusted] if c is not None],
    ]


def _scheme_blocks(data: ReportData) -> list:
    """The funding scheme by size band: DETR goes to rural communes by design, a confounder of size."""
    s = data.scheme_by_size
    if s is None or "DETR" not in s.index:
        return []
    detr = s.loc["DETR"].dropna()
    if len(detr) < 2:
        return []
    frame = s.copy()
    frame.index.name = "dispositif"
    return [
        f"Un facteur de confusion : la DETR (dotation d'équipement des territoires ruraux) finance par construction "
        f"les communes rurales à faible potentiel fiscal. Elle porte {fr_pct(detr.iloc[0])} des initiatives des "
        f"communes « {detr.index[0]} » et {fr_pct(detr.iloc[-1])} de celles « {detr.index[-1]} » : les écarts "
        f"par taille mêlent la taille de la commune et le dispositif qui la finance.",
        Table("taille_dispositifs", "Part de chaque dispositif dans les initiatives, par tranche de taille",
              frame.reset_index(), pd.concat([frame.index.to_frame(name="Dispositif").reset_index(drop=True),
                                              frame.map(fr_pct).reset_index(drop=True)], axis=1)),
    ]


def size_section(data: ReportData, labels: LabelSet, found: dict[str, dict]) -> Section:
    title = "Par taille de commune"
    g = data.size
    if g is None:
        return Section(title, [f"Section non calculée : {data.commune_note}."])
    years = (f" Les taux sont annuels : les initiatives des {data.years_count} années sont divisées par "
             f"{data.years_count}." if data.years_count > 1 else "")
    return Section(title, [
        f"Tranches de population municipale ({', '.join(SIZE_LABELS)} habitants). Les communes comptées sont "
        f"celles du référentiel dans les départements où le fichier a au moins une commune "
        f"({fr_int(g.communes)} communes), y compris celles sans aucune initiative ; les EPCI et syndicats "
        f"n'y entrent pas.{years}",
        *_group_blocks("taille", g, found["size_count"], found["size_domains"], labels,
                       "tranche de taille de commune", "Tranche (habitants)", "Tranche de taille (habitants)",
                       adjusted_groups_chart(data, labels, "taille", [str(c) for c in g.crosstab.columns],
                                             "taille_domaines_ajustees", "tranche de taille de commune",
                                             "Tranche de taille (habitants)")),
        *_scheme_blocks(data),
    ])


def age_section(data: ReportData, labels: LabelSet, found: dict[str, dict]) -> Section | None:
    if data.size is None:
        return None
    title = "Par âge de la population"
    g = data.age
    if g is None:
        return Section(title, [f"Section non calculée : {data.age_note}."])
    blocks = [
        f"Part des habitants de 75 ans et plus au recensement, connue dans le référentiel pour "
        f"{fr_int(g.communes)} communes (la plus petite a {fr_int(g.smallest)} habitants), réparties en quartiles. "
        f"Comme la part des 75 ans et plus varie avec la taille, la corrélation partielle tient la population "
        f"constante, et le domaine qui varie le plus est regardé tranche de taille par tranche de taille.",
        *_group_blocks("age", g, found["age_count"], found["age_domains"], labels,
                       "quartile de la part des 75 ans et plus", "Quartile (part des 75 ans et plus)",
                       "Part des habitants de 75 ans et plus (quartile)"),
    ]
    if g.within is not None and g.within.shape[1] > 1 and g.within.notna().any().any():
        domain = labels.label(g.gaps.index[0])
        w = g.within.copy()
        w.index.name = "tranche"
        blocks.append(Table("age_domaine_par_taille", f"Part de « {domain} » par quartile d'âge, dans chaque "
                            f"tranche de taille (vide : moins de 30 initiatives)", w.reset_index(),
                            pd.concat([w.index.to_frame(name="Tranche (habitants)").reset_index(drop=True),
                                       w.map(fr_pct).reset_index(drop=True)], axis=1)))
    return Section(title, blocks)


def crosstab_tables(data: ReportData, labels: LabelSet) -> list[Table]:
    """The full domain × group tables, for the annexes."""
    out = []
    if data.size is not None:
        out.append(crosstab_table("taille_domaines", "Part de chaque domaine par tranche de taille de commune "
                                  "(le CSV donne les effectifs)", data.size, labels))
    if data.age is not None:
        out.append(crosstab_table("age_domaines", "Part de chaque domaine par quartile de la part des 75 ans et "
                                  "plus (le CSV donne les effectifs)", data.age, labels))
    return out
