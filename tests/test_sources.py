import re

import pandas as pd
import pytest

from pipeline.config import PROJECT_DIR
from pipeline.errors import PipelineError
from pipeline.io.rows import row_in_file
from pipeline.io.sources import SourceSpec, labeled_rows, load_source, load_source_specs, load_training_data


def spec(**kw):
    return SourceSpec(name="t", path="t.csv", text_column="titre", label_column="theme", **kw)


def test_mapping_drops_left_out_rows_and_counts_them(labels):
    raw = pd.DataFrame({"titre": ["Pistes cyclables", "Ingénierie", "Jardins", ""],
                        "theme": ["Mobilités", "Ingénierie", "Nature", "Nature"]})
    frame, left_out, empty = labeled_rows(
        raw, spec(mapping={"Mobilités": "transport", "Ingénierie": "none", "Nature": "environnement"},
                  row_weight=0.5), labels, "t.csv")
    assert frame["domain"].tolist() == ["transport", "environnement"]
    assert (left_out, empty) == (1, 1)
    assert frame["weight"].tolist() == [0.5, 0.5]


def test_each_training_row_keeps_its_number_in_its_file_past_the_rows_left_out(labels, tmp_path):
    """Audit names a suspect row by it: the frame's own positions skip the none and empty rows, and run on
    across the seed folder's files."""
    (tmp_path / "a.csv").write_text("text,domain,digital\nGymnase,sport_loisirs,no\nMusée,culture,no\n",
                                    encoding="utf-8")
    (tmp_path / "b.csv").write_text("text,domain,digital\nFête du village,none,no\n,education,no\n"
                                    "Piscine,sport_loisirs,no\n", encoding="utf-8")
    frame, _ = load_training_data(tmp_path, labels)
    assert frame[["source", "text", "file_row"]].values.tolist() == [
        ["seed:a", "Gymnase", 1], ["seed:a", "Musée", 2], ["seed:b", "Piscine", 3]]


def test_labels_are_read_in_any_spelling_of_a_code_or_its_french_label(labels):
    """As the review workbooks read them: a user's own file may say "TRANSPORT" or "Éducation, enfance et jeunesse"."""
    raw = pd.DataFrame({"titre": ["a", "b", "c", "d", "e"],
                        "theme": ["TRANSPORT", " Éducation, enfance et jeunesse ", "sante_social", "Aucun domaine",
                                  "Securite"]})
    frame, left_out, _ = labeled_rows(raw, spec(), labels, "t.csv")
    assert frame["domain"].tolist() == ["transport", "education", "sante_social", "securite"] and left_out == 1


def test_label_outside_taxonomy_names_file_row_and_value(labels):
    raw = pd.DataFrame({"titre": ["a", "b", "c"], "theme": ["culture", "culture", "sports"]})
    with pytest.raises(PipelineError, match=r"t.csv, row 4: label 'sports' in column 'theme'"):
        labeled_rows(raw, spec(), labels, "t.csv")
    # An empty cell is said to be empty, with the way to leave the row out.
    raw = pd.DataFrame({"titre": ["a", "b", "c"], "theme": ["culture", " ", "sports"]})
    with pytest.raises(PipelineError, match=r"t.csv, row 3: no label in column 'theme' \(give a domain code, "
                                            r"or none to leave the row out\) \(2 such rows\)"):
        labeled_rows(raw, spec(), labels, "t.csv")


