"""The findings as sentences: each claim of the barometer, its verdict, one plain sentence, then the statistics.

Every verdict follows the one rule of verdicts.py (effect sizes against fixed thresholds).
A finding is a dict: claim, verdict, plain (for any reader), text (the statistics),
figures (the numbers, for resume.json), effect and strength.
"""
from __future__ import annotations

import math

import pandas as pd

from pipeline.domains import LabelSet
from pipeline.report.analysis import GroupAnalysis, ReportData
from pipeline.report.frformat import fr_int, fr_noun, fr_num, fr_p, fr_pct, fr_rate
from pipeline.report.verdicts import DOMAIN_GAP, relation_verdict, sameness_verdict, strength


def _ends(rates: pd.DataFrame) -> tuple[str, str]:
    filled = rates[rates["communes"] > 0]
    return (str(filled.index[0]), str(filled.index[-1])) if len(filled) else ("", "")


_rate = fr_rate  # 0.016 per 1,000 inhabitants is not "0,02"


def _per(years: int) -> str:
    return " par an" if years > 1 else ""


def correlation_sentence(g: GroupAnalysis, claim: str, measure: str, group_word: str,
                         population_note: bool = False) -> dict:
    """"The larger/older …, the more initiatives", judged on Spearman's ρ; the rates at both ends in words."""
    c = g.correlation
    verdict = relation_verdict(c["rho"])
    direction = "croît" if c["rho"] > 0 else "décroît"
    text = (f"Sur {fr_int(c['n'])} communes, y compris celles sans initiative, le nombre d'initiatives d'une "
            f"commune {direction} avec {measure} : ρ de Spearman = {fr_num(c['rho'], 3)}, effet "
            f"{strength(c['rho'])} ({fr_p(c['p'])}).")
    figures = {"rho": c["rho"], "p": c["p"], "n": c["n"]}
    plain = ""
    first, last = _ends(g.rates)
    years = int(g.rates["annees"].iloc[0]) if "annees" in g.rates and len(g.rates) else 1
    if first and last and first != last:
        a, b = g.rates.loc[first], g.rates.loc[last]
        per_commune_up = b["initiatives_par_commune"] > a["initiatives_par_commune"]
        per_capita_up = b["initiatives_pour_1000_hab"] > a["initiatives_pour_1000_hab"]
        per_commune = round(float(b["initiatives_par_commune"]), 2)  # the noun agrees with the number shown
        plain = (f"Une commune {group_word} « {last} » porte en moyenne {fr_num(per_commune, 2)} "
                 f"{fr_noun(per_commune, 'initiative')}{_per(years)}, une commune {group_word} « {first} » "
                 f"{fr_num(a['initiatives_par_commune'], 2)}. Rapporté au nombre d'habitants, "
                 + ("c'est l'inverse" if per_commune_up != per_capita_up else "l'écart va dans le même sens")
                 + f" : {_rate(b['initiatives_pour_1000_hab'])} initiatives pour 1 000 habitants contre "
                 f"{_rate(a['initiatives_pour_1000_hab'])}.")
        figures.update({"first_group": first, "last_group": last, "years": years,
                        "per_commune": [float(a["initiatives_par_commune"]), float(b["initiatives_par_commune"])],
                        "per_1000": [float(a["initiatives_pour_1000_hab"]), float(b["initiatives_pour_1000_hab"])]})
    if g.partial is not None and not math.isnan(g.partial["rho"]):
        text += (f" À population égale (corrélation partielle de Spearman) : ρ = {fr_num(g.partial['rho'], 3)}, "
                 f"effet {strength(g.partial['rho'])} ({fr_p(g.partial['p'])}).")
        if population_note:
            plain += (" La taille de la commune explique une part de ce lien : à population égale, il est "
                      f"{strength(g.partial['rho'])}.")
        figures.update({"partial_rho": g.partial["rho"], "partial_p": g.partial["p"]})
    return {"claim": claim, "verdict": verdict, "plain": plain, "text": text, "figures": figures,
            "effect": c["rho"], "strength": strength(c["rho"])}


