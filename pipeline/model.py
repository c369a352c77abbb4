"""The fitted model: spaCy preprocessing once, then the domain and digital classifiers."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .preprocess import SpacyLemmatizer


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
    info: dict = field(default_factory=dict)

    @property
    def classes_(self) -> np.ndarray:
        return self.domain_classifier.classes_

    def score_texts(self, texts) -> tuple[np.ndarray, np.ndarray | None]:
        """Domain probabilities (rows × classes_) and P(digital = yes), per text."""
        lemmas = self.lemmatizer.transform(texts)
        domain_proba = self.domain_classifier.predict_proba(lemmas)
        digital_proba = None
        if self.digital_classifier is not None:
            yes = list(self.digital_classifier.classes_).index("yes")
            digital_proba = self.digital_classifier.predict_proba(lemmas)[:, yes]
        return domain_proba, digital_proba
