"""The barometer as a document: sections of sentences, tables and charts, rendered to HTML and Markdown.

No file I/O: `compose` turns ReportData and the run's metadata into a Document;
`to_html` and `to_markdown` render it. The HTML page is self-contained (charts as
base64 PNG, inline CSS, no script, no outside resource).
"""
from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from pipeline.report import charts
from pipeline.report.communes import SIZE_LABELS
from pipeline.domains import LabelSet
from pipeline.report.frformat import fr_euros, fr_int, fr_num, fr_p, fr_pct
from pipeline.report.aggregates import column_shares
from pipeline.report.analysis import GroupAnalysis, ReportData
from pipeline.report.statistics import SIGNIFICANCE, cramers_v_strength

MAX_ROWS = 30  # rows of a long table shown in the page; the CSV has them all


@dataclass
class Chart:
    name: str
    title: str
    png: bytes


@dataclass
class Table:
    name: str               # CSV file name without .csv
    caption: str
    data: pd.DataFrame      # what the CSV holds (raw numbers)
    shown: pd.DataFrame     # the same, formatted in French, with French headers

    @property
    def csv_name(self) -> str:
        return f"tables/{self.name}.csv"


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)  # str (paragraph), list[str] (bullets), Table, Chart
    anchor: str = ""


@dataclass
class Document:
    title: str
    subtitle: str
    sections: list[Section]
    findings: dict[str, dict]
    summary: dict

    @property
    def tables(self) -> list[Table]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]

    @property
    def charts(self) -> list[Chart]:
        return [b for s in self.sections for b in s.blocks if isinstance(b, Chart)]


# --- Tables formatted for reading -------------------------------------------------------------

def shown(frame: pd.DataFrame, spec: list[tuple[str, str, Callable]], index: str | None = None) -> pd.DataFrame:
    """A copy of `frame` with the columns of `spec` (column, French header, formatter)."""
    data = frame.reset_index() if index else frame
    out = pd.DataFrame({header: [fmt(v) for v in data[col]] for col, header, fmt in spec})
    return out