def test_a_bad_label_is_named_by_its_sheet_and_row_below_a_lower_header(labels, tmp_path):
    """The header of a workbook may sit below empty rows: the row named is the one the sheet shows."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Étiquettes"
    ws.cell(3, 1, "titre")
    ws.cell(3, 2, "theme")
    for row in range(4, 9):
        ws.cell(row, 1, f"Salle de spectacle n°{row}")
        ws.cell(row, 2, "culture")
    ws.cell(7, 2, "ecole")
    wb.save(tmp_path / "t.xlsx")
    with pytest.raises(PipelineError, match=r"t.xlsx, sheet 'Étiquettes', row 7: label 'ecole' in column 'theme'"):
        load_source(SourceSpec(name="t", path="t.xlsx", text_column="titre", label_column="theme"), tmp_path, labels)


@pytest.mark.parametrize("body, place", [
    ("titre,theme\nSalle des fêtes,culture\n\nMusée,culture\nGymnase,sports\n", "row 5"),
    ("titre,theme\n\n\nSalle des fêtes,culture\nGymnase,sports\n\n", "row 5"),
    # A quoted cell spanning two lines: a spreadsheet shows one row, a text editor two lines.
    ('titre,theme\n"Salle\ndes fêtes",culture\n\nGymnase,sports\n', "row 4 (line 5)"),
])
def test_a_bad_label_after_blank_lines_is_named_by_the_row_a_text_editor_shows(labels, tmp_path, body, place):
    """pandas skips blank lines: the row named still counts them, as a spreadsheet and an editor do."""
    (tmp_path / "t.csv").write_text(body, encoding="utf-8")
    with pytest.raises(PipelineError, match=rf"t.csv, {re.escape(place)}: label 'sports' in column 'theme'"):
        load_source(SourceSpec(name="t", path="t.csv", text_column="titre", label_column="theme"), tmp_path, labels)


@pytest.mark.parametrize("pieces", [False, True])
def test_a_bad_label_in_a_parquet_file_is_named_by_its_row_in_the_table(labels, tmp_path, monkeypatch, pieces):
    """A Parquet file has no header line a user sees: its rows are numbered from 1 ("row 3 of the table"),
    not as if under a header (row 4), even when the file is read in several pieces."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.io import read

    table = pa.table({"titre": ["Salle des fêtes", "Musée", "Gymnase"], "theme": ["culture", "culture", "sports"]})
    pq.write_table(table, tmp_path / "t.parquet", row_group_size=2)
    if pieces:  # read_table joins pieces of 2 rows: the second starts at row 3
        whole = read.iter_table
        monkeypatch.setattr(read, "iter_table", lambda path, size, **kw: whole(path, 2, **kw))
        first, second = whole(tmp_path / "t.parquet", 2)
        assert [row_in_file(first, 0), row_in_file(second, 0), row_in_file(first, -1)] == [
            "row 1 of the table", "row 3 of the table", "the column names"]
    with pytest.raises(PipelineError, match=r"t.parquet, row 3 of the table: label 'sports' in column 'theme'"):
        load_source(SourceSpec(name="t", path="t.parquet", text_column="titre", label_column="theme"), tmp_path,
                    labels)


def test_missing_column_is_named(labels):
    raw = pd.DataFrame({"title": ["a"], "theme": ["culture"]})
    with pytest.raises(PipelineError, match="no column 'titre'"):
        labeled_rows(raw, spec(), labels, "t.csv")


def test_a_missing_column_lists_the_columns_closest_to_it_first(labels, tmp_path, capsys):
    """--label-col domain on a file of 'domaine': the column meant heads the list, not the file's order."""
    raw = pd.DataFrame({"annee": ["2024"], "commune": ["X"], "Domaine": ["culture"], "titre": ["a"]})
    with pytest.raises(PipelineError, match=r"t.csv: no column 'domain' \(columns, closest first: 'Domaine', "
                                            r"'annee', 'commune', 'titre'\)"):
        labeled_rows(raw, SourceSpec(name="t", path="t.csv", text_column="titre", label_column="domain"), labels,
                     "t.csv")
    from pipeline.report.prepare import Columns

    with pytest.raises(PipelineError, match=r"no column 'code_inse' \(--code-col\) \(columns, closest first: "
                                            r"'code_insee', 'commune'"):
        Columns.detect(["commune", "code_insee", "domain"], "code_inse")


def test_seed_set_covers_every_domain_with_60_rows(labels, seed):
    counts = seed["domain"].value_counts()
    assert set(counts.index) == set(labels.codes)
    assert counts.min() >= 60
    assert set(seed["digital"]) == {"yes", "no"}
    assert seed["id"].is_unique and seed["text"].is_unique


def test_shipped_sources_file_maps_every_shared_label(labels):
    specs = load_source_specs(PROJECT_DIR / "config" / "sources.toml")
    assert {s.name for s in specs} == {"dgcl-annotated", "dgcl-random", "paris-bp", "toulouse-bp", "fonds-vert"}
    for s in specs:
        assert set(s.mapping.values()) <= set(labels.codes) | {"none"}


