"""The review loop: which rows are picked, the workbook written and read back, its answers trained on."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import write_config
from openpyxl import load_workbook

from pipeline.cli import main
from pipeline.config import PROJECT_DIR, load_config
from pipeline.domains import LabelSet
from pipeline.errors import PipelineError
from pipeline.io.reviewed import load_reviewed, review_files
from pipeline.review.answers import check_conflicts, parse_answers
from pipeline.review.audit import label_issues
from pipeline.review.select import select_for_review
from pipeline.review.workbook import META_SHEET, REVIEW_SHEET

SAMPLE = PROJECT_DIR / "data" / "raw" / "submissions-sample.csv"


def cli(config, *args):
    return main(["--config", config["config_file"], "-q", *args])


# -- picking the rows ----------------------------------------------------------------------------


def test_smallest_margin_first_copies_once_and_no_domain_takes_more_than_its_share():
    proba = np.array([[0.50, 0.45, 0.05],   # margin .05
                      [0.90, 0.05, 0.05],   # .85
                      [0.40, 0.39, 0.21],   # .01
                      [0.41, 0.39, 0.20],   # .02, a copy of row 2's title
                      [0.10, 0.60, 0.30],   # .30
                      [0.20, 0.30, 0.50]])  # .20
    predicted = np.array(["a", "b", "c"])[proba.argmax(1)]
    keys = ["t0", "t1", "t2", "t2", "t4", "t5"]
    assert select_for_review(proba, predicted, keys, 3).tolist() == [2, 0, 5]
    # At most ceil(0.3 * 3) = 1 row per predicted domain: row 0, a second "a", waits
    assert select_for_review(proba, predicted, keys, 3, max_share=0.3).tolist() == [2, 5, 4]
    # Too few rows of other domains: the cap gives way rather than leave the sheet short
    assert select_for_review(proba, predicted, keys, 5, max_share=0.2).tolist() == [2, 5, 4, 0, 1]
    # Rows not eligible (already reviewed, empty) are never picked
    eligible = np.array([True, True, False, True, True, True])
    assert select_for_review(proba, predicted, keys, 2, eligible=eligible).tolist() == [3, 0]


# -- answers read back ---------------------------------------------------------------------------

LABELS = LabelSet(("culture", "education"), {"culture": "Culture et patrimoine",
                                             "education": "Éducation, enfance et jeunesse"})
HEADER = ["commune", "text", "domain", "confidence", "domain_2", "correction", "digital_correction", "comment"]


def meta(labels=LABELS):
    from pipeline.review.workbook import FORMAT, label_fingerprint

    return {"format": FORMAT, "label_fingerprint": label_fingerprint(labels), "labels": ",".join(labels.codes)}


def test_review_has_no_models_option_it_would_not_read(capsys):
    """review reads a predictions file and no model: its --models was accepted and never read."""
    with pytest.raises(SystemExit) as stopped:
        main(["review", "--predictions", "p.csv", "--output", "r.xlsx", "--models", "elsewhere"])
    assert stopped.value.code == 2 and "unrecognized arguments: --models elsewhere" in capsys.readouterr().err


def test_answers_accept_codes_french_labels_and_none_and_skip_empty_ones():
    body = [(2, ["X", "Musée", "culture", 0.5, "education", "culture", "no", ""]),
            (3, ["Y", "Cantine", "culture", 0.4, "education", "education, ENFANCE et jeunesse", "OUI", "vu"]),
            (4, ["Z", "Divers", "culture", 0.3, "education", "none", "", ""]),
            (5, ["W", "Autre", "culture", 0.3, "education", None, None, "pas relu"]),
            (6, ["V", "Flou", "culture", 0.3, "education", "aucun domaine ", "", ""])]  # none as the Guide says it
    frame, counts = parse_answers("r.xlsx", HEADER, body, meta(), LABELS, weight=2.0)
    assert frame[["text", "domain", "digital"]].values.tolist() == [
        ["Musée", "culture", "no"], ["Cantine", "education", "yes"], ["Divers", "none", ""], ["Flou", "none", ""]]
    assert set(frame["source"]) == {"reviewed:r.xlsx"} and set(frame["text_kind"]) == {"submission"}
    assert (counts.rows, counts.reviewed, counts.confirmed, counts.corrected, counts.none) == (5, 4, 1, 1, 2)


def test_a_digital_answer_alone_confirms_the_proposed_domain():
    """An analyst who agrees with the domain and only sets the flag has reviewed the row."""
    body = [(2, ["X", "Médiathèque en ligne", "culture", 0.5, "education", None, "Oui", ""]),
            (3, ["Y", "Cantine", "education", 0.4, "culture", "", "no", ""])]
    frame, counts = parse_answers("r.xlsx", HEADER, body, meta(), LABELS)
    assert frame[["text", "domain", "digital", "row"]].values.tolist() == [
        ["Médiathèque en ligne", "culture", "yes", 2], ["Cantine", "education", "no", 3]]
    assert (counts.reviewed, counts.confirmed, counts.corrected, counts.digital) == (2, 2, 0, 2)


@pytest.mark.parametrize("header, row, workbook_meta, message", [
    (HEADER, ["X", "Musée", "culture", 0.5, "", "musees", "", ""], meta(),
     r"r.xlsx, sheet Relecture, row 7: correction 'musees' is not in the list"),
    (HEADER, ["X", "Musée", "culture", 0.5, "", "culture", "peut-être", ""], meta(),
     r"row 7: digital_correction 'peut-être' is not yes or no"),
    (HEADER, ["X", "Musée", "", 0.5, "", "", "yes", ""], meta(),
     r"row 7: a digital_correction but no correction, and the proposed domain '' is not in the list"),
    ([h for h in HEADER if h != "correction"], ["X", "Musée", "culture", 0.5, "", "", ""], meta(),
     r"r.xlsx, sheet Relecture: no column 'correction'"),
    # The correction column copied beside itself, the answer typed in the copy
    ([*HEADER, "correction"], ["X", "Musée", "culture", 0.5, "", "", "", "", "education"], meta(),
     r"r.xlsx, sheet Relecture: column 'correction' appears more than once"),
    (HEADER, ["X", "Musée", "culture", 0.5, "", "culture", "", ""],
     meta(LabelSet(("culture",), {"culture": "Culture"})), r"r.xlsx: written for another label set \(culture\)"),
    (HEADER, ["X", "Musée", "culture", 0.5, "", "culture", "", ""], {}, r"r.xlsx: no hidden sheet 'meta'"),
])
def test_bad_answers_are_refused_in_one_line(header, row, workbook_meta, message):
    with pytest.raises(PipelineError, match=message):
        parse_answers("r.xlsx", header, [(7, row)], workbook_meta, LABELS)


def test_one_text_reviewed_twice_agrees_or_is_refused():
    a, _ = parse_answers("a.xlsx", HEADER, [(2, ["", "Musée", "culture", 1, "", "culture", "", ""])], meta(), LABELS)
    b, _ = parse_answers("b.xlsx", HEADER, [(9, ["", "MUSÉE", "culture", 1, "", "culture", "yes", ""])], meta(),
                         LABELS)
    kept = check_conflicts(pd.concat([a, b], ignore_index=True))
    assert kept[["text", "digital"]].values.tolist() == [["MUSÉE", "yes"]]
    c, _ = parse_answers("c.xlsx", HEADER, [(4, ["", "musee", "culture", 1, "", "education", "", ""])], meta(),
                         LABELS)
    with pytest.raises(PipelineError, match=r"reviewed:a.xlsx row 2 and reviewed:c.xlsx row 4: the same text "
                                            r"'Musée' reviewed twice with two answers \(domain culture and education"):
        check_conflicts(pd.concat([a, c], ignore_index=True))


# -- confident learning --------------------------------------------------------------------------


def test_label_issues_are_rows_another_class_confidently_claims():
    classes = np.array(["a", "b"])
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.2, 0.8],   # labeled a; the last one looks like b
                      [0.1, 0.9], [0.3, 0.7], [0.4, 0.6]])               # labeled b
    y = np.array(["a", "a", "a", "a", "b", "b", "b"])
    issues = label_issues(proba, y, classes)
    assert issues["row"].tolist() == [3]
    assert issues[["suggested", "margin"]].values.tolist() == [["b", pytest.approx(0.6)]]


def test_audit_names_a_suspect_row_by_its_number_in_its_own_file():
    """row_id was the row's place among every training row (none and empty rows left out, files run
    together): no file had the row there."""
    from pipeline.commands.audit import audit_frame

    classes = np.array(["a", "b"])
    frame = pd.DataFrame({"text": list("pqrs"), "domain": ["a", "a", "a", "b"], "digital": "",
                          "source": ["seed:x", "seed:x", "seed:y", "seed:y"], "file_row": [1, 2, 5, 7]})
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8]])   # row 5 of y, labeled a, looks like b
    table, _ = audit_frame(frame, proba, classes)
    assert table[["source", "text", "row_id"]].values.tolist() == [["seed:y", "r", 5]]


def test_audit_lists_every_copy_of_a_title_labeled_with_two_domains():
    """train warns of a title labeled with two domains and points at make audit, but the grouped CV gives
    the copies one prediction: when the model hesitated between the two, audit listed neither."""
    from pipeline.commands.audit import audit_frame
    from pipeline.modeling.cv import duplicate_groups

    classes = np.array(["a", "b"])
    texts = ["Préau", "Stade", "PREAU", "Gymnase", "Piste", "Piscine"]
    frame = pd.DataFrame({"text": texts, "domain": ["a", "a", "b", "b", "a", "b"], "digital": "",
                          "source": "seed:x", "file_row": [1, 2, 3, 4, 5, 6]})
    proba = np.array([[0.5, 0.5], [0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.8, 0.2], [0.1, 0.9]])
    table, _ = audit_frame(frame, proba, classes, duplicate_groups(texts))
    assert table[["text", "label", "other_labels", "row_id"]].values.tolist() == [
        ["Préau", "a", "b", 1], ["PREAU", "b", "a", 3]]
    assert audit_frame(frame, proba, classes)[0].empty  # without the copies' groups, none is an issue


def test_audit_leaves_the_locked_test_rows_out(tmp_path):
    """make audit --extra listed the locked rows' suspect labels too: the errors nobody may read."""
    from pipeline.commands.audit import without_locked_rows

    frame = pd.DataFrame({"text": list("pqrs"), "domain": "a", "source": ["random"] * 3 + ["seed:x"],
                          "row_id": ["random:1", "random:2", "random:3", ""]})
    (tmp_path / "locked.toml").write_text('source = "random"\nids = ["2", "9"]\n', encoding="utf-8")
    assert without_locked_rows(frame, tmp_path / "locked.toml")["row_id"].tolist() == ["random:1", "random:3", ""]
    assert len(without_locked_rows(frame, None)) == 4


