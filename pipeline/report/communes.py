"""The commune reference the report joins on: codes, population, size band, département, région.

Two sources give the same codes (COG 2026):
- Etalab's npm package `@etalab/decoupage-administratif` (installed by `make communes`
  into data/external/): current communes with their population, the former codes of
  communes that have since merged, and the municipal districts of Paris, Lyon, Marseille;
  no age data.
- a CSV with a `code_insee` column (../shared/data/communes/communes-2026-pop2023.csv):
  population, département and région names, and for communes of 2,000 inhabitants or
  more the census share of inhabitants aged 75 and over.

`reference_from_etalab` and `reference_from_csv` are functions of plain data, without
I/O; `load_etalab` and `load_csv` read the files.
"""
from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.errors import PipelineError
from pipeline.report.frformat import plain

log = logging.getLogger(__name__)

# (lower bound included, upper bound excluded, label): the barometer's size bands.
SIZE_BANDS = [
    (0, 500, "moins de 500"),
    (500, 1_000, "500 à 999"),
    (1_000, 2_000, "1 000 à 1 999"),
    (2_000, 3_500, "2 000 à 3 499"),
    (3_500, 10_000, "3 500 à 9 999"),
    (10_000, 50_000, "10 000 à 49 999"),
    (50_000, 100_000, "50 000 à 99 999"),
    (100_000, math.inf, "100 000 et plus"),
]
SIZE_LABELS = [label for _, _, label in SIZE_BANDS]

# Columns of CommuneReference.communes (index: the 5-character INSEE code).
COLUMNS = ["nom", "departement", "nom_departement", "region", "nom_region", "population", "pct_75p"]

ETALAB_FILES = ("communes.json", "departements.json", "regions.json")
INSTALLED_MARKER = ".installed.json"


@dataclass
class CommuneReference:
    """Current communes (index: code) and the codes that lead to them."""

    communes: pd.DataFrame
    former: dict[str, str] = field(default_factory=dict)   # former or district code -> current code
    postcodes: dict[str, list[str]] = field(default_factory=dict)  # postal code -> current codes
    aliases: dict[str, list[str]] = field(default_factory=dict)  # current code -> names of its delegated communes
    departements: pd.DataFrame = field(default_factory=pd.DataFrame)  # index code: nom, region, nom_region
    sources: list[dict] = field(default_factory=list)  # what was read: name, path, version, hash, licence

    @property
    def has_age(self) -> bool:
        return bool(self.communes["pct_75p"].notna().any())

    def resolve(self, codes: pd.Series) -> tuple[pd.Series, pd.Series]:
        """Map normalised codes to current ones: (current code or "", how: current/former/unknown)."""
        current = codes.where(codes.isin(self.communes.index), "")
        via = codes.map(self.former).fillna("")
        via = via.where(via.isin(self.communes.index), "")
        how = np.where(current != "", "current", np.where(via != "", "former", "unknown"))
        return current.where(current != "", via), pd.Series(how, index=codes.index)

    def is_named(self, codes: pd.Series, names: pd.Series) -> pd.Series:
        """Whether each name is the name of the commune `code` (or of one of its delegated communes)."""
        known = {code: {name_key(n) for n in [nom, *self.aliases.get(code, [])]}
                 for code, nom in self.communes["nom"].items()}
        return pd.Series([name_key(n) in known.get(c, ()) for c, n in zip(codes, names)], index=codes.index,
                         dtype=bool)


def name_key(name) -> str:
    """A commune name as lists write it: "COM VINCENNES", "CHARRON (17)", "ALDUDES LES", "ST-JEAN" all match."""
    key = re.sub(r"_\d{1,3}$", "", plain(name))                       # "(17)"
    key = re.sub(r"^(commune|com|ville|mairie)_(de_|d_|du_|des_)?", "", key)
    key = re.sub(r"^(.*)_(les|le|la|l)$", r"\2_\1", key)              # "ALDUDES LES"
    key = re.sub(r"(^|_)st(?=_|$)", r"\1saint", key)
    key = re.sub(r"(^|_)ste(?=_|$)", r"\1sainte", key)
    return key.replace("_", "")


def lookup(codes: pd.Series, table: pd.Series) -> pd.Series:
    """codes mapped through `table` (a Series indexed by code), "" where a code is not there."""
    mapping = table.to_dict()
    return codes.map(lambda c: mapping.get(c, "")).astype(object)


def size_band(population: pd.Series) -> pd.Series:
    """The size band of each population, an ordered categorical (NaN where unknown)."""
    edges = [low for low, _, _ in SIZE_BANDS] + [math.inf]
    return pd.cut(pd.to_numeric(population, errors="coerce"), bins=edges, right=False, labels=SIZE_LABELS)


