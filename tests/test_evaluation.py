"""Evaluation and recipe functions on tiny frames whose answers are known (no spaCy needed)."""
import numpy as np
import pandas as pd
import pytest

from pipeline.modeling.cv import fit_domain
from pipeline.modeling.estimators import RECIPES
from pipeline.modeling.evaluate import evaluate_sources, summary_table
from pipeline.modeling.metrics import accuracy_at_coverage, intervals, review_threshold, review_warning, scores
from pipeline.modeling.settings import TrainSettings

WORDS = {"transport": ["velo piste", "bus ligne", "voirie rue", "parking gare"],
         "education": ["ecole classe", "cantine scolaire", "creche enfant", "college eleve"]}


def tiny_frame():
    rows = []
    for source in ("a", "b", "c"):
        for domain, words in WORDS.items():
            for i in range(10):
                rows.append({"text": f"{words[i % 4]} {source} numero {chr(97 + i)}{chr(97 + i)}",
                             "domain": domain, "digital": "yes" if domain == "transport" else "no",
                             "source": source, "weight": 1.0})
    return pd.DataFrame(rows)


def test_every_source_is_scored_within_across_and_against_baselines():
    frame = tiny_frame()
    settings = TrainSettings(cv_folds=3)
    result = evaluate_sources(frame, frame["text"].tolist(), [], RECIPES["svm"], settings,
                              ["transport", "education"])
    assert set(result["sources"]) == {"a", "b", "c"}
    for r in result["sources"].values():
        # Separable vocabulary: every setting but the dummy gets all rows right.
        assert r["within"]["macro_f1"] == r["cross"]["macro_f1"] == r["previous_default"]["macro_f1"] == 1.0
        assert r["dummy_most_frequent_alone"]["accuracy"] <= 0.55  # chance
        assert r["within"]["n"] == 20 and np.trace(r["confusion_matrix"]) == 20
        assert r["within_digital"]["n"] == 10  # its transport rows, labeled digital
    assert result["digital"]["f1_yes"] == 1.0
    table = summary_table(result)
    assert set(table["setting"]) >= {"within", "cross", "tfidf_raw_text_alone"}


def test_self_training_adds_only_confident_pseudo_labels():
    frame = tiny_frame()
    unlabeled = ["velo piste nouvelle", "ecole classe nouvelle", "mot inconnu"]
    recipe = RECIPES["svm_self_training"]
    model, n_pseudo = fit_domain(frame["text"], frame["domain"], frame["weight"], unlabeled, recipe, 0)
    assert 1 <= n_pseudo <= 2  # the unknown text's margin is too small
    assert model.predict(["velo piste"])[0] == "transport"
    assert np.allclose(model.predict_proba(["velo piste"]).sum(), 1)


def test_review_threshold_is_the_lowest_reaching_the_target_accuracy():
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.3, 0.2])
    correct = np.array([1, 1, 1, 1, 0, 0], dtype=bool)
    review = review_threshold(confidence, correct, 0.9)
    assert review["threshold"] == 0.32 and review["coverage"] == round(4 / 6, 4) and review["accuracy"] == 1.0
    assert review["errors_flagged"] == 1.0  # both errors are below the threshold
    assert accuracy_at_coverage(review["curve"], 0.8) == round(4 / 5, 4)
    assert review_warning(review) is None


def test_review_warning_names_a_flag_that_flags_nothing_or_misses_its_target():
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.3, 0.2])
    correct = np.array([1, 1, 1, 1, 1, 0], dtype=bool)
    silent = review_threshold(confidence, correct, 0.8)  # 5 of 6 right with every row kept
    assert silent["threshold"] == 0.0 and silent["errors_flagged"] == 0.0
    assert "flag no row" in review_warning(silent) and "review_accuracy = 0.8" in review_warning(silent)
    wrong_at_top = np.array([0, 1, 1, 1, 1, 1], dtype=bool)  # the most confident row is the error
    unreachable = review_threshold(confidence, wrong_at_top, 0.99)
    assert unreachable["accuracy"] < 0.99 and "no confidence threshold reaches" in review_warning(unreachable)


def test_restricted_predictions_stay_within_the_sources_label_set():
    from pipeline.modeling.evaluate import restricted_predictions

    classes = np.array(["culture", "sport_loisirs", "urbanisme"])
    proba = np.array([[0.1, 0.6, 0.3], [0.5, 0.3, 0.2]])
    frame = pd.DataFrame({"source": ["toulouse", "paris"], "domain": ["urbanisme", "culture"]})
    frame = pd.concat([frame, pd.DataFrame({"source": ["toulouse"], "domain": ["culture"]})], ignore_index=True)
    proba = np.vstack([proba, [0.2, 0.7, 0.1]])
    # toulouse names urbanisme and culture only: sport_loisirs is never chosen there.
    assert restricted_predictions(proba, classes, frame).tolist() == ["urbanisme", "culture", "culture"]