def test_audit_refuses_an_output_that_is_not_a_workbook_before_its_cross_validation(tmp_path, capsys):
    """The name is checked first: a .csv output was refused only once the minutes of cross-validation were spent
    (here the empty seed folder would stop it first)."""
    (tmp_path / "labeled").mkdir()
    config = {"config_file": str(write_config(tmp_path, labeled=str(tmp_path / "labeled")))}
    assert cli(config, "audit", "--output", str(tmp_path / "audit.csv")) == 2
    assert "audit.csv: a review workbook must end in .xlsx" in capsys.readouterr().err


# -- the round trip, with the real model --------------------------------------------------------


@pytest.fixture(scope="module")
def workbook(trained, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("review")
    predictions = tmp / "predictions.csv"
    assert cli(trained, "predict", "--input", str(SAMPLE), "--output", str(predictions)) == 0
    out = tmp / "review.xlsx"
    assert cli(trained, "review", "--predictions", str(predictions), "--output", str(out), "-n", "40") == 0
    return out, pd.read_csv(predictions, dtype=str, keep_default_na=False)


def _review_sheet(path):
    """The workbook at `path`, its review sheet, and each header's column number."""
    wb = load_workbook(path)
    ws = wb[REVIEW_SHEET]
    return wb, ws, {c.value: c.column for c in ws[1]}


def test_the_workbook_has_the_picked_rows_drop_downs_a_guide_and_the_label_set(workbook, labels):
    path, predictions = workbook
    wb = load_workbook(path)
    ws = wb[REVIEW_SHEET]
    header = [c.value for c in ws[1]]
    sample_columns = list(pd.read_csv(SAMPLE, sep=";", nrows=1, encoding="utf-8-sig").columns)
    assert header == [*sample_columns, "text", "domain", "confidence", "domain_2", "digital",
                      "correction", "digital_correction", "comment", "row_id", "model_run_id"]
    assert ws.max_row == 41 and ws.freeze_panes == "A2"
    rows = pd.DataFrame(list(ws.iter_rows(min_row=2, values_only=True)), columns=header)
    # Each row is the predictions file's row row_id, the most uncertain first
    source = predictions.iloc[rows["row_id"].astype(int) - 1]
    assert rows["text"].tolist() == source["intitule"].str.strip().tolist()
    margins = [float(c) - float(s[f"proba_{d2}"]) for c, d2, (_, s) in
               zip(source["confidence"], source["domain_2"], source.iterrows())]
    assert margins[0] <= np.median(margins)
    assert rows[["correction", "digital_correction", "comment"]].isna().all().all()
    lists = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}
    assert '"' + ",".join([*labels.codes, "none"]) + '"' in lists.values() and '"yes,no"' in lists.values()
    guide = [r for r in wb["Guide"].iter_rows(min_row=2, max_row=15, values_only=True)]
    assert [r[0] for r in guide] == [*labels.codes, "none"] and all(r[2] for r in guide)
    assert wb[META_SHEET].sheet_state == "hidden"


