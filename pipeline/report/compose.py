"""The whole document: the first screen (key figures, findings), the body, the methods, the annexes,
and resume.json's summary."""
from __future__ import annotations

import math

import pandas as pd

from pipeline.domains import LabelSet
from pipeline.report.analysis import ReportData
from pipeline.report.annexes import detail_section, quality_section, unjoined_section
from pipeline.report.document import Document, Section, Table, Tile, integer, shown, txt
from pipeline.report.frformat import NBSP, fr_count, fr_int, fr_noun, fr_num, fr_pct, fr_signed
from pipeline.report.sections import (
    amounts_section,
    digital_section,
    domains_section,
    territories_section,
    years_section,
)
from pipeline.report.sections_communes import age_section, size_section
from pipeline.report.sentences import findings
from pipeline.report.verdicts import RULE_TEXT

DEFAULT_TITLE = "Baromètre des services publics locaux numériques"


def doc_source(meta: dict) -> str:
    """The credit line under every chart and table: the --source given, else the files read."""
    given = (meta.get("source") or "").strip()
    if not given:
        given = f"{', '.join(i['name'] for i in meta['inputs'])} ; traitement : barometre"
    return given if given.lower().startswith("source") else f"Source : {given}"


def _years_phrase(years: list[str], undated: int = 0) -> str:
    """The years the rows cover; the rows of no year said too, so that they are not read as of those years."""
    if not years:
        return ""
    phrase = f"exercice {years[0]}" if len(years) == 1 else f"exercices {', '.join(years[:-1])} et {years[-1]}"
    return phrase + (f", {fr_int(undated)} sans année" if undated else "")


def compose(data: ReportData, labels: LabelSet, meta: dict, before_methods: list[Section] = ()) -> Document:
    """Build the barometer from the aggregated data and the run's metadata (title, source, inputs, models).

    `before_methods`: sections made elsewhere (the adjusted shares), placed after the findings' sections.
    """
    ov = data.overview
    found = findings(data, labels)
    sections = [
        domains_section(data, labels),
        digital_section(data, labels),
        years_section(data, labels),
        size_section(data, labels, found),
        age_section(data, labels, found),
        territories_section(data, labels, meta.get("contours")),
        amounts_section(data, labels),
        *before_methods,
        methods_section(data, labels, meta),
        quality_section(data, meta),
        unjoined_section(data),
        detail_section(data, labels),
    ]
    sections = [s for s in sections if s is not None]
    for i, s in enumerate(sections, start=1):
        s.anchor = f"s{i}"
    years = _years_phrase(data.year_list, data.undated)
    subtitle = meta.get("subtitle") or (fr_count(ov["rows"], "initiative") + (f", {years}" if years else ""))
    doc = Document(title=meta.get("title") or DEFAULT_TITLE, subtitle=subtitle, sections=sections,
                   findings=found, summary={}, source=doc_source(meta),
                   dateline=f"Rapport du {meta['date_fr']} — fichiers : "
                            f"{', '.join(i['name'] for i in meta['inputs'])}",
                   tiles=tiles(data), notes=_notes(data, found))
    doc.summary = _summary(data, found, meta, doc)
    return doc


def _ci(d: pd.DataFrame, code: str) -> tuple[str | None, str | None]:
    if {"ci_low", "ci_high"} <= set(d.columns) and pd.notna(d.at[code, "ci_low"]):
        return fr_pct(d.at[code, "ci_low"]), fr_pct(d.at[code, "ci_high"])
    return None, None


