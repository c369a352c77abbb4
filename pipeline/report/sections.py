"""The barometer's sections on the data: domains, confidence, size, age, breakdowns, amounts, unjoined codes."""
from __future__ import annotations

import pandas as pd

from pipeline.domains import LabelSet
from pipeline.report import charts
from pipeline.report.aggregates import column_shares
from pipeline.report.analysis import GroupAnalysis, ReportData
from pipeline.report.communes import SIZE_LABELS
from pipeline.report.document import Chart, Section, Table, integer, num2, pct, shown, txt
from pipeline.report.frformat import fr_euros, fr_int, fr_num, fr_pct


def domain_labels(index, labels: LabelSet) -> list[str]:
    return [labels.label(c) for c in index]


def domains_section(data: ReportData, labels: LabelSet) -> Section:
    d = data.domains
    table = Table("domaines", "Initiatives par domaine, dont numériques, et part à revoir", d.reset_index(),
                  shown(d, [("libelle", "Domaine", txt), ("initiatives", "Initiatives", integer),
                            ("part", "Part", pct), ("numeriques", "Numériques", integer),
                            ("part_numeriques", "Part parmi les numériques", pct),
                            ("part_a_revoir", "Part à revoir", pct)], index="domaine"))
    names = domain_labels(d.index, labels)
    blocks = [
        "Chaque initiative reçoit un domaine, celui du service public qu'elle sert, quel que soit le moyen ; "
        "le drapeau « numérique » dit si elle passe par un outil ou un service numérique.",
        Chart("domaines", "Part des initiatives par domaine",
              charts.domain_bars(names, d["initiatives"], "Part des initiatives par domaine — toutes les initiatives")),
    ]
    if d["numeriques"].sum():
        blocks.append(Chart("domaines_numeriques", "Part des initiatives numériques par domaine",
                            charts.domain_bars(names, d["numeriques"], "Part des initiatives par domaine — "
                                               "initiatives numériques seulement", color=charts.ORANGE)))
    else:
        blocks.append("Aucune initiative n'est marquée numérique (colonne digital absente ou vide).")
    blocks.append(table)
    return Section("Domaines", blocks)


def confidence_section(data: ReportData, meta: dict) -> Section:
    ov = data.overview
    threshold = meta.get("review_threshold")
    if data.confidence.empty:
        return Section("Confiance du modèle", ["Le fichier n'a pas de colonne confidence : pas d'histogramme."])
    return Section("Confiance du modèle", [
        f"Médiane de la confiance (probabilité du domaine choisi) : {fr_num(ov['confidence_median'], 2)}. "
        f"{fr_pct(ov['needs_review_share'])} des initiatives sont à revoir"
        + (f" (seuil de confiance : {fr_num(threshold, 2)})." if threshold is not None else "."),
        Chart("confiance", "Distribution de la confiance", charts.confidence_histogram(data.confidence, threshold)),
    ])


def _join_table(data: ReportData) -> Table:
    j = data.join_summary
    return Table("rapprochement", "Lignes par type de bénéficiaire, et lignes de communes selon leur code", j,
                 shown(j, [("groupe", "Groupe", txt), ("libelle", "Catégorie", txt), ("lignes", "Lignes", integer),
                           ("part", "Part du groupe", pct)]))


def _rates_table(name: str, caption: str, rates: pd.DataFrame, group_header: str) -> Table:
    return Table(name, caption, rates.reset_index(), shown(rates, [
        ("groupe", group_header, txt), ("communes", "Communes", integer),
        ("part_communes_avec_initiative", "Part avec au moins une initiative", pct),
        ("initiatives", "Initiatives", integer), ("initiatives_par_commune", "Par commune", num2),
        ("population", "Population", integer), ("initiatives_pour_1000_hab", "Pour 1 000 habitants", num2)],
        index="groupe"))