def test_extra_sources_load_from_the_shared_folder(labels):
    shared = PROJECT_DIR.parent / "shared" / "data"
    if not shared.is_dir():
        pytest.skip("../shared/data is not beside the project")
    frame, reports = load_training_data(PROJECT_DIR / "data" / "labeled", labels, shared,
                                        PROJECT_DIR / "config" / "sources.toml")
    by_name = {r.name: r for r in reports}
    assert by_name["fonds-vert"].left_out > 600  # Ingénierie and the two mixed measures
    assert by_name["dgcl-annotated"].left_out == 2
    assert by_name["dgcl-random"].left_out == 13  # labeled none
    assert set(frame["domain"]) == set(labels.codes)
    assert len(by_name["fonds-vert"].sha256) == 64


def test_the_annotators_certainty_is_read_as_yes_no_or_unsaid(labels):
    raw = pd.DataFrame({"titre": ["a", "b", "c", "d"], "theme": ["culture"] * 4, "sure": ["yes", " No", None, ""]})
    frame, _, _ = labeled_rows(raw, spec(sure_column="sure"), labels, "t.csv")
    assert frame["sure"].tolist() == ["yes", "no", "", ""]
    assert set(labeled_rows(raw, spec(), labels, "t.csv")[0]["sure"]) == {""}  # a source that does not say


def test_the_digital_flag_is_read_as_the_review_workbook_reads_it(labels):
    """yes/no or oui/non, in any case, as review workbooks take them; blank: not said."""
    raw = pd.DataFrame({"titre": ["a", "b", "c", "d", "e"], "theme": ["culture"] * 5,
                        "numerique": ["Oui", "NON", " yes", "", None]})
    frame, _, _ = labeled_rows(raw, spec(digital_column="numerique"), labels, "t.csv")
    assert frame["digital"].tolist() == ["yes", "no", "yes", "", ""]


def test_a_digital_flag_other_than_yes_or_no_names_file_row_and_column(labels):
    raw = pd.DataFrame({"titre": ["a", "b", "c"], "theme": ["culture"] * 3, "numerique": ["oui", "no", "peut-etre"]})
    with pytest.raises(PipelineError, match=r"t.csv, row 4: 'peut-etre' in column 'numerique' is not yes or no"):
        labeled_rows(raw, spec(digital_column="numerique"), labels, "t.csv")


def test_a_certainty_other_than_yes_or_no_names_its_row(labels):
    raw = pd.DataFrame({"titre": ["a", "b"], "theme": ["culture"] * 2, "sure": ["yes", "maybe"]})
    with pytest.raises(PipelineError, match=r"t.csv, row 3: 'maybe' in column 'sure' is not yes or no"):
        labeled_rows(raw, spec(sure_column="sure"), labels, "t.csv")


@pytest.mark.parametrize("weight", ["0", "-0.5", "nan", '"lourd"', "true"])
def test_a_row_weight_that_is_not_a_positive_number_stops_naming_the_sources_file(tmp_path, weight):
    """0 counted rows as trained that taught nothing, a negative or nan weight fitted silently wrong,
    text was a traceback."""
    path = tmp_path / "sources.toml"
    path.write_text(f'[[source]]\nname = "obs"\npath = "obs.csv"\ntext_column = "titre"\n'
                    f'label_column = "theme"\nrow_weight = {weight}\n', encoding="utf-8")
    with pytest.raises(PipelineError, match=r"sources.toml: a \[\[source\]\] entry is malformed: source 'obs': "
                                            r"row_weight .* is not a positive number"):
        load_source_specs(path)


def test_a_mapping_to_a_domain_that_does_not_exist_names_the_sources_file_and_entry(labels, tmp_path):
    """It was reported on the first data row holding that label, as a label missing from the mapping."""
    (tmp_path / "obs.csv").write_text("titre,theme\nStade,Sport\nVoirie,Voirie\n", encoding="utf-8")
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "s.csv").write_text("text,domain,digital\nMusée,culture,no\nGare,transport,no\n",
                                             encoding="utf-8")
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "obs"\npath = "obs.csv"\ntext_column = "titre"\nlabel_column = "theme"\n'
                       '[source.mapping]\n"Voirie" = "urbanisme"\n"Sport" = "sports"\n', encoding="utf-8")
    with pytest.raises(PipelineError, match=r"sources.toml: the mapping of source 'obs' maps 'Sport' to 'sports', "
                                            r"which is not a domain"):
        load_training_data(tmp_path / "seed", labels, tmp_path, sources)


