"""The scikit-learn estimators: the domain model's recipes, the baselines, the digital flag.

Recipes classify the lemma strings made by `SpacyLemmatizer`; the baselines
read the raw text (no spaCy) or ignore it, so that every training run says how
much the real model adds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import VotingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from pipeline.features.cues import CueIndicator
from pipeline.features.products import ProductIndicator
from pipeline.io.sources import SUBMISSION_KIND


@dataclass(frozen=True)
class Recipe:
    """One way to fit the domain model, compared with the others by cross-validation.

    self_training: a first model labels the unlabeled real titles; those it
    labels with a decision margin of at least `pseudo_margin` join the
    training rows with weight `pseudo_weight` (only when unlabeled texts are given).
    by_kind: weights shared by all kinds of text plus weights of each kind
    (`KindAdaptedLinearSVC`); predictions use the submissions' own.
    """

    name: str
    C: float = 0.5
    balanced: bool = False
    self_training: bool = False
    pseudo_margin: float = 1.0
    pseudo_weight: float = 0.3
    by_kind: bool = False
    # The named products ([paths] products): one column per domain beside the n-grams, worth
    # `product_weight` (docs/model.md#named-products); set by the settings, not per recipe.
    products: tuple[tuple[str, str], ...] = ()
    product_weight: float = 1.0

    def summary(self) -> dict:
        """The recipe as metrics.json records it: the products counted, not listed."""
        return {**self.__dict__, "products": len(self.products)}


RECIPES = {
    r.name: r for r in (
        Recipe("svm"),
        Recipe("svm_balanced", balanced=True),
        Recipe("svm_self_training", self_training=True),
        # Balanced classes, and the pool's titles the first model is fairly sure of at a
        # tenth of a labeled row's weight: +0.006 accuracy on dgcl-random's CV against
        # svm_balanced, same folds, in the final --extra run (0.894 -> 0.900; docs/evaluation.md).
        Recipe("svm_balanced_self_training", balanced=True, self_training=True, pseudo_margin=0.5,
               pseudo_weight=0.1),
        Recipe("svm_by_kind", balanced=True, by_kind=True),
    )
}


def lemma_features(recipe: Recipe | None = None) -> FeatureUnion:
    """Word uni/bigrams of lemmas, plus character n-grams within words; with a recipe
    naming products, their column per domain.

    Character n-grams carry abbreviations, typos and compounds
    ("videoprotection", "video-protection", "equipt") that words miss.
    """
    features = [
        ("words", word_ngrams()),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
    ]
    if recipe is not None and recipe.products and recipe.product_weight > 0:
        features.append(("products", ProductIndicator(recipe.products, recipe.product_weight)))
    return FeatureUnion(features)


def word_ngrams(norm: str | None = "l2") -> TfidfVectorizer:
    """TF-IDF of the lemmas' word uni/bigrams; `norm=None` leaves each title's row as counted."""
    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, norm=norm)


class KindAdaptedLinearSVC(ClassifierMixin, BaseEstimator):
    """A linear SVM with weights shared by every kind of text plus weights of each kind.

    The feature augmentation of Daumé III, "Frustratingly easy domain
    adaptation" (2007): in `fit`, each row's features appear twice, in the
    common block and in the block of its kind (`text_kind`, one per row, like
    sample_weight); one LinearSVC learns all blocks. A kind's model is then the
    common weights plus its own, one linear model again: `kind` (a parameter)
    picks the one `decision_function` uses, by default the submissions'; a
    kind absent from training gets the common weights alone.
    Participatory budgets and a national fund thus keep their own labelling
    habits (a Paris "Cadre de vie" playground, 10,000 Fonds vert rows mostly
    environment) in their own weights instead of pulling the common ones.
    Each kind also gets its own intercept term. Without `text_kind`, every row
    is of kind `kind`.

    Parameters
    ----------
    C : float, default=0.5
        Regularisation of the LinearSVC fitted on the augmented features.
    class_weight : dict, "balanced" or None
        As in LinearSVC.
    random_state : int or None
        As in LinearSVC.
    kind : str, default="submission"
        The kind of text `decision_function` and `predict` score as; switch it
        with ``set_params(kind=...)``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    kinds_ : ndarray of the kinds seen in `fit`
    coef_by_kind_ : dict, kind -> ndarray of shape (n_classes or 1, n_features)
        The common weights plus the kind's own.
    intercept_by_kind_ : dict, kind -> ndarray
    common_coef_, common_intercept_ : ndarray
        What a kind absent from training is scored with.
    """

    def __init__(self, C: float = 0.5, class_weight=None, random_state=None, kind: str = SUBMISSION_KIND):
        self.C = C
        self.class_weight = class_weight
        self.random_state = random_state
        self.kind = kind

    def fit(self, X, y, sample_weight=None, text_kind=None):
        X, y = validate_data(self, X, y, accept_sparse="csr")
        check_classification_targets(y)
        X = sp.csr_matrix(X)
        kinds = (np.full(X.shape[0], self.kind, dtype=object) if text_kind is None
                 else np.asarray(text_kind, dtype=object))
        self.kinds_ = np.unique(kinds)
        svm = LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.random_state)
        svm.fit(self._augment(X, kinds), y, sample_weight=sample_weight)
        d, k = X.shape[1], len(self.kinds_)
        common, own, bias = svm.coef_[:, :d], svm.coef_[:, d:d * (k + 1)], svm.coef_[:, d * (k + 1):]
        self.coef_by_kind_ = {kind: common + own[:, i * d:(i + 1) * d] for i, kind in enumerate(self.kinds_)}
        self.intercept_by_kind_ = {kind: svm.intercept_ + bias[:, i] for i, kind in enumerate(self.kinds_)}
        self.common_coef_, self.common_intercept_ = common, svm.intercept_
        self.classes_ = svm.classes_
        return self

    def _augment(self, X, kinds):
        member = [(kinds == kind).astype(float) for kind in self.kinds_]
        return sp.hstack([X] + [sp.diags(m) @ X for m in member]
                         + [sp.csr_matrix(m[:, None]) for m in member]).tocsr()

    def decision_function(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        # A kind absent from training gets the common weights alone.
        coef = self.coef_by_kind_.get(self.kind, self.common_coef_)
        scores = np.asarray(sp.csr_matrix(X) @ coef.T) + self.intercept_by_kind_.get(self.kind, self.common_intercept_)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X):
        scores = self.decision_function(X)
        return self.classes_[(scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _svc(recipe: Recipe, random_state: int):
    class_weight = "balanced" if recipe.balanced else None
    if recipe.by_kind:
        return KindAdaptedLinearSVC(C=recipe.C, class_weight=class_weight, random_state=random_state)
    return LinearSVC(C=recipe.C, class_weight=class_weight, random_state=random_state)


def fit_params(recipe: Recipe, sample_weight, text_kind) -> dict:
    """The classifier step's fit parameters: the row weights, and the rows' kinds when the recipe uses them."""
    params = {"clf__sample_weight": sample_weight}
    if recipe.by_kind:
        params["clf__text_kind"] = text_kind
    return params


def set_text_kind(model: Pipeline, kind: str) -> None:
    """Make the fitted `model` predict as texts of `kind`.

    A kind the model was not trained on is refused by name; a model without
    kind-adapted weights accepts only the submissions' kind.
    """
    adapted = _adapted(model)
    known = sorted(set().union(*(e.coef_by_kind_ for e in adapted))) if adapted else [SUBMISSION_KIND]
    if kind not in known:
        raise ValueError(f"text kind {kind!r} is not one this model was trained on ({', '.join(known)})")
    for e in adapted:
        e.set_params(kind=kind)


def predict_proba_by_kind(model: Pipeline, texts, kinds) -> np.ndarray:
    """Probabilities of each text as its own kind would have it (a kind not in training: the common weights)."""
    texts, kinds = list(texts), np.asarray(kinds, dtype=object)
    adapted = _adapted(model)
    if not adapted:
        return model.predict_proba(texts)
    before = [e.kind for e in adapted]
    out = None
    try:
        for kind in np.unique(kinds):
            rows = np.flatnonzero(kinds == kind)
            for e in adapted:
                e.set_params(kind=kind)
            proba = model.predict_proba([texts[i] for i in rows])
            out = np.zeros((len(texts), proba.shape[1])) if out is None else out
            out[rows] = proba
    finally:
        for e, kind in zip(adapted, before):
            e.set_params(kind=kind)
    return out


def _adapted(model) -> list[KindAdaptedLinearSVC]:
    """The fitted kind-adapted SVMs inside a pipeline and its calibration wrapper."""
    return [e for e in _fitted_estimators(model) if isinstance(e, KindAdaptedLinearSVC)]


def _fitted_estimators(model):
    """The fitted estimators inside a pipeline and calibration wrapper."""
    for _, step in getattr(model, "steps", []):
        yield step
        for calibrated in getattr(step, "calibrated_classifiers_", []):
            yield calibrated.estimator


def teacher(recipe: Recipe, random_state: int) -> Pipeline:
    """The plain SVM (decision margins, no probabilities): labels the unlabeled pool."""
    return Pipeline([("features", lemma_features(recipe)), ("clf", _svc(recipe, random_state))])


# The temperature is learned out of these folds: every class needs as many rows wherever it is fitted.
CALIBRATION_FOLDS = 3


def domain_classifier(recipe: Recipe, random_state: int) -> Pipeline:
    """The shipped classifier: the SVM, with probabilities by temperature scaling.

    One SVM fitted on all rows, its decision values turned into probabilities
    by a single temperature learned out of fold: the chosen domain is exactly
    the SVM's. Per-class sigmoids (the default) learn the pooled class mix,
    mostly Fonds vert's environment rows, and cost 0.035 macro-F1 on real
    commune titles (measured with grouped 5-fold CV on dgcl/annotated).
    """
    svm = _svc(recipe, random_state)
    return Pipeline([
        ("features", lemma_features(recipe)),
        ("clf", CalibratedClassifierCV(svm, method="temperature", ensemble=False, cv=CALIBRATION_FOLDS)),
    ])


def baselines(random_state: int) -> dict:
    """What the model is compared with: raw-text TF-IDF without spaCy, and chance."""
    return {
        "tfidf_raw_text": Pipeline([
            ("features", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("clf", LinearSVC(class_weight="balanced", random_state=random_state)),
        ]),
        "dummy_most_frequent": DummyClassifier(strategy="most_frequent"),
    }


@dataclass(frozen=True)
class DigitalRecipe:
    """How the yes/no `digital` flag is fitted: logistic regression on the lemma features.

    balanced: classes weighted as if equally frequent. Off by default: the
    labeled rows are a third digital, a year's titles one in twenty-five, and
    balanced weights sent vague titles to yes (docs/model.md). Self-training:
    with unlabeled titles, those whose P(yes) is at least `pseudo_threshold` or
    at most one minus it join with weight `pseudo_weight` (0: off).
    threshold: the P(yes) from which a title is flagged yes. Above one
    half because the training rows are far more often digital than a year's
    titles: 0.6 kept dgcl-annotated's F1 and lifted dgcl-random's (docs/model.md).
    word_counts_C: C of a second flag on word n-grams alone, not normalised, so that
    one digital word counts whole in a long title (a classroom's computerisation at
    the end of a building's works); the flag's P(yes) is the mean of the two, each
    self-trained on its own (0: the first alone; docs/model.md).
    cues: the digital cue words ([paths] digital_cues), one column shared by all of them
    beside each flag's n-grams, worth `cue_weight` in the first flag and
    `word_counts_cue_weight` in the second (0: left out; docs/model.md#digital-cue-words).
    """

    C: float = 10.0
    balanced: bool = False
    pseudo_threshold: float = 0.8
    pseudo_weight: float = 0.3
    threshold: float = 0.6
    word_counts_C: float = 1.0
    cues: tuple[str, ...] = ()
    cue_weight: float = 1.0
    word_counts_cue_weight: float = 3.0


# The cut of the models and oof.npz files saved before the threshold was kept with them.
SAVED_WITHOUT_THRESHOLD = 0.5


def digital_labels(proba_yes, threshold: float) -> np.ndarray:
    """"yes" where P(digital = yes) is at least `threshold` (DigitalRecipe.threshold), else "no":
    the flag's one cut, shared by training's scores, its pseudo-labels, `predict` and the quantifier."""
    return np.where(np.asarray(proba_yes) >= threshold, "yes", "no")


def digital_classifier(recipe: DigitalRecipe = DigitalRecipe(), word_counts: bool = False) -> Pipeline:
    """The yes/no `digital` flag, on the same lemma strings; with `word_counts`, the second flag of
    the recipe: word n-grams alone, left unnormalised, inverse regularisation `recipe.word_counts_C`.
    Each with the recipe's cue column beside its n-grams."""
    features = [("words", word_ngrams(norm=None))] if word_counts else lemma_features().transformer_list
    cue_weight = recipe.word_counts_cue_weight if word_counts else recipe.cue_weight
    if recipe.cues and cue_weight > 0:
        features.append(("cues", CueIndicator(recipe.cues, cue_weight)))
    return Pipeline([
        ("features", FeatureUnion(features)),
        ("clf", LogisticRegression(C=recipe.word_counts_C if word_counts else recipe.C,
                                   class_weight="balanced" if recipe.balanced else None, max_iter=3000)),
    ])


def mean_of_flags(fitted: list[Pipeline], X, y) -> VotingClassifier:
    """The flags already fitted, as one classifier whose P(yes) is the mean of theirs. Frozen: each was
    self-trained on its own pseudo-labels, which scikit-learn's own fit of the vote would not do."""
    return VotingClassifier([(f"flag{i}", FrozenEstimator(m)) for i, m in enumerate(fitted)],
                            voting="soft").fit(X, y)
