"""scikit-learn's own checks of the project's estimators (clone, get/set_params, pickling, fitted state...)."""
import pickle

import numpy as np
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from pipeline.features.lemmatizer import SpacyLemmatizer
from pipeline.modeling.estimators import KindAdaptedLinearSVC

# KindAdaptedLinearSVC takes numeric features (the TF-IDF matrix): every check applies.
# SpacyLemmatizer takes a list of strings; its tags say so, and scikit-learn then runs
# the checks that apply to text input.


def expected_failures(estimator) -> dict:
    if isinstance(estimator, KindAdaptedLinearSVC):
        # As for scikit-learn's own LinearSVC (liblinear): weights and repeated rows differ slightly.
        return {"check_sample_weight_equivalence_on_dense_data": "liblinear, as LinearSVC",
                "check_sample_weight_equivalence_on_sparse_data": "liblinear, as LinearSVC"}
    return {}


@parametrize_with_checks([KindAdaptedLinearSVC(random_state=0), SpacyLemmatizer()],
                         expected_failed_checks=expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_lemmatizer_pickles_without_its_spacy_object():
    lem = SpacyLemmatizer().fit(["Rénovation de l'école", "Vidéoprotection de la mairie"])
    assert lem.transform(["École"]) == ["ecole"]
    assert lem._nlp is not None or lem._tok_nlp is not None  # spaCy was loaded...
    state = pickle.loads(pickle.dumps(lem)).__dict__
    assert "_nlp" not in state and "_tok_nlp" not in state  # ...and is never pickled
    assert clone(lem).get_params() == lem.get_params()


def test_text_kind_is_a_parameter_switched_with_set_params():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = np.where(X[:, 0] > 0, "a", "b")
    kinds = np.where(np.arange(60) % 2 == 0, "submission", "participatory_budget")
    svm = KindAdaptedLinearSVC(random_state=0).fit(X, y, text_kind=kinds)
    own = svm.set_params(kind="participatory_budget").decision_function(X)
    common = svm.set_params(kind="unknown").decision_function(X)
    np.testing.assert_allclose(common, X @ svm.common_coef_.T.ravel() + svm.common_intercept_)
    assert not np.allclose(own, common)