def test_a_row_without_text_labeled_none_is_counted_once(labels):
    """It was counted both as none and as empty: the counts added up to more rows than the file holds."""
    raw = pd.DataFrame({"titre": ["Gymnase", "", "  ", "Fête du village", ""],
                        "theme": ["sport_loisirs", "none", "culture", "none", "education"]})
    frame, left_out, empty = labeled_rows(raw, spec(), labels, "t.csv")
    assert (len(frame), left_out, empty) == (1, 1, 3)
    assert len(frame) + left_out + empty == len(raw)


def test_a_labeled_file_in_semicolons_and_windows_1252_is_read_as_written(labels, tmp_path):
    """data/labeled files were read as comma-separated UTF-8, which the user has nowhere to change:
    a French spreadsheet's export stopped, the error advising an --encoding that train does not have."""
    (tmp_path / "a.csv").write_text("id;text;domain;digital\n1;Voirie, trottoirs et réseaux;urbanisme;non\n"
                                    "2;Musée, médiathèque;culture;\n", encoding="utf-8-sig")
    (tmp_path / "b.csv").write_bytes("id,text,domain,digital\n3,Éclairage du stade,sport_loisirs,no\n"
                                     .encode("cp1252"))
    frame, reports = load_training_data(tmp_path, labels)
    assert frame["text"].tolist() == ["Voirie, trottoirs et réseaux", "Musée, médiathèque", "Éclairage du stade"]
    assert frame["digital"].tolist() == ["no", "", "no"]


def test_a_workbook_source_is_read_without_a_warning_about_options_nobody_gave(labels, tmp_path, caplog):
    pd.DataFrame({"titre": ["Stade", "Voirie"], "theme": ["sport_loisirs", "urbanisme"]}).to_excel(
        tmp_path / "obs.xlsx", index=False)
    frame, _ = load_source(SourceSpec(name="t", path="obs.xlsx", text_column="titre", label_column="theme"),
                           tmp_path, labels)
    assert len(frame) == 2
    assert "ignored" not in caplog.text


def test_the_seed_folder_reads_a_csv_of_any_suffix_case_and_names_the_tables_it_leaves_out(labels, tmp_path,
                                                                                         caplog):
    """A .CSV and a workbook in data/labeled were both skipped without a word: a model trained without them."""
    (tmp_path / "a.csv").write_text("text,domain,digital\nStade,sport_loisirs,no\n", encoding="utf-8")
    (tmp_path / "EXPORT.CSV").write_text("text,domain,digital\nMusée,culture,no\n", encoding="utf-8")
    pd.DataFrame({"text": ["Gare"], "domain": ["transport"], "digital": ["no"]}).to_excel(tmp_path / "b.xlsx")
    (tmp_path / "README.md").write_text("notes", encoding="utf-8")
    frame, reports = load_training_data(tmp_path, labels)
    assert sorted(frame["text"]) == ["Musée", "Stade"]
    assert "b.xlsx not read" in caplog.text and "README" not in caplog.text


def test_a_sources_file_given_on_the_command_line_is_found_from_the_working_directory(tmp_path, monkeypatch):
    """--sources mine.toml was looked for in the project folder while --extra beside it was taken from the
    working directory: 'sources file not found' for a file the user could see."""
    from pipeline.config import load_config

    monkeypatch.chdir(tmp_path)
    config = load_config(overrides={"paths.sources": "mine.toml", "paths.models": "models"})
    assert config["paths"]["sources"] == str(tmp_path / "mine.toml")
    assert config["paths"]["models"] == str(tmp_path / "models")
    assert config["paths"]["labeled"] == str(PROJECT_DIR / "data" / "labeled")


def test_a_year_column_with_a_blank_cell_gives_the_same_periods_as_a_whole_one(labels, tmp_path):
    """A Parquet (or workbook) column of years with one blank cell holds floats: 2021.0 must still be the
    period 2021, or the year-out scoring would split one year in two."""
    pd.DataFrame({"titre": ["Piste cyclable", "Jardin partagé", "Préau de l'école"],
                  "theme": ["transport", "environnement", "education"],
                  "annee": [2021, None, 2022]}).to_parquet(tmp_path / "own.parquet")
    own = SourceSpec(name="own", path="own.parquet", text_column="titre", label_column="theme", period_column="annee")
    frame = load_source(own, tmp_path, labels)[0]
    assert frame["period"].tolist() == ["2021", "", "2022"]