def tiles(data: ReportData) -> list[Tile]:
    """4 to 6 key figures: initiatives, digital share, first domain, first digital domain, the change, communes."""
    ov, d = data.overview, data.domains
    out = [Tile(fr_int(ov["rows"]), fr_noun(ov["rows"], "initiative"),
                _years_phrase(data.year_list, data.undated).capitalize())]
    if ov["digital_known"]:
        out.append(Tile(fr_pct(ov["digital_share"]), "passent par le numérique",
                        fr_count(ov["digital"], "initiative")))
    ranked = d[d["initiatives"] > 0].sort_values("initiatives", ascending=False)
    if len(ranked):
        first = ranked.iloc[0]
        nxt = ", ".join(f"{r.libelle} ({fr_pct(r.part)})" for r in ranked.iloc[1:3].itertuples())
        out.append(Tile(fr_pct(first["part"]), f"« {first['libelle']} », premier domaine",
                        f"Puis : {nxt}" if nxt else "", *_ci(d, ranked.index[0])))
    digital = d[d["numeriques"] > 0].sort_values("numeriques", ascending=False)
    if len(digital):
        top = digital.iloc[0]
        out.append(Tile(fr_pct(top["part_numeriques"]), f"des initiatives numériques : « {top['libelle']} »",
                        "premier domaine du numérique"))
    ch, dy = data.year_changes, data.digital_by_year
    if ch is not None and dy is not None and len(dy) > 1:
        change = 100 * (dy["part_numeriques"].iloc[-1] - dy["part_numeriques"].iloc[0])
        big = ch.loc[ch["evolution_points"].abs().idxmax()]
        out.append(Tile(f"{fr_signed(change)}{NBSP}pt",
                        f"part du numérique, {dy.index[0]} → {dy.index[-1]}",
                        f"Plus forte évolution : {big['libelle']} "
                        f"({fr_signed(big['evolution_points'])} pt)"))
    if data.size is not None:
        r = data.size.rates
        share = r["communes_avec_initiative"].sum() / r["communes"].sum() if r["communes"].sum() else math.nan
        out.append(Tile(fr_pct(share, 0), "des communes ont porté au moins une initiative",
                        f"{fr_int(r['communes_avec_initiative'].sum())} sur {fr_int(r['communes'].sum())}"))
    return out[:6]


def _notes(data: ReportData, found: dict) -> list[str]:
    ov = data.overview
    out = []
    if not found:
        out.append(f"Les constats par taille de commune ne sont pas testés : {data.commune_note}.")
    if data.age is None and data.age_note and data.size is not None:
        out.append(f"Âge de la population : {data.age_note}.")
    out.append(f"Les domaines sont ceux qu'attribue un modèle : {fr_pct(ov['needs_review_share'])} des initiatives "
               f"sont « à revoir » (voir l'annexe « Qualité des données »). Verdicts : un même seuil d'effet pour "
               f"tous les constats (voir « Méthodes et sources »).")
    return out