def _s(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _pct(v):
    return fr_pct(v)


def _int(v):
    return fr_int(v)


def _num2(v):
    return fr_num(v, 2)


# --- Sentences -------------------------------------------------------------------------------------

def _verdict_correlation(c: dict) -> str:
    if math.isnan(c["rho"]) or c["p"] >= SIGNIFICANCE:
        return "Non établi"
    return "Vérifié" if c["rho"] > 0 else "Contredit"


def _verdict_independence(t: dict, same_top: bool) -> str:
    """Vérifié: no difference that counts (not significant, or V < 0.1) and the same domain first everywhere;
    Contredit: V of 0.2 or more; Nuancé: in between."""
    if math.isnan(t["cramers_v"]):
        return "Non testé"
    if t["cramers_v"] >= 0.2 and t["p"] < SIGNIFICANCE:
        return "Contredit"
    if (t["p"] >= SIGNIFICANCE or t["cramers_v"] < 0.1) and same_top:
        return "Vérifié"
    return "Nuancé"


def _ends(rates: pd.DataFrame) -> tuple[str, str]:
    filled = rates[rates["communes"] > 0]
    return (str(filled.index[0]), str(filled.index[-1])) if len(filled) else ("", "")


def _biggest_gap(g: GroupAnalysis, labels: LabelSet) -> tuple[str, float, float, str, str] | None:
    table = g.crosstab.loc[:, g.crosstab.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return None
    shares = table / table.sum(axis=0)
    first, last = shares.columns[0], shares.columns[-1]
    gap = (shares[last] - shares[first]).abs()
    domain = gap.idxmax()
    return labels.label(domain), float(shares.at[domain, first]), float(shares.at[domain, last]), str(first), str(last)


def correlation_sentence(g: GroupAnalysis, claim: str, measure: str, group_word: str) -> dict:
    """"The larger/older …, the more initiatives", tested: Spearman, and the rates at both ends."""
    c = g.correlation
    verdict = _verdict_correlation(c)
    direction = "croît" if c["rho"] > 0 else "décroît"
    text = (f"{verdict} : sur {fr_int(c['n'])} communes, le nombre d'initiatives d'une commune {direction} avec "
            f"{measure} (ρ de Spearman = {fr_num(c['rho'], 3)}, {fr_p(c['p'])}).")
    first, last = _ends(g.rates)
    figures = {"rho": c["rho"], "p": c["p"], "n": c["n"]}
    if first and last and first != last:
        a, b = g.rates.loc[first], g.rates.loc[last]
        text += (f" Les communes {group_word} « {first} » en portent {fr_num(a['initiatives_par_commune'], 2)} "
                 f"en moyenne, celles {group_word} « {last} » {fr_num(b['initiatives_par_commune'], 2)}.")
        per_commune_up = b["initiatives_par_commune"] > a["initiatives_par_commune"]
        per_capita_up = b["initiatives_pour_1000_hab"] > a["initiatives_pour_1000_hab"]
        trend = "la tendance s'inverse" if per_commune_up != per_capita_up else "le sens est le même"
        text += (f" Rapporté à la population, {trend} : "
                 f"{fr_num(a['initiatives_pour_1000_hab'], 2)} initiatives pour 1 000 habitants contre "
                 f"{fr_num(b['initiatives_pour_1000_hab'], 2)}.")
        figures.update({"first_group": first, "last_group": last,
                        "per_commune": [float(a["initiatives_par_commune"]), float(b["initiatives_par_commune"])],
                        "per_1000": [float(a["initiatives_pour_1000_hab"]), float(b["initiatives_pour_1000_hab"])]})
    if g.partial is not None and not math.isnan(g.partial["rho"]):
        text += (f" À population égale (corrélation partielle de Spearman), ρ = {fr_num(g.partial['rho'], 3)} "
                 f"({fr_p(g.partial['p'])}).")
        figures.update({"partial_rho": g.partial["rho"], "partial_p": g.partial["p"]})
    return {"claim": claim, "verdict": verdict, "text": text, "figures": figures}


def independence_sentence(g: GroupAnalysis, claim: str, groups_word: str, group_word: str,
                          labels: LabelSet) -> dict:
    """"… does not change which domains come first", tested: chi-square, Cramér's V, the top domain per group."""
    t = g.test
    overall = g.crosstab.sum(axis=1).idxmax()
    top = g.top[g.top["rang_1"] != ""]
    same = int((top["rang_1"] == overall).sum())
    verdict = _verdict_independence(t, same == len(top))
    if verdict == "Non testé":
        return {"claim": claim, "verdict": verdict, "text": "Non testé : trop peu de groupes ou de domaines.",
                "figures": t}
    text = (f"{verdict} : « {labels.label(overall)} », premier domaine dans l'ensemble, arrive en tête dans "
            f"{same} {groups_word} sur {len(top)}")
    others = top[top["rang_1"] != overall].groupby("rang_1", sort=False)["groupe"].apply(list)
    if len(others):
        text += " ; ailleurs : " + ", ".join(
            f"« {labels.label(d)} » ({', '.join(map(str, gs))})" for d, gs in others.items())
    text += (f". Le test du khi-deux d'indépendance entre domaine et {group_word} donne χ² = {fr_num(t['chi2'], 1)} "
             f"({t['dof']} degrés de liberté, {fr_p(t['p'])}, n = {fr_int(t['n'])} initiatives) et un V de Cramér "
             f"de {fr_num(t['cramers_v'], 3)} : association {cramers_v_strength(t['cramers_v'])}.")
    gap = _biggest_gap(g, labels)
    if gap:
        label, a, b, first, last = gap
        text += (f" L'écart le plus marqué : « {label} », {fr_pct(a)} des initiatives « {first} » "
                 f"contre {fr_pct(b)} « {last} ».")
    return {"claim": claim, "verdict": verdict, "text": text,
            "figures": {"chi2": t["chi2"], "dof": t["dof"], "p": t["p"], "cramers_v": t["cramers_v"],
                        "n": t["n"], "top_domain": overall, "groups_with_top_domain": same, "groups": len(top),
                        "low_expected_share": t["low_expected_share"]}}


def findings(data: ReportData, labels: LabelSet) -> dict[str, dict]:
    """The barometer's findings tested on the data, by key: size_count, size_domains, age_count, age_domains."""
    out = {}
    if data.size is not None:
        out["size_count"] = correlation_sentence(
            data.size, "Plus la commune est grande, plus elle porte d'initiatives", "sa population", "de la tranche")
        out["size_domains"] = independence_sentence(
            data.size, "La taille ne change pas les domaines qui arrivent en tête", "tranches", "tranche de taille",
            labels)
    if data.age is not None:
        out["age_count"] = correlation_sentence(
            data.age, "Plus la part des 75 ans et plus est forte, plus la commune porte d'initiatives",
            "sa part d'habitants de 75 ans et plus", "du quartile")
        out["age_domains"] = independence_sentence(
            data.age, "La part des 75 ans et plus ne change pas les domaines qui arrivent en tête", "quartiles",
            "quartile d'âge", labels)
    return out


# --- The document ----------------------------------------------------------------------------------

def _domain_labels(index, labels: LabelSet) -> list[str]:
    return [labels.label(c) for c in index]


def compose(data: ReportData, labels: LabelSet, meta: dict) -> Document:
    """Build every section of the barometer from the aggregated data and the run's metadata."""
    ov = data.overview
    found = findings(data, labels)
    sections = [
        _synthesis(data, labels, meta, found),
        _domains_section(data, labels),
        _confidence_section(data, meta),
        _size_section(data, labels, found),
        _age_section(data, labels, found),
        _breakdowns_section(data, labels),
        _amounts_section(data, labels),
        _unjoined_section(data),
        _methods_section(data, labels, meta),
    ]
    sections = [s for s in sections if s is not None]
    for i, s in enumerate(sections, start=1):
        s.anchor = f"s{i}"
    files = ", ".join(i["name"] for i in meta["inputs"])
    summary = _summary(data, found, meta)
    return Document(title=f"Baromètre des services publics locaux numériques — {meta['name']}",
                    subtitle=f"{fr_int(ov['rows'])} initiatives ({files}), rapport du {meta['date_fr']}",
                    sections=sections, findings=found, summary=summary)


def _synthesis(data: ReportData, labels: LabelSet, meta: dict, found: dict[str, dict]) -> Section:
    ov, d = data.overview, data.domains
    ranked = d.sort_values("initiatives", ascending=False)
    top = ranked.head(3)
    dtop = d.sort_values("numeriques", ascending=False).head(3)
    blocks = [
        f"{fr_int(ov['rows'])} initiatives lues, dont {fr_int(ov['with_domain'])} avec un domaine prédit. "
        f"Les trois premiers domaines : " + ", ".join(f"{r.libelle} ({fr_pct(r.part)})" for r in top.itertuples())
        + ".",
        f"{fr_pct(ov['digital_share'])} des initiatives sont numériques ({fr_int(ov['digital'])}) ; parmi elles "
        f"viennent en tête " + ", ".join(f"{r.libelle} ({fr_pct(r.part_numeriques)})" for r in dtop.itertuples())
        + ".",
        f"{fr_pct(ov['needs_review_share'])} des initiatives ({fr_int(ov['needs_review'])}) sont marquées "
        f"« à revoir » : le modèle y est peu sûr de son choix ou le texte est vide. Les chiffres par domaine "
        f"sont ceux du modèle, pas d'une annotation à la main.",
    ]
    if data.join_summary is not None:
        j = data.joined["jointure"]
        communes = int((data.joined["entite"] == "commune").sum())
        joined = int(j.isin(["current", "former"]).sum())
        blocks.append(f"{fr_int(communes)} initiatives portées par des communes, dont {fr_int(joined)} "
                      f"({fr_pct(joined / communes if communes else float('nan'))}) rapprochées du référentiel "
                      f"des communes ({fr_int(int((j == 'former').sum()))} par un ancien code de commune "
                      f"fusionnée) ; {fr_int(len(data.unjoined))} codes non rapprochés sont listés en fin de "
                      f"rapport. Les {fr_int(int((data.joined['entite'] != 'commune').sum()))} initiatives "
                      f"d'EPCI, syndicats et départements sont comptées à part.")
    if found:
        blocks.append("Les constats du baromètre, testés sur ces données :")
        blocks.append([f"**{f['claim']}.** {f['text']}" for f in found.values()])
    else:
        blocks.append(f"Les constats par taille de commune ne sont pas testés : {data.commune_note}.")
    if data.age is None and data.age_note:
        blocks.append(f"Âge de la population : {data.age_note}.")
    return Section("Synthèse", blocks)


def _domains_section(data: ReportData, labels: LabelSet) -> Section:
    d = data.domains
    table = Table("domaines", "Initiatives par domaine, dont numériques, et part à revoir", d.reset_index(),
                  shown(d, [("libelle", "Domaine", _s), ("initiatives", "Initiatives", _int),
                            ("part", "Part", _pct), ("numeriques", "Numériques", _int),
                            ("part_numeriques", "Part parmi les numériques", _pct),
                            ("part_a_revoir", "Part à revoir", _pct)], index="domaine"))
    names = _domain_labels(d.index, labels)
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


def _confidence_section(data: ReportData, meta: dict) -> Section:
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
                 shown(j, [("groupe", "Groupe", _s), ("libelle", "Catégorie", _s), ("lignes", "Lignes", _int),
                           ("part", "Part du groupe", _pct)]))


def _rates_table(name: str, caption: str, rates: pd.DataFrame, group_header: str) -> Table:
    return Table(name, caption, rates.reset_index(), shown(rates, [
        ("groupe", group_header, _s), ("communes", "Communes", _int),
        ("part_communes_avec_initiative", "Part avec au moins une initiative", _pct),
        ("initiatives", "Initiatives", _int), ("initiatives_par_commune", "Par commune", _num2),
        ("population", "Population", _int), ("initiatives_pour_1000_hab", "Pour 1 000 habitants", _num2)],
        index="groupe"))


def _crosstab_tables(name: str, caption: str, g: GroupAnalysis, labels: LabelSet) -> Table:
    shares = column_shares(g.crosstab)
    data = g.crosstab.copy()
    data.insert(0, "libelle", _domain_labels(data.index, labels))
    out = shares.map(fr_pct)
    out.insert(0, "Domaine", _domain_labels(shares.index, labels))
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
              charts.heatmap(column_shares(g.crosstab), _domain_labels(g.crosstab.index, labels),
                             f"Part de chaque domaine dans les initiatives, par {what} (%)", axis_label)),
        _crosstab_tables(f"{prefix}_domaines", f"Part de chaque domaine par {what} (le CSV donne les effectifs)",
                         g, labels),
    ]


