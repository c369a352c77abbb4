import logging
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import PipelineError
from pipeline.modeling.cv import cross_validated_proba, duplicate_groups
from pipeline.modeling.estimators import RECIPES
from pipeline.modeling.metrics import mean_scores, scores
from pipeline.modeling.settings import TrainSettings
from pipeline.modeling.train import check_trainable


def test_near_duplicate_titles_share_a_group():
    g = duplicate_groups(pd.Series(["Videoprotection (tranche 2)", "VIDÉOPROTECTION tranche 3",
                                    "Rénovation de l'école"]))
    assert g[0] == g[1] != g[2]


def labeled(domains: list[str], texts: list[str] | None = None) -> pd.DataFrame:
    texts = texts or [f"Projet numéro {chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(len(domains))]
    return pd.DataFrame({"text": texts, "domain": domains, "source": "seed:mine"})


def test_too_few_examples_for_cv_is_refused(labels):
    frame = labeled(["culture"] * 5 + ["securite"] * 2)
    with pytest.raises(PipelineError, match=r"securite \(2 in 2 rows, from seed:mine\)"):
        check_trainable(frame, labels, folds=5)


def test_copies_of_a_title_count_once_towards_the_examples_cv_needs(labels):
    """Five rows but two titles: the grouped folds left a fold's calibration two rows, a traceback."""
    frame = labeled(["culture"] * 5 + ["securite"] * 5, [f"Musée {c}" for c in "abcde"]
                    + ["Vidéoprotection de la place"] * 3 + ["Radars pédagogiques", "RADARS pédagogiques"])
    with pytest.raises(PipelineError, match=r"too few distinct titles .* securite \(2 in 5 rows"):
        check_trainable(frame, labels, folds=5)


def test_two_folds_need_enough_titles_for_each_folds_calibration(labels):
    """With --cv-folds 2, a domain of two titles left one row to calibrate on in each fold."""
    with pytest.raises(PipelineError, match=r"securite \(2 in 2 rows.*each domain needs 6"):
        check_trainable(labeled(["culture"] * 6 + ["securite"] * 2), labels, folds=2)
    check_trainable(labeled(["culture"] * 6 + ["securite"] * 6), labels, folds=2)


def test_unknown_label_is_refused(labels):
    with pytest.raises(PipelineError, match="outside the taxonomy: sports"):
        check_trainable(labeled(["sports"] * 6), labels, folds=5)


def test_scores_macro_f1_over_present_labels():
    s = scores(np.array(["a", "a", "b", "b"]), np.array(["a", "b", "b", "b"]), ["a", "b", "c"])
    assert s["accuracy"] == 0.75
    assert s["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2, abs=1e-4)
    assert set(s["per_class"]) == {"a", "b"}


def test_cv_folds_in_two_processes_give_the_same_probabilities(seed):
    rows = seed.groupby("domain").head(8)
    lemmas, y = rows["text"].str.lower().tolist(), rows["domain"].to_numpy()
    groups, classes = duplicate_groups(rows["text"]), np.unique(y)
    one, two = (cross_validated_proba(lemmas, y, np.ones(len(y)), groups, [], RECIPES["svm"],
                                      TrainSettings(cv_folds=3, n_jobs=n), classes) for n in (1, 2))
    assert one.shape == (len(y), len(classes))
    np.testing.assert_allclose(one, two)
    np.testing.assert_allclose(one.sum(axis=1), 1.0)


def test_repeated_cv_scores_are_averaged_key_by_key():
    runs = [{"macro_f1": 0.8, "n": 10, "per_class": {"a": {"f1-score": 0.5}}},
            {"macro_f1": 0.9, "n": 10, "per_class": {"a": {"f1-score": 0.7}}}]
    assert mean_scores(runs) == {"macro_f1": 0.85, "n": 10, "per_class": {"a": {"f1-score": 0.6}}}


def test_folds_of_one_source_test_its_rows_once_and_train_on_all_else_but_copies():
    from sklearn.model_selection import StratifiedGroupKFold

    from pipeline.modeling.cv import evaluation_folds

    texts = [f"titre {d} {i}" for d in "abc" for i in "abcdefghij"] * 2  # each title in both sources
    y = np.array([t.split()[1] for t in texts])
    source_a = np.arange(len(texts)) < 30
    groups = duplicate_groups(texts)
    folds = evaluation_folds(y, groups, source_a, TrainSettings(cv_folds=5))
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(30))  # source a's rows, once each
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])  # no copy of a tested title trains
        assert len(train) == len(texts) - 2 * len(test)  # all the rest trains: b's rows but the copies
    # With every row evaluated, they are the plain grouped folds.
    everything = evaluation_folds(y, groups, np.ones(len(y), bool), TrainSettings(cv_folds=5))
    plain = StratifiedGroupKFold(5, shuffle=True, random_state=42).split(texts, y, groups)
    for (train, test), (train2, test2) in zip(everything, plain):
        assert train.tolist() == train2.tolist() and test.tolist() == test2.tolist()


