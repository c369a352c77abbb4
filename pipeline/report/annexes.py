"""The annexes, after the body: data quality, unjoined commune codes, detailed tables."""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.domains import LabelSet
from pipeline.report import charts
from pipeline.report.analysis import ReportData
from pipeline.report.document import Chart, Section, Table, integer, pct, shown, txt
from pipeline.report.frformat import fr_count, fr_int, fr_noun, fr_num, fr_pct
from pipeline.report.sections import summary_table
from pipeline.report.sections_communes import crosstab_tables


def _join_table(data: ReportData) -> Table:
    j = data.join_summary
    return Table("rapprochement", "Lignes par type de bénéficiaire, et lignes de communes selon leur code", j,
                 shown(j, [("groupe", "Groupe", txt), ("libelle", "Catégorie", txt), ("lignes", "Lignes", integer),
                           ("part", "Part du groupe", pct)]), row_headers=2)


def _confidence_table(data: ReportData) -> Table:
    """The histogram's bars as a table: initiatives per bin of confidence."""
    counts, edges = np.histogram(np.clip(data.confidence.to_numpy(float), 0, 1), bins=charts.CONFIDENCE_BINS)
    bins = pd.DataFrame({"de": edges[:-1], "a": edges[1:], "initiatives": counts})
    return Table("confiance", "Initiatives par tranche de confiance (les barres de l'histogramme)", bins,
                 shown(bins, [("de", "Confiance de", lambda v: fr_num(v, 3)), ("a", "à", lambda v: fr_num(v, 3)),
                              ("initiatives", "Initiatives", integer)]), row_headers=2)


def _rates_table(data: ReportData) -> Table:
    """The map's figures: each département's initiatives per 1,000 inhabitants."""
    r = data.departement_rates
    per = " par an" if data.years_count > 1 else ""
    named = r.assign(nom=(r.index + " " + r["nom"]).str.strip() if "nom" in r else r.index)  # "01 Ain", as elsewhere
    return Table("departements_taux", f"Initiatives pour 1 000 habitants{per}, par département (la carte)",
                 r.reset_index(), shown(named, [
                     ("nom", "Département", txt), ("initiatives", "Initiatives", integer),
                     ("population", "Population", integer),
                     ("pour_1000_hab_par_an", f"Pour 1 000 habitants{per}", lambda v: fr_num(v, 2))]))


def quality_section(data: ReportData, meta: dict) -> Section:
    """How far the figures can be trusted: the model's confidence, the rows joined, the rows left out."""
    ov = data.overview
    threshold = meta.get("review_threshold")
    blocks = [
        f"{fr_pct(ov['needs_review_share'])} des initiatives ({fr_int(ov['needs_review'])}) sont marquées « à revoir »"
        + (f" (confiance sous {fr_num(threshold, 2)})" if threshold is not None else "")
        + " : le modèle y est peu sûr de son choix ou le texte est vide. Les chiffres par domaine sont ceux du "
        "modèle, pas d'une annotation à la main."]
    if data.confidence.empty:
        blocks.append("Le fichier n'a pas de colonne confidence : pas d'histogramme.")
    else:
        blocks.append(f"Médiane de la confiance (probabilité du domaine choisi) : {fr_num(ov['confidence_median'], 2)}.")
        blocks.append(Chart("confiance", "Distribution de la confiance du modèle",
                            charts.confidence_histogram(data.confidence, threshold), data=("confiance",)))
        blocks.append(_confidence_table(data))
    if data.join_summary is not None:
        j = data.joined["jointure"]
        communes = int((data.joined["entite"] == "commune").sum())
        joined = int(j.isin(["current", "former"]).sum())
        blocks.append(f"{fr_count(communes, 'initiative')} {fr_noun(communes, 'portée')} par des communes, "
                      f"dont {fr_int(joined)} "
                      f"({fr_pct(joined / communes if communes else float('nan'))}) rapprochées du référentiel "
                      f"des communes ({fr_int(int((j == 'former').sum()))} par un ancien code de commune "
                      f"fusionnée). Les {fr_int(int((data.joined['entite'] != 'commune').sum()))} initiatives "
                      f"d'EPCI, syndicats et départements sont comptées à part.")
        blocks.append(_join_table(data))
    left = [f"{fr_int(x['rows'])} {x['what']} — hors {x['where']}" for x in data.left_out]
    blocks.append("Ce qui a été laissé de côté, et pourquoi :")
    blocks.append(left or ["rien"])
    return Section("Qualité des données", blocks, annex=True)


def detail_section(data: ReportData, labels: LabelSet) -> Section | None:
    blocks = []
    if data.years is not None:
        blocks.append(summary_table("annees", "Initiatives par année", data.years, "Année"))
    if data.types is not None:
        blocks.append(summary_table("beneficiaires", "Initiatives par type de bénéficiaire", data.types,
                                    "Bénéficiaire"))
    blocks += crosstab_tables(data, labels)
    if data.departements is not None:
        blocks.append(summary_table("departements", "Initiatives par département", data.departements,
                                    "Département"))
    if data.departement_rates is not None:
        blocks.append(_rates_table(data))
    return Section("Tableaux détaillés", blocks, annex=True) if blocks else None


def unjoined_section(data: ReportData) -> Section | None:
    if data.unjoined is None:
        return None
    u = data.unjoined
    if u.empty:
        return Section("Codes commune non rapprochés", ["Tous les codes commune ont été rapprochés du référentiel."],
                       annex=True)
    hinted = int((u["indice"] != "").sum())
    return Section("Codes commune non rapprochés", [
        # Said without agreement: a single code is as likely as many.
        f"Codes distincts qui ne correspondent à aucune commune, même par les anciens codes des communes "
        f"fusionnées : {fr_int(len(u))} ({fr_count(u['lignes'].sum(), 'ligne')}), exclus des sections par taille "
        f"et âge." + (f" Codes postaux parmi eux, pas des codes INSEE : {fr_int(hinted)}." if hinted else ""),
        Table("codes_non_rapproches", "Codes commune non rapprochés", u, shown(u, [
            ("code", "Code", txt), ("lignes", "Lignes", integer), ("motif", "Motif", txt),
            ("exemple_nom", "Bénéficiaire (exemple)", txt), ("departement_saisi", "Département", txt),
            ("indice", "Indice", txt)])),
    ], annex=True)