def _size_section(data: ReportData, labels: LabelSet, found: dict[str, dict]) -> Section:
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


def _age_section(data: ReportData, labels: LabelSet, found: dict[str, dict]) -> Section | None:
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
        ("groupe", header, _s), ("initiatives", "Initiatives", _int), ("part", "Part", _pct),
        ("part_numeriques", "Part numériques", _pct), ("part_a_revoir", "Part à revoir", _pct),
        ("domaine_principal", "Domaine principal", _s), ("part_domaine_principal", "Sa part", _pct)],
        index="groupe"))


def _breakdowns_section(data: ReportData, labels: LabelSet) -> Section:
    blocks = []
    if data.years is not None:
        blocks.append(f"Par année (colonne {data.columns.year}).")
        blocks.append(_summary_table("annees", "Initiatives par année", data.years, "Année"))
        if data.years_crosstab is not None and data.years_crosstab.shape[1] > 1:
            ct = data.years_crosstab
            blocks.append(Chart("annees_domaines", "Part de chaque domaine par année", charts.heatmap(
                column_shares(ct), _domain_labels(ct.index, labels),
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


def _amounts_section(data: ReportData, labels: LabelSet) -> Section | None:
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
        ("libelle", "Domaine", _s), ("montants_lus", "Montants lus", _int),
        ("cout_total", "Coût total", lambda v: fr_euros(v, True)), ("cout_median", "Coût médian", fr_euros),
        ("subvention_totale", "Subventions", lambda v: fr_euros(v, True)),
        ("subvention_mediane", "Subvention médiane", fr_euros), ("taux_subvention", "Taux", _pct)],
        index="domaine")))
    return Section("Montants", blocks)


