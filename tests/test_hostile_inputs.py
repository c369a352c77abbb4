"""Hostile but realistic inputs: each class of file or fault a user brings, written here into tmp_path.

Every case either reads right (no silent change of the data) or stops with one
line naming the file, row or column, exit code 2.
"""
import bz2
import gzip
import logging
import lzma
import os
import shutil
import stat
import subprocess
import tempfile
import zipfile

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.config import PROJECT_DIR
from pipeline.errors import PipelineError
from pipeline.io.tables import TableWriter, atomic_output, find_text_columns, iter_table, read_table

ROWS = "code;intitule\n01004;Rénovation de l'église\n2A004;Vidéoprotection à l'école\n"
TITLES = ["Rénovation de l'église", "Vidéoprotection à l'école"]


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def cli(config, *args):
    return main(["--config", config["config_file"], "-q", *args])


def one_line_error(capsys, *fragments):
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


# -- encodings ------------------------------------------------------------------------------
def test_one_cp1252_line_in_a_utf8_file_keeps_every_accent_and_is_named(tmp_path, caplog):
    path = write(tmp_path, "mixed.csv", ROWS.encode() + "75056;Éclairage public rénové\n".encode("cp1252"))
    with caplog.at_level(logging.WARNING):
        frame = read_table(path)
    assert frame["intitule"].tolist() == TITLES + ["Éclairage public rénové"]
    assert "line 4" in caplog.text  # the lines read as cp1252 are named


def test_utf8_bom_over_a_cp1252_body_keeps_the_first_column_name(tmp_path):
    frame = read_table(write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + ROWS.encode("cp1252")))
    assert list(frame.columns) == ["code", "intitule"]
    assert frame["intitule"].tolist() == TITLES


@pytest.mark.parametrize("encoding", ["cp850", "mac_roman"])
def test_other_8bit_exports_are_recognised_over_the_whole_file(tmp_path, encoding):
    text = ROWS + "75056;Éclairage public de la rue à côté du marché\n34172;Sécurité des écoles\n"
    frame = read_table(write(tmp_path, "dos.csv", text.encode(encoding)))
    assert frame["intitule"].tolist()[:2] == TITLES


def test_wrong_or_unknown_encoding_is_one_line_naming_the_line(tmp_path):
    path = write(tmp_path, "latin.csv", ROWS.encode("cp1252"))
    with pytest.raises(PipelineError, match=r"latin.csv, line 2: byte b'\\xe9' cannot be decoded as utf-8"):
        read_table(path, encoding="utf-8")
    with pytest.raises(PipelineError, match="--encoding 'klingon': unknown encoding"):
        read_table(path, encoding="klingon")


# -- layout: separators, columns --------------------------------------------------------------
@pytest.mark.parametrize("header_too", [False, True])
def test_a_separator_ending_every_line_moves_no_column(tmp_path, header_too):
    header = "code;intitule;" if header_too else "code;intitule"
    path = write(tmp_path, "fr.csv", f"{header}\n01004;Rénovation;\n2A004;Voirie;\n".encode())
    frame = read_table(path)
    assert list(frame.columns) == ["code", "intitule"]
    assert frame["code"].tolist() == ["01004", "2A004"]


def test_a_value_after_the_last_column_is_kept_or_refused_never_dropped(tmp_path, caplog):
    path = write(tmp_path, "extra.csv", b"code;intitule\n01004;Renovation;\n2A004;Voirie;oops\n")
    with caplog.at_level(logging.WARNING):
        frame = read_table(path)  # the values are a column without a name
    assert frame["Unnamed: 2"].tolist() == ["", "oops"] and "values after the last named column" in caplog.text
    # Streamed: the first chunk found a mere trailing separator; a value later is named, not dropped.
    with pytest.raises(PipelineError, match=r"extra.csv, row 3: a value \('oops'\) after the last column"):
        list(iter_table(path, chunk_size=1))


def test_a_one_column_file_keeps_its_commas(tmp_path):
    titles = ["Rénovation, extension de la mairie", "Voirie, éclairage, parkings", "École"]
    frame = read_table(write(tmp_path, "titles.csv", ("titre\n" + "\n".join(titles) + "\n").encode()))
    assert list(frame.columns) == ["titre"] and frame["titre"].tolist() == titles