def methods_section(data: ReportData, labels: LabelSet, meta: dict) -> Section:
    inputs = pd.DataFrame(meta["inputs"])
    blocks = [
        f"Rapport produit le {meta['date_fr']} par `python -m pipeline report` (commit {meta['git_commit']}), "
        f"à partir des seules prédictions : le modèle n'est pas rechargé.",
        Table("fichiers", "Fichiers de prédictions lus (nommés par leur nom et leur empreinte SHA-256)", inputs,
              shown(inputs, [("name", "Fichier", txt), ("rows", "Lignes", integer), ("sha256", "SHA-256", txt)])),
    ]
    models = []
    for m in meta["models"]:
        # The rows this model labeled in these predictions, said beside its name: placed after the digital
        # flag's F1 they read as the rows that F1 was measured on.
        labeled = f"Modèle {m['run_id'] or 'inconnu'} ({fr_count(m['rows'], 'ligne')} {fr_noun(m['rows'], 'prédite')})"
        if m.get("metrics"):
            x = m["metrics"]
            models.append(f"{labeled} : {x.get('chosen', '?')}, validation croisée groupée à "
                          f"{x.get('cv_folds', '?')} plis ({fr_count(x.get('cv_repeats') or 1, 'tirage')}) "
                          f"{_evaluated_rows(x)} : "
                          f"macro-F1 {fr_num(x.get('macro_f1'), 3)}, exactitude "
                          f"{fr_num(x.get('accuracy'), 3)} ; drapeau "
                          f"numérique F1(oui) {fr_num(x.get('digital_f1_yes'), 3)}."
                          + _year_out(x) + _certainty(x))
        else:
            models.append(f"{labeled} : métriques inconnues ({m.get('why', '')}).")
    blocks.append(models or ["Aucun identifiant de modèle dans le fichier (colonne model_run_id) : "
                             "métriques inconnues."])
    cols = data.columns
    used = [f"{what} : {c}" for what, c in (("code commune", cols.code), ("type de bénéficiaire", cols.type),
                                            ("nom du bénéficiaire", cols.name), ("année", cols.year),
                                            ("département", cols.departement), ("coût", cols.cost),
                                            ("subvention", cols.subsidy), ("dispositif", cols.scheme)) if c]
    blocks.append("Colonnes utilisées : " + (" ; ".join(used) if used else "aucune en dehors des prédictions") + ".")
    if cols.code and not cols.type:
        blocks.append("Sans colonne de type de bénéficiaire, une ligne est celle d'une commune si son code est un "
                      "code commune et que le nom du bénéficiaire" + (" est celui de cette commune (ou d'une de ses "
                      "communes déléguées) ; sinon (syndicat, association, commune autre que celle du code…) elle "
                      "compte comme « autre bénéficiaire »" if cols.name else " n'est pas connu : toutes ces lignes "
                      "comptent comme communes") + ". Les noms du type « CC … », « SYND … », « DEP … » marquent les "
                      "EPCI, syndicats et départements.")
    sources = meta.get("reference_sources", [])
    if sources:
        blocks.append("Données de référence :")
        blocks.append([f"{s['name']} — {s.get('attribution', '')} ; licence : {s.get('licence', '?')}"
                       + (f" ; intégrité {s['integrity']}" if s.get("integrity") else "")
                       + (f" ; SHA-256 {s['sha256']}" if s.get("sha256") else "") for s in sources])
    blocks.append(f"Source des données : {doc_source(meta)[len('Source : '):]}.")
    blocks.append(RULE_TEXT)
    blocks.append("Facteurs de confusion : la taille des communes et l'âge de leur population vont ensemble (les "
                  "petites communes sont plus âgées) ; le lien avec l'âge est donc aussi donné à population égale "
                  "(corrélation partielle de Spearman), et le domaine qui varie le plus selon l'âge est regardé "
                  "dans chaque tranche de taille. Les listes de subventions de l'État (DGCL) mêlent des dispositifs "
                  "aux cibles différentes : la DETR va par construction aux communes rurales à faible potentiel "
                  "fiscal, la DSIL aux grands projets d'investissement ; une différence par taille peut venir du "
                  "dispositif plutôt que de la commune.")
    blocks.append("Par année : quand le fichier a une colonne d'année, les taux par commune et pour 1 000 habitants "
                  "sont annuels (les initiatives divisées par le nombre d'années), et l'évolution de la part d'un "
                  "domaine entre la première et la dernière année est donnée en points avec un intervalle de "
                  "confiance à 95 % (méthode hybride de Newcombe) ; cet intervalle ne tient compte que du hasard, "
                  "pas des erreurs du modèle.")
    blocks.append("Statistiques : corrélation de rang de Spearman (rangs moyens pour les ex æquo) entre le nombre "
                  "d'initiatives d'une commune et sa population (ou sa part de 75 ans et plus), communes sans "
                  "initiative comprises ; test du khi-deux d'indépendance (sans correction de continuité) sur le "
                  "tableau domaines × groupes, et V de Cramér = √(χ² / (n·(min(lignes, colonnes) − 1))). Les codes "
                  "INSEE à 4 chiffres ont perdu leur zéro initial et sont complétés ; les anciens codes des communes "
                  "fusionnées et les arrondissements municipaux sont rattachés à la commune actuelle.")
    return Section("Méthodes et sources", blocks)



