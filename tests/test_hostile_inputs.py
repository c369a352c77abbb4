"""Hostile but realistic inputs: each class of file a user brings, written here into tmp_path.

Every case either reads right (no silent change of the data) or stops with one
line naming the file, row or column, exit code 2.
"""
import bz2
import gzip
import logging
import lzma
import os
import re
import zipfile

import pandas as pd
import pytest

from pipeline.config import PROJECT_DIR
from pipeline.errors import PipelineError
from pipeline.io.tables import atomic_output, find_text_columns, iter_table, read_table

ROWS = "code;intitule\n01004;Rénovation de l'église\n2A004;Vidéoprotection à l'école\n"
TITLES = ["Rénovation de l'église", "Vidéoprotection à l'école"]


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- encodings ------------------------------------------------------------------------------
def test_one_cp1252_line_in_a_utf8_file_keeps_every_accent_and_is_named(tmp_path, caplog):
    path = write(tmp_path, "mixed.csv", ROWS.encode() + "75056;Éclairage public rénové\n".encode("cp1252"))
    with caplog.at_level(logging.WARNING):
        frame = read_table(path)
    assert frame["intitule"].tolist() == TITLES + ["Éclairage public rénové"]
    assert "line 4" in caplog.text  # the lines read as cp1252 are named


def test_a_mac_roman_file_with_apostrophes_is_read_as_mac_roman(tmp_path, caplog):
    """Excel for Mac's CSV: "’é" is D5 8E in Mac Roman, a valid UTF-8 pair, so such lines were taken for UTF-8
    ones and the file refused as "not UTF-8 (nor UTF-8)"; and its apostrophes, not letters, made the Mac Roman
    reading look untrustworthy."""
    titles = ["Rénovation de l’école", "Éclairage de l’église «Saint-Jean»", "Fête de l’été – 2023", "Crèche"]
    path = write(tmp_path, "mac.csv", ("code;intitule\n" + "".join(f"{i};{t}\n" for i, t in enumerate(titles)))
                 .encode("mac_roman"))
    with caplog.at_level(logging.WARNING):
        assert read_table(path)["intitule"].tolist() == titles
    assert "encoding mac_roman" in caplog.text
    # A UTF-8 line whose only mark is "n°" is still UTF-8 evidence beside a cp1252 line.
    path = write(tmp_path, "mixed.csv", "intitule\nSalle n° 2\n".encode() + "École\n".encode("cp1252"))
    assert read_table(path)["intitule"].tolist() == ["Salle n° 2", "École"]


def test_lines_joining_a_utf8_cell_and_a_cp1252_one_keep_every_accent(tmp_path, caplog):
    """With no line wholly UTF-8, the file was read as cp1252: the UTF-8 accents came out as "Ã©", silently."""
    lines = [("Rénovation de l’église", "Noël"), ("Vidéoprotection", "Fête de l'été")]
    path = write(tmp_path, "joined.csv", b"intitule;note\n" + b"".join(
        title.encode() + b";" + note.encode("cp1252") + b"\n" for title, note in lines))
    with caplog.at_level(logging.WARNING):
        frame = read_table(path)
    assert frame.values.tolist() == [list(line) for line in lines]
    assert "line 2, 3" in caplog.text


def test_the_8bit_encoding_a_csv_is_read_with_is_named(tmp_path, caplog):
    """A cp1252 file was read as cp1252 without a word: nothing let the user check the guess."""
    with caplog.at_level(logging.INFO):
        assert read_table(write(tmp_path, "win.csv", ROWS.encode("cp1252")))["intitule"].tolist() == TITLES
    assert "win.csv: encoding cp1252 (not UTF-8" in caplog.text


def test_utf8_bom_over_a_cp1252_body_keeps_the_first_column_name(tmp_path):
    frame = read_table(write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + ROWS.encode("cp1252")))
    assert list(frame.columns) == ["code", "intitule"]
    assert frame["intitule"].tolist() == TITLES


@pytest.mark.parametrize("encoding", ["cp850", "mac_roman"])
def test_other_8bit_exports_are_recognised_over_the_whole_file(tmp_path, encoding):
    text = ROWS + "75056;Éclairage public de la rue à côté du marché\n34172;Sécurité des écoles\n"
    frame = read_table(write(tmp_path, "dos.csv", text.encode(encoding)))
    assert frame["intitule"].tolist()[:2] == TITLES