def test_the_separator_comes_from_the_rows_not_the_header_alone(tmp_path):
    # The header has more commas than semicolons; every row says ';'.
    data = "titre;cout, HT, en euros\nRenovation, mairie;12,5\nVoirie;3\nParc, jeux, bancs;7\n"
    frame = read_table(write(tmp_path, "semi.csv", data.encode()))
    assert list(frame.columns) == ["titre", "cout, HT, en euros"]
    assert frame["titre"].tolist() == ["Renovation, mairie", "Voirie", "Parc, jeux, bancs"]
    assert list(read_table(tmp_path / "semi.csv", sep=",").columns) != ["titre", "cout, HT, en euros"]
    with pytest.raises(PipelineError, match="--sep ';;': the separator must be one character"):
        read_table(tmp_path / "semi.csv", sep=";;")


def test_duplicate_column_names_are_refused_not_renamed(tmp_path):
    with pytest.raises(PipelineError, match=r"two columns are named 'titre' \(columns 1 and 3\)"):
        read_table(write(tmp_path, "dup.csv", b"titre;code;titre\na;1;b\n"))
    pd.DataFrame([["a", "b"]], columns=["titre", "titre"]).to_excel(tmp_path / "dup.xlsx", index=False)
    with pytest.raises(PipelineError, match="dup.xlsx.*two columns are named 'titre'"):
        read_table(tmp_path / "dup.xlsx")


def test_a_header_only_file_is_refused_in_every_format(tmp_path):
    write(tmp_path, "h.csv", b"titre;code\n")
    pd.DataFrame({"titre": pd.Series([], dtype=str)}).to_parquet(tmp_path / "h.parquet")
    pd.DataFrame({"titre": pd.Series([], dtype=str)}).to_excel(tmp_path / "h.xlsx", index=False)
    for name in ("h.csv", "h.parquet", "h.xlsx"):
        with pytest.raises(PipelineError, match=f"{name}.* a header but no rows"):
            read_table(tmp_path / name)
        with pytest.raises(PipelineError, match="a header but no rows"):
            list(iter_table(tmp_path / name, 10))


def test_a_column_name_with_a_comma_can_be_chosen():
    columns = ["Titre, court", "description"]
    assert find_text_columns(columns, "Titre, court", [], "f.csv") == ["Titre, court"]
    assert find_text_columns(columns, '"Titre, court",description', [], "f.csv") == columns


@pytest.mark.parametrize("name, data", [
    ("utf16le.csv", ROWS.encode("utf-16-le")),      # no BOM: NULs that UTF-8 would accept
    ("utf16be.csv", ROWS.encode("utf-16-be")),
    ("mac-cr.csv", ROWS.replace("\n", "\r").encode()),  # old Mac line ends
    ("crlf.csv", ROWS.replace("\n", "\r\n").encode("cp1252")),
])
def test_unusual_but_real_encodings_and_line_ends(tmp_path, name, data):
    assert read_table(write(tmp_path, name, data))["intitule"].tolist() == TITLES


def test_a_file_is_read_as_what_it_is_not_as_what_it_is_named(tmp_path):
    pd.DataFrame({"code": ["01004"], "intitule": [TITLES[0]]}).to_excel(tmp_path / "export.csv", index=False)
    assert read_table(tmp_path / "export.csv")["code"].tolist() == ["01004"]  # a workbook named .csv
    write(tmp_path, "fake.xlsx", ROWS.encode())
    with pytest.raises(PipelineError, match="fake.xlsx: not a xlsx file"):
        read_table(tmp_path / "fake.xlsx")


# -- formats -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name, pack", [
    ("in.csv.gz", gzip.compress), ("in.csv.bz2", bz2.compress), ("in.csv.xz", lzma.compress),
    ("in.zip", None), ("gzip-named.csv", gzip.compress)])
def test_compressed_csv_is_read_as_its_content(tmp_path, name, pack):
    data = ROWS.encode("cp1252")  # the encoding is found inside the archive too
    if pack is None:
        with zipfile.ZipFile(tmp_path / name, "w") as zf:
            zf.writestr("export/in.csv", data)
    else:
        write(tmp_path, name, pack(data))
    assert read_table(tmp_path / name)["intitule"].tolist() == TITLES


