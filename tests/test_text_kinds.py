"""Kind-adapted weights: sources of another kind of text keep their labelling habits to themselves."""
import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer

from pipeline.commands.predict import run_predict
from pipeline.errors import PipelineError
from pipeline.modeling.cv import fit_domain
from pipeline.modeling.estimators import RECIPES, KindAdaptedLinearSVC, predict_proba_by_kind, set_text_kind

# "aire de jeux" is sport_loisirs in submissions, urbanisme ("Cadre de vie") in participatory budgets.
ROWS = ([("aire de jeux quartier", "sport_loisirs", "submission")] * 6
        + [("aire de jeux square", "urbanisme", "participatory_budget")] * 6
        + [("rue voirie", "transport", "submission")] * 6
        + [("place parvis", "urbanisme", "submission")] * 6
        + [("gymnase stade", "sport_loisirs", "participatory_budget")] * 6)


def frame():
    return pd.DataFrame(ROWS, columns=["text", "domain", "text_kind"])


def test_each_kind_predicts_with_its_own_habits():
    f = frame()
    X = CountVectorizer().fit_transform(f["text"])
    svm = KindAdaptedLinearSVC(C=1.0).fit(X, f["domain"], text_kind=f["text_kind"])
    assert list(svm.kinds_) == ["participatory_budget", "submission"]
    playground = X[[0]]
    assert svm.predict(playground)[0] == "sport_loisirs"  # the default kind: submissions
    svm.set_params(kind="participatory_budget")
    assert svm.predict(playground)[0] == "urbanisme"
    # What both kinds agree on stays in the common weights.
    assert svm.predict(X[[12]])[0] == "transport"


def test_kind_adapted_svm_follows_the_estimator_contract(tmp_path):
    est = KindAdaptedLinearSVC(C=0.3, class_weight="balanced", random_state=0)
    assert clone(est).get_params() == est.get_params()
    f = frame()
    X = CountVectorizer().fit_transform(f["text"])
    fitted = est.fit(X, f["domain"], text_kind=f["text_kind"])
    assert fitted is est and not hasattr(KindAdaptedLinearSVC(), "coef_by_kind_")
    joblib.dump(est, tmp_path / "m.joblib")
    again = joblib.load(tmp_path / "m.joblib")
    np.testing.assert_allclose(again.decision_function(X), est.decision_function(X))
    # Without kinds every row is a submission: a linear SVM like any other.
    plain = KindAdaptedLinearSVC().fit(X, f["domain"])
    assert list(plain.kinds_) == ["submission"]


def test_recipe_by_kind_predicts_each_row_as_its_kind_and_refuses_unknown_kinds():
    f = frame()
    model, _ = fit_domain(f["text"], f["domain"], np.ones(len(f)), [], RECIPES["svm_by_kind"], 0, f["text_kind"])
    proba = predict_proba_by_kind(model, ["aire de jeux", "aire de jeux"], ["submission", "participatory_budget"])
    classes = list(model.classes_)
    assert classes[proba[0].argmax()] == "sport_loisirs" and classes[proba[1].argmax()] == "urbanisme"
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert model.predict(["aire de jeux"])[0] == "sport_loisirs"  # the views were put back
    with pytest.raises(ValueError, match="'budget' is not one this model was trained on"):
        set_text_kind(model, "budget")


def test_predict_with_a_kind_the_model_does_not_know_names_it(trained, tmp_path):
    config = trained
    source = tmp_path / "in.csv"
    source.write_text("text\nRéfection de la voirie\n", encoding="utf-8")
    with pytest.raises(PipelineError, match="participatory_budget.*not one this model was trained on"):
        run_predict(config, source, tmp_path / "out.csv", text_kind="participatory_budget")
    assert not (tmp_path / "out.csv").exists()


def test_evaluation_scores_other_kinds_both_as_themselves_and_as_submissions():
    from pipeline.modeling.evaluate import evaluate_sources
    from pipeline.modeling.settings import TrainSettings

    f = frame()
    f["text"] = [f"{t} {chr(97 + i % 26)}{chr(97 + i // 26)}" for i, t in enumerate(f["text"])]  # distinct groups
    f["source"] = np.where(f["text_kind"] == "submission", "communes", "budget")
    f["weight"], f["digital"] = 1.0, ""
    result = evaluate_sources(f, f["text"].tolist(), [], RECIPES["svm_by_kind"], TrainSettings(cv_folds=3),
                              ["sport_loisirs", "urbanisme", "transport"])
    budget, communes = result["sources"]["budget"], result["sources"]["communes"]
    assert result["text_kinds"] == {"communes": "submission", "budget": "participatory_budget"}
    assert "within_as_submission" not in communes
    # As a participatory budget the playgrounds are urbanisme, as they were labeled; as submissions they are not.
    assert budget["within"]["accuracy"] == 1.0 > budget["within_as_submission"]["accuracy"]


def test_a_kind_absent_from_training_gets_the_common_weights():
    f = frame()
    X = CountVectorizer().fit_transform(f["text"])
    svm = KindAdaptedLinearSVC(C=1.0).fit(X, f["domain"], text_kind=["participatory_budget"] * len(f))
    np.testing.assert_allclose(svm.decision_function(X), X @ svm.common_coef_.T + svm.common_intercept_)
    # Through the pipeline too: a row of an unknown kind is scored with the common weights.
    model, _ = fit_domain(f["text"], f["domain"], np.ones(len(f)), [], RECIPES["svm_by_kind"], 0, f["text_kind"])
    adapted = model.named_steps["clf"].calibrated_classifiers_[0].estimator
    adapted.kind = "funding_programme"
    expected = model.predict_proba(["aire de jeux"])
    adapted.kind = "submission"
    np.testing.assert_allclose(predict_proba_by_kind(model, ["aire de jeux"], ["funding_programme"]), expected)
    assert not np.allclose(expected, model.predict_proba(["aire de jeux"]))  # not the submissions' weights
