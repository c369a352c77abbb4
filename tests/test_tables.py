import pandas as pd
import pytest

from pipeline.errors import PipelineError
from pipeline.io.tables import TableWriter, atomic_output, detect_encoding, find_text_columns, iter_table, read_table

ROWS = "code;intitule\n01004;Rénovation de l'église\n2A004;Vidéoprotection\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_reads_french_exports_in_any_usual_encoding(tmp_path, encoding):
    path = tmp_path / "in.csv"
    path.write_bytes(ROWS.encode(encoding))
    frame = read_table(path)
    assert list(frame.columns) == ["code", "intitule"]  # BOM stripped, ';' found
    assert frame["code"].tolist() == ["01004", "2A004"]  # codes stay text
    assert frame["intitule"][0] == "Rénovation de l'église"


def test_detects_cp1252_only_when_utf8_fails(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(ROWS.encode("cp1252"))
    assert detect_encoding(path) == "cp1252"


def test_undecodable_bytes_name_the_file_and_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b"text\nok\nbad \x81 byte\n")
    with pytest.raises(PipelineError, match=r"bad.csv, line 3: byte b'\\x81'"):
        read_table(path)


def test_missing_and_empty_files_are_clear_errors(tmp_path):
    with pytest.raises(PipelineError, match="file not found"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(PipelineError, match="empty"):
        read_table(tmp_path / "empty.csv")


def test_chunks_stream_csv_and_parquet(tmp_path):
    frame = pd.DataFrame({"text": [f"projet {i}" for i in range(25)]})
    frame.to_csv(tmp_path / "in.csv", index=False)
    frame.to_parquet(tmp_path / "in.parquet")
    for name in ("in.csv", "in.parquet"):
        chunks = list(iter_table(tmp_path / name, chunk_size=10))
        assert [len(c) for c in chunks] == [10, 10, 5]


def test_text_column_given_found_or_refused(tmp_path):
    cols = ["id", "Intitule", "montant"]
    assert find_text_columns(cols, None, ["text", "intitule"], "f.csv") == ["Intitule"]
    assert find_text_columns(cols, "id,Intitule", [], "f.csv") == ["id", "Intitule"]
    with pytest.raises(PipelineError, match="f.csv: no column 'titre'"):
        find_text_columns(cols, "titre", [], "f.csv")
    with pytest.raises(PipelineError, match="no text column found") as refused:
        find_text_columns(["a", "b"], None, ["text"], "f.csv")
    assert "header" not in str(refused.value)


def test_column_names_lose_their_surrounding_spaces_in_a_csv_as_in_a_workbook(tmp_path):
    (tmp_path / "in.csv").write_text(" code ; intitule \n01004;Salle des fêtes\n", encoding="utf-8")
    pd.DataFrame({" code ": ["01004"], " intitule ": ["Salle des fêtes"]}).to_excel(tmp_path / "in.xlsx", index=False)
    for name in ("in.csv", "in.xlsx"):
        frame = read_table(tmp_path / name)
        assert list(frame.columns) == ["code", "intitule"]
        assert find_text_columns(frame.columns, "intitule", [], name) == ["intitule"]


def test_a_first_line_of_data_is_named_as_a_missing_header():
    # A council's export without a header line: pandas takes its first record for the column names.
    first_record = ["2012-06-25", "Convention de partenariat avec le club nautique de la ville", "Unnamed: 2", "56204"]
    with pytest.raises(PipelineError, match="looks like data") as refused:
        find_text_columns(first_record, None, ["text"], "f.csv")
    assert "'2012-06-25', 'Convention de partenariat" in str(refused.value) and "no header line" in str(refused.value)


def test_a_title_line_above_a_csv_header_is_named_as_such(tmp_path):
    """A sheet with a title row saved as CSV: its title line became the header, and the error said nothing
    of it (a workbook's title row is left out: test_hostile_inputs.py)."""
    (tmp_path / "in.csv").write_text("Subventions 2023;;\ncode;intitule;montant\n01004;Salle des fêtes;12\n",
                                     encoding="utf-8")
    frame = read_table(tmp_path / "in.csv")
    with pytest.raises(PipelineError, match=r"first line holds one value \('Subventions 2023'\): if it is a title "
                                            r"above the header, remove that line"):
        find_text_columns(frame.columns, None, ["intitule"], tmp_path / "in.csv")


@pytest.mark.parametrize("sep, shown", [(",", "','"), (";", "';'"), ("\t", "'\\t'"), ("|", "'|'")])
def test_a_wrong_separator_is_named_with_the_one_the_header_seems_to_use(tmp_path, sep, shown):
    """--sep given wrong: the header is one name holding the file's separator; the error says which."""
    wrong = "," if sep != "," else ";"
    (tmp_path / "in.csv").write_text(f"titre{sep}code\nSalle des fêtes{sep}01004\n", encoding="utf-8")
    frame = read_table(tmp_path / "in.csv", sep=wrong)
    hint = f"; the file seems separated by {shown}: drop --sep or pass --sep {shown}"
    for requested, message in ((None, "no text column found among"), ("titre", "no column 'titre'")):
        with pytest.raises(PipelineError, match="seems separated") as refused:
            find_text_columns(frame.columns, requested, ["text"], tmp_path / "in.csv")
        assert message in str(refused.value) and str(refused.value).endswith(hint)
    with pytest.raises(PipelineError) as refused:  # a workbook: --sep plays no part
        find_text_columns([f"titre{sep}code"], None, ["text"], "in.xlsx")
    assert "separated" not in str(refused.value)


def test_a_failed_write_leaves_no_file(tmp_path):
    out = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        with atomic_output(out) as tmp:
            writer = TableWriter(tmp, "csv")
            writer.write(pd.DataFrame({"a": [1]}))
            raise RuntimeError("crash mid-way")
    assert list(tmp_path.iterdir()) == []


def test_parquet_output_appends_chunks(tmp_path):
    out = tmp_path / "out.parquet"
    with atomic_output(out) as tmp:
        writer = TableWriter(tmp, TableWriter.kind_of(out))
        writer.write(pd.DataFrame({"a": ["x"], "p": [0.5]}))
        writer.write(pd.DataFrame({"a": ["y"], "p": [0.25]}))
        writer.close()
    assert pd.read_parquet(out)["a"].tolist() == ["x", "y"]
    with pytest.raises(PipelineError, match=r"must end in \.csv, \.tsv, \.parquet or \.xlsx"):
        TableWriter.kind_of("out.json")


def test_a_mistyped_text_column_is_listed_first_among_the_files_columns():
    """TEXT_COL=intitul listed 'intitule' sixth among the file's columns, in the file's order."""
    columns = ["annee", "code_insee", "departement", "beneficiaire", "dispositif", "intitule", "cout"]
    with pytest.raises(PipelineError, match=r"f.csv: no column 'intitul' \(columns, closest first: 'intitule', "):
        find_text_columns(columns, "intitul", [], "f.csv")
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    from pipeline.engines.dask_input import check_columns

    with pytest.raises(PipelineError, match=r"part-2.csv: no column 'intitul' \(columns, closest first: 'intitule', "):
        check_columns("part-2.csv", columns, columns, ["intitul"])