def _unjoined_section(data: ReportData) -> Section | None:
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
            ("code", "Code", _s), ("lignes", "Lignes", _int), ("motif", "Motif", _s),
            ("exemple_nom", "Bénéficiaire (exemple)", _s), ("departement_saisi", "Département", _s),
            ("indice", "Indice", _s)])),
    ])


def _methods_section(data: ReportData, labels: LabelSet, meta: dict) -> Section:
    inputs = pd.DataFrame(meta["inputs"])
    blocks = [
        f"Rapport produit le {meta['date_fr']} par `python -m pipeline report` (commit {meta['git_commit']}), "
        f"à partir des seules prédictions : le modèle n'est pas rechargé.",
        Table("fichiers", "Fichiers de prédictions lus", inputs, shown(inputs, [
            ("path", "Fichier", _s), ("rows", "Lignes", _int), ("sha256", "SHA-256", _s)])),
    ]
    models = []
    for m in meta["models"]:
        if m.get("metrics"):
            x = m["metrics"]
            models.append(f"Modèle {m['run_id']} : {x.get('chosen', '?')}, validation croisée groupée à "
                          f"{x.get('cv_folds', '?')} plis ({x.get('cv_repeats') or 1} tirage(s)) {_evaluated_rows(x)} : "
                          f"macro-F1 {fr_num(x.get('macro_f1'), 3)}, exactitude "
                          f"{fr_num(x.get('accuracy'), 3)} ; drapeau "
                          f"numérique F1(oui) {fr_num(x.get('digital_f1_yes'), 3)} ({fr_int(m['rows'])} lignes).")
        else:
            models.append(f"Modèle {m['run_id'] or 'inconnu'} : métriques inconnues ({m.get('why', '')}) "
                          f"({fr_int(m['rows'])} lignes).")
    blocks.append(models or ["Aucun identifiant de modèle dans le fichier (colonne model_run_id) : "
                             "métriques inconnues."])
    cols = data.columns
    used = [f"{what} : {c}" for what, c in (("code commune", cols.code), ("type de bénéficiaire", cols.type),
                                            ("nom du bénéficiaire", cols.name), ("année", cols.year),
                                            ("département", cols.departement), ("coût", cols.cost),
                                            ("subvention", cols.subsidy)) if c]
    blocks.append("Colonnes utilisées : " + ("; ".join(used) if used else "aucune en dehors des prédictions") + ".")
    if cols.code and not cols.type:
        blocks.append("Sans colonne de type de bénéficiaire, une ligne est celle d'une commune si son code est un "
                      "code commune et que le nom du bénéficiaire" + (" est celui de cette commune (ou d'une de ses "
                      "communes déléguées) ; sinon (syndicat, association, commune autre que celle du code…) elle "
                      "compte comme « autre bénéficiaire »" if cols.name else " n'est pas connu : toutes ces lignes "
                      "comptent comme communes") + ". Les noms du type « CC … », « SYND … », « DEP … » marquent les "
                      "EPCI, syndicats et départements.")
    left = [f"{fr_int(x['rows'])} {x['what']} — hors {x['where']}" for x in data.left_out]
    blocks.append("Ce qui a été laissé de côté, et pourquoi :")
    blocks.append(left or ["rien"])
    sources = meta.get("reference_sources", [])
    if sources:
        blocks.append("Données de référence :")
        blocks.append([f"{s['name']} — {s.get('attribution', '')} ; licence : {s.get('licence', '?')}"
                       + (f" ; intégrité {s['integrity']}" if s.get("integrity") else "")
                       + (f" ; SHA-256 {s['sha256']}" if s.get("sha256") else "") for s in sources])
    blocks.append("Méthodes : corrélation de rang de Spearman (rangs moyens pour les ex æquo) entre le nombre "
                  "d'initiatives d'une commune et sa population (ou sa part de 75 ans et plus), communes sans "
                  "initiative comprises ; corrélation partielle de Spearman à population constante pour l'âge ; "
                  "test du khi-deux d'indépendance (sans correction de continuité) sur le tableau domaines × "
                  "groupes, et V de Cramér = √(χ² / (n·(min(lignes, colonnes) − 1))), lu ainsi : moins de 0,1 "
                  "négligeable, 0,1 à 0,2 faible, 0,2 à 0,3 modérée, au-delà forte. Avec des dizaines de milliers "
                  "d'initiatives, le moindre écart est significatif : c'est le V qui dit s'il compte. Le constat « ne "
                  "change pas les domaines en tête » est dit vérifié si l'écart ne compte pas (V < 0,1 ou test non "
                  "significatif) et que le même domaine arrive en tête dans tous les groupes, contredit si V ≥ 0,2, "
                  "nuancé entre les deux. Seuil de "
                  "significativité : 5 %. Les codes INSEE à 4 chiffres ont perdu leur zéro initial et sont "
                  "complétés ; les anciens codes des communes fusionnées et les arrondissements municipaux sont "
                  "rattachés à la commune actuelle.")
    return Section("Méthodes et sources", blocks)


