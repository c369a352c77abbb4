"""The fitted model: spaCy preprocessing once, then the domain and digital classifiers.

Its probabilities come through the fast TF-IDF counting of features/ngrams.py.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.features.lemmatizer import SpacyLemmatizer
from pipeline.features.ngrams import Shortcuts, predict_proba
from pipeline.modeling.estimators import SAVED_WITHOUT_THRESHOLD


@dataclass
class BarometerModel:
    """What `make train` saves and `make predict` loads (with joblib).

    The lemmatizer runs once per text; both classifiers read its output.
    """

    lemmatizer: SpacyLemmatizer
    domain_classifier: object
    digital_classifier: object | None
    domains: tuple[str, ...]
    review_threshold: float = 0.5
    run_id: str = ""
    # P(yes) from which the flag says yes (DigitalRecipe.threshold); older models: SAVED_WITHOUT_THRESHOLD.
    digital_threshold: float = SAVED_WITHOUT_THRESHOLD

    @property
    def classes_(self) -> np.ndarray:
        return self.domain_classifier.classes_

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_shortcuts", None)  # runtime memory of the fast paths, never saved
        return state

    def load(self) -> "BarometerModel":
        """Load spaCy now (before worker processes are forked, so that they share it)."""
        self.lemmatizer.load()
        return self

    def predict_proba_texts(self, texts, dedup: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """Domain probabilities (rows × classes_) and P(digital = yes), per text.

        With `dedup`, texts whose lemmas are the same are classified once.
        """
        lemmas = self.lemmatizer.transform(texts)
        inverse = None
        if dedup:
            distinct = dict.fromkeys(lemmas)
            if len(distinct) < len(lemmas):
                position = {lemma: i for i, lemma in enumerate(distinct)}
                inverse = np.fromiter((position[lemma] for lemma in lemmas), dtype=np.intp, count=len(lemmas))
                lemmas = list(distinct)
        shortcuts = self.__dict__.setdefault("_shortcuts", Shortcuts())
        domain_proba = predict_proba(self.domain_classifier, lemmas, shortcuts)
        digital_proba = None
        if self.digital_classifier is not None:
            yes = list(self.digital_classifier.classes_).index("yes")
            digital_proba = predict_proba(self.digital_classifier, lemmas, shortcuts)[:, yes]
        if inverse is not None:
            domain_proba = domain_proba[inverse]
            digital_proba = None if digital_proba is None else digital_proba[inverse]
        return domain_proba, digital_proba


