"""The findings as sentences: each claim of the barometer, its verdict, and the figures behind it."""
from __future__ import annotations

import math

import pandas as pd

from pipeline.domains import LabelSet
from pipeline.report.analysis import GroupAnalysis, ReportData
from pipeline.report.frformat import fr_int, fr_num, fr_p, fr_pct
from pipeline.report.statistics import SIGNIFICANCE, cramers_v_strength


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