def _summary(data: ReportData, found: list[dict], meta: dict) -> dict:
    ov = data.overview
    d = data.domains
    out = {
        "name": meta["name"], "date": meta["date"], "inputs": meta["inputs"], "models": meta["models"],
        "rows": ov["rows"], "with_domain": ov["with_domain"], "needs_review_share": ov["needs_review_share"],
        "digital_share": ov["digital_share"],
        "domain_share": {k: float(v) for k, v in d["part"].items()},
        "digital_domain_share": {k: float(v) for k, v in d["part_numeriques"].items()},
        "findings": found,
        "reference_sources": meta.get("reference_sources", []),
        "left_out": data.left_out,
    }
    if data.join_summary is not None:
        out["join"] = {f"{r.groupe}:{r.cle}": int(r.lignes) for r in data.join_summary.itertuples()}
        out["unjoined_codes"] = int(len(data.unjoined))
        out["unjoined_rows"] = int(data.unjoined["lignes"].sum()) if len(data.unjoined) else 0
    out["commune_note"] = data.commune_note
    out["age_note"] = data.age_note
    return out


# --- Rendering --------------------------------------------------------------------------------------

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1b1b1b;line-height:1.5}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #1f5fa8;padding-bottom:.2em;margin-top:2em}
.subtitle{color:#555;margin-top:0}nav ol{columns:2}figure{margin:1.5em 0}figure img{max-width:100%;height:auto;
border:1px solid #ddd}figcaption{color:#555;font-size:.9em}table{border-collapse:collapse;margin:1em 0;
font-size:.88em}caption{text-align:left;font-weight:600;padding:.3em 0}th,td{border:1px solid #ccc;
padding:.25em .5em;vertical-align:top}th{background:#eef3fa}td.n{text-align:right;white-space:nowrap}
.more{color:#555;font-size:.85em}code{background:#f3f3f3;padding:0 .2em}
"""


def _esc(text) -> str:
    """Escape text content (quotes stay as they are: only attributes need them escaped)."""
    return html.escape(str(text), quote=False)


def _inline_md(text: str) -> str:
    """Escape for HTML, then turn **bold** and `code` into tags."""
    import re

    out = _esc(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def _is_numeric_text(v: str) -> bool:
    t = v.replace("\u00a0", "").replace(" ", "").replace("%", "").replace("€", "").replace("M", "")
    t = t.replace(",", "").replace("–", "").replace("-", "")
    return t.isdigit()


def _html_table(t: Table) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in t.shown.columns)
    rows = []
    for _, row in t.shown.head(MAX_ROWS).iterrows():
        cells = "".join(f'<td class="n">{_esc(v)}</td>' if _is_numeric_text(str(v))
                        else f"<td>{_esc(v)}</td>" for v in row)
        rows.append(f"<tr>{cells}</tr>")
    more = ""
    if len(t.shown) > MAX_ROWS:
        more = (f'<p class="more">{fr_int(MAX_ROWS)} premières lignes sur {fr_int(len(t.shown))} ; '
                f'toutes dans <a href="{t.csv_name}">{t.csv_name}</a>.</p>')
    return (f'<table><caption>{_esc(t.caption)} — <a href="{t.csv_name}">CSV</a></caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}")


def _evaluated_rows(metrics: dict) -> str:
    """Which rows the CV scores: all training texts, or one source's real titles."""
    name, n = metrics.get("selected_on"), metrics.get("n_evaluated") or metrics.get("n_train")
    if not name or name == "all rows":
        return f"sur les {fr_int(n)} textes d'entraînement"
    return (f"sur les {fr_int(n)} titres réels de {name} (les {fr_int(metrics.get('n_train'))} textes "
            f"d'entraînement moins ceux du pli testé)")


def to_html(doc: Document) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="fr"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{_esc(doc.title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{_esc(doc.title)}</h1>", f'<p class="subtitle">{_esc(doc.subtitle)}</p>',
             "<nav><ol>" + "".join(f'<li><a href="#{s.anchor}">{_esc(s.title)}</a></li>'
                                   for s in doc.sections) + "</ol></nav>"]
    for s in doc.sections:
        parts.append(f'<section id="{s.anchor}"><h2>{_esc(s.title)}</h2>')
        for b in s.blocks:
            if isinstance(b, str):
                parts.append(f"<p>{_inline_md(b)}</p>")
            elif isinstance(b, list):
                parts.append("<ul>" + "".join(f"<li>{_inline_md(x)}</li>" for x in b) + "</ul>")
            elif isinstance(b, Table):
                parts.append(_html_table(b))
            elif isinstance(b, Chart):
                data = base64.b64encode(b.png).decode("ascii")
                parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(b.title)}">'
                             f"<figcaption>{_esc(b.title)}</figcaption></figure>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _md_cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> str:
    cols = list(t.shown.columns)
    lines = [f"*{t.caption}* — [CSV]({t.csv_name})", "", "| " + " | ".join(map(_md_cell, cols)) + " |",
             "|" + "|".join("---:" if _is_numeric_text(str(t.shown[c].iloc[0])) and len(t.shown) else "---"
                            for c in cols) + "|"]
    for _, row in t.shown.head(MAX_ROWS).iterrows():
        lines.append("| " + " | ".join(_md_cell(v) for v in row) + " |")
    if len(t.shown) > MAX_ROWS:
        lines += ["", f"{fr_int(MAX_ROWS)} premières lignes sur {fr_int(len(t.shown))} ; toutes dans "
                      f"[{t.csv_name}]({t.csv_name})."]
    return "\n".join(lines)


def to_markdown(doc: Document) -> str:
    out = [f"# {doc.title}", "", f"*{doc.subtitle}*", ""]
    out += [f"{i}. [{s.title}](#{s.anchor})" for i, s in enumerate(doc.sections, start=1)] + [""]
    for s in doc.sections:
        out += [f'<a id="{s.anchor}"></a>', "", f"## {s.title}", ""]
        for b in s.blocks:
            if isinstance(b, str):
                out += [b, ""]
            elif isinstance(b, list):
                out += [f"- {x}" for x in b] + [""]
            elif isinstance(b, Table):
                out += [_md_table(b), ""]
            elif isinstance(b, Chart):
                out += [f"![{b.title}](figures/{b.name}.png)", ""]
    return "\n".join(out)
