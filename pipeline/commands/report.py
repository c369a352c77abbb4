"""`python -m pipeline report`: read predictions files, write the barometer into reports/<name>/.

The shell around pipeline.report (analysis → compose → render):
it reads the predictions and the commune reference, fetches the model's CV metrics
from models/<run_id>/metrics.json, and writes the report folder atomically (built
under a temporary name, renamed when complete). It never imports spaCy nor loads a
model: everything comes from the predictions' columns.

reports/<name>/
  rapport.html   self-contained page (charts embedded as base64 PNG)
  rapport.pdf    the same page printed (A4), by WeasyPrint
  rapport.md     the same content; charts from figures/
  rapport.xlsx   every table, a sheet each
  figures/*.png  every chart (200 dpi)
  tables/*.csv   every table (UTF-8, comma-separated, raw numbers)
  resume.json    the key figures and findings, for scripts

No absolute path goes into any of them: inputs are named by file name and SHA-256.
An existing report folder is replaced only with --force, and only if it holds
nothing but a report's files (in figures/ and tables/, those its resume.json lists).
"""
from __future__ import annotations

import glob
import json
import logging
import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from pipeline.domains import LabelSet, load_label_set
from pipeline.errors import PipelineError
from pipeline.io.files import METRICS_FILE, RUN_ID, read_metrics, sha256_of, verify_if_run, write_json
from pipeline.io.formulas import unholdable
from pipeline.io.predictions import read_predictions_file
from pipeline.io.tables import atomic_folder
from pipeline.io.write import check_replaceable, write_csv
from pipeline.report import communes as communes_ref
from pipeline.report.analysis import attach_adjusted, build_report
from pipeline.report.compose import compose, tile_summary
from pipeline.report.document import Document
from pipeline.report.external import etalab_folder, etalab_pin
from pipeline.report.maps import load_contours, map_folder
from pipeline.report.prepare import Columns, align_columns, normalize_year, prepare_predictions, refuse_repeated_files
from pipeline.report.render import to_html, to_markdown, to_pdf
from pipeline.report.workbook import to_xlsx

log = logging.getLogger(__name__)
for _noisy in ("weasyprint", "fontTools"):  # their INFO lines (one per page laid out) drown the report's own
    logging.getLogger(_noisy).setLevel(logging.WARNING)

MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre"]


def expand_predictions(items: list[str]) -> list[Path]:
    """Files named, or matched by glob patterns ("data/predicted/dgcl-*.parquet"), in order, once each."""
    paths: list[Path] = []
    for item in items:
        if glob.has_magic(item):
            matched = sorted(glob.glob(item))
            if not matched:
                raise PipelineError(f"no predictions file matches {item}")
            paths += [Path(m) for m in matched]
        else:
            paths.append(Path(item))
    unique = list(dict.fromkeys(p.resolve() for p in paths))
    if not unique:
        raise PipelineError("no predictions file given: make report PREDICTIONS=path")
    # A copy under another name (2023.csv and "2023 - copie.csv" matched by one glob) would count every row twice.
    by_content: dict[str, Path] = {}
    for path in unique:
        first = by_content.setdefault(sha256_of(path), path) if path.is_file() else path
        if first != path:
            log.warning("%s holds the same bytes as %s: read once", path, first)
    return [p for p in unique if not p.is_file() or p in by_content.values()]


def default_name(paths: list[Path]) -> str:
    """dgcl-2023.parquet -> dgcl-2023; dgcl-2018, -2019, -2023 -> dgcl-2018-2019-2023."""
    stems = [p.name.split(".")[0] for p in paths]
    if len(stems) == 1:
        return stems[0]
    tokens = [re.split(r"[-_.]", s) for s in stems]
    common = []
    for group in zip(*tokens):
        if len(set(group)) > 1:
            break
        common.append(group[0])
    rest = ["-".join(t[len(common):]) for t in tokens]
    if len(paths) > 4 or not all(rest):
        return "-".join(common + [f"{len(paths)}-fichiers"]) if common else f"{len(paths)}-fichiers"
    return "-".join(common + rest)


