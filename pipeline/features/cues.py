"""Digital cue words: one feature column shared by every word that names a digital means.

The digital flag learns each word's weight from the rows that hold it, so a word
few labeled titles use (an interactive whiteboard's acronym, telemedicine) weighs
little, and one such word at the end of a long title of building works is lost. The
cue list (config/digital_cues.txt, written from the taxonomy's digital means) gives all
of them one shared column, whose weight every digital word of the training rows
teaches (docs/model.md#digital-cue-words).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from pipeline.config import read_settings_text
from pipeline.errors import PipelineError
from pipeline.features.text import normalize

# A cue is words of letters, digits, hyphens and apostrophes, each with a letter or digit; "*" ends a
# word that may go on.
_CUE_WORD = re.compile(r"[\w'-]*\w[\w'-]*\*?")


def load_cues(path: str | Path) -> tuple[str, ...]:
    """The cues of a cue file: one per line, `#` starts a comment, blank lines skipped."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"digital cue list not found: {path} ([paths] digital_cues of pipeline.toml)")
    cues = []
    for number, line in enumerate(read_settings_text(path).splitlines(), start=1):
        cue = line.split("#", 1)[0].strip()
        if not cue:
            continue
        bad = [w for w in cue.split() if not _CUE_WORD.fullmatch(w)]
        if bad:
            raise PipelineError(f"{path}, line {number}: {bad[0]!r} is not a cue word (letters, digits, "
                                "hyphens, apostrophes; a final * for any ending)")
        cues.append(cue)
    return tuple(cues)


def cue_pattern(cues) -> re.Pattern:
    """One regular expression finding any cue in a lemma string (lower case, accents stripped, as the
    lemmas are): a cue's words follow each other, whole, but where a word ends in `*`; hyphens are spaces, as
    in the lemmas. The cues are grouped by their first letter, so that at each word the expression tries
    the few cues of that letter, not all of them (3.5 times faster on 24,000 titles of the lists)."""
    by_letter: dict[str, list[str]] = {}
    for cue in cues:
        words = normalize(cue).replace("-", " ").split()
        rest = [_word(words[0][1:])] + [_word(w) for w in words[1:]]
        by_letter.setdefault(words[0][0], []).append(r"\s+".join(rest))
    if not by_letter:
        return re.compile(r"(?!)")
    groups = (re.escape(letter) + "(?:" + "|".join(rests) + ")" for letter, rests in by_letter.items())
    return re.compile(r"\b(?:" + "|".join(groups) + r")\b")


def _word(word: str) -> str:
    return re.escape(word[:-1]) + r"\w*" if word.endswith("*") else re.escape(word)


class LemmaStringsIn:
    """Tags of a transformer of lemma strings: scikit-learn's checks for 2-D numeric arrays do not apply."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags


class CueIndicator(LemmaStringsIn, TransformerMixin, BaseEstimator):
    """One column: `weight` where a lemma string holds one of `cues`, else 0.

    Parameters only are stored; `fit` compiles the pattern (`pattern_`), which
    pickles as its source, so a saved model keeps the cue list it was trained with.
    """

    def __init__(self, cues: tuple[str, ...] = (), weight: float = 1.0):
        self.cues = cues
        self.weight = weight

    def fit(self, X, y=None):
        self.pattern_ = cue_pattern(self.cues)
        return self

    def transform(self, X):
        return self.column(self.hits(X))

    def hits(self, X) -> np.ndarray:
        """True where a text holds a cue (the part the fast path shares between the two flags)."""
        check_is_fitted(self, "pattern_")
        search = self.pattern_.search
        return np.fromiter((search(t) is not None for t in X), dtype=bool, count=len(X))

    def column(self, hits: np.ndarray) -> sp.csr_matrix:
        return sp.csr_matrix(np.where(hits, float(self.weight), 0.0)[:, None])

    def get_feature_names_out(self, input_features=None):
        return np.asarray(["digital_cue"], dtype=object)