def _within_sentence(g: GroupAnalysis, domain_label: str) -> tuple[str, list[float]]:
    """How the most varying domain moves from the first group to the last inside each size band."""
    w = g.within
    if w is None or w.shape[1] < 2:
        return "", []
    first, last = w.columns[0], w.columns[-1]
    diffs = (100 * (w[last] - w[first])).dropna()
    if diffs.empty:
        return "", []
    return (f" À taille de commune égale, l'écart se retrouve : de « {first} » à « {last} », la part du "
            f"domaine « {domain_label} » varie de {fr_num(diffs.min(), 0)} à {fr_num(diffs.max(), 0)} points selon la "
            f"tranche ({len(diffs)} tranches où les deux groupes ont assez d'initiatives)."), diffs.tolist()


def independence_sentence(g: GroupAnalysis, claim: str, groups_word: str, group_word: str,
                          labels: LabelSet) -> dict:
    """"… does not change which domains come first", judged on Cramér's V and the largest per-domain gap."""
    t = g.test
    if math.isnan(t["cramers_v"]):
        return {"claim": claim, "verdict": "Non établi", "plain": "Trop peu de groupes ou de domaines pour juger.",
                "text": "Non testé : trop peu de groupes ou de domaines.", "figures": t, "effect": math.nan,
                "strength": "indéterminé"}
    gaps = g.gaps if g.gaps is not None else pd.DataFrame()
    largest = float(gaps["ecart"].iloc[0]) if len(gaps) else math.nan
    verdict = sameness_verdict(t["cramers_v"], largest)
    overall = g.crosstab.sum(axis=1).idxmax()
    top = g.top[g.top["rang_1"] != ""]
    same = int((top["rang_1"] == overall).sum())
    drivers = gaps[gaps["ecart"] >= DOMAIN_GAP] if len(gaps) else gaps
    if len(drivers):
        d = drivers.iloc[0]
        plain = (f"« {labels.label(drivers.index[0])} » pèse {fr_pct(d['part_max'], 0)} des initiatives "
                 f"« {d['groupe_max']} » et {fr_pct(d['part_min'], 0)} « {d['groupe_min']} » : c'est le domaine qui "
                 f"varie le plus d'un{'e' if groups_word == 'tranches' else ''} {group_word} à l'autre.")
        if len(drivers) > 1:
            plain += (" Varient aussi de 10 points ou plus : "
                      + ", ".join(f"« {labels.label(x)} »" for x in drivers.index[1:4]) + ".")
    else:
        plain = (f"« {labels.label(overall)} » arrive en tête dans {same} {groups_word} sur {len(top)} et aucun "
                 f"domaine ne varie de 10 points ou plus d'un groupe à l'autre.")
    within, within_diffs = _within_sentence(g, labels.label(drivers.index[0])) if len(drivers) else ("", [])
    plain += within
    text = (f"« {labels.label(overall)} », premier domaine dans l'ensemble, arrive en tête dans {same} "
            f"{groups_word} sur {len(top)}")
    others = top[top["rang_1"] != overall].groupby("rang_1", sort=False)["groupe"].apply(list)
    if len(others):
        text += " ; ailleurs : " + ", ".join(
            f"« {labels.label(d)} » ({', '.join(map(str, gs))})" for d, gs in others.items())
    text += (f". V de Cramér entre domaine et {group_word} : {fr_num(t['cramers_v'], 3)}, association "
             f"{strength(t['cramers_v'], feminine=True)} (χ² = {fr_num(t['chi2'], 1)}, {t['dof']} degrés de liberté, "
             f"{fr_p(t['p'])}, n = {fr_int(t['n'])} initiatives).")
    if len(gaps):
        text += f" Plus grand écart pour un domaine : {fr_num(100 * largest, 1)} points."
    return {"claim": claim, "verdict": verdict, "plain": plain, "text": text,
            "figures": {"chi2": t["chi2"], "dof": t["dof"], "p": t["p"], "cramers_v": t["cramers_v"],
                        "n": t["n"], "top_domain": overall, "groups_with_top_domain": same, "groups": len(top),
                        "low_expected_share": t["low_expected_share"],
                        "largest_gap_points": 100 * largest if not math.isnan(largest) else math.nan,
                        "gap_domains": {k: 100 * float(v) for k, v in drivers["ecart"].items()} if len(drivers)
                        else {}, "within_size_gap_points": within_diffs},
            "effect": t["cramers_v"], "strength": strength(t["cramers_v"])}


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
            "sa part d'habitants de 75 ans et plus", "du quartile", population_note=True)
        out["age_domains"] = independence_sentence(
            data.age, "La part des 75 ans et plus ne change pas les domaines qui arrivent en tête", "quartiles",
            "quartile d'âge", labels)
    return out