def test_a_one_line_dos_export_keeps_its_accents(tmp_path):
    """On a line or two charset-normalizer cannot tell cp850 from cp1252, which read "R‚novation" silently."""
    frame = read_table(write(tmp_path, "dos.csv", f"code;intitule\n01004;{TITLES[0]}\n".encode("cp850")))
    assert frame["intitule"].tolist() == [TITLES[0]]
    # cp1252's own bytes of that range (Œ inside an upper-case word, a dash) do not make a file cp850
    upper = "CŒUR DE VILLE – TRANCHE 2"
    path = write(tmp_path, "win.csv", f"code;intitule\n01004;{upper}\n".encode("cp1252"))
    assert read_table(path)["intitule"].tolist() == [upper]


def test_wrong_or_unknown_encoding_is_one_line_naming_the_line(tmp_path):
    path = write(tmp_path, "latin.csv", ROWS.encode("cp1252"))
    with pytest.raises(PipelineError, match=r"latin.csv, line 2: byte b'\\xe9' cannot be decoded as utf-8;"):
        read_table(path, encoding="utf-8")  # as given, not as read (utf-8-sig, to strip a BOM)
    with pytest.raises(PipelineError, match="--encoding 'klingon': unknown encoding"):
        read_table(path, encoding="klingon")


def test_an_encoding_that_refuses_the_whole_file_is_one_line(tmp_path):
    """utf-16 forced on a UTF-8 file with BOM: the codec refuses the stream, not a byte (a plain UnicodeError)."""
    from pipeline.io.encoding import decode_problem

    path = write(tmp_path, "bom8.csv", b"\xef\xbb\xbf" + ROWS.encode())
    with pytest.raises(PipelineError, match=r"^\S*bom8.csv: cannot be decoded as utf-16 \(UTF-16 stream does not "
                                            r"start with BOM\); re-export the file as UTF-8 or give its encoding"):
        read_table(path, encoding="utf-16")
    with pytest.raises(UnicodeError) as refused:
        pd.read_csv(path, encoding="utf-16")  # as the Dask engine's reader meets it: the stream is refused
    # The Dask engine's reader words it the same way.
    assert decode_problem(path, None, "utf-16", refused.value).endswith("(UTF-16 stream does not start with BOM)")


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
    path = write(tmp_path, "blank.csv", b"code;intitule\n01004;Renovation;\n\n2A004;Voirie;oops\n")
    with pytest.raises(PipelineError, match=r"blank.csv, row 4: a value \('oops'\) after the last column"):
        list(iter_table(path, chunk_size=1))  # the blank line 3 counted, though pandas skips it