def _crosstab_tables(name: str, caption: str, g: GroupAnalysis, labels: LabelSet) -> Table:
    shares = column_shares(g.crosstab)
    data = g.crosstab.copy()
    data.insert(0, "libelle", domain_labels(data.index, labels))
    out = shares.map(fr_pct)
    out.insert(0, "Domaine", domain_labels(shares.index, labels))
    return Table(name, caption, data.reset_index(), out.reset_index(drop=True))


def _group_blocks(prefix: str, g: GroupAnalysis, found_count: dict, found_domains: dict, labels: LabelSet,
                  what: str, group_header: str, axis_label: str) -> list:
    """What both groupings show: the count finding, its chart and table; the domain finding, heatmap, table."""
    return [
        f"**{found_count['claim']}.** {found_count['text']}",
        Chart(f"{prefix}_taux", f"Initiatives par commune et pour 1 000 habitants, par {what}",
              charts.rate_bars(g.rates, f"Initiatives par {what}", axis_label)),
        _rates_table(prefix, f"Initiatives par {what}", g.rates, group_header),
        f"**{found_domains['claim']}.** {found_domains['text']}",
        Chart(f"{prefix}_domaines", f"Part de chaque domaine par {what}",
              charts.heatmap(column_shares(g.crosstab), domain_labels(g.crosstab.index, labels),
                             f"Part de chaque domaine dans les initiatives, par {what} (%)", axis_label)),
        _crosstab_tables(f"{prefix}_domaines", f"Part de chaque domaine par {what} (le CSV donne les effectifs)",
                         g, labels),
    ]


def size_section(data: ReportData, labels: LabelSet, found: dict[str, dict]) -> Section:
    title = "Par taille de commune"
    if data.join_summary is None:
        return Section(title, [f"Section non calculée : {data.commune_note}."])
    g = data.size
    if g is None:
        return Section(title, [_join_table(data), f"Section non calculée : {data.commune_note}."])
    return Section(title, [
        _join_table(data),
        f"Tranches de population municipale ({', '.join(SIZE_LABELS)} habitants). Les communes comptées sont "
        f"celles du référentiel dans les départements où le fichier a au moins une commune "
        f"({fr_int(g.communes)} communes), y compris celles sans aucune initiative ; les EPCI et syndicats "
        f"n'y entrent pas.",
        *_group_blocks("taille", g, found["size_count"], found["size_domains"], labels,
                       "tranche de taille de commune", "Tranche (habitants)", "Tranche de taille (habitants)"),
    ])


def age_section(data: ReportData, labels: LabelSet, found: dict[str, dict]) -> Section | None:
    if data.size is None:
        return None
    title = "Par âge de la population"
    g = data.age
    if g is None:
        return Section(title, [f"Section non calculée : {data.age_note}."])
    return Section(title, [
        f"Part des habitants de 75 ans et plus au recensement, connue dans le référentiel pour "
        f"{fr_int(g.communes)} communes (la plus petite a {fr_int(g.smallest)} habitants), réparties en quartiles. "
        f"Comme la part des 75 ans et plus varie avec la taille, la corrélation partielle tient la population "
        f"constante.",
        *_group_blocks("age", g, found["age_count"], found["age_domains"], labels,
                       "quartile de la part des 75 ans et plus", "Quartile (part des 75 ans et plus)",
                       "Part des habitants de 75 ans et plus (quartile)"),
    ])


def _summary_table(name: str, caption: str, table: pd.DataFrame, header: str) -> Table:
    return Table(name, caption, table.reset_index(), shown(table, [
        ("groupe", header, txt), ("initiatives", "Initiatives", integer), ("part", "Part", pct),
        ("part_numeriques", "Part numériques", pct), ("part_a_revoir", "Part à revoir", pct),
        ("domaine_principal", "Domaine principal", txt), ("part_domaine_principal", "Sa part", pct)],
        index="groupe"))