def test_a_filled_workbook_is_trained_on_and_counted(trained, workbook, labels, tmp_path):
    path, _ = workbook
    wb, ws, col = _review_sheet(path)
    domains = [ws.cell(row=r, column=col["domain"]).value for r in range(2, 6)]
    other = [d for d in labels.codes if d != domains[0]][0]
    answers = [(other, "yes"), (domains[1], ""), (labels.label(other), "no"), ("none", "")]
    for r, (correction, digital) in enumerate(answers, start=2):
        ws.cell(row=r, column=col["correction"]).value = correction
        ws.cell(row=r, column=col["digital_correction"]).value = digital or None
    reviewed = tmp_path / "reviewed"
    reviewed.mkdir()
    wb.save(reviewed / "done.xlsx")
    texts = [ws.cell(row=r, column=col["text"]).value for r in range(2, 6)]

    config_path = write_config(tmp_path, labeled=trained["paths"]["labeled"], models=str(tmp_path / "models"),
                               reviewed=str(reviewed))
    config = load_config(config_path)
    assert cli(config, "train", "--cv-folds", "3") == 0
    models = tmp_path / "models"
    metadata = json.loads((models / (models / "LATEST").read_text().strip() / "metadata.json").read_text())
    assert metadata["reviewed"]["rows_reviewed"] == 4 and metadata["reviewed"]["rows_trained"] == 3
    assert metadata["reviewed"]["confirmed"] == 1 and metadata["reviewed"]["none"] == 1
    assert metadata["reviewed"]["workbooks"][0]["path"] == str((reviewed / "done.xlsx").resolve())
    assert len(metadata["reviewed"]["workbooks"][0]["sha256"]) == 64
    source = [s for s in metadata["sources"] if s["name"] == "reviewed:done.xlsx"]
    assert source and source[0]["rows_used"] == 3
    assert metadata["rows_trained"] == 20 * len(labels.codes) + 3

    # The rows trained on are the corrections, as the training command read them
    rows, _, _ = load_reviewed(review_files(reviewed), labels)
    assert rows[["text", "domain", "digital"]].values.tolist() == [
        [texts[0], other, "yes"], [texts[1], domains[1], ""], [texts[2], other, "no"]]


