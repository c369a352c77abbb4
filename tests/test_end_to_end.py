"""Train on a small slice, predict, and check every output's contract, through the real CLI."""
import io
import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import label_frame, load_model
from pipeline.cli import main
from pipeline.config import PROJECT_DIR
from pipeline.modeling.metrics import review_threshold_warning
from pipeline.modeling.predict import output_columns

SAMPLE = PROJECT_DIR / "data" / "raw" / "submissions-sample.csv"


def run_folder(config) -> Path:
    models = Path(config["paths"]["models"])
    return models / (models / "LATEST").read_text().strip()


def cli(config, *args):
    return main(["--config", config["config_file"], "-q", *args])


def test_training_writes_a_complete_run_folder(trained, labels):
    folder = run_folder(trained)
    names = {p.name for p in folder.iterdir()}
    assert {"model.joblib", "metadata.json", "metrics.json", "confusion_matrix.png", "MODEL_CARD.md"} <= names
    meta = json.loads((folder / "metadata.json").read_text())
    assert {"python", "spacy", "scikit-learn", "pandas", "spacy_model"} <= set(meta["versions"])
    assert meta["labels"] == {c: labels.label(c) for c in labels.codes}
    assert meta["sources"][0]["rows_used"] == 20 * 13 and len(meta["sources"][0]["sha256"]) == 64
    metrics = json.loads((folder / "metrics.json").read_text())
    assert {"tfidf_raw_text", "dummy_most_frequent"} <= set(metrics["baselines"])
    # The seed set is one kind of text and there is no unlabeled pool: only the plain recipe is measured.
    assert list(metrics["candidates"]) == ["svm_balanced"] and metrics["cv_repeats"] == 3
    # Even 20 rows a domain beat chance by far.
    assert metrics["domain"]["macro_f1"] > metrics["baselines"]["dummy_most_frequent"]["macro_f1"] + 0.3
    assert set(metrics["domain"]["per_class"]) == set(labels.codes)
    assert (folder / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    card = (folder / "MODEL_CARD.md").read_text()
    assert "Intended use and limits" in card and f"cross-validation of all {20 * 13} training rows" in card
    low, high = metrics["domain"]["interval"]["macro_f1"]
    assert f"macro-F1 **{metrics['domain']['macro_f1']:.3f}** (95 % interval {low:.3f}–{high:.3f})" in card
    assert metrics["selected_on"] == "all rows" and metrics["domain"]["n"] == 20 * 13


def test_predict_keeps_every_input_row_and_column_then_appends_predictions(trained, labels, tmp_path):
    out = tmp_path / "out.csv"
    assert cli(trained, "predict", "--input", str(SAMPLE), "--output", str(out)) == 0
    source = pd.read_csv(SAMPLE, sep=";", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    result = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(result.columns) == list(source.columns) + output_columns(labels.codes)
    pd.testing.assert_frame_equal(result[source.columns], source)  # unchanged, same order
    assert set(result["domain"]) - {""} <= set(labels.codes)
    probas = result[[f"proba_{d}" for d in labels.codes]].astype(float)
    assert np.allclose(probas.sum(axis=1)[result["intitule"].str.strip() != ""], 1, atol=1e-3)
    empty = result["intitule"].str.strip() == ""
    assert empty.any() and (result.loc[empty, "needs_review"] == "True").all()
    assert (result.loc[empty, "domain"] == "").all()
    assert set(result["digital"][~empty]) <= {"yes", "no"}
    assert result["model_run_id"].nunique() == 1


def test_predicts_progress_bar_ends_at_the_rows_labeled_when_cells_span_lines(trained, tmp_path, monkeypatch):
    """Its total is counted from the CSV's lines: 3 rows on 5 lines must still end at 3 of 3, not 3 of 4."""
    import pipeline.commands.predict as predict_command

    bars = []

    class Recorded(predict_command.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, "disable": False, "file": io.StringIO()})
            bars.append(self)

    monkeypatch.setattr(predict_command, "tqdm", Recorded)
    (tmp_path / "in.csv").write_text('intitule\n"Rénovation\nde l\'école"\n"Piste\ncyclable"\nStade\n', encoding="utf-8")
    assert cli(trained, "predict", "--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "o.csv")) == 0
    assert (bars[0].n, bars[0].total) == (3, 3)


def test_predict_warns_when_its_review_threshold_flags_only_empty_texts(trained, tmp_path, caplog):
    out = tmp_path / "out.csv"
    with caplog.at_level(logging.WARNING):
        assert cli(trained, "predict", "--input", str(SAMPLE), "--output", str(out), "--threshold", "0") == 0
    assert "needs_review marks only empty texts" in caplog.text
    assert "pass --threshold" not in caplog.text  # the user did: the advice is for a model's own threshold
    assert "pass --threshold" in review_threshold_warning(0.0)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert cli(trained, "predict", "--input", str(SAMPLE), "--output", str(out), "--threshold", "0.5") == 0
    assert "only empty texts" not in caplog.text


def test_predict_reads_excel_writes_parquet_and_joins_text_columns(trained, tmp_path):
    frame = pd.DataFrame({"titre": ["Videoprotection", "Ecole"],
                          "description": ["Cameras place de la mairie", "Renovation des classes"]})
    frame.to_excel(tmp_path / "in.xlsx", index=False)
    out = tmp_path / "out.parquet"
    assert cli(trained, "predict", "--input", str(tmp_path / "in.xlsx"), "--output", str(out),
               "--text-col", "titre,description") == 0
    result = pd.read_parquet(out)
    assert len(result) == 2 and result["titre"].tolist() == ["Videoprotection", "Ecole"]


def test_python_api_labels_a_dataframe(trained):
    model = load_model(config_path=trained["config_file"])
    assert getattr(model.lemmatizer, "_nlp", None) is None  # spaCy was not pickled
    frame = pd.DataFrame({"text": ["Installation de caméras de vidéoprotection", "  "]}, index=[10, 11])
    result = label_frame(model, frame, ["text"])
    assert list(result.index) == [10, 11]
    assert result.loc[10, "domain"] == "securite"
    assert bool(result.loc[11, "needs_review"]) and result.loc[11, "domain"] == ""


@pytest.mark.parametrize("make_bad, message", [
    (lambda tmp: ["--input", str(tmp / "missing.csv")], "file not found: .*missing.csv"),
    (lambda tmp: ["--input", str(SAMPLE), "--text-col", "titre"], "no column 'titre'"),
    (lambda tmp: ["--input", str(SAMPLE), "--output", str(SAMPLE)], "would overwrite the input"),
    (lambda tmp: ["--input", str(SAMPLE), "--run", str(tmp)], "missing or incomplete"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(trained, tmp_path, capsys, make_bad, message):
    out = tmp_path / "out.csv"
    args = make_bad(tmp_path)
    if "--output" not in args:
        args += ["--output", str(out)]
    assert cli(trained, "predict", *args) == 2
    assert re.search(message, capsys.readouterr().err)
    assert not out.exists()


def test_a_model_made_by_other_library_versions_is_refused(trained, tmp_path, capsys):
    import shutil

    copy = tmp_path / "old_run"
    shutil.copytree(run_folder(trained), copy)
    meta = json.loads((copy / "metadata.json").read_text())
    meta["versions"]["scikit-learn"] = "0.24.2"
    (copy / "metadata.json").write_text(json.dumps(meta))
    assert cli(trained, "predict", "--input", str(SAMPLE), "--output", str(tmp_path / "o.csv"),
               "--run", str(copy)) == 2
    assert "scikit-learn 0.24.2" in capsys.readouterr().err


def test_a_model_made_with_another_spacy_model_version_is_refused(trained, tmp_path, capsys):
    """fr_core_news_sm lemmatises every text predicted: another version gives other lemmas, other features."""
    import shutil

    copy = tmp_path / "old_run"
    shutil.copytree(run_folder(trained), copy)
    meta = json.loads((copy / "metadata.json").read_text())
    assert {"numpy", "scipy"} <= set(meta["versions"])  # what a retraining needs to reproduce the run
    meta["versions"]["spacy_model"] = "fr_core_news_sm 0.0.1"
    (copy / "metadata.json").write_text(json.dumps(meta))
    assert cli(trained, "predict", "--input", str(SAMPLE), "--output", str(tmp_path / "o.csv"),
               "--run", str(copy)) == 2
    err = capsys.readouterr().err
    assert "fr_core_news_sm 0.0.1 (here " in err and "make train" in err and "\n" not in err.strip()
    assert not (tmp_path / "o.csv").exists()


def test_the_real_dgcl_list_is_labeled_end_to_end(trained, tmp_path):
    real = PROJECT_DIR.parent / "shared" / "data" / "dgcl" / "dotations-2023.csv"
    if not real.is_file():
        pytest.skip("../shared/data is not beside the project")
    out = tmp_path / "dgcl.parquet"
    assert cli(trained, "predict", "--input", str(real), "--output", str(out)) == 0
    result = pd.read_parquet(out, columns=["beneficiaire_code_insee", "domain"])
    assert len(result) == 24012
    codes = result["beneficiaire_code_insee"]
    assert codes[codes != ""].str.len().eq(5).all()  # codes stay text: "08004", never 8004
    assert result["domain"].ne("").mean() > 0.99


def test_evaluate_scores_sources_and_a_hand_labeled_file(trained, seed, tmp_path):
    assert cli(trained, "evaluate", "--recipe", "svm") == 0
    folder = Path(trained["paths"]["reports"]) / "evaluation" / "sources"
    assert {"SUMMARY.md", "scores.csv", "per_class.csv", "coverage_accuracy.png", "evaluation.json"} <= {
        p.name for p in folder.iterdir()}
    scores_table = pd.read_csv(folder / "scores.csv")
    assert set(scores_table["setting"]) >= {"within", "previous_default", "tfidf_raw_text_alone"}

    # Seed rows the model never saw (the fixture trained on the first 20 of each domain).
    unseen = seed.groupby("domain", group_keys=False).nth(list(range(30, 40)))
    sure = np.where(np.arange(len(unseen)) % 3 == 0, "no", "yes")  # the annotator's certainty, as a file may say
    unseen.rename(columns={"text": "titre", "domain": "theme"}).assign(sur=sure).to_csv(tmp_path / "hand.csv",
                                                                                        index=False)
    assert cli(trained, "evaluate", "--labeled", str(tmp_path / "hand.csv"), "--text-col", "titre",
               "--label-col", "theme", "--digital-col", "digital", "--sure-col", "sur") == 0
    result = json.loads((folder.parent / "labeled-hand" / "scores.json").read_text())
    assert result["rows_scored"] == 130
    assert result["domain"]["accuracy"] > 0.4 and 0 < result["digital_f1_yes"] <= 1
    parts = result["by_certainty"]
    assert (parts["sure"]["n"], parts["unsure"]["n"]) == ((sure == "yes").sum(), (sure == "no").sum())
    # The two parts together are the whole file's accuracy.
    assert (parts["sure"]["accuracy"] * parts["sure"]["n"] + parts["unsure"]["accuracy"] * parts["unsure"]["n"]
            ) / 130 == pytest.approx(result["domain"]["accuracy"], abs=1e-3)
    # The written evaluation sets of data/eval/ are scored by the latest model, per split.
    evaluation = json.loads((folder / "evaluation.json").read_text())
    assert {"contracts", "mediation"} <= set(evaluation["eval_sets"]["sets"])
    assert "## Written evaluation sets" in (folder / "SUMMARY.md").read_text()


def test_eval_sets_are_scored_per_split_on_the_rows_kept(trained, seed, tmp_path):
    from pipeline.commands.evaluate import score_eval_sets
    from pipeline.errors import PipelineError

    rows = seed.groupby("domain", group_keys=False).nth([30, 31, 32])[["text", "domain", "digital"]]
    rows = rows.assign(split=["dev", "test", "dev"] * 13).reset_index(drop=True)
    # A row left out as none and an empty text, both dev: the test rows keep their split.
    rows = pd.concat([pd.DataFrame({"text": ["sans domaine", ""], "domain": ["none", "culture"],
                                    "digital": ["no", "no"], "split": ["dev", "dev"]}), rows])
    rows.to_csv(tmp_path / "written.csv", index=False)
    config = {**trained, "paths": {**trained["paths"], "eval_sets": str(tmp_path)}}
    result = score_eval_sets(config)
    scores = result["sets"]["written"]
    assert (scores["dev"]["n"], scores["test"]["n"], scores["all"]["n"]) == (26, 13, 39)
    assert scores["all"]["accuracy"] > 0.4 and result["model_run_id"]
    rows.drop(columns="split").to_csv(tmp_path / "written.csv", index=False)
    with pytest.raises(PipelineError, match="written.csv: no column 'split'"):
        score_eval_sets(config)
    assert score_eval_sets({**config, "paths": {**config["paths"], "eval_sets": str(tmp_path / "none")}}) is None


def test_a_run_metrics_file_that_cannot_be_used_is_named(tmp_path):
    from pipeline.errors import PipelineError
    from pipeline.io.files import read_metrics

    with pytest.raises(PipelineError, match=r"metrics\.json: not found"):
        read_metrics(tmp_path)
    for text, why in (("{", "cannot be read"), ('{"chosen": "svm"}', "not a training run's metrics")):
        (tmp_path / "metrics.json").write_text(text)
        with pytest.raises(PipelineError, match=why):
            read_metrics(tmp_path)
    (tmp_path / "metrics.json").write_text('{"domain": {"accuracy": 0.9}}')
    assert read_metrics(tmp_path)["domain"]["accuracy"] == 0.9


def test_the_model_card_names_the_self_training_pool_when_one_was_used(trained, labels):
    from pipeline.modeling.card import model_card

    folder = run_folder(trained)
    meta, metrics = (json.loads((folder / f).read_text()) for f in ("metadata.json", "metrics.json"))
    assert "Self-training" not in model_card(meta, metrics, labels)  # the seed set alone: no pool
    meta["unlabeled_sources"] = [{"name": "dgcl-2023", "rows_used": 24012}, {"name": "dgcl-2019", "rows_used": 100}]
    card = model_card(meta, {**metrics, "n_pseudo_labeled": 15000}, labels)
    assert "of the 24,112 unlabeled titles of dgcl-2023, dgcl-2019, 15,000 that a first model labeled" in card


def test_the_model_card_counts_each_sources_rows_without_text(trained, labels):
    """The card gave the rows used and the none rows only: a file's empty rows went unaccounted for."""
    from pipeline.modeling.card import model_card

    folder = run_folder(trained)
    meta, metrics = (json.loads((folder / f).read_text()) for f in ("metadata.json", "metrics.json"))
    meta["sources"] = [{**meta["sources"][0], "rows_used": 40, "left_out": 2, "empty_text": 3}]
    assert f"| {meta['sources'][0]['name']} | 40 | 2 | 3 |" in model_card(meta, metrics, labels)
    # A reviewed workbook's rows nobody answered and its repeated answers are said too.
    meta["sources"].append({**meta["sources"][0], "name": "reviewed:a.xlsx", "not_answered": 7, "repeated": 2})
    assert "7 nobody answered, 2 answering a text" in model_card(meta, metrics, labels)


def test_the_model_card_gives_the_headline_sources_digital_f1_per_shuffle(trained, labels):
    from pipeline.modeling.card import model_card

    folder = run_folder(trained)
    meta, metrics = (json.loads((folder / f).read_text()) for f in ("metadata.json", "metrics.json"))
    source = next(iter(metrics["digital"]["by_source"]))
    scored = metrics["digital"]["by_source"][source]
    assert len(scored["f1_yes_per_repeat"]) == metrics["cv_repeats"]
    card = model_card(meta, {**metrics, "headline_source": source}, labels)
    shuffles = ", ".join(f"{f:.3f}" for f in scored["f1_yes_per_repeat"])
    assert f"on {source}'s {scored['n']} rows, F1 of `yes` {scored['f1_yes']:.3f} (per shuffle: {shuffles})" in card


def test_the_flag_is_cut_at_the_models_own_threshold_in_predict_the_oof_file_and_the_card(trained, labels):
    """config/pipeline.toml's [digital] threshold travels with the model: predict cuts P(yes) there,
    the quantifier reads it from oof.npz, and a model saved before it was kept cuts at one half."""
    from pipeline.modeling.card import model_card
    from pipeline.modeling.predict import predict_texts
    from pipeline.modeling.run_folder import load_model as load_run
    from pipeline.quantify.store import OOF_FILE, load_oof

    folder = run_folder(trained)
    model = load_run(trained["paths"]["models"], folder.name)
    assert model.digital_threshold == trained["digital"]["threshold"] == 0.6
    assert load_oof(folder / OOF_FILE).digital_threshold == 0.6
    texts = ["Installation de la fibre optique et du wifi public", "Refection de la toiture de l'eglise",
             "Acquisition de tableaux numeriques pour l'ecole"]
    _, yes = model.predict_proba_texts(texts)
    for cut in (0.0, float(np.median(yes)), 1.01):
        model.digital_threshold = cut
        assert list(predict_texts(model, texts)[1]) == ["yes" if p >= cut else "no" for p in yes]
    del model.__dict__["digital_threshold"]  # as unpickled from a model saved before the field existed
    assert model.digital_threshold == 0.5
    meta, metrics = (json.loads((folder / f).read_text()) for f in ("metadata.json", "metrics.json"))
    card_text = model_card(meta, metrics, labels)
    assert "flagged yes from P(yes) ≥ 0.6; P(yes) the mean of two flags" in card_text
    n_cues = len(metrics["digital"]["recipe"]["cues"])
    assert n_cues > 0 and f"unnormalised; {n_cues} digital cue words sharing one feature)" in card_text
    metrics["digital"]["recipe"].update(word_counts_C=0.0, cues=[])
    assert "flagged yes from P(yes) ≥ 0.6)" in model_card(meta, metrics, labels)
    assert type(model.digital_classifier).__name__ == "VotingClassifier"  # the two flags of config/pipeline.toml