def test_broken_archives_are_one_line(tmp_path):
    write(tmp_path, "cut.csv.gz", gzip.compress(ROWS.encode() * 50)[:60])
    with pytest.raises(PipelineError, match="cut.csv.gz: the compressed file is truncated or corrupt"):
        read_table(tmp_path / "cut.csv.gz")
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as zf:
        zf.writestr("a.csv", ROWS)
        zf.writestr("b.csv", ROWS)
    with pytest.raises(PipelineError, match=r"two.zip: a .zip input must hold exactly one CSV file; it holds 2"):
        read_table(tmp_path / "two.zip")


def test_old_xls_and_ods_workbooks_are_read(tmp_path):
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("liste")
    for r, row in enumerate([["code", "intitule"], ["01004", TITLES[0]], ["2A004", TITLES[1]]]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.save(str(tmp_path / "old.xls"))
    pd.DataFrame({"code": ["01004", "2A004"], "intitule": TITLES}).to_excel(tmp_path / "calc.ods", index=False,
                                                                            engine="odf")
    for name in ("old.xls", "calc.ods"):
        frame = read_table(tmp_path / name)
        assert frame["code"].tolist() == ["01004", "2A004"] and frame["intitule"].tolist() == TITLES


def test_the_sheet_read_is_named_and_chosen(tmp_path, caplog):
    with pd.ExcelWriter(tmp_path / "book.xlsx") as writer:
        pd.DataFrame({"note": ["sommaire"]}).to_excel(writer, sheet_name="Lisez-moi", index=False)
        pd.DataFrame({"intitule": TITLES}).to_excel(writer, sheet_name="Projets", index=False)
    with caplog.at_level(logging.WARNING):
        read_table(tmp_path / "book.xlsx")
    assert "sheet 'Lisez-moi' of 2" in caplog.text and "'Projets'" in caplog.text
    assert read_table(tmp_path / "book.xlsx", sheet="Projets")["intitule"].tolist() == TITLES
    assert read_table(tmp_path / "book.xlsx", sheet="2")["intitule"].tolist() == TITLES
    with pytest.raises(PipelineError, match="no sheet 'Budget' \\(sheets: 'Lisez-moi', 'Projets'"):
        read_table(tmp_path / "book.xlsx", sheet="Budget")


def test_parquet_keeps_its_index_and_plain_values(tmp_path):
    frame = pd.DataFrame({"titre": pd.Categorical(["a", None, "b"]), 2024: [1, 2, 3]},
                         index=pd.Index(["75056", "13055", "69123"], name="code_insee"))
    frame.to_parquet(tmp_path / "in.parquet")
    read = read_table(tmp_path / "in.parquet")
    assert list(read.columns) == ["code_insee", "titre", "2024"]  # names as text, the index first
    assert read["code_insee"].tolist() == ["75056", "13055", "69123"]
    assert read["titre"].fillna("").tolist() == ["a", "", "b"]  # was a Categorical: fillna("") raised


# -- outputs ------------------------------------------------------------------------------------
def test_csv_outputs_neutralise_formula_cells_other_formats_keep_them(tmp_path):
    cells = ["=HYPERLINK(\"http://x\")", "+33 1 23", "-1+1", "@SUM(A1)", "\tx", "-3.5", "ok"]
    frame = pd.DataFrame({"texte": cells, "=col": [1.5] * len(cells)})
    for name in ("o.csv", "o.tsv", "o.parquet", "o.xlsx", "raw.csv"):
        with atomic_output(tmp_path / name) as tmp:
            writer = TableWriter(tmp, TableWriter.kind_of(tmp_path / name), raw_cells=name == "raw.csv")
            writer.write(frame)
            writer.close()
    safe = ["'" + c for c in cells[:5]] + ["-3.5", "ok"]
    assert pd.read_csv(tmp_path / "o.csv", dtype=str)["texte"].tolist() == safe
    assert list(pd.read_csv(tmp_path / "o.csv").columns) == ["texte", "'=col"]
    tsv = (tmp_path / "o.tsv").read_text(encoding="utf-8")
    assert tsv.splitlines()[0] == "texte\t'=col" and pd.read_csv(tmp_path / "o.tsv", sep="\t", dtype=str)[
        "texte"].tolist() == safe
    assert pd.read_csv(tmp_path / "raw.csv", dtype=str, keep_default_na=False)["texte"].tolist()[:4] == cells[:4]
    assert pd.read_parquet(tmp_path / "o.parquet")["texte"].tolist() == cells
    import openpyxl

    sheet = openpyxl.load_workbook(tmp_path / "o.xlsx").active
    assert [c.value for c in sheet["A"]][1:] == cells and {c.data_type for c in sheet["A"]} == {"s"}


def test_outputs_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        with atomic_output(tmp_path / "o.csv") as tmp:
            TableWriter(tmp, "csv").write(pd.DataFrame({"a": ["x"]}))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "o.csv").stat().st_mode) == 0o640  # not mkstemp's 0600


