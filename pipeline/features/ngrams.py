"""Fast TF-IDF counting: the fitted vectorizers' output, computed faster at predict time.

Prediction runs the fitted scikit-learn pipelines with two shortcuts that give
the same numbers as their own `transform` (tests/test_fast_paths.py), where
scikit-learn's pure-Python analyzers were the slowest steps of `make predict`:

- character n-grams (`analyzer="char_wb"`) only ever look inside words, so a
  text's n-gram counts are the sum of its words' counts: each distinct word
  is analysed once and kept (up to MAX_WORDS words), and the counts of a
  batch are one sparse product (texts × words) @ (words × n-grams);
- word uni/bigrams with the default token pattern: each text is tokenized by
  the vectorizer's own preprocessor and pattern, tokens become integer ids,
  and the n-grams are looked up as arrays instead of as joined strings;
- the digital cue column (features/cues.py): both flags hold one, with the same
  cues, and read the same batch: the cues are searched once.

In both the TF-IDF weighting and normalisation are the vectorizer's own. Any
other transformer (or a changed vectorizer setting) runs as scikit-learn has it.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.ensemble import VotingClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline

from pipeline.features.cues import CueIndicator

# Distinct words whose character n-grams are kept in memory between batches.
MAX_WORDS = 100_000
_DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"


# -- the generic walk: pipelines and unions, with shortcuts for the vectorizers ----
def predict_proba(classifier, X, shortcuts: "Shortcuts | None" = None) -> np.ndarray:
    """`classifier.predict_proba(X)`, with the vectorizer shortcuts where they apply."""
    shortcuts = shortcuts or Shortcuts()
    if isinstance(classifier, Pipeline) and all(_plain(s) for _, s in classifier.steps):
        for _, step in classifier.steps[:-1]:
            X = transform(step, X, shortcuts)
        return classifier.steps[-1][1].predict_proba(X)
    if isinstance(classifier, VotingClassifier) and classifier.voting == "soft" and classifier.weights is None:
        # A mean of fitted pipelines (the digital flag's two): each one through the shortcuts.
        members = [getattr(e, "estimator", e) for e in classifier.estimators_]  # FrozenEstimator holds one
        return np.mean([predict_proba(m, X, shortcuts) for m in members], axis=0)
    return classifier.predict_proba(X)


def transform(estimator, X, shortcuts: "Shortcuts | None" = None):
    """`estimator.transform(X)`, going into pipelines and feature unions for the shortcuts."""
    shortcuts = shortcuts or Shortcuts()
    fast = shortcuts.for_vectorizer(estimator)
    if fast is not None:
        return fast(X)
    if isinstance(estimator, Pipeline) and all(_plain(s) for _, s in estimator.steps):
        for _, step in estimator.steps:
            X = transform(step, X, shortcuts)
        return X
    if (isinstance(estimator, FeatureUnion) and estimator.transformer_weights is None
            and all(_plain(t) for _, t in estimator.transformer_list)):
        parts = [transform(t, X, shortcuts) for _, t in estimator.transformer_list]
        if all(sp.issparse(p) for p in parts):
            return sp.hstack(parts).tocsr()
    return estimator.transform(X)


def _plain(step) -> bool:
    # "passthrough", "drop" and None steps, and pandas output, are left to scikit-learn itself.
    return not isinstance(step, str) and step is not None and not getattr(step, "_sklearn_output_config", None)


def _fitted_tfidf(vectorizer) -> bool:
    return (type(vectorizer) is TfidfVectorizer and vectorizer.input == "content" and not vectorizer.binary
            and hasattr(vectorizer, "vocabulary_") and hasattr(vectorizer, "_tfidf"))


class Shortcuts:
    """The fast counters of one model's vectorizers, with what they keep between batches."""

    def __init__(self):
        self._counters: dict[int, object] = {}
        self._words: dict = {}
        self._cue_hits: dict = {}

    def for_vectorizer(self, estimator):
        key = id(estimator)
        if key not in self._counters:
            self._counters[key] = self._make(estimator)
        return self._counters[key]

    def _make(self, vec):
        if isinstance(vec, CueIndicator) and hasattr(vec, "pattern_"):
            return SharedCueHits(vec, self._cue_hits)
        if not _fitted_tfidf(vec):
            return None
        if vec.preprocessor is not None:
            return None
        words = self._words.get((vec.lowercase, vec.strip_accents))
        if words is None:
            words = self._words[(vec.lowercase, vec.strip_accents)] = WordIndex(vec.build_preprocessor())
        if vec.analyzer == "char_wb":
            return CharWbCounter(vec, words)
        if (vec.analyzer == "word" and vec.tokenizer is None and vec.token_pattern == _DEFAULT_TOKEN_PATTERN
                and vec.stop_words is None and vec.ngram_range[1] <= 2):
            return WordNgramCounter(vec, words)
        return None