def test_eval_set_scores_are_per_split_and_bad_splits_name_their_row():
    import pytest

    from pipeline.errors import PipelineError
    from pipeline.modeling.eval_sets import check_splits, split_scores

    truth = pd.DataFrame({"domain": ["culture", "culture", "education", "education"],
                          "digital": ["yes", "no", "yes", "no"], "split": ["dev", "test", "dev", "test"]})
    predicted = pd.DataFrame({"domain": ["culture", "education", "education", "education"],
                              "digital": ["yes", "no", "no", "no"]})
    result = split_scores(truth, predicted, ["culture", "education"])
    assert result["dev"] == {"n": 2, "accuracy": 1.0, "macro_f1": 1.0, "digital_f1_yes": 0.6667}
    assert result["test"]["accuracy"] == 0.5 and "digital_f1_yes" not in result["test"]  # no yes row
    assert result["all"]["n"] == 4 and result["all"]["accuracy"] == 0.75
    with pytest.raises(PipelineError, match=r"eval\.csv, row 4: split 'train' in column 'split'"):
        check_splits(pd.Series(["dev", "test", "train"]), "eval.csv")


def test_balanced_self_training_adds_pool_rows_at_a_tenth_of_the_weight(monkeypatch):
    from pipeline.modeling import estimators

    frame = tiny_frame()
    unlabeled = ["velo piste tramway", "ecole classe tramway", "mot inconnu"]
    recipe = RECIPES["svm_balanced_self_training"]
    assert recipe.balanced and recipe.self_training and (recipe.pseudo_margin, recipe.pseudo_weight) == (0.5, 0.1)
    seen = {}
    real = estimators.domain_classifier

    def spy(recipe, random_state):
        model = real(recipe, random_state)
        fit = model.fit
        model.fit = lambda X, y, **params: (seen.update(X=list(X), y=y, **params), fit(X, y, **params))[1]
        return model

    monkeypatch.setattr(estimators, "domain_classifier", spy)
    model, n_pseudo = fit_domain(frame["text"], frame["domain"], frame["weight"], unlabeled, recipe, 0)
    assert n_pseudo == 2  # the unknown text's margin is too small
    assert seen["X"][-2:] == unlabeled[:2] and list(seen["y"][-2:]) == ["transport", "education"]
    assert seen["clf__sample_weight"][-2:].tolist() == [0.1, 0.1] and seen["clf__sample_weight"][:-2].min() == 1.0
    assert model.named_steps["clf"].estimator.class_weight == "balanced"
    # "tramway" is only in the pool: its pseudo-labeled rows put it in the vocabulary.
    assert "tramway" in model.named_steps["features"].transformer_list[0][1].vocabulary_


def test_intervals_score_each_resample_as_scores_does_and_average_the_shuffles():
    """One resample is `scores` on the rows it draws; two shuffles' predictions give the mean of theirs."""
    truth = np.array(["a", "a", "b", "b", "b", "c", "a", "b"])
    first = np.array(["a", "b", "b", "b", "a", "c", "a", "x"])  # "x": outside the labels, as a stale model's
    second = np.array(["a", "a", "b", "c", "b", "c", "b", "b"])
    labels = ["a", "b", "c"]
    drawn = np.repeat(np.arange(len(truth)),
                      np.random.default_rng(7).multinomial(len(truth), np.full(len(truth), 1 / len(truth))))
    expected = [scores(truth[drawn], p[drawn], labels) for p in (first, second)]
    got = intervals(truth, [first, second], labels, resamples=1, seed=7)
    for key in ("accuracy", "macro_f1"):
        mean = np.mean([e[key] for e in expected])
        assert got[key] == [pytest.approx(mean, abs=1e-4)] * 2
    # Many resamples: an interval around the figure, narrower for accuracy than for a macro over small classes.
    wide = intervals(truth, [first], labels)
    assert wide["accuracy"][0] <= scores(truth, first, labels)["accuracy"] <= wide["accuracy"][1]
    assert 0 <= wide["macro_f1"][0] < wide["macro_f1"][1] <= 1
    assert intervals(truth, [truth], labels)["macro_f1"] == [1.0, 1.0]


def test_a_domain_named_for_no_true_row_counts_at_f1_zero_in_macro_f1():
    """Two true classes, and one row sent to a third: macro-F1 is over three classes, as scikit-learn's default."""
    truth = np.array(["a", "a", "b", "b"])
    predicted = np.array(["a", "a", "b", "c"])
    got = scores(truth, predicted, ["a", "b", "c"])
    assert got["per_class"]["c"]["f1-score"] == 0.0 and got["per_class"]["c"]["support"] == 0
    assert got["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3, abs=1e-4)
    assert intervals(truth, [predicted], ["a", "b", "c"], resamples=1, seed=3)["macro_f1"][0] < 0.67