def test_a_killed_runs_temporary_file_is_removed_by_the_next_run(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid names a run that is over
    stale = tmp_path / f".o.csv.{gone.pid}.abc.part"
    stale.write_text("half")
    alive = tmp_path / f".o.csv.{os.getpid()}.def.part"  # a run still going: kept
    alive.write_text("busy")
    with atomic_output(tmp_path / "o.csv") as tmp:
        TableWriter(tmp, "csv").write(pd.DataFrame({"a": ["x"]}))
    assert not stale.exists() and alive.exists()


@pytest.mark.parametrize("make_output, message", [
    (lambda tmp: tmp, "is a folder"),
    (lambda tmp: tmp / "file.csv" / "out.csv", "file.csv is a file, not a folder"),
])
def test_impossible_outputs_are_one_line(tmp_path, make_output, message):
    (tmp_path / "file.csv").write_text("x")
    with pytest.raises(PipelineError, match=message):
        with atomic_output(make_output(tmp_path)):
            pass


def _as_nobody(check):
    """Run `check` where permissions apply: as root, in a child process turned into user nobody."""
    if os.geteuid() != 0:
        return check()
    read, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            result = check()
        except BaseException as exc:
            result = f"{type(exc).__name__}: {exc}"
        os.write(write_end, str(result).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read) as fh:
        result = fh.read()
    os.waitpid(pid, 0)
    return result


def test_unreadable_input_and_read_only_folder_are_one_line_as_a_user():
    base = tempfile.mkdtemp(prefix="hostile-")  # outside pytest's 0700 folder: user nobody may enter
    try:
        os.chmod(base, 0o755)
        secret = os.path.join(base, "secret.csv")
        with open(secret, "w") as fh:
            fh.write("titre\nx\n")
        os.chmod(secret, 0o000)
        locked = os.path.join(base, "locked")
        os.mkdir(locked, 0o555)
        os.chmod(locked, 0o555)

        def check():
            messages = []
            for action in (lambda: read_table(secret),
                           lambda: atomic_output(os.path.join(locked, "o.csv")).__enter__()):
                try:
                    action()
                    messages.append("no error")
                except PipelineError as exc:
                    messages.append(str(exc))
            return " | ".join(messages)

        result = _as_nobody(check)
        assert "secret.csv: cannot be read (permission denied)" in result, result
        assert "locked: cannot write in this folder (permission denied)" in result, result
    finally:
        os.chmod(os.path.join(base, "locked"), 0o755)
        shutil.rmtree(base)


# -- through the command line, with a trained model -----------------------------------------------
def test_predict_on_hostile_files_writes_right_or_says_one_line(trained, tmp_path, capsys):
    frame = pd.DataFrame({"titre": pd.Categorical(["=cmd|' /C calc'!A0", None, "Vidéoprotection"]),
                          2024: ["Voirie", "École", "Parc"]}, index=pd.Index(["a", "b", "c"], name="id"))
    frame.to_parquet(tmp_path / "in.parquet")
    out = tmp_path / "out.csv"
    assert cli(trained, "predict", "--input", str(tmp_path / "in.parquet"), "--output", str(out),
               "--text-col", "titre") == 0
    result = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert result["id"].tolist() == ["a", "b", "c"] and result["titre"][0] == "'=cmd|' /C calc'!A0"
    assert cli(trained, "predict", "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path / "raw.csv"),
               "--text-col", "2024", "--raw-cells") == 0  # a numeric column name, given as text
    assert pd.read_csv(tmp_path / "raw.csv", dtype=str)["titre"][0] == "=cmd|' /C calc'!A0"
    write(tmp_path, "header.csv", b"titre;code\n")
    assert cli(trained, "predict", "--input", str(tmp_path / "header.csv"), "--output", str(tmp_path / "h.csv")) == 2
    one_line_error(capsys, "header.csv: the file has a header but no rows")
    assert not (tmp_path / "h.csv").exists()
    assert cli(trained, "predict", "--input", str(tmp_path / "in.parquet"), "--output", str(tmp_path)) == 2
    one_line_error(capsys, "must end in .csv, .tsv, .parquet or .xlsx")


def test_labeling_a_predictions_file_again_writes_no_duplicate_column(trained, tmp_path, capsys):
    source = write(tmp_path, "in.csv", "titre\nVidéoprotection de la mairie\nRéfection de la voirie\n".encode())
    for i in range(1, 4):
        out = tmp_path / f"round{i}.parquet"
        assert cli(trained, "predict", "--input", str(source), "--output", str(out), "--text-col", "titre") == 0
        source = out
    columns = pd.read_parquet(source).columns
    assert not columns.duplicated().any() and "domain" in columns and "pred_domain" in columns
    xlsx = tmp_path / "round4.xlsx"
    assert cli(trained, "predict", "--input", str(source), "--output", str(xlsx), "--text-col", "titre") == 0
    assert read_table(xlsx)["titre"].tolist() == ["Vidéoprotection de la mairie", "Réfection de la voirie"]


def test_an_unexpected_failure_is_one_line_and_a_log_unless_debug(trained, tmp_path, capsys, monkeypatch):
    from pipeline.commands import runs

    def broken(*args, **kwargs):
        raise ValueError("a bug, not the user's input")

    monkeypatch.setattr(runs, "run_predict", broken)
    args = ["predict", "--input", str(tmp_path / "x.csv"), "--output", str(tmp_path / "o.csv")]
    assert cli(trained, *args) == 1
    err = one_line_error(capsys, "unexpected failure (ValueError: a bug", "--debug")
    log_file = err.split("the details are in ")[1].split(" (--debug")[0]
    assert "Traceback" in open(log_file, encoding="utf-8").read()
    os.unlink(log_file)
    with pytest.raises(ValueError):
        cli(trained, *args, "--debug")


def test_a_training_set_of_one_domain_is_one_line(tmp_path, capsys):
    from tests.conftest import write_config

    (tmp_path / "labeled").mkdir()
    write(tmp_path / "labeled", "seed.csv", b"text,domain,digital\nRefection de la voirie,transport,no\n" * 1
          + "".join(f"Voirie tranche {i},transport,no\n" for i in range(10)).encode())
    config = write_config(tmp_path, labeled=str(tmp_path / "labeled"), models=str(tmp_path / "models"))
    assert main(["--config", str(config), "-q", "train"]) == 2
    one_line_error(capsys, "seed.csv: one domain only ('transport')")


# -- the Makefile ---------------------------------------------------------------------------------
HOSTILE_NAMES = ["$(touch {m}1)", "`touch {m}2`", "$(shell touch {m}3)", "x'; touch {m}4; echo '", "a b,c $$HOME"]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_makefile_variables_never_run_as_code(tmp_path):
    marker = tmp_path / "pwned"
    names = [n.format(m=marker) for n in HOSTILE_NAMES]
    # The stamp is named and declared old (-o) so that make installs nothing; CLI prints its arguments.
    base = ["make", "-s", "-C", str(PROJECT_DIR), f"STAMP={tmp_path}/stamp", "-o", f"{tmp_path}/stamp"]
    show = "CLI=" + " ".join(["printf", "'<%s>\\n'"])
    for name in names:
        for dry in (["-n"], []):
            run = subprocess.run([*base, *dry, "predict", show, f"INPUT={name}", f"OUTPUT={name}.csv",
                                  f"TEXT_COL={name}", f"RUN={name}"], capture_output=True, text=True)
            assert run.returncode == 0, run.stderr
            if not dry:
                assert f"<{name}>" in run.stdout and f"<{name}.csv>" in run.stdout  # one argument, as typed
        run = subprocess.run([*base, "report", "-o", "communes", show, f"PREDICTIONS={name}", f"NAME={name}"],
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
    assert not list(tmp_path.glob("pwned*"))
