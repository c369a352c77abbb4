"""The report's section on adjusted shares, in the Document/Section/Table model of report/render.py.

No I/O: `share_section` takes the computed AdjustedShares and the model's
scores on real titles; `share_summary` gives the same figures for resume.json.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.domains import LabelSet
from pipeline.quantify.evaluate import years_held
from pipeline.quantify.intervals import MIN_GROUP
from pipeline.quantify.shares import COLUMNS, AdjustedShares
from pipeline.report.document import Section, Table
from pipeline.report.frformat import fr_int, fr_num, fr_pct

METHOD_TEXT = {
    "PACC+EMQ": "la moyenne de deux corrections (docs/quantification.md) : PACC (Probabilistic Adjusted Classify "
                "and Count, Bella et al. 2010), qui corrige la moyenne des probabilités prédites par la matrice "
                "P(probabilités | vrai domaine) mesurée sur des titres étiquetés que le modèle n'avait pas vus "
                "(probabilités hors pli de la validation croisée), chaque colonne rapprochée d'une colonne commune "
                "à proportion du peu de titres qui la mesurent ; et EMQ (algorithme EM de Saerens et al. 2002) "
                "sur ces probabilités recalibrées par une température. Choisie parmi les méthodes de QuaPy (CC, "
                "PCC, ACC, PACC, EMQ, KDEy, DMy) par mesure sur des plis tenus à l'écart de l'échantillon "
                "aléatoire de titres réels : erreur moitié moindre que le comptage brut quand les parts des "
                "domaines changent",
    "PACC": "PACC (Probabilistic Adjusted Classify and Count, Bella et al. 2010) : la moyenne des probabilités "
            "prédites est corrigée par la matrice P(probabilités | vrai domaine) mesurée sur des titres "
            "étiquetés que le modèle n'avait pas vus (probabilités hors pli de la validation croisée) ; "
            "choisie parmi les méthodes de QuaPy (CC, PCC, ACC, PACC, EMQ, KDEy) par mesure sur des plis "
            "tenus à l'écart de l'échantillon aléatoire de titres réels (docs/quantification.md)",
}
NOT_COMPUTED = "non calculé"


def interval_text(share, low, high) -> str:
    """"15,1 % (14,2 à 16,0)"; the raw share marked when nothing is adjusted."""
    if share is None or np.isnan(share):
        return NOT_COMPUTED
    return f"{fr_pct(share)} ({fr_num(100 * low, 1)} à {fr_num(100 * high, 1)})"


def _shown(table: pd.DataFrame, labels: LabelSet, first: str = "Domaine") -> pd.DataFrame:
    fmt = lambda v: NOT_COMPUTED if pd.isna(v) else fr_pct(v)
    return pd.DataFrame({
        first: [labels.label(d) if d in labels.codes else ("Numérique" if d == "numerique" else d)
                for d in table["domain"]],
        "Initiatives (prédites)": [fr_int(v) for v in table["n"]],
        "Part brute": [fmt(v) for v in table["share"]],
        "Part ajustée": [fmt(v) for v in table["share_adjusted"]],
        "IC 95 % bas": [fmt(v) for v in table["ci_low"]],
        "IC 95 % haut": [fmt(v) for v in table["ci_high"]],
    })


def share_sentences(result: AdjustedShares, labels: LabelSet) -> list[str]:
    """One "Domaine : 15,1 % (14,2 à 16,0)" per domain, largest first, then the digital flag (adjusted shares)."""
    t = result.domains.sort_values("share_adjusted", ascending=False)
    out = [f"{labels.label(r.domain)} : {interval_text(r.share_adjusted, r.ci_low, r.ci_high)}"
           for r in t.itertuples()]
    if result.digital:
        d = result.digital
        out.append(f"Numérique : {interval_text(d['share_adjusted'], d['ci_low'], d['ci_high'])}")
    return out


def synthesis_sentence(result: AdjustedShares, labels: LabelSet, top: int = 3) -> str | None:
    """The first screen's figures: the leading domains' adjusted shares and the digital share, with intervals."""
    if not result.adjusted:
        return None
    t = result.domains.dropna(subset=["share_adjusted"]).sort_values("share_adjusted", ascending=False).head(top)
    text = ("Corrigées des erreurs connues du modèle (intervalle de confiance à 95 %), les premières parts "
            "sont : " + " ; ".join(f"{labels.label(r.domain)} : {interval_text(r.share_adjusted, r.ci_low, r.ci_high)}"
                                  for r in t.itertuples()))
    if result.digital:
        d = result.digital
        text += f" ; initiatives numériques : {interval_text(d['share_adjusted'], d['ci_low'], d['ci_high'])}"
    return text + " (détail : section « Parts ajustées »)."


def methods_text(result: AdjustedShares, scores: dict | None) -> str:
    """How the shares were adjusted, on which labeled rows, and the model's scores on real titles."""
    if not result.adjusted:
        return f"Parts non ajustées : {result.why_not}."
    sources = ", ".join(f"{s} ({fr_int(n)})" for s, n in result.labeled_sources.items())
    text = (f"Parts ajustées par {METHOD_TEXT.get(result.method, result.method)} ; ajustement estimé sur "
            f"{fr_int(result.n_labeled)} titres étiquetés : {sources} (l'échantillon aléatoire de titres réels, et "
            f"les titres non numériques des autres sources étiquetées). Intervalles de confiance à 95 % par "
            f"bootstrap (percentiles) des deux sources d'incertitude à la fois : à chaque tirage, la correction "
            f"est réestimée sur un rééchantillon des titres étiquetés (stratifié par domaine) et appliquée à "
            f"un rééchantillon des initiatives du rapport. Le drapeau numérique est corrigé par ACC (taux de "
            f"faux positifs et de faux négatifs du drapeau oui/non, sur {fr_int(result.n_labeled_digital)} "
            f"titres étiquetés). Un groupe (taille, année) de moins de {MIN_GROUP} initiatives est « {NOT_COMPUTED} ».")
    if scores:
        text += (f" Scores du modèle sur les titres réels ({scores['source']}, {fr_int(scores['n'])} titres, "
                 f"validation croisée) : exactitude {fr_num(scores['accuracy'], 3)}, macro-F1 "
                 f"{fr_num(scores['macro_f1'], 3)}")
        if scores.get("locked"):
            lk = scores["locked"]
            text += (f" ; jeu de test verrouillé ({fr_int(lk['n'])} titres jamais utilisés pour choisir) : "
                     f"exactitude {fr_num(lk['accuracy'], 3)}, macro-F1 {fr_num(lk['macro_f1'], 3)}")
        text += "."
        if scores.get("unseen_years"):
            text += " " + unseen_years_text(scores["unseen_years"])
    return text