def test_locked_rows_never_choose_and_are_scored_once_the_headline_is_the_first_selection_source(seed, labels,
                                                                                                   tmp_path):
    """Two 'real' sources: the first is the headline; its locked rows are left out of the CV, scored at the end."""
    from pipeline.io.sources import locked_rows
    from pipeline.modeling.train import train

    rows = seed.groupby("domain").head(24).reset_index(drop=True)
    n = len(rows)
    source = np.where(np.arange(n) % 3 == 0, "real-a", np.where(np.arange(n) % 3 == 1, "real-b", "seed:x"))
    frame = pd.DataFrame({"text": rows["text"], "domain": rows["domain"], "digital": rows["digital"],
                          "source": source, "weight": 1.0, "text_kind": "submission",
                          "row_id": [f"{s}:{i}" for s, i in zip(source, range(n))]})
    ids = ", ".join(f'"{i}"' for i in range(0, n, 3)[:12])
    (tmp_path / "locked.toml").write_text(f'source = "real-a"\nids = [{ids}]\n', encoding="utf-8")
    locked = locked_rows(frame, tmp_path / "locked.toml")
    assert locked.sum() == 12 and set(frame["source"][locked]) == {"real-a"}
    settings = TrainSettings(cv_folds=3, recipes=("svm_balanced",), select_on=("real-a", "real-b"), n_jobs=1)
    _, metrics = train(frame, labels, settings, locked=locked)
    assert metrics["headline_source"] == "real-a" and metrics["selected_on"] == "real-a + real-b"
    a_rows = int(((frame["source"] == "real-a") & ~locked).sum())
    assert metrics["domain"]["n"] == a_rows  # the headline: the first source's unlocked rows
    assert metrics["domain"]["by_source"]["real-b"]["n"] == int((frame["source"] == "real-b").sum())
    assert metrics["locked_test"]["n"] == 12 and metrics["n_locked"] == 12
    # Both headline figures carry their bootstrap interval, around the figure.
    for result in (metrics["domain"], metrics["locked_test"]):
        low, high = result["interval"]["accuracy"]
        assert low <= result["accuracy"] <= high and high - low > 0
    # The digital flag's CV leaves the locked rows (and their copies) out too, then scores them once.
    digital, groups = frame["digital"].isin(["yes", "no"]).to_numpy(), duplicate_groups(frame["text"])
    assert metrics["digital"]["n"] == int((digital & ~np.isin(groups, groups[locked])).sum())
    assert metrics["digital"]["locked_test"]["n"] == int((digital & locked).sum())
    # A frame without the locked source locks nothing (a fresh clone's seed set).
    assert not locked_rows(frame.assign(source="seed:x"), tmp_path / "locked.toml").any()


def test_train_settings_read_the_lemma_mode_and_refuse_an_unknown_one():
    from pipeline.config import load_config

    config = load_config()
    assert TrainSettings.from_config(config).lemma_mode == config["preprocess"]["lemma_mode"] == "lookup"
    tagger = load_config(overrides={"preprocess.lemma_mode": "tagger"})
    assert TrainSettings.from_config(tagger).lemma_mode == "tagger"
    with pytest.raises(PipelineError, match=r"lemma_mode = 'tagger2'"):
        TrainSettings.from_config(load_config(overrides={"preprocess.lemma_mode": "tagger2"}))


def test_digital_self_training_learns_a_word_only_the_unlabeled_titles_hold():
    """Sure pool titles join the flag's training rows: a word seen only there is learned from them."""
    from pipeline.modeling.cv import digital_yes, fit_digital
    from pipeline.modeling.estimators import DigitalRecipe

    yes = [f"portail numérique {w}" for w in "abcdefghij"] + [f"site internet {w}" for w in "abcdefghij"]
    no = [f"toiture église {w}" for w in "abcdefghij"] + [f"voirie chemin {w}" for w in "abcdefghij"]
    lemmas, y = yes + no, np.array(["yes"] * 20 + ["no"] * 20)
    pool = [f"portail numérique zorglub {i}" for i in range(30)] + [f"toiture église {i}" for i in range(30)]
    plain, none = fit_digital(lemmas, y, pool, DigitalRecipe(pseudo_weight=0))
    taught, n = fit_digital(lemmas, y, pool, DigitalRecipe(pseudo_threshold=0.6, pseudo_weight=1.0))
    assert none == 0 and n == 60
    assert digital_yes(taught, ["zorglub"])[0] > digital_yes(plain, ["zorglub"])[0] + 0.1