def test_an_answer_replaces_the_training_rows_that_label_its_title_otherwise(workbook, labels, tmp_path):
    """An audit workbook's correction of a training row, filed in data/reviewed, joined the training rows
    beside the row it corrected: the model learned both labels, and train warned of a conflict."""
    from pipeline.commands.train import add_reviewed
    from pipeline.io.sources import SourceReport

    path, _ = workbook
    wb, ws, col = _review_sheet(path)
    text, proposed = (ws.cell(row=2, column=col[c]).value for c in ("text", "domain"))
    other = [d for d in labels.codes if d != proposed][0]
    ws.cell(row=2, column=col["correction"]).value = other
    ws.cell(row=3, column=col["correction"]).value = "none"
    reviewed = tmp_path / "reviewed"
    reviewed.mkdir()
    wb.save(reviewed / "audit.xlsx")
    none_text = ws.cell(row=3, column=col["text"]).value
    frame = pd.DataFrame({"text": [text, text.upper() + " !", text, "Autre titre", none_text],
                          "domain": [proposed, proposed, other, proposed, proposed], "digital": "",
                          "source": ["a", "b", "b", "a", "a"], "weight": 1.0, "text_kind": "submission",
                          "row_id": "", "period": "", "sure": "", "file_row": [1, 1, 2, 2, 3]})
    reports = [SourceReport("a", "a.csv", "", 3, 3, 0, 0), SourceReport("b", "b.csv", "", 2, 2, 0, 0)]
    config = {"paths": {"reviewed": str(reviewed)}, "review": {}}
    out, reports, _ = add_reviewed(config, frame, reports, labels)
    # Both copies labeled otherwise give way; the copy that agrees stays; a none answer removes nothing.
    assert out[["text", "domain", "source"]].values.tolist()[:3] == [
        [text, other, "b"], ["Autre titre", proposed, "a"], [none_text, proposed, "a"]]
    assert out["source"].tolist()[3:] == ["reviewed:audit.xlsx"]
    assert [(r.name, r.rows_used, r.gave_way) for r in reports[:2]] == [("a", 2, 1), ("b", 1, 1)]