def breakdowns_section(data: ReportData, labels: LabelSet) -> Section:
    blocks = []
    if data.years is not None:
        blocks.append(f"Par année (colonne {data.columns.year}).")
        blocks.append(_summary_table("annees", "Initiatives par année", data.years, "Année"))
        if data.years_crosstab is not None and data.years_crosstab.shape[1] > 1:
            ct = data.years_crosstab
            blocks.append(Chart("annees_domaines", "Part de chaque domaine par année", charts.heatmap(
                column_shares(ct), domain_labels(ct.index, labels),
                "Part de chaque domaine dans les initiatives de l'année (%)", "Année")))
    if data.types is not None:
        blocks.append(_summary_table("beneficiaires", "Initiatives par type de bénéficiaire", data.types,
                                     "Bénéficiaire"))
    if data.regions is not None:
        regions = data.regions.drop(index="(non renseigné)", errors="ignore")
        blocks.append(Chart("regions", "Initiatives par région", charts.group_bars(
            regions["initiatives"], "Initiatives par région", "Région")))
        blocks.append(_summary_table("regions", "Initiatives par région", data.regions, "Région"))
    if data.departements is not None:
        blocks.append(_summary_table("departements", "Initiatives par département", data.departements,
                                     "Département"))
    if not blocks:
        blocks.append("Le fichier n'a ni année, ni type de bénéficiaire, ni département.")
    return Section("Par année, bénéficiaire et territoire", blocks)


def amounts_section(data: ReportData, labels: LabelSet) -> Section | None:
    if data.amounts is None:
        return None
    a, info = data.amounts, data.amounts_info
    cols = data.columns
    blocks = [
        f"Montants lus dans {', '.join(c for c in (cols.cost, cols.subsidy) if c)} (formats français : "
        f"« 21 667,00 € », virgule décimale). Coût lu pour {fr_int(info['cost_read'])} initiatives, subvention "
        f"pour {fr_int(info['subsidy_read'])} ; illisibles : {fr_int(info['cost_unreadable'])} coûts, "
        f"{fr_int(info['subsidy_unreadable'])} subventions. Total : {fr_euros(info['cost_total'], True)} de "
        f"coût, {fr_euros(info['subsidy_total'], True)} de subventions (taux moyen {fr_pct(info['rate_overall'])}).",
    ]
    if cols.subsidy and a["subvention_totale"].notna().any():
        blocks.append(Chart("montants", "Subventions par domaine", charts.amount_bars(
            list(a["libelle"]), a["subvention_totale"], "Subventions accordées par domaine")))
    blocks.append(Table("montants", "Coûts et subventions par domaine (euros)", a.reset_index(), shown(a, [
        ("libelle", "Domaine", txt), ("montants_lus", "Montants lus", integer),
        ("cout_total", "Coût total", lambda v: fr_euros(v, True)), ("cout_median", "Coût médian", fr_euros),
        ("subvention_totale", "Subventions", lambda v: fr_euros(v, True)),
        ("subvention_mediane", "Subvention médiane", fr_euros), ("taux_subvention", "Taux", pct)],
        index="domaine")))
    return Section("Montants", blocks)


def unjoined_section(data: ReportData) -> Section | None:
    if data.unjoined is None:
        return None
    u = data.unjoined
    if u.empty:
        return Section("Codes commune non rapprochés", ["Tous les codes commune ont été rapprochés du référentiel."])
    hinted = int((u["indice"] != "").sum())
    return Section("Codes commune non rapprochés", [
        f"{fr_int(len(u))} codes distincts ({fr_int(u['lignes'].sum())} lignes) ne correspondent à aucune commune, "
        f"même par les anciens codes des communes fusionnées ; ils sont exclus des sections par taille et âge. "
        + (f"{fr_int(hinted)} d'entre eux sont des codes postaux, pas des codes INSEE." if hinted else ""),
        Table("codes_non_rapproches", "Codes commune non rapprochés", u, shown(u, [
            ("code", "Code", txt), ("lignes", "Lignes", integer), ("motif", "Motif", txt),
            ("exemple_nom", "Bénéficiaire (exemple)", txt), ("departement_saisi", "Département", txt),
            ("indice", "Indice", txt)])),
    ])