def test_the_flag_is_the_mean_of_two_flags_each_self_trained_and_one_word_counts_whole():
    """word_counts_C adds a flag on unnormalised word n-grams: P(yes) is the mean of both flags,
    each fitted as alone (own pseudo-labels), and a digital word in a long title keeps more weight."""
    from pipeline.features.ngrams import Shortcuts, predict_proba
    from pipeline.modeling.cv import _self_trained_flag, digital_yes, fit_digital
    from pipeline.modeling.estimators import DigitalRecipe

    yes = [f"tableau numérique école {w}" for w in "abcdefghij"] + [f"site internet {w}" for w in "abcdefghij"]
    no = [f"toiture église {w}" for w in "abcdefghij"] + [f"voirie chemin école {w}" for w in "abcdefghij"]
    lemmas, y = yes + no, np.array(["yes"] * 20 + ["no"] * 20)
    pool = [f"portail numérique {i}" for i in range(30)] + [f"toiture préau {i}" for i in range(30)]
    recipe = DigitalRecipe(pseudo_threshold=0.6, pseudo_weight=1.0, cues=("numeri*", "internet"))  # the cue column too
    both, n = fit_digital(lemmas, y, pool, recipe)
    alone = [_self_trained_flag(lemmas, y, pool, recipe, word_counts=w)[0] for w in (False, True)]
    long_title = ["réhabilitation école préau toiture cour clôture chemin voirie tableau numérique"]
    expected = np.mean([digital_yes(m, long_title + lemmas) for m in alone], axis=0)
    np.testing.assert_allclose(digital_yes(both, long_title + lemmas), expected, rtol=1e-12)
    np.testing.assert_allclose(predict_proba(both, long_title + lemmas, Shortcuts())[:, 1], expected, rtol=1e-12)
    first, counts = (digital_yes(m, long_title)[0] for m in alone)
    assert counts > first  # the unnormalised words: the digital words fade less among nine others
    single, n_single = fit_digital(lemmas, y, pool, replace(recipe, word_counts_C=0))  # the first flag alone
    assert n == n_single > 0
    np.testing.assert_allclose(digital_yes(single, lemmas), digital_yes(alone[0], lemmas), rtol=1e-12)


def test_digital_settings_are_read_from_the_config_and_unknown_ones_refused():
    from pipeline.config import load_config

    assert TrainSettings.from_config(load_config(overrides={"digital.C": 3.0})).digital.C == 3.0
    assert TrainSettings.from_config(load_config(overrides={"digital.threshold": 0.7})).digital.threshold == 0.7
    config = load_config()
    config["digital"]["cut"] = 0.7
    with pytest.raises(PipelineError, match=r"\[digital\].*unknown setting\(s\) cut"):
        TrainSettings.from_config(config)


def test_digital_cv_scores_are_the_mean_of_its_shuffles_and_its_probabilities_the_first(caplog):
    """As the domain's: one shuffle of a few digital titles is one draw, so cv_repeats shuffles are averaged."""
    from pipeline.modeling.cv import digital_cv

    rng = np.random.default_rng(0)
    words = ["portail numérique", "site internet", "toiture église", "voirie chemin", "école classe"]
    texts = [f"{words[i % 5]} {rng.choice(words)} n{i}" for i in range(60)]
    digital = ["yes" if i % 5 < 2 else "no" for i in range(60)]
    frame = pd.DataFrame({"text": texts, "digital": digital, "source": ["real-a", "real-b"] * 30})
    groups = duplicate_groups(frame["text"])
    one = [digital_cv(frame, texts, groups, TrainSettings(cv_folds=3, random_state=s, n_jobs=1)) for s in (7, 8, 9)]
    caplog.clear()
    caplog.set_level(logging.INFO)
    mask, proba, metrics = digital_cv(frame, texts, groups, TrainSettings(cv_folds=3, cv_repeats=3, random_state=7,
                                                                          n_jobs=1))
    # each shuffle's log line says which it is, then their mean
    lines = [m for m in caplog.messages if m.startswith("digital flag")]
    assert [m.split(" rows")[-1] for m in lines[:3]] == [", shuffle 1 of 3", ", shuffle 2 of 3", ", shuffle 3 of 3"]
    assert len(lines) == 4 and lines[3].endswith("mean of 3 shuffles")
    assert metrics["f1_yes_per_repeat"] == [m["f1_yes"] for _, _, m in one]
    assert metrics["f1_yes"] == pytest.approx(np.mean(metrics["f1_yes_per_repeat"]), abs=1e-4)
    assert metrics["by_source"]["real-a"]["f1_yes_per_repeat"] == [m["by_source"]["real-a"]["f1_yes"]
                                                                    for _, _, m in one]
    assert (mask == one[0][0]).all() and np.allclose(proba, one[0][1], equal_nan=True)


def test_label_conflicts_count_titles_whose_copies_carry_two_domains():
    from pipeline.modeling.cv import duplicate_groups
    from pipeline.modeling.train import label_conflicts

    texts = ["Rénovation de l'école", "RENOVATION DE L'ECOLE", "Piste cyclable", "piste cyclable", "Stade"]
    groups = duplicate_groups(texts)
    assert label_conflicts(groups, ["education", "urbanisme", "transport", "transport", "sport_loisirs"]) == 1
    assert label_conflicts(groups, ["education", "education", "transport", "transport", "sport_loisirs"]) == 0