def test_a_workbook_where_only_the_digital_flag_is_answered_gives_training_rows(workbook, labels, tmp_path):
    path, _ = workbook
    wb, ws, col = _review_sheet(path)
    for r, digital in ((2, "yes"), (3, "no")):
        ws.cell(row=r, column=col["digital_correction"]).value = digital
    wb.save(tmp_path / "only_digital.xlsx")
    shown = [[ws.cell(row=r, column=col[c]).value for c in ("text", "domain")] for r in (2, 3)]
    rows, _, summary = load_reviewed([tmp_path / "only_digital.xlsx"], labels)
    assert rows[["text", "domain", "digital"]].values.tolist() == [[*shown[0], "yes"], [*shown[1], "no"]]
    assert (summary["rows_reviewed"], summary["rows_trained"], summary["confirmed"]) == (2, 2, 2)


def test_a_workbook_filed_twice_is_counted_once(workbook, labels, tmp_path):
    path, _ = workbook
    wb, ws, col = _review_sheet(path)
    proposed = ws.cell(row=2, column=col["domain"]).value
    other = [d for d in labels.codes if d != ws.cell(row=3, column=col["domain"]).value][0]
    for r, answer in ((2, proposed), (3, other), (4, "none")):
        ws.cell(row=r, column=col["correction"]).value = answer
    wb.save(tmp_path / "relu.xlsx")
    wb.save(tmp_path / "relu - copie.xlsx")
    rows, reports, summary = load_reviewed(review_files(tmp_path), labels)
    assert len(rows) == 2
    assert {k: summary[k] for k in ("rows_reviewed", "rows_trained", "confirmed", "corrected", "none")} == {
        "rows_reviewed": 3, "rows_trained": 2, "confirmed": 1, "corrected": 1, "none": 1}
    assert sum(r.rows_used for r in reports) == 2
    # The none answer filed twice is left out once (metadata's rows_left_out_none once counted 2)
    assert sum(r.left_out for r in reports) == 1
    assert [w["reviewed"] for w in summary["workbooks"]] == [3, 3]  # what each workbook holds
    # Every row read is counted once: the copy's three answers are repeated, the rows nobody answered too.
    assert [(r.repeated, r.not_answered) for r in reports] == [(0, ws.max_row - 4), (3, ws.max_row - 4)]
    for r in reports:
        assert r.rows_read == r.rows_used + r.left_out + r.empty_text + r.gave_way + r.not_answered + r.repeated


def test_a_correction_given_by_a_formula_no_spreadsheet_computed_is_refused(workbook, labels, tmp_path):
    # A script filling `correction` with "=N5" (the proposed domain): no result saved, read as empty.
    path, _ = workbook
    wb, ws, col = _review_sheet(path)
    ws.cell(row=5, column=col["correction"]).value = f"={ws.cell(row=5, column=col['domain']).coordinate}"
    wb.save(tmp_path / "formula.xlsx")
    with pytest.raises(PipelineError, match=r"formula\.xlsx: sheet 'Relecture', cell\(s\) [A-Z]+5: a formula.*save it$"):
        load_reviewed([tmp_path / "formula.xlsx"], labels)


def test_a_value_typed_outside_the_list_stops_training_in_one_line(trained, workbook, tmp_path, capsys):
    path, _ = workbook
    wb = load_workbook(path)
    ws = wb[REVIEW_SHEET]
    header = [c.value for c in ws[1]]
    ws.cell(row=3, column=header.index("correction") + 1).value = "ecole"
    wb.save(tmp_path / "typed.xlsx")
    assert cli(trained, "train", "--reviewed", str(tmp_path / "typed.xlsx")) == 2
    assert "typed.xlsx, sheet Relecture, row 3: correction 'ecole' is not in the list" in capsys.readouterr().err


