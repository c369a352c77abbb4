"""The whole document: the synthesis first, the sections on the data, the methods, and resume.json's summary."""
from __future__ import annotations

import pandas as pd

from pipeline.domains import LabelSet
from pipeline.report.analysis import ReportData
from pipeline.report.document import Document, Section, Table, integer, shown, txt
from pipeline.report.frformat import fr_int, fr_num, fr_pct
from pipeline.report.sections import (age_section, amounts_section, breakdowns_section, confidence_section,
                                      domains_section, size_section, unjoined_section)
from pipeline.report.sentences import findings


def compose(data: ReportData, labels: LabelSet, meta: dict) -> Document:
    """Build every section of the barometer from the aggregated data and the run's metadata."""
    ov = data.overview
    found = findings(data, labels)
    sections = [
        _synthesis(data, labels, meta, found),
        domains_section(data, labels),
        confidence_section(data, meta),
        size_section(data, labels, found),
        age_section(data, labels, found),
        breakdowns_section(data, labels),
        amounts_section(data, labels),
        unjoined_section(data),
        methods_section(data, labels, meta),
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


def methods_section(data: ReportData, labels: LabelSet, meta: dict) -> Section:
    inputs = pd.DataFrame(meta["inputs"])
    blocks = [
        f"Rapport produit le {meta['date_fr']} par `python -m pipeline report` (commit {meta['git_commit']}), "
        f"à partir des seules prédictions : le modèle n'est pas rechargé.",
        Table("fichiers", "Fichiers de prédictions lus", inputs, shown(inputs, [
            ("path", "Fichier", txt), ("rows", "Lignes", integer), ("sha256", "SHA-256", txt)])),
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


def _evaluated_rows(metrics: dict) -> str:
    """Which rows the CV scores: all training texts, or one source's real titles."""
    name, n = metrics.get("selected_on"), metrics.get("n_evaluated") or metrics.get("n_train")
    if not name or name == "all rows":
        return f"sur les {fr_int(n)} textes d'entraînement"
    return (f"sur les {fr_int(n)} titres réels de {name} (les {fr_int(metrics.get('n_train'))} textes "
            f"d'entraînement moins ceux du pli testé)")