class SharedCueHits:
    """A fitted CueIndicator's column, its cue search shared with the indicators of the same pattern
    that read the same batch (the last batch's hits are kept per pattern, as WordIndex keeps its split)."""

    def __init__(self, indicator: CueIndicator, last: dict):
        self.indicator, self.last = indicator, last

    def __call__(self, texts):
        key = self.indicator.pattern_.pattern
        seen = self.last.get(key)
        if seen is None or seen[0] is not texts:
            seen = self.last[key] = (texts, self.indicator.hits(texts))
        return self.indicator.column(seen[1])


# -- the words of a batch ---------------------------------------------------------------
class Split:
    """A batch of texts as word ids: `sequence` (every word, in order) cut by `indptr`."""

    def __init__(self, sequence: np.ndarray, indptr: np.ndarray, n_words: int):
        self.sequence, self.indptr, self.n_words = sequence, indptr, n_words
        self._counts = None

    @property
    def n_texts(self) -> int:
        return len(self.indptr) - 1

    def counts(self) -> sp.csr_matrix:
        """texts × words occurrence counts."""
        if self._counts is None:
            self._counts = sp.csr_matrix((np.ones(len(self.sequence)), self.sequence, self.indptr),
                                         shape=(self.n_texts, self.n_words))
            self._counts.sum_duplicates()
        return self._counts


class WordIndex:
    """Distinct words (of preprocessed texts split at whitespace), numbered as first seen.

    The last batch's split is kept, since the domain and digital vectorizers
    read the same texts. Past MAX_WORDS words the index starts again
    (`generation` counts the restarts, so that what depends on it is redone).
    """

    def __init__(self, preprocessor):
        self.preprocessor = preprocessor
        self.index: dict[str, int] = {}
        self.words: list[str] = []
        self.generation = 0
        self._last = (None, None)

    def split(self, texts) -> Split:
        if self._last[0] is texts:
            return self._last[1]
        if len(self.index) > MAX_WORDS:
            self.index, self.words, self.generation = {}, [], self.generation + 1
        index, words, preprocessor = self.index, self.words, self.preprocessor
        sequence: list[int] = []
        indptr = [0]
        for text in texts:
            for w in preprocessor(text).split():
                j = index.get(w)
                if j is None:
                    j = index[w] = len(words)
                    words.append(w)
                sequence.append(j)
            indptr.append(len(sequence))
        split = Split(np.asarray(sequence, dtype=np.int64), np.asarray(indptr, dtype=np.int64), len(words))
        self._last = (texts, split)
        return split


class PerWord:
    """Something computed once per word of a WordIndex, in blocks, redone when the index restarts."""

    def __init__(self, words: WordIndex):
        self.words = words
        self._generation, self._known = -1, 0

    def new_words(self) -> list[str]:
        """The words not seen yet (all of them after a restart)."""
        if self._generation != self.words.generation:
            self._generation, self._known = self.words.generation, 0
            self.reset()
        new = self.words.words[self._known:]
        self._known = len(self.words.words)
        return new

    def reset(self) -> None:
        raise NotImplementedError


# -- character n-grams within words ---------------------------------------------------
class CharWbCounter(PerWord):
    """`transform` of a fitted char_wb TfidfVectorizer, counting each distinct word's n-grams once.

    char_wb n-grams are made word by word (the preprocessed text split at
    whitespace, each word padded with one space), so the counts of a text are
    the sum of the counts of its words.
    """

    def __init__(self, vectorizer: TfidfVectorizer, words: WordIndex):
        super().__init__(words)
        self.vectorizer = vectorizer

    def reset(self) -> None:
        # No rows yet: a first batch without any word (digits only) still gets its empty counts.
        self._rows = sp.csr_matrix((0, len(self.vectorizer.vocabulary_)), dtype=np.int64)

    def __call__(self, texts):
        split = self.words.split(texts)
        new = self.new_words()
        if new:  # the vectorizer's own analyzer, on each new word
            rows = CountVectorizer.transform(self.vectorizer, new)
            self._rows = sp.vstack([self._rows, rows], format="csr")
        word_ngrams = self._rows[:split.n_words]
        counts = sp.csr_matrix(split.counts() @ word_ngrams, dtype=self.vectorizer.dtype)
        return self.vectorizer._tfidf.transform(counts, copy=False)