FORMULA_TITLES = ['=HYPERLINK("http://x","a")', "+ Wifi public de la place", "-Rénovation du gymnase",
                  "@mention portail famille", "Numérisation des archives"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_titles_that_look_like_formulas_come_back_as_written(trained, labels, tmp_path, suffix):
    """The workbook holds them as text (never a formula, never the CSV's guard apostrophe), and the
    analyst's filled workbook gives training the exact titles."""
    source = tmp_path / "in.csv"
    pd.DataFrame({"titre": FORMULA_TITLES}).to_csv(source, index=False)
    predictions, out = tmp_path / f"p{suffix}", tmp_path / "reviewed" / "r.xlsx"
    assert cli(trained, "predict", "--input", str(source), "--output", str(predictions)) == 0
    assert cli(trained, "review", "--predictions", str(predictions), "--output", str(out), "-n", "10") == 0
    wb = load_workbook(out)
    ws = wb[REVIEW_SHEET]
    header = [c.value for c in ws[1]]
    for name in ("titre", "text"):
        cells = [row[0] for row in ws.iter_rows(min_row=2, min_col=header.index(name) + 1,
                                                max_col=header.index(name) + 1)]
        assert sorted(c.value for c in cells) == sorted(FORMULA_TITLES) and {c.data_type for c in cells} == {"s"}
    for r in range(2, ws.max_row + 1):  # the analyst confirms every row
        ws.cell(row=r, column=header.index("correction") + 1).value = ws.cell(
            row=r, column=header.index("domain") + 1).value
    wb.save(out)
    rows, _, _ = load_reviewed(review_files(out.parent), labels)
    assert sorted(rows["text"]) == sorted(FORMULA_TITLES)


def test_review_refuses_a_file_that_is_not_predictions(trained, tmp_path, capsys):
    shutil.copy(SAMPLE, tmp_path / "raw.csv")
    assert cli(trained, "review", "--predictions", str(tmp_path / "raw.csv"), "--output",
               str(tmp_path / "r.xlsx")) == 2
    assert "raw.csv: no column domain, confidence, domain_2..." in capsys.readouterr().err
    assert not (tmp_path / "r.xlsx").exists()


LONG_COMMUNE = "Mairie " + "y" * 33_000


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("commune, titre, problem", [
    ("B", "Réfection\x01 de la voirie", "column 2 ('titre'): a control character Excel cannot hold, in "
                                        "'Réfection\\x01 de la voirie'; remove the character from the input"),
    (LONG_COMMUNE, "Réfection de la voirie", f"column 1 ('commune'): 33,007 characters, more than the 32,767 an "
                                             f"Excel cell holds, starting {LONG_COMMUNE[:40]!r}; shorten the text "
                                             f"in the input")])
def test_a_text_the_workbook_cannot_hold_is_one_line_naming_the_predictions_row(trained, tmp_path, capsys, suffix,
                                                                                 commune, titre, problem):
    """The analyst must read the text: a control character is refused (not dropped), and so is a text longer
    than an Excel cell holds (openpyxl cut it silently, and the cut text would be trained on once the workbook
    is filed); exit 2, the row and column of the predictions file named, no workbook written."""
    (tmp_path / "in.csv").write_text(f"commune,titre\nA,Site internet de la commune\n{commune},{titre}\n",
                                     encoding="utf-8")
    predictions, out = tmp_path / f"p{suffix}", tmp_path / "r.xlsx"
    assert cli(trained, "predict", "--input", str(tmp_path / "in.csv"), "--output", str(predictions),
               "--text-col", "titre") == 0
    capsys.readouterr()
    assert cli(trained, "review", "--predictions", str(predictions), "--output", str(out)) == 2
    # A Parquet file's rows are numbered as the table's, from 1: no header line above them.
    row = "row 2 of the table" if suffix == ".parquet" else "row 3"
    assert capsys.readouterr().err.strip() == f"error: {predictions}, {row}, {problem}"
    assert not out.exists()


def test_a_review_workbook_refuses_a_text_longer_than_an_excel_cell(tmp_path, labels):
    """The last guard, in the workbook writer: texts joined from several columns and audit's training rows
    are not cut either; the sheet's row and column are named."""
    from pipeline.review.workbook import review_table, write_workbook

    model = pd.DataFrame({"text": ["court", "z" * 32_768], "domain": ["culture"] * 2, "confidence": [0.9] * 2,
                          "domain_2": ["education"] * 2, "digital": ["no"] * 2})
    table = review_table(pd.DataFrame({"id": [1, 2]}), model, [1, 2], "run")
    with pytest.raises(PipelineError) as err:
        write_workbook(tmp_path / "r.xlsx", table, labels, {}, {})
    assert str(err.value).startswith(f"{tmp_path / 'r.xlsx'}, sheet 'Relecture', row 3, column 2 ('text'): 32,768 "
                                     f"characters, more than the 32,767 an Excel cell holds")
    assert not (tmp_path / "r.xlsx").exists()


def test_review_reads_predicts_french_excel_output(trained, tmp_path, capsys, labels):
    from pipeline.io.predictions import read_predictions_file

    (tmp_path / "in.csv").write_text("titre\nVidéoprotection de la mairie\nRéfection de la voirie\n"
                                     "Site internet de la commune\n", encoding="utf-8")
    for name, dialect in (("plain.csv", []), ("fr.csv", ["--excel-fr"])):
        assert cli(trained, "predict", "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / name),
                   *dialect) == 0
    assert ";0,0;" in (tmp_path / "fr.csv").read_text(encoding="utf-8-sig")
    pd.testing.assert_frame_equal(read_predictions_file(tmp_path / "fr.csv"),
                                  read_predictions_file(tmp_path / "plain.csv"))
    assert cli(trained, "review", "--predictions", str(tmp_path / "fr.csv"), "--output",
               str(tmp_path / "r.xlsx")) == 0
    text = (tmp_path / "fr.csv").read_text(encoding="utf-8-sig").splitlines()
    cells = text[2].split(";")
    column = text[0].split(";").index(f"proba_{labels.codes[0]}")
    cells[column] = "?"
    (tmp_path / "bad.csv").write_text("\n".join([*text[:2], ";".join(cells), *text[3:]]), encoding="utf-8")
    assert cli(trained, "review", "--predictions", str(tmp_path / "bad.csv"), "--output",
               str(tmp_path / "b.xlsx")) == 2
    assert f"bad.csv, row 3: '?' in column 'proba_{labels.codes[0]}' is not a number" in capsys.readouterr().err


def test_the_simulated_loop_reveals_batches_of_distinct_titles_and_scores_the_list():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from pipeline.review.simulate import LoopData, Strategy, learning_curve

    def fit(X, y, w):
        return make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(X, y, logisticregression__sample_weight=w)

    seed_X, seed_y = ["ecole classe", "musee expo", "ecole cantine", "musee art"], np.array(["e", "c", "e", "c"])
    pool_X = ["classe musee", "cantine art", "expo ecole", "classe musee", "art", "ecole"]
    pool_y = np.array(["c", "e", "c", "c", "c", "e"])
    keys = np.array(["k0", "k1", "k2", "k0", "k4", "k5"])  # rows 0 and 3: one title, reviewed once
    data = LoopData(seed_X, seed_y, pool_X, pool_y, keys, pool_X[:2], pool_y[:2])
    for strategy in (Strategy("margin"), Strategy("random", kind="random")):
        rows = learning_curve(data, fit, strategy, ["e", "c"], batch=2, max_reviewed=6)
        assert [r["reviewed"] for r in rows] == [0, 2, 4, 5]  # the copy of k0 is never offered
        assert rows[-1]["unreviewed_n"] == 1 and rows[0]["list_n"] == 6
        # The list's labels: the reviewed rows as revealed, so at least as right as the model alone
        assert all(r["list_accuracy"] >= r["unreviewed_accuracy"] or r["reviewed"] == 0 for r in rows[:-1])
        assert rows[0]["list_accuracy"] == rows[0]["unreviewed_accuracy"]


@pytest.mark.parametrize("option, message", [(["--splits", "0"], "--splits 0: give a number of pool/test splits"),
                                             (["--jobs", "0"], "--jobs 0: give a number of processes")])
def test_simulate_review_refuses_a_count_below_one_before_any_work(tmp_path, capsys, option, message):
    """Both once stopped minutes in, with a traceback's last line (KeyError 'strategy', joblib's ValueError);
    the empty --extra folder would stop it first here."""
    config = {"config_file": str(write_config(tmp_path, reports=str(tmp_path / "reports")))}
    assert cli(config, "simulate-review", "--extra", str(tmp_path), *option) == 2
    assert message in capsys.readouterr().err


def test_the_simulations_summary_says_how_many_splits_and_draws_its_means_are_over():
    """summary.json gave means without their design: a --splits 1 run read as the documented 3 splits."""
    from pipeline.commands.simulate_review import summarize

    curves = pd.DataFrame({"strategy": ["random", "random", "margin", "margin"], "weight": 1.0,
                           "reviewed": [0, 400, 0, 400], "test_accuracy": [0.8, 0.9, 0.8, 0.95],
                           "test_macro_f1": [0.7, 0.8, 0.7, 0.85], "list_accuracy": [0.8, 0.92, 0.8, 0.96]})
    design = {"splits": 1, "test_share": 0.3, "random_draws": 2, "margin_weights": [1.0], "curves": 3}
    summary = summarize(curves, pd.DataFrame(), 10, pd.DataFrame({"text": ["a", "b"]}), design)
    assert summary["design"] == design and summary["real_titles"] == 2
    assert summary["rows_to_reach_random_400_test_accuracy"]["margin"] <= 400


def test_input_columns_of_the_sheets_names_are_renamed_without_a_second_clash():
    """An input column of a name the sheet uses is kept as input_<name>, as predict keeps it, even when the
    input already holds an input_<name> (a file predict labeled again): never two columns of one name."""
    from pipeline.review.workbook import review_table

    inputs = pd.DataFrame({"domain": ["hand label"], "input_domain": ["older hand label"], "titre": ["t"]})
    model = pd.DataFrame({"text": ["t"], "domain": ["culture"], "confidence": [0.9], "domain_2": ["education"],
                          "digital": ["no"]})
    table = review_table(inputs, model, ["r1"], "run")
    assert not table.columns.duplicated().any()
    assert table.loc[0, "input_input_domain"] == "hand label" and table.loc[0, "input_domain"] == "older hand label"
    assert table.loc[0, "domain"] == "culture"


def test_copies_of_a_title_answered_with_two_domains_are_refused():
    """Copies as the CV groups them (case, accents, punctuation, numbers aside) are one title to
    answers_win: two domains for them once trained both, silently, the last one deciding which
    training rows gave way."""
    a, _ = parse_answers("audit.xlsx", HEADER, [(3, ["", "Fresque murale, tranche 1", "culture", 1, "", "culture",
                                                     "", ""])], meta(), LABELS)
    b, _ = parse_answers("r.xlsx", HEADER, [(8, ["", "FRESQUE MURALE - tranche 2", "culture", 1, "", "education",
                                                 "", ""])], meta(), LABELS)
    with pytest.raises(PipelineError, match=r"reviewed:audit.xlsx row 3 and reviewed:r.xlsx row 8: the same text "
                                            r"'Fresque murale, tranche 1' \(and its copy 'FRESQUE MURALE - tranche 2'"
                                            r".*two answers \(domain culture and education\)"):
        check_conflicts(pd.concat([a, b], ignore_index=True))
    # The same answer for both copies: two rows, both trained
    c, _ = parse_answers("r.xlsx", HEADER, [(8, ["", "FRESQUE MURALE - tranche 2", "culture", 1, "", "culture",
                                                 "yes", ""])], meta(), LABELS)
    assert len(check_conflicts(pd.concat([a, c], ignore_index=True))) == 2


def test_a_locked_test_row_never_gives_way_to_an_answer(tmp_path):
    """A title of this year's list reviewed with another domain than a locked test row's copy removed that
    row from the locked test set, silently: its figure was then measured on fewer rows."""
    from pipeline.review.answers import answers_win

    frame = pd.DataFrame({"text": ["Fresque murale", "FRESQUE MURALE !", "Autre titre"],
                          "domain": ["culture", "culture", "culture"], "source": ["random", "seed:x", "seed:x"]})
    answers = pd.DataFrame({"text": ["fresque murale"], "domain": ["education"]})
    kept, gave_way = answers_win(frame, answers, locked=[True, False, False])
    assert kept["text"].tolist() == ["Fresque murale", "Autre titre"] and gave_way == {"seed:x": 1}
    assert answers_win(frame, answers)[1] == {"random": 1, "seed:x": 1}  # no locked set: both copies give way


def test_the_next_workbook_of_the_same_predictions_leaves_out_the_titles_already_answered(trained, workbook, labels,
                                                                                          tmp_path, caplog):
    """A second `make review` of the same predictions gave the analyst the rows they had just answered."""
    path, _ = workbook
    wb, ws, col = _review_sheet(path)
    for r, answer in ((2, labels.codes[0]), (3, "none")):
        ws.cell(row=r, column=col["correction"]).value = answer
    reviewed = tmp_path / "reviewed"
    reviewed.mkdir()
    wb.save(reviewed / "lot1.xlsx")
    answered = {ws.cell(row=r, column=col["text"]).value for r in (2, 3)}
    config = load_config(write_config(tmp_path, labeled=trained["paths"]["labeled"], models=trained["paths"]["models"],
                                      reviewed=str(reviewed)))
    with caplog.at_level("INFO"):
        assert cli(config, "review", "--predictions", str(path.parent / "predictions.csv"), "--output",
                   str(tmp_path / "lot2.xlsx"), "-n", "40") == 0
    _, second, col2 = _review_sheet(tmp_path / "lot2.xlsx")
    texts = [second.cell(row=r, column=col2["text"]).value for r in range(2, second.max_row + 1)]
    first = [ws.cell(row=r, column=col["text"]).value for r in range(4, ws.max_row + 1)]
    assert not answered & set(texts) and set(first) <= set(texts) and len(texts) == 40
    assert "2 row(s) of 2 title(s) already answered in" in caplog.text
