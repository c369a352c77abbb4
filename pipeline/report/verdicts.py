"""One rule for every verdict: an effect size against fixed thresholds, never a p-value.

With tens of thousands of initiatives any difference is "significant"; what a reader
needs is whether it is large enough to matter. The same thresholds read a Spearman
ρ (a relation between two measures of communes) and a Cramér's V (domains × groups):
below 0.1 négligeable, 0.1 to 0.3 faible, 0.3 to 0.5 modérée, 0.5 and above forte.
A difference in domains is also looked at domain by domain: a domain whose share
moves by 10 percentage points or more between groups is named, since one domain can
drive a difference that the V, spread over thirteen domains, dilutes.
"""
from __future__ import annotations

import math

NEGLIGIBLE = 0.1    # below: no effect that counts
CLEAR = 0.3         # from here: a relation the claim can rest on
STRONG = 0.5
DOMAIN_GAP = 0.10   # 10 percentage points between two groups: a per-domain effect worth naming
MIN_GROUP = 30      # groups with fewer initiatives are left out of the per-domain gaps (their shares are noise)

VERDICTS = ("Vérifié", "Nuancé", "Non vérifié", "Contredit", "Non établi")

RULE_TEXT = (
    "Règle des verdicts, la même pour tous les constats : on mesure la taille de l'effet, pas sa "
    "significativité (avec des dizaines de milliers d'initiatives, le moindre écart est significatif). "
    "L'effet est le ρ de Spearman pour une relation entre deux mesures des communes (nombre d'initiatives et "
    "population, par exemple) et le V de Cramér pour un lien entre domaines et groupes de communes ; les deux "
    "se lisent avec les mêmes seuils : moins de 0,1 négligeable, de 0,1 à 0,3 faible, de 0,3 à 0,5 modéré, "
    "0,5 et plus fort. Un constat qui affirme une relation (« plus …, plus … ») est vérifié si l'effet va dans "
    "son sens et atteint 0,3, nuancé s'il va dans son sens mais reste faible (0,1 à 0,3), non vérifié s'il est "
    "négligeable, contredit s'il va en sens inverse et atteint 0,1. Un constat qui affirme une absence de "
    "différence (« … ne change pas les domaines ») est vérifié si le V est négligeable et qu'aucun domaine ne "
    "varie de 10 points ou plus d'un groupe à l'autre, nuancé si le V est négligeable mais qu'un domaine varie "
    "de 10 points ou plus (il est nommé), contredit si le V atteint 0,1. Les groupes de moins de "
    f"{MIN_GROUP} initiatives ne comptent pas dans les écarts par domaine. Les p-values restent données, à titre "
    "indicatif.")


def strength(effect: float, feminine: bool = False) -> str:
    """The reading of an effect size (|ρ| or V) with the report's thresholds; `feminine` for a feminine
    noun ("association forte", not "association fort")."""
    if effect is None or math.isnan(effect):
        word = "indéterminé"
    elif abs(effect) < NEGLIGIBLE:
        word = "négligeable"
    elif abs(effect) < CLEAR:
        word = "faible"
    else:
        word = "modéré" if abs(effect) < STRONG else "fort"
    return word + "e" if feminine and not word.endswith("e") else word


def relation_verdict(rho: float, claimed_sign: int = 1) -> str:
    """A claim "the more X, the more Y" (claimed_sign=1) or "the less" (-1), judged on ρ."""
    if rho is None or math.isnan(rho):
        return "Non établi"
    signed = rho * claimed_sign
    if signed >= CLEAR:
        return "Vérifié"
    if signed >= NEGLIGIBLE:
        return "Nuancé"
    if signed <= -NEGLIGIBLE:
        return "Contredit"
    return "Non vérifié"


def sameness_verdict(cramers_v: float, largest_gap: float) -> str:
    """A claim "X does not change the domains", judged on V and the largest per-domain gap (a share)."""
    if cramers_v is None or math.isnan(cramers_v):
        return "Non établi"
    if cramers_v >= NEGLIGIBLE:
        return "Contredit"
    if not math.isnan(largest_gap) and largest_gap >= DOMAIN_GAP:
        return "Nuancé"
    return "Vérifié"