def read_predictions(paths: list[Path], labels: LabelSet, code: str | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """Read and check each file (an error names the file), then stack them, each column the report uses
    under one name (`code`: the --code-col given)."""
    frames, inputs = [], []
    for path in paths:
        frame = prepare_predictions(read_predictions_file(path), labels, str(path))
        frames.append(frame)
        inputs.append({"name": path.name, "rows": len(frame), "sha256": sha256_of(path)})
        log.info("read %s: %d rows", path, len(frame))
    frames = align_columns(frames, [str(p) for p in paths], code)
    refuse_repeated_files(frames, [str(p) for p in paths])
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if frame.empty:
        raise PipelineError(f"{', '.join(str(p) for p in paths)}: no rows to report on")
    if not (frame["domain"] != "").any():  # every figure would be a share of nothing
        raise PipelineError(f"{', '.join(str(p) for p in paths)}: no row has a predicted domain (every text "
                            f"empty?); give the output of `make predict` on a file with texts")
    for column in frame.columns:  # a column missing from one file comes back as NaN
        if frame[column].dtype == object and frame[column].isna().any():
            frame[column] = frame[column].fillna("")
    return frame, inputs


def model_runs(config: dict, frame: pd.DataFrame) -> tuple[list[dict], dict[str, dict]]:
    """Each model run id of the predictions, with its CV metrics when models/<id>/metrics.json exists;
    and each metrics.json read, by run id (the share correction's scores come from it: read once)."""
    models = Path(config["paths"]["models"])
    out, read = [], {}
    for run_id, rows in frame["model_run_id"].value_counts().items():
        entry = {"run_id": run_id, "rows": int(rows)}
        named = bool(RUN_ID.fullmatch(run_id or ""))  # a run id names a folder inside models/, nothing else
        if named:  # its metrics.json and oof.npz give the report figures: a file changed since training stops it
            verify_if_run(models / run_id)
        if not named:
            entry["why"] = "pas d'identifiant de modèle"
        elif not (models / run_id / METRICS_FILE).is_file():
            entry["why"] = f"{run_id}/{METRICS_FILE} absent du dossier des modèles"
        else:
            try:
                m = read[run_id] = read_metrics(models / run_id)
                # The headline source's figures (real titles drawn at random) where the run has one.
                headline = m.get("headline_source")
                digital = m.get("digital") or {}
                flag = (digital.get("by_source") or {}).get(headline) or digital
                entry["metrics"] = {"chosen": m.get("chosen"), "cv_folds": m.get("cv_folds"),
                                    "n_train": m.get("n_train"), "macro_f1": m["domain"]["macro_f1"],
                                    "accuracy": m["domain"]["accuracy"], "headline_source": headline,
                                    "digital_f1_yes": flag.get("f1_yes"),
                                    "year_out": ((m.get("period_out") or {}).get("pooled") or {}).get(headline),
                                    "by_certainty": (m["domain"].get("by_certainty") or {}).get(headline),
                                    "review_threshold": (m.get("review") or {}).get("threshold"),
                                    "cv_repeats": m.get("cv_repeats", 1), "selected_on": m.get("selected_on"),
                                    "n_evaluated": m["domain"].get("n")}
            except (PipelineError, KeyError, TypeError) as exc:
                entry["why"] = f"{run_id}/{METRICS_FILE} illisible ou incomplet"  # the report shows no local path
                log.warning("model %s: %s", run_id, exc)
        if "why" in entry:
            log.warning("model %s: CV metrics unknown (%s)", run_id or "?", entry["why"])
        out.append(entry)
    return out, read


def review_threshold(config: dict, runs: list[dict], frame: pd.DataFrame | None = None) -> float | None:
    """The threshold predict applied: the predictions' review_threshold column when it holds one value,
    else (older files) the config's number, else the model's own (when one model made every row)."""
    if frame is not None and "review_threshold" in frame:
        applied = set(pd.to_numeric(frame["review_threshold"], errors="coerce").dropna().round(4))
        if len(applied) == 1:
            return float(applied.pop())
        if len(applied) > 1:
            return None
    configured = config.get("predict", {}).get("review_threshold")
    if isinstance(configured, (int, float)):
        return float(configured)
    chosen = {r.get("metrics", {}).get("review_threshold") for r in runs}
    return chosen.pop() if len(chosen) == 1 else None


def load_reference(config: dict, columns: Columns, communes_csv: str | None):
    if not columns.code:
        log.warning("no commune code column in the predictions: the sections by commune size are left out")
        return None
    folder = etalab_folder(config)
    if communes_csv:
        return communes_ref.load_csv(communes_csv, folder)
    _, version, _ = etalab_pin(config)
    return communes_ref.load_etalab(folder, expected_version=version)


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    return value


REPORT_FILES = {"rapport.html", "rapport.pdf", "rapport.md", "rapport.xlsx", "resume.json", "figures", "tables"}
REPORT_FOLDERS = {"figures": ".png", "tables": ".csv"}  # the sub-folders a report writes, and what it puts in them
FILES_KEY = "files"  # resume.json's list of every file the report wrote


def check_destination(folder: Path, force: bool) -> None:
    """Refuse to overwrite a report unless --force; refuse even then if the folder holds anything else."""
    check_replaceable(folder, force, REPORT_FILES, "a report",
                      "give another --name (make: NAME=...), or --force (make: FORCE=yes) to replace it", _not_written)


def _not_written(folder: Path) -> list[str]:
    """What the report's sub-folders hold that it did not write: not in the files resume.json lists
    (a report written before that list: anything but a chart's .png or a table's .csv)."""
    try:
        written = json.loads((folder / "resume.json").read_text(encoding="utf-8"))[FILES_KEY]
    except (OSError, ValueError, TypeError, KeyError):
        written = None
    out = []
    for sub, suffix in REPORT_FOLDERS.items():
        path = folder / sub
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            out.append(sub)
        elif path.is_dir():
            for p in sorted(path.iterdir()):
                name = f"{sub}/{p.name}"
                ours = name in written if isinstance(written, list) else p.suffix == suffix
                if p.is_symlink() or not p.is_file() or not ours:
                    out.append(name)
    return out


def print_pdf(page: str) -> bytes:
    try:
        return to_pdf(page)
    except OSError as exc:  # WeasyPrint loads Pango through cffi: a missing system library is an OSError
        raise PipelineError(f"rapport.pdf: WeasyPrint cannot load Pango ({exc}); install it (apt-get install "
                            f"libpango-1.0-0 libpangoft2-1.0-0) or run with --no-pdf") from None


def write_report(doc: Document, folder: Path, pdf: bool = True) -> Path:
    """Write the report folder under a temporary name and move it into place (replacing an older one)."""
    page = to_html(doc)
    book = to_xlsx(doc, str(folder / "rapport.xlsx"))  # before anything is written: a failure leaves nothing behind
    printed = print_pdf(page) if pdf else None
    with atomic_folder(folder) as tmp:
        (tmp / "figures").mkdir()
        (tmp / "tables").mkdir()
        for chart in doc.charts:
            (tmp / "figures" / f"{chart.name}.png").write_bytes(chart.png)
        for table in doc.tables:
            write_csv(table.data, tmp / table.csv_name)
        (tmp / "rapport.html").write_text(page, encoding="utf-8")
        (tmp / "rapport.md").write_text(to_markdown(doc), encoding="utf-8")
        (tmp / "rapport.xlsx").write_bytes(book)
        if printed is not None:
            (tmp / "rapport.pdf").write_bytes(printed)
        files = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
        write_json(tmp / "resume.json", {**_jsonable(doc.summary), FILES_KEY: [*files, "resume.json"]})
    return folder


def adjusted_domain_shares(config: dict, frame: pd.DataFrame, data, labels: LabelSet, runs: list[dict],
                           metrics: dict[str, dict]):
    """Adjusted shares with 95 % intervals (pipeline/quantify), and their section (placed before the methods).

    runs, metrics: model_runs's."""
    from pipeline.quantify.section import share_section
    from pipeline.quantify.shares import adjusted_shares
    from pipeline.quantify.store import load_for_report

    oof, why_not, scores = load_for_report(config["paths"]["models"], [r["run_id"] for r in runs],
                                           config.get("train", {}).get("select_on", []), metrics)
    groups = {}
    if data.joined is not None and "taille" in data.joined:
        groups["taille"] = data.joined["taille"].reindex(frame.index)  # categorical: the bands' order
    if data.columns.year:
        groups["annee"] = frame[data.columns.year]  # normalised by run_report: text, "" when not given
    select_on = config.get("train", {}).get("select_on", [])
    # The headline source the model recorded at training (the config may have changed since).
    headline = (scores or {}).get("source") or next(
        (s for s in select_on if oof is not None and s in set(oof.source)), None)
    result = adjusted_shares(frame, list(labels.codes), oof, groups, why_not=why_not, headline=headline)
    if not result.adjusted:  # the page says it in French; the analyst reading the log learns it and the way out
        log.warning("domain shares not adjusted for the model's errors, published as counted without intervals: "
                    "%s (docs/quantification.md; a model of the seed set alone needs real labeled titles: "
                    "make train EXTRA=../shared/data)", result.why_not)
    return result, share_section(result, labels, scores)


def publish_adjusted_shares(doc: Document, result, labels: LabelSet) -> None:
    """resume.json's "domain_shares" (and so tables/domain_shares.csv), and on the first screen a
    warning when they could not be adjusted on real titles, or the leading adjusted shares."""
    from pipeline.quantify.section import share_summary, synthesis_sentence, warning_text

    # On the first screen: the warning or the leading adjusted shares, and the tiles' intervals.
    doc.notes[:0] = [text for text in (warning_text(result), synthesis_sentence(result, labels)) if text]
    if result.adjusted:
        tiles_with_intervals(doc.tiles, result, labels)
        doc.summary["tiles"] = tile_summary(doc.tiles)  # resume.json gives the figures the page shows
    doc.summary["domain_shares"] = share_summary(result)


def tiles_with_intervals(tiles: list, result, labels: LabelSet) -> None:
    """The first-domain and digital tiles show the adjusted share and its 95 % interval."""
    from pipeline.report.frformat import fr_pct

    rows = {f"« {labels.label(r.domain)} », premier domaine": r for r in result.domains.itertuples()}
    if result.digital and result.digital.get("share_adjusted") is not None:
        rows["passent par le numérique"] = SimpleNamespace(**result.digital)
    for tile in tiles:
        r = rows.get(tile.label)
        if r is None or pd.isna(r.share_adjusted):
            continue
        tile.detail = f"corrigé des erreurs du modèle (brut : {tile.value})"
        tile.value, tile.ci_low, tile.ci_high = fr_pct(r.share_adjusted), fr_pct(r.ci_low), fr_pct(r.ci_high)


@dataclass(frozen=True)
class ReportSettings:
    """How one report is made: the command line's options of `report` (config/pipeline.toml gives the paths)."""

    name: str | None = None          # folder under reports/ (default: from the input file names)
    communes_csv: str | None = None  # a commune reference CSV instead of Etalab's package
    code_col: str | None = None      # the INSEE code column (default: found by name)
    title: str | None = None
    subtitle: str | None = None
    source: str | None = None        # the data's credit, under every chart and table
    force: bool = False              # replace an existing report folder
    pdf: bool = True                 # write rapport.pdf too


def run_report(config: dict, predictions: list[str], settings: ReportSettings | None = None) -> Path:
    """Read predictions, aggregate, test the findings, write reports/<name>/; return the folder."""
    s = settings or ReportSettings()
    for option in ("title", "subtitle", "source"):  # shown on the page and in the PDF; title and source in the workbook
        value = getattr(s, option)
        if value and (problem := unholdable(value)):
            raise PipelineError(f"--{option} {value[:60]!r}: {problem}")
    labels = load_label_set(config["paths"]["labels"])
    paths = expand_predictions(predictions)
    name = s.name or default_name(paths)
    if not re.fullmatch(r"[\w][\w.\-]*", name):
        raise PipelineError(f"report name {name!r}: use letters, digits, '-', '_' and '.' only")
    folder = Path(config["paths"]["reports"]) / name
    check_destination(folder, s.force)
    frame, inputs = read_predictions(paths, labels, s.code_col)
    columns = Columns.detect(frame.columns, s.code_col)
    log.info("columns used: %s", ", ".join(f"{k}={v}" for k, v in vars(columns).items() if v) or "none")
    if columns.year:  # once, for every figure by year (a file without the column gave NaN)
        frame[columns.year] = normalize_year(frame[columns.year], columns.year)
    ref = load_reference(config, columns, s.communes_csv)
    data = build_report(frame, labels, ref, columns)
    if data.join_summary is not None:
        status = data.joined["jointure"].value_counts()
        log.info("commune rows: %d joined (%d through a former code), %d without code, %d unknown or malformed "
                 "(%d distinct codes listed); %d rows of other beneficiaries",
                 status.get("current", 0) + status.get("former", 0), status.get("former", 0),
                 status.get("no_code", 0), status.get("unknown", 0) + status.get("invalid", 0),
                 len(data.unjoined), status.get("not_commune", 0))
    now = datetime.now().astimezone()
    from pipeline.io.files import git_commit

    runs, metrics = model_runs(config, frame)
    meta = {"name": name, "inputs": inputs, "models": runs, "title": s.title, "subtitle": s.subtitle,
            "source": s.source,
            "date": now.isoformat(timespec="seconds"),
            "date_fr": f"{now.day} {MONTHS[now.month - 1]} {now.year} à {now:%H:%M}",
            "git_commit": git_commit(), "review_threshold": review_threshold(config, runs, frame),
            "reference_sources": ref.sources if ref is not None else []}
    contours_folder = map_folder(config)
    if data.departement_rates is not None and (contours_folder / "index.js").is_file():
        meta["contours"] = load_contours(contours_folder)
    shares, shares_section = adjusted_domain_shares(config, frame, data, labels, runs, metrics)
    if shares.adjusted:  # the domain charts draw the adjusted shares' intervals
        attach_adjusted(data, shares.domains, shares.groups)
    doc = compose(data, labels, meta, before_methods=[shares_section])
    publish_adjusted_shares(doc, shares, labels)
    for f in doc.findings.values():
        log.info("finding: %s — %s", f["claim"], f["verdict"])
    folder = write_report(doc, folder, s.pdf)
    log.info("report written to %s (%d charts, %d tables)", folder, len(doc.charts), len(doc.tables))
    return folder