# -- word uni/bigrams ------------------------------------------------------------------
class WordNgramCounter(PerWord):
    """`transform` of a fitted word-level TfidfVectorizer (default token pattern, n <= 2).

    The pattern never matches across whitespace, so a text's tokens are its
    words' tokens, found once per distinct word. Tokens become ids of the
    tokens that occur in the vocabulary (0: any other); unigrams are looked up
    in an array, bigrams by their pair of ids in a sorted array of the
    vocabulary's pairs.
    """

    def __init__(self, vectorizer: TfidfVectorizer, words: WordIndex):
        super().__init__(words)
        self.vectorizer = vectorizer
        self.tokenize = vectorizer.build_tokenizer()
        self.lo, self.hi = vectorizer.ngram_range
        # One pass over the features, then numpy: a model trained with --extra has some
        # 125,000 features per vectorizer, and numbering their tokens one by one cost
        # 0.35 s per vectorizer in every predict process, this 0.05 s.
        vocabulary = vectorizer.vocabulary_
        columns = np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary))
        halves = [feature.partition(" ") for feature in vocabulary]
        first = np.array([h[0] for h in halves], dtype=object)
        second = np.array([h[2] for h in halves], dtype=object)
        pair = second != ""
        codes, tokens = pd.factorize(np.concatenate([first, second[pair]]))
        codes = codes.astype(np.int64) + 1
        self.ids: dict[str, int] = dict(zip(tokens, range(1, len(tokens) + 1)))
        self.n_ids = len(tokens) + 1
        a, b = codes[:len(first)], codes[len(first):]
        self.unigram = np.full(self.n_ids, -1, dtype=np.int64)
        self.unigram[a[~pair]] = columns[~pair]
        keys = a[pair] * self.n_ids + b
        order = np.argsort(keys)
        self.pair_keys = keys[order]
        self.pair_features = columns[pair][order]

    def reset(self) -> None:
        self._tokens, self._starts, self._lengths = [], [], []
        self._arrays = None

    def _word_tokens(self, n_words: int):
        new = self.new_words()
        if new:
            get, tokenize = self.ids.get, self.tokenize
            for w in new:
                self._starts.append(len(self._tokens))
                ids = [get(t, 0) for t in tokenize(w)]
                self._tokens.extend(ids)
                self._lengths.append(len(ids))
            self._arrays = None
        if self._arrays is None:
            self._arrays = (np.asarray(self._tokens, dtype=np.int64), np.asarray(self._starts, dtype=np.int64),
                            np.asarray(self._lengths, dtype=np.int64))
        return self._arrays

    def __call__(self, texts):
        split = self.words.split(texts)
        tokens, starts, lengths = self._word_tokens(split.n_words)
        # Every token of the batch, in order: the tokens of each word occurrence, end to end.
        per_word = lengths[split.sequence]
        total = int(per_word.sum())
        ends = np.cumsum(per_word)
        ids = tokens[np.repeat(starts[split.sequence] - (ends - per_word), per_word) + np.arange(total)]
        word_doc = np.repeat(np.arange(split.n_texts), np.diff(split.indptr))
        doc = np.repeat(word_doc, per_word)
        rows, cols = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        if self.lo <= 1 <= self.hi:
            feature = self.unigram[ids]
            keep = feature >= 0
            rows.append(doc[keep]), cols.append(feature[keep])
        if self.hi >= 2 and total > 1 and len(self.pair_keys):
            a, b = ids[:-1], ids[1:]
            key = a * self.n_ids + b
            at = np.minimum(np.searchsorted(self.pair_keys, key), len(self.pair_keys) - 1)
            keep = (doc[:-1] == doc[1:]) & (a > 0) & (b > 0) & (self.pair_keys[at] == key)
            rows.append(doc[:-1][keep]), cols.append(self.pair_features[at[keep]])
        rows_arr, cols_arr = np.concatenate(rows), np.concatenate(cols)
        counts = sp.csr_matrix((np.ones(len(rows_arr), dtype=self.vectorizer.dtype), (rows_arr, cols_arr)),
                               shape=(split.n_texts, len(self.vectorizer.vocabulary_)))
        counts.sum_duplicates()
        return self.vectorizer._tfidf.transform(counts, copy=False)