def _resolve_chains(former: dict[str, str], current: set[str]) -> dict[str, str]:
    """Follow old -> newer -> current code chains; drop codes that end nowhere."""
    out = {}
    for old, new in former.items():
        seen = {old}
        while new not in current and new in former and new not in seen:
            seen.add(new)
            new = former[new]
        if new in current and old not in current:
            out[old] = new
    return out


def _departements_frame(departements: list[dict], regions: list[dict]) -> pd.DataFrame:
    region_names = {r["code"]: r["nom"] for r in regions}
    frame = pd.DataFrame([{"code": d["code"], "nom": d["nom"], "region": d.get("region", ""),
                           "nom_region": region_names.get(d.get("region", ""), "")} for d in departements])
    return frame.set_index("code") if len(frame) else pd.DataFrame(columns=["nom", "region", "nom_region"])


def reference_from_etalab(communes: list[dict], departements: list[dict], regions: list[dict]) -> CommuneReference:
    """Build the reference from the three JSON lists of Etalab's package."""
    deps = _departements_frame(departements, regions)
    current = [c for c in communes if c.get("type") == "commune-actuelle"]
    if not current:
        raise PipelineError("Etalab's communes.json lists no current commune (type commune-actuelle)")
    frame = pd.DataFrame({
        "code": [c["code"] for c in current],
        "nom": [c.get("nom", "") for c in current],
        "departement": [c.get("departement", "") for c in current],
        "region": [c.get("region", "") for c in current],
        "population": [c.get("population", np.nan) for c in current],
    }).set_index("code")
    frame["population"] = pd.to_numeric(frame["population"], errors="coerce")
    frame["nom_departement"] = lookup(frame["departement"], deps["nom"])
    frame["nom_region"] = lookup(frame["departement"], deps["nom_region"])
    frame["pct_75p"] = np.nan  # the package has no age data
    codes = set(frame.index)
    former: dict[str, str] = {}
    for c in current:
        for old in c.get("anciensCodes", []) or []:
            former.setdefault(old, c["code"])
    aliases: dict[str, list[str]] = {}
    for c in communes:
        kind = c.get("type")
        parent = c.get("chefLieu") if kind in ("commune-deleguee", "commune-associee") else (
            c.get("commune") if kind == "arrondissement-municipal" else None)
        if parent:
            former.setdefault(c["code"], parent)
            aliases.setdefault(parent, []).append(c.get("nom", ""))
    postcodes: dict[str, list[str]] = {}
    for c in current:
        for cp in c.get("codesPostaux", []) or []:
            postcodes.setdefault(cp, []).append(c["code"])
    return CommuneReference(frame[COLUMNS], former=_resolve_chains(former, codes), postcodes=postcodes,
                            aliases=aliases, departements=deps)


CSV_CODE = "code_insee"
CSV_POPULATION = ("population_municipale_2023", "population_municipale", "population", "pmun")
CSV_AGE = ("rp2018_pct_75p", "pct_75p", "part_75p")


def reference_from_csv(frame: pd.DataFrame, path: str | Path = "communes CSV", former: dict[str, str] | None = None,
                       aliases: dict[str, list[str]] | None = None) -> CommuneReference:
    """Build the reference from a CSV read as text (one row a current commune, joined on code_insee).

    The CSV has no former codes: `former` and `aliases` come from Etalab's package when given.
    """
    columns = {c.lower(): c for c in frame.columns}
    if CSV_CODE not in columns:
        raise PipelineError(f"{path}: no column {CSV_CODE!r} (columns: {', '.join(frame.columns)})")
    pop_col = next((columns[c] for c in CSV_POPULATION if c in columns), None)
    if pop_col is None:
        raise PipelineError(f"{path}: no population column (looked for {', '.join(CSV_POPULATION)})")
    age_col = next((columns[c] for c in CSV_AGE if c in columns), None)

    def col(name: str) -> pd.Series:
        return frame[columns[name]].astype(str).str.strip() if name in columns else pd.Series("", index=frame.index)

    out = pd.DataFrame({
        "code": frame[columns[CSV_CODE]].astype(str).str.strip().str.zfill(5),
        "nom": col("nom"),
        "departement": col("code_departement"),
        "nom_departement": col("nom_departement"),
        "region": col("code_region"),
        "nom_region": col("nom_region"),
        "population": pd.to_numeric(frame[pop_col], errors="coerce"),
        "pct_75p": pd.to_numeric(frame[age_col], errors="coerce") if age_col else np.nan,
    })
    duplicated = out["code"].duplicated()
    if duplicated.any():
        raise PipelineError(f"{path}: code_insee {out['code'][duplicated].iloc[0]!r} is listed twice")
    out = out.set_index("code")
    deps = (out[out["departement"] != ""].groupby("departement")
            .agg(nom=("nom_departement", "first"), region=("region", "first"), nom_region=("nom_region", "first")))
    codes = set(out.index)
    return CommuneReference(out[COLUMNS], former=_resolve_chains(dict(former or {}), codes),
                            aliases=dict(aliases or {}), departements=deps)


