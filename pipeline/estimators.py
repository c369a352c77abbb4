"""The scikit-learn estimators compared at training time.

Candidates classify the lemma strings made by `SpacyLemmatizer`; the
baselines read the raw text (no spaCy) or ignore it, so that every training
run says how much the real model adds.
"""
from __future__ import annotations

from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC


def lemma_features() -> FeatureUnion:
    """Word uni/bigrams of lemmas, plus character n-grams within words.

    Character n-grams carry abbreviations, typos and compounds
    ("videoprotection", "video-protection", "equipt") that words miss.
    """
    return FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
    ])


def candidates(random_state: int) -> dict:
    """Classifiers over lemma strings, each with class probabilities."""
    return {
        "logreg": Pipeline([
            ("features", lemma_features()),
            ("clf", LogisticRegression(C=20.0, class_weight="balanced", max_iter=3000)),
        ]),
        "linearsvc": Pipeline([
            ("features", lemma_features()),
            ("clf", CalibratedClassifierCV(
                LinearSVC(C=0.5, class_weight="balanced", random_state=random_state), cv=3)),
        ]),
    }


def baselines(random_state: int) -> dict:
    """What the model is compared with: raw-text TF-IDF without spaCy, and chance."""
    return {
        "tfidf_raw_text": Pipeline([
            ("features", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("clf", LinearSVC(class_weight="balanced", random_state=random_state)),
        ]),
        "dummy_most_frequent": DummyClassifier(strategy="most_frequent"),
    }


def digital_classifier() -> Pipeline:
    """The yes/no `digital` flag, on the same lemma strings."""
    return Pipeline([
        ("features", lemma_features()),
        ("clf", LogisticRegression(C=10.0, class_weight="balanced", max_iter=3000)),
    ])