def tile_summary(tiles: list[Tile]) -> list[dict]:
    """resume.json's tiles: what the first screen shows, interval included (made again when a tile changes)."""
    return [{"value": t.value, "label": t.label, "detail": t.detail, "ci_low": t.ci_low, "ci_high": t.ci_high}
            for t in tiles]


def _summary(data: ReportData, found: dict, meta: dict, doc: Document) -> dict:
    ov = data.overview
    d = data.domains
    out = {
        "name": meta["name"], "title": doc.title, "subtitle": doc.subtitle, "source": doc.source,
        "date": meta["date"], "inputs": meta["inputs"], "models": meta["models"],
        "rows": ov["rows"], "with_domain": ov["with_domain"], "needs_review_share": ov["needs_review_share"],
        "digital_share": ov["digital_share"],
        "domain_share": {k: float(v) for k, v in d["part"].items()},
        "digital_domain_share": {k: float(v) for k, v in d["part_numeriques"].items()},
        "tiles": tile_summary(doc.tiles),
        "findings": found,
        "reference_sources": [{k: v for k, v in s.items() if k != "path"} for s in meta.get("reference_sources", [])],
        "left_out": data.left_out,
        "years": data.year_list,
    }
    if data.year_changes is not None:
        out["year_change_points"] = {k: float(v) for k, v in data.year_changes["evolution_points"].items()}
    if data.digital_by_year is not None:
        out["digital_share_by_year"] = {k: float(v) for k, v in data.digital_by_year["part_numeriques"].items()}
    if data.join_summary is not None:
        out["join"] = {f"{r.groupe}:{r.cle}": int(r.lignes) for r in data.join_summary.itertuples()}
        out["unjoined_codes"] = int(len(data.unjoined))
        out["unjoined_rows"] = int(data.unjoined["lignes"].sum()) if len(data.unjoined) else 0
    out["commune_note"] = data.commune_note
    out["age_note"] = data.age_note
    return out


def _year_out(metrics: dict) -> str:
    """The headline rows scored year by year by a model trained without that year (metrics.json period_out)."""
    y = metrics.get("year_out")
    if not y:
        return ""
    flag = (f", drapeau numérique F1(oui) {fr_num(y['digital_f1_yes'], 3)}"
            if y.get("digital_f1_yes") is not None else "")
    return (f" Sur une année que le modèle n'a pas vue (chaque année de ses {fr_int(y['n'])} titres notée par un "
            f"modèle entraîné sans aucun titre étiqueté de cette année) : macro-F1 {fr_num(y['macro_f1'], 3)}, "
            f"exactitude {fr_num(y['accuracy'], 3)}{flag}.")


def _certainty(metrics: dict) -> str:
    """The same CV on the titles the annotator was sure of and on the others (metrics.json domain.by_certainty)."""
    parts = metrics.get("by_certainty") or {}
    sure, unsure = parts.get("sure"), parts.get("unsure")
    if not (sure and unsure):
        return ""
    # The errors' split, from the figures themselves: the sentence says what they show, whatever the model.
    errors = [part["n"] * (1 - part["accuracy"]) for part in (sure, unsure)]
    on_unsure = f" ({fr_pct(errors[1] / sum(errors), 0)} des erreurs)" if sum(errors) > 0 else ""
    return (f" Sur les {fr_int(sure['n'])} titres dont l'annotateur était sûr, exactitude "
            f"{fr_num(sure['accuracy'], 3)} ; sur les {fr_int(unsure['n'])} titres où il hésitait"
            f"{on_unsure}, {fr_num(unsure['accuracy'], 3)}.")


def _evaluated_rows(metrics: dict) -> str:
    """Which rows the CV scores: all training texts, or the headline source's real titles."""
    name = metrics.get("headline_source") or metrics.get("selected_on")
    n = metrics.get("n_evaluated") or metrics.get("n_train")
    if not name or name == "all rows":
        return f"sur les {fr_int(n)} textes d'entraînement"
    return (f"sur les {fr_int(n)} titres réels de {name} (les {fr_int(metrics.get('n_train'))} textes "
            f"d'entraînement moins ceux du pli testé)")