def unseen_years_text(check: dict) -> str:
    """Whether the intervals held on years the model never saw (training's `shares_period_out`)."""
    years = ", ".join(check["by_period"])
    flag = ""
    if check.get("digital"):
        held, n_years = years_held(check["digital"])
        flag = (f" Part des initiatives numériques, corrigée de même : intervalle tenant la vraie part {held} années "
                f"sur {n_years}.")
    return (f"Rejouée sur des années que le modèle n'avait pas vues (les titres de l'échantillon aléatoire de "
            f"chaque année, {years}, classés par un modèle entraîné sans elle, la correction estimée sur les "
            f"autres années), la méthode a donné des intervalles à 95 % qui contiennent la vraie part pour "
            f"{fr_int(check['held'])} des {fr_int(check['of'])} couples (domaine, année) ; écart total à la vraie "
            f"répartition : {fr_num(100 * check['adjusted_tv'], 1)} points après ajustement, "
            f"{fr_num(100 * check['raw_tv'], 1)} en comptage brut (moyenne des années)."
            + flag)


def warning_text(result: AdjustedShares) -> str | None:
    """The first screen's warning when the shares could not be adjusted on real titles."""
    if result.adjusted and not result.why_not:
        return None
    unknown = "" if result.too_few else "les erreurs du modèle sur de vrais titres ne sont pas connues, et "
    return (f"**Attention : parts par domaine non ajustées.** {result.why_not[0].upper()}{result.why_not[1:]} : "
            f"{unknown}les parts publiées sont celles comptées sur les domaines prédits, sans intervalle de "
            f"confiance.")


# What the report's groups (commands/report.py) are called in its tables.
GROUP_NAMES = {"taille": "taille de commune", "annee": "année"}


def share_section(result: AdjustedShares, labels: LabelSet, scores: dict | None) -> Section:
    data = result.domains[COLUMNS]
    table = Table("domain_shares", "Parts brutes et ajustées par domaine (IC 95 %)", data, _shown(data, labels))
    if not result.adjusted:
        # Said once, with the table (its CSV for the record): not a sentence per domain and a groups table of
        # « non calculé » cells.
        return Section("Parts par domaine non ajustées", [
            methods_text(result, scores) + " Les parts publiées sont celles comptées sur les domaines prédits "
            "(section « Domaines »), sans intervalle de confiance.", table])
    blocks: list = ["Parts par domaine corrigées des erreurs connues du modèle, avec leur intervalle de "
                    "confiance à 95 % :", share_sentences(result, labels), table]
    # The intervals are drawn on the domains chart (report/charts.domain_bars), not in a second chart.
    if result.groups is not None and len(result.groups):
        g = result.groups
        shown = _shown(g, labels)
        shown.insert(0, "Groupe", g["group"].to_numpy())
        shown.insert(0, "Par", g["group_by"].map(GROUP_NAMES).fillna(g["group_by"]).to_numpy())
        blocks.append(Table("domain_shares_groups", "Parts ajustées par groupe (« non calculé » : moins de "
                            f"{MIN_GROUP} initiatives dans le groupe)", g, shown, row_headers=3))
    blocks.append(methods_text(result, scores))
    return Section("Parts ajustées et intervalles de confiance", blocks)


def share_summary(result: AdjustedShares) -> dict:
    """The figures of tables/domain_shares.csv (and the digital flag) for resume.json."""
    def clean(v):
        return None if v is None or (isinstance(v, float) and np.isnan(v)) else v
    rows = [{k: clean(v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in result.domains[COLUMNS].to_dict("records")]
    return {"method": result.method if result.adjusted else None, "adjusted": result.adjusted,
            "why_not": result.why_not or None, "n_labeled": result.n_labeled,
            "labeled_sources": result.labeled_sources, "domains": rows,
            "digital": result.digital}