def read_installed(folder: Path) -> dict:
    marker = folder / INSTALLED_MARKER
    try:
        return json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def load_etalab(folder: str | Path, expected_version: str | None = None,
                former_codes_only: bool = False) -> CommuneReference:
    """Read the installed package; an error tells to run `make communes` when it is missing or another version.

    former_codes_only: read beside a communes CSV, which stays the reference (the log says so)."""
    folder = Path(folder)
    data = folder / "data"
    missing = [name for name in ETALAB_FILES if not (data / name).is_file()]
    if missing:
        raise PipelineError(f"Etalab's commune reference is not installed in {folder} (missing "
                            f"{', '.join(missing)}): run `make communes`, or give a CSV with --communes")
    installed = read_installed(folder)
    if expected_version and installed.get("version") != expected_version:
        raise PipelineError(f"{folder} holds version {installed.get('version', 'unknown')} of Etalab's package, "
                            f"the config pins {expected_version}: run `make communes` again")
    lists = {}
    for name in ETALAB_FILES:
        try:
            lists[name] = json.loads((data / name).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise PipelineError(f"{data / name} cannot be read ({exc}): run `make communes` again") from None
    ref = reference_from_etalab(lists["communes.json"], lists["departements.json"], lists["regions.json"])
    ref.sources.append({
        "name": f"{installed.get('package', '@etalab/decoupage-administratif')}@{installed.get('version', '?')}",
        "path": str(data / "communes.json"),
        "integrity": installed.get("integrity", ""),
        "licence": "Licence Ouverte / Open Licence (Etalab) pour les données, MIT pour le code",
        "attribution": "Etalab, « Découpage administratif » d'après l'INSEE (Code officiel géographique, "
                       "populations légales) et la DGCL (périmètre des EPCI)",
    })
    if former_codes_only:
        log.info("former commune codes and postcodes: %s (%d former or district codes)",
                 ref.sources[-1]["name"], len(ref.former))
    else:
        log.info("commune reference: %s (%d current communes, %d former or district codes)",
                 ref.sources[-1]["name"], len(ref.communes), len(ref.former))
        _warn_without_age(ref)
    return ref


def _warn_without_age(ref: CommuneReference) -> None:
    """The page says the age section is missing; the analyst reading the log learns how to get it."""
    if not ref.has_age:
        log.warning("no age data in the commune reference: the section by age is left out; give a communes CSV "
                    "that has it (COMMUNES=... for make, --communes), such as "
                    "../shared/data/communes/communes-2026-pop2023.csv")


def load_csv(path: str | Path, etalab_folder: str | Path | None = None) -> CommuneReference:
    """Read a communes CSV; the former codes come from Etalab's package when it is installed."""
    from pipeline.io.files import sha256_of
    from pipeline.io.tables import read_table

    path = Path(path)
    frame = read_table(path)
    etalab = None
    if etalab_folder is not None:
        try:
            etalab = load_etalab(etalab_folder, former_codes_only=True)
        except PipelineError as exc:
            log.warning("former commune codes unavailable (%s): merged communes' old codes will not join", exc)
    ref = reference_from_csv(frame, path, etalab.former if etalab else None, etalab.aliases if etalab else None)
    if etalab is not None:
        ref.postcodes = etalab.postcodes
    ref.sources.append({
        "name": path.name,
        "path": str(path),
        "sha256": sha256_of(path),
        "licence": "celle du fichier fourni ; le fichier du projet (communes-2026-pop2023.csv) reprend des "
                   "données de l'INSEE sous Licence Ouverte",
        "attribution": "INSEE : Code officiel géographique 2026, populations légales 2023"
                       + (", recensement 2018 (part des 75 ans et plus)" if ref.has_age else ""),
    })
    if etalab is not None:
        ref.sources.extend({**s, "name": s["name"] + " (anciens codes, communes déléguées et codes postaux)"}
                           for s in etalab.sources)
    log.info("commune reference: %s (%d communes, age data: %s, %d former codes)", path, len(ref.communes),
             "yes" if ref.has_age else "no", len(ref.former))
    _warn_without_age(ref)
    return ref