def test_reading_options_the_format_has_no_use_for_are_warned_of_not_refused(tmp_path, caplog):
    """--sheet on a CSV, --sep or --encoding on a workbook or Parquet file: a warning naming the option
    and the format (a Makefile default may pass them), and the file is read as it is."""
    from pipeline.io.options import io_options

    csv = write(tmp_path, "in.csv", "titre\nSalle des fêtes\n".encode())
    pd.read_csv(csv).to_parquet(tmp_path / "in.parquet", index=False)
    pd.read_csv(csv).to_excel(tmp_path / "in.xlsx", index=False)
    cases = [(csv, {"sheet": "2"}, "in.csv: --sheet ignored: the file is a CSV file"),
             (tmp_path / "in.parquet", {"sep": ";", "encoding": "latin-1"},
              "in.parquet: --sep and --encoding ignored: the file is a Parquet file"),
             (tmp_path / "in.xlsx", {"sep": ";"}, "in.xlsx: --sep ignored: the file is a workbook (.xlsx)")]
    for path, given, message in cases:
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert read_table(path, **given)["titre"].tolist() == ["Salle des fêtes"]
        assert message in caplog.text, caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING), io_options(sheet="Feuille1"):  # --sheet as the command line sets it
        read_table(csv)
    assert "in.csv: --sheet ignored" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        read_table(csv, sep=",", encoding="utf-8")
        read_table(tmp_path / "in.xlsx", sheet="1")
    assert "ignored" not in caplog.text


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
    write(tmp_path, "image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(PipelineError, match="image.csv: binary content, not a CSV"):
        read_table(tmp_path / "image.csv")
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


def test_damaged_files_and_pipes_are_one_line(tmp_path):
    write(tmp_path, "bad.zip", b"PK\x03\x04 not really a zip")
    pd.DataFrame({"a": ["x"] * 100}).to_parquet(tmp_path / "whole.parquet")
    write(tmp_path, "cut.parquet", (tmp_path / "whole.parquet").read_bytes()[:200])
    os.mkfifo(tmp_path / "pipe")
    for name, message in [("bad.zip", "bad.zip: cannot be read"), ("cut.parquet", "cut.parquet: not a readable Parquet"),
                          ("pipe", "pipe: not a regular file")]:
        with pytest.raises(PipelineError, match=message):
            read_table(tmp_path / name)
    with pytest.raises(PipelineError, match="pipe: not a regular file; give a file name"):
        with atomic_output(tmp_path / "pipe"):  # as root, the rename would have replaced it (or /dev/null)
            pass


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


@pytest.mark.parametrize("suffix, engine", [(".xlsx", "openpyxl"), (".ods", "odf")])
def test_a_workbook_cell_holding_na_or_none_keeps_its_text(tmp_path, suffix, engine):
    """pandas reads a cell "NA", "N/A", "null" or "None" as missing: a title or a code was emptied silently."""
    kept = ["NA", "N/A", "null", "None", "NaN", "-"]
    path = tmp_path / f"book{suffix}"
    pd.DataFrame({"code": kept, "intitule": [*TITLES, *kept[2:]], "note": ["", "x", "", "", "", ""]}).to_excel(
        path, index=False, engine=engine)
    frame = read_table(path)
    assert frame["code"].tolist() == kept and frame["intitule"].tolist()[2:] == kept[2:]
    assert frame["note"].tolist() == ["", "x", "", "", "", ""]  # empty cells are still empty texts


def test_a_code_typed_as_a_number_under_a_format_of_zeros_keeps_the_zeros_the_sheet_shows(tmp_path):
    """Excel's postal-code format ("00000") shows 1000 as 01000: pandas read 1000, and the zero was lost."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([])  # the header below an empty row, in column B: cells are found by their place in the sheet
    sheet.append([None, "cp", "siren", "intitule"])
    for code, siren, title in [(1000, 12345678, TITLES[0]), (75001, 7.5, TITLES[1])]:
        sheet.append([None, code, siren, title])
    for row in (3, 4):
        sheet.cell(row, 2).number_format, sheet.cell(row, 3).number_format = "00000", "000000000"
    book.save(tmp_path / "codes.xlsx")
    frame = read_table(tmp_path / "codes.xlsx")
    assert frame["cp"].tolist() == ["01000", "75001"]
    assert frame["siren"].tolist() == ["012345678", "7.5"]  # a number with decimals is left as it is


def test_a_title_above_a_sheets_header_is_left_out_and_rows_keep_their_numbers(tmp_path, caplog):
    """A title row (merged across the table) above the header was taken for the header: the columns came out
    as the title and "Unnamed: n", and the error asked for a header line the sheet had."""
    import openpyxl

    from pipeline.io.rows import row_in_file

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Projets"
    sheet.append(["Subventions 2023"])
    sheet.merge_cells("A1:C1")
    sheet.append(["source : préfecture"])
    sheet.append([])
    sheet.append(["code", "intitule", "montant"])
    for code, title in zip(["01004", "2A004"], TITLES):
        sheet.append([code, title, 1200])
    book.save(tmp_path / "titled.xlsx")
    with caplog.at_level(logging.WARNING):
        frame = read_table(tmp_path / "titled.xlsx")
    assert list(frame.columns) == ["code", "intitule", "montant"] and frame["intitule"].tolist() == TITLES
    assert "row(s) 1, 2 above the header" in caplog.text and "the header is row 4" in caplog.text
    assert row_in_file(frame, 1) == "sheet 'Projets', row 6"

    # A one-column sheet has no title to tell from its header: its first row is the header.
    pd.DataFrame({"intitule": TITLES}).to_excel(tmp_path / "one.xlsx", index=False)
    assert read_table(tmp_path / "one.xlsx")["intitule"].tolist() == TITLES


def test_a_date_cell_of_a_workbook_keeps_no_time_it_never_had(tmp_path):
    """A date cell was read "2023-03-01 00:00:00": a time the sheet never showed was added to every date."""
    import datetime

    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["date", "heure", "note", "intitule"])
    book.active.append([datetime.date(2023, 3, 1), datetime.datetime(2023, 3, 1, 14, 30), "2023-03-01 00:00:00",
                        TITLES[0]])
    book.active["A2"].number_format = "dd/mm/yyyy"
    book.save(tmp_path / "dates.xlsx")
    frame = read_table(tmp_path / "dates.xlsx")
    # A time the cell holds is kept, and so is a text that only looks like a date.
    assert frame.iloc[0].tolist() == ["2023-03-01", "2023-03-01 14:30:00", "2023-03-01 00:00:00", TITLES[0]]


def _with_sheet_xml(source, target, edit) -> None:
    """A copy of the .xlsx `source` whose first sheet's XML went through `edit` (what a spreadsheet would save)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item.filename)
            new.writestr(item, edit(data) if item.filename == "xl/worksheets/sheet1.xml" else data)


def test_a_formula_without_its_saved_result_is_refused_with_its_cell(tmp_path):
    """A workbook written by a program and never saved by a spreadsheet holds formulas without a result:
    pandas read them as empty cells, and a title built by one got no domain, silently."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Projets"
    book.active.append(["commune", "intitule"])
    book.active.append(["Aire", '="Rénovation de la " & "mairie"'])
    book.active.append(["Brou", TITLES[0]])
    book.save(tmp_path / "script.xlsx")
    with pytest.raises(PipelineError, match=r"script.xlsx: sheet 'Projets', cell\(s\) B2: a formula whose result "
                                            r"was never saved.*save it, or export it as CSV"):
        read_table(tmp_path / "script.xlsx")

    # The same sheet as a spreadsheet saves it, the formula's result beside it (text results typed "str";
    # an empty one is a result too): read as the sheet shows it.
    for result, shown in [("Rénovation de la mairie", "Rénovation de la mairie"), ("", "")]:
        _with_sheet_xml(tmp_path / "script.xlsx", tmp_path / "saved.xlsx", lambda xml, result=result: xml.replace(
            b'<c r="B2"><f>', b'<c r="B2" t="str"><f>').replace(b"<v />", f"<v>{result}</v>".encode()))
        assert read_table(tmp_path / "saved.xlsx")["intitule"].tolist() == [shown, TITLES[0]]


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


def test_a_parquet_integer_column_with_a_null_keeps_its_integers(tmp_path):
    """As float64 (pandas' default for an integer column with a null) a code was written "1004.0", and a
    number past 2**53 (a long identifier) changed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    codes = [1004, None, 2**53 + 1]
    pq.write_table(pa.table({"code": pa.array(codes, pa.int64()), "intitule": [*TITLES, "x"]}), tmp_path / "in.parquet")
    read = read_table(tmp_path / "in.parquet")
    assert read["code"].tolist() == codes
    read.to_csv(tmp_path / "out.csv", index=False)
    assert (tmp_path / "out.csv").read_text().splitlines()[1:] == [f"1004,{TITLES[0]}", f",{TITLES[1]}",
                                                                   f"{2**53 + 1},x"]


def test_parquet_keeps_its_index_and_plain_values(tmp_path):
    frame = pd.DataFrame({"titre": pd.Categorical(["a", None, "b"]), 2024: [1, 2, 3]},
                         index=pd.Index(["75056", "13055", "69123"], name="code_insee"))
    frame.to_parquet(tmp_path / "in.parquet")
    read = read_table(tmp_path / "in.parquet")
    assert list(read.columns) == ["code_insee", "titre", "2024"]  # names as text, the index first
    assert read["code_insee"].tolist() == ["75056", "13055", "69123"]
    assert read["titre"].fillna("").tolist() == ["a", "", "b"]  # was a Categorical: fillna("") raised


@pytest.mark.parametrize("comma_in", ["every row", "one row"])
def test_a_wrong_sep_is_named_with_the_separator_the_file_seems_to_use(tmp_path, comma_in):
    """--sep ',' on a ';' file whose texts hold commas stopped on pandas' field count alone."""
    rows = [f"Travaux de voirie{',' if comma_in == 'every row' else ''} tranche {i};0{i}001;12" for i in range(1, 9)]
    path = write(tmp_path, "semi.csv", "\n".join(["titre;code;montant", *rows, "Voirie, rue A, rue B;01;3"]).encode())
    with pytest.raises(PipelineError, match=r"semi.csv: .*; the file seems separated by ';': drop --sep or pass "
                                            r"--sep ';'$"):
        read_table(path, sep=",")
    assert read_table(path)["code"].tolist()[-1] == "01"  # its own separator found, it reads


# -- settings files -------------------------------------------------------------------------------
def _settings_loaders():
    from pipeline.config import load_config
    from pipeline.domains import load_label_set
    from pipeline.features.cues import load_cues
    from pipeline.features.products import load_products
    from pipeline.io.sources import load_source_specs
    from pipeline.review.workbook import load_guide

    domains = ("culture", "transport")
    return {
        "domains.csv": ("code,label_fr\nculture,Culture et patrimoine\ntransport,Transport et mobilité\n",
                        lambda p: load_label_set(p).codes),
        "domain_guide.csv": ("code,what_belongs\nculture,Musées et théâtres\n", load_guide),
        "products.csv": ("product,domain\n# logiciels\nBibliothèque-Plus,culture\n",
                         lambda p: load_products(p, domains)),
        "digital_cues.txt": ("# mots\nnumérique\nlogiciel*\n", load_cues),
        "sources.toml": ('[[source]]\nname = "ville"\npath = "ville.csv"\ntext_column = "intitulé"\n'
                         'label_column = "domaine"\n', lambda p: [s.name for s in load_source_specs(p)]),
        "pipeline.toml": ((PROJECT_DIR / "config" / "pipeline.toml").read_text(encoding="utf-8"),
                          lambda p: load_config(p)["train"]["cv_folds"]),
    }


@pytest.mark.parametrize("name", ["domains.csv", "domain_guide.csv", "products.csv", "digital_cues.txt",
                                  "sources.toml", "pipeline.toml"])
def test_a_settings_file_saved_with_a_bom_reads_as_without_and_another_encoding_is_named(tmp_path, name):
    """Excel and Notepad start a UTF-8 file with a byte-order mark: it made the first name unreadable."""
    text, load = _settings_loaders()[name]
    plain = load(write(tmp_path, name, text.encode("utf-8")))
    assert load(write(tmp_path, "bom-" + name, b"\xef\xbb\xbf" + text.encode("utf-8"))) == plain
    latin = write(tmp_path, "latin-" + name, text.encode("cp1252"))
    line = next(n for n, l in enumerate(text.splitlines(), start=1) if not l.isascii())
    with pytest.raises(PipelineError, match=rf"latin-{re.escape(name)}, line {line}: not UTF-8 text.*save the file as UTF-8"):
        load(latin)


@pytest.mark.parametrize("body, error", [
    ("code,label_fr\nculture,Culture et patrimoine\n   \n\n", None),
    ("code,label_fr\nculture,Culture et patrimoine\n,\n", None),
    ("code,label_fr\nculture,Culture et patrimoine\nsport\n", r"d\.csv, line 3: give a code and its French label"),
    ("code,label_fr\nculture,Culture\nculture,Musées\n", r"d\.csv, line 3: the domain code 'culture' is listed twice"),
])
def test_the_label_set_skips_blank_lines_and_names_the_line_of_a_broken_one(tmp_path, body, error):
    """A last line of spaces, as editors leave, once crashed the label set's reading."""
    from pipeline.domains import load_label_set

    path = write(tmp_path, "d.csv", body.encode("utf-8"))
    if error is None:
        assert load_label_set(path).labels_fr == {"culture": "Culture et patrimoine"}
    else:
        with pytest.raises(PipelineError, match=error):
            load_label_set(path)


@pytest.mark.parametrize("change, error", [
    (("cv_folds = 5", "cv_fold = 5"), r"unknown setting \[train\] cv_fold \(a typo of cv_folds\?\)"),
    (("[predict]", "[predicts]"), r"unknown section \[predicts\] \(a typo of predict\?\)"),
    (("chunk_size = 20000", 'chunk_size = "20000"'), r"\[predict\] chunk_size = '20000' is a quoted text; give a number"),
    (("rows = 200", "rows = [200]"), r"\[review\] rows = \[200\] is a list \[\.\.\.\]; give a number"),
    (("balanced = false", 'balanced = "no"'), r"\[digital\] balanced = 'no' is a quoted text; give true or false"),
])
def test_a_config_file_with_a_typo_or_a_value_of_the_wrong_kind_is_one_line(tmp_path, capsys, change, error):
    """An unknown key was taken silently, a missing or mistyped one was a crash in the middle of a run."""
    from pipeline.cli import main

    text = (PROJECT_DIR / "config" / "pipeline.toml").read_text(encoding="utf-8")
    assert change[0] in text
    config = write(tmp_path, "mine.toml", text.replace(change[0], change[1], 1).encode("utf-8"))
    assert main(["--config", str(config), "predict", "--output", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and re.search(re.escape(str(config)) + ": " + error, err), err
    assert not (tmp_path / "o.csv").exists()


def test_a_typo_in_the_shipped_config_itself_is_one_line_naming_it(tmp_path, monkeypatch):
    """Only a second --config file was checked: `review_treshold = 0.8` added to config/pipeline.toml itself
    was taken silently, and the review threshold stayed "model"."""
    import pipeline.config

    text = (PROJECT_DIR / "config" / "pipeline.toml").read_text(encoding="utf-8")
    shipped = write(tmp_path, "pipeline.toml", text.replace('review_threshold = "model"\n',
                                                            'review_threshold = "model"\nreview_treshold = 0.8\n').encode())
    monkeypatch.setattr(pipeline.config, "DEFAULT_CONFIG", shipped)
    with pytest.raises(PipelineError) as raised:
        pipeline.config.load_config()
    assert str(raised.value) == f"{shipped}: unknown setting [predict] review_treshold (a typo of review_threshold?)"


def test_the_settings_the_code_knows_are_those_the_shipped_config_sets():
    """pipeline/config.py SETTINGS is the one list of names and kinds: the shipped file sets each, of its kind,
    [digital] is DigitalRecipe."""
    import tomllib

    from pipeline.config import SETTINGS, of_kind
    from pipeline.modeling.estimators import DigitalRecipe

    shipped = tomllib.loads((PROJECT_DIR / "config" / "pipeline.toml").read_text(encoding="utf-8"))
    assert {s: sorted(v) for s, v in shipped.items()} == {s: sorted(v) for s, v in SETTINGS.items()}
    wrong = {(s, k): (v, SETTINGS[s][k]) for s, values in shipped.items() for k, v in values.items()
             if not of_kind(v, SETTINGS[s][k])}
    assert not wrong
    assert set(SETTINGS["digital"]) == set(DigitalRecipe.__dataclass_fields__) - {"cues"}


@pytest.mark.parametrize("change, error", [
    (("chunk_size = 20000", 'chunk_size = "20000"'), "[predict] chunk_size = '20000' is a quoted text; give a number"),
    (('review_threshold = "model"', 'review_threshold = "modèle"'),
     "[predict] review_threshold = 'modèle' is a quoted text; give a number or the word \"model\""),
    (('review_threshold = "model"', "review_threshold = 0.8"), None),
])
def test_a_value_of_the_wrong_kind_in_the_shipped_config_itself_is_one_line(tmp_path, monkeypatch, capsys, change,
                                                                           error):
    """Only a --config file's kinds were checked, against the shipped file's: chunk_size = "20000" in
    config/pipeline.toml itself ended predict in an unexpected failure (pandas' 'chunksize' must be an integer)."""
    import pipeline.config
    from pipeline.cli import main

    text = (PROJECT_DIR / "config" / "pipeline.toml").read_text(encoding="utf-8")
    assert change[0] in text
    shipped = write(tmp_path, "pipeline.toml", text.replace(change[0], change[1], 1).encode("utf-8"))
    monkeypatch.setattr(pipeline.config, "DEFAULT_CONFIG", shipped)
    if error is None:
        assert pipeline.config.load_config()["predict"]["review_threshold"] == 0.8
        return
    assert main(["predict", "--output", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {shipped}: {error}", err
    assert not (tmp_path / "o.csv").exists()


def test_a_setting_missing_from_the_config_is_named_with_its_close_names(tmp_path):
    from pipeline.config import load_config

    text = (PROJECT_DIR / "config" / "pipeline.toml").read_text(encoding="utf-8")
    config = load_config(write(tmp_path, "mine.toml", text.replace("chunk_size = 20000\n", "").encode("utf-8")))
    with pytest.raises(PipelineError, match=r"mine\.toml: no setting \[predict\] chunk_size: add it"):
        config["predict"]["chunk_size"]
    with pytest.raises(PipelineError, match=r"mine\.toml: no section \[predicts\] \(a typo of predict\?\)"):
        config["predicts"]
