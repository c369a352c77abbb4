"""French preprocessing: spaCy's fr_core_news_sm as a scikit-learn transformer.

Each text becomes a string of normalised lemmas ("renovation le ecole"), the
input of the vectorizers. Text is lower-cased and stripped of accents *before*
spaCy sees it, so that the 73 % of real titles exported without accents and
the ones in upper case meet exactly the same features as clean ones.

Two paths give the lemmas:
- "tagger": spaCy's tagger and rule lemmatizer (tok2vec, morphologizer,
  attribute_ruler, lemmatizer; parser and NER are never loaded), text by text.
  Accurate, and slow (bench/README.md gives the measured words/s).
- "lookup" (default): `fit` runs the tagger path once over the training texts
  and learns, for every word form it saw, its most frequent lemma; `transform`
  then needs only spaCy's tokenizer and that table (forms never seen keep
  their own form). Training and prediction both read the table, so the two
  sides always agree. spaCy's tokenizer cuts a text at its spaces first and
  each space-separated piece on its own, so `transform` tokenizes each
  distinct piece once ("videoprotection", "l'ecole", "(tranche") and keeps
  its lemmas in memory: a text costs a few dictionary look-ups. A piece that
  no special case, prefix, suffix or infix rule of the tokenizer matches
  (most words) is one token as it is, and skips the tokenizer altogether.

The tagger pass is cached on disk, one SQLite file per spaCy model, version
and spaCy version, keyed by the normalised text: a second `make train` skips
spaCy for every text it has already seen. `fit` writes to the cache (in
"tagger" mode it tags the training texts there, so that `transform` finds
them), `transform` only reads it. The folder is `.cache/lemmas/` in the
project, or the environment variable BAROMETRE_LEMMA_CACHE (a folder, or
"off" for no cache).
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

from sklearn.base import BaseEstimator, TransformerMixin

from pipeline.features.lemma_cache import LemmaCache, lemma_cache_folder
from pipeline.features.text import normalize

log = logging.getLogger(__name__)

# Components the tagger path needs; the others are never loaded.
_NOT_NEEDED = ["parser", "ner", "senter"]
# Distinct space-separated pieces whose lemmas `transform` keeps in memory;
# past this the memory is emptied and refilled (bounded RSS on any input).
MAX_PIECES = 200_000
MODES = ("lookup", "tagger")  # how lemmas are found: see the module docstring


def _keep(token) -> bool:
    # Punctuation and numbers carry no domain ("tranche 2", "(13)").
    return not (token.is_punct or token.is_space or token.like_num)


def _model_meta(model: str) -> dict:
    """meta.json of an installed spaCy pipeline (package or folder), without loading it."""
    import spacy.util

    path = spacy.util.get_package_path(model) if spacy.util.is_package(model) else Path(model)
    return spacy.util.get_model_meta(path)


class SpacyLemmatizer(TransformerMixin, BaseEstimator):
    """Turn raw texts into normalised lemma strings with a spaCy French model.

    Parameters
    ----------
    model : str, default="fr_core_news_sm"
        Name of an installed spaCy pipeline, loaded on first use and never pickled.
    mode : {"lookup", "tagger"}, default="lookup"
        See the module docstring.
    batch_size, n_process : int
        Passed to ``nlp.pipe`` on the tagger path.

    Attributes
    ----------
    lemma_table_ : dict of str to str
        Word form -> its most frequent lemma among the training texts (lookup mode).
    spacy_version_, model_version_ : str
        The spaCy and model versions the table was learned with.
    """

    def __init__(self, model="fr_core_news_sm", mode="lookup", batch_size=512, n_process=1):
        self.model = model
        self.mode = mode
        self.batch_size = batch_size
        self.n_process = n_process

    # -- spaCy, loaded lazily and left out of pickles -------------------------
    @property
    def nlp(self):
        """The tagger pipeline (no parser, no NER)."""
        if getattr(self, "_nlp", None) is None:
            import spacy

            self._nlp = spacy.load(self.model, exclude=_NOT_NEEDED)
        return self._nlp

    @property
    def tokenizer(self):
        """spaCy's tokenizer of the model, loaded without any component when the tagger is not."""
        if getattr(self, "_nlp", None) is not None:
            return self._nlp.tokenizer
        if getattr(self, "_tok_nlp", None) is None:
            import spacy

            meta = _model_meta(self.model)
            components = meta.get("components") or meta.get("pipeline") or []
            self._tok_nlp = spacy.load(self.model, exclude=list(components))
        return self._tok_nlp.tokenizer

    def load(self):
        """Load what `transform` needs now (before forking worker processes); return self."""
        _ = self.nlp if self.mode == "tagger" else self.tokenizer
        return self

    def __getstate__(self):
        state = self.__dict__.copy()
        for runtime in ("_nlp", "_tok_nlp", "_pieces"):
            state.pop(runtime, None)
        return state

    # -- scikit-learn API ------------------------------------------------------
    def fit(self, X, y=None):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        meta = self._meta()
        self.spacy_version_ = meta.get("spacy_version", "")
        self.model_version_ = meta.get("version", "")
        self.__dict__.pop("_pieces", None)
        distinct = list(dict.fromkeys(normalize(t) for t in X))
        if self.mode == "lookup":
            self.lemma_table_ = self._learn_table(self._tag(distinct, write=True))
        else:
            self.lemma_table_ = {}
            if self._cache() is not None:  # tag now, so that transform finds every training text
                self._tag(distinct, write=True)
        return self

    def transform(self, X) -> list[str]:
        texts = [normalize(t) for t in X]
        # Real lists repeat titles ("Videoprotection"): each distinct text once.
        distinct = list(dict.fromkeys(texts))
        if self.mode == "tagger":
            done = dict(zip(distinct, self._tagger_lemmas(distinct)))
        else:
            done = dict(zip(distinct, self._lookup_lemmas(distinct)))
        return [done[t] for t in texts]

    def __sklearn_is_fitted__(self):
        return hasattr(self, "lemma_table_")

    def __sklearn_tags__(self):
        # A list of strings in, a list of strings out: scikit-learn's checks for
        # 2-D numeric arrays do not apply.
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.input_tags.categorical = False
        tags.requires_fit = True
        return tags

    # -- the tagger pass, through the disk cache ---------------------------------
    def _meta(self) -> dict:
        if getattr(self, "_nlp", None) is not None:
            return self._nlp.meta
        try:
            return _model_meta(self.model)
        except Exception:  # not an installed package nor a folder: let spaCy say why
            return self.nlp.meta

    def _cache(self) -> LemmaCache | None:
        folder = lemma_cache_folder()
        if folder is None:
            return None
        import spacy

        meta = self._meta()
        name = f"{meta.get('lang', '')}_{meta.get('name', self.model)}-{meta.get('version', '')}"
        return LemmaCache(folder / f"{name}-spacy{spacy.__version__}.sqlite")

    def _tagged_docs(self, texts: Iterable[str]):
        return self.nlp.pipe(texts, batch_size=self.batch_size, n_process=self.n_process)

    def _run_tagger(self, texts: list[str]) -> list[list[tuple[str, str]]]:
        return [[(t.text, normalize(t.lemma_)) for t in doc if _keep(t)] for doc in self._tagged_docs(texts)]

    def _tag(self, texts: list[str], write: bool = False) -> list[list[tuple[str, str]]]:
        """(form, lemma) of the kept tokens of each normalised text: from the cache, else from spaCy."""
        cache = self._cache()
        found = cache.get(texts) if cache is not None else {}
        missing = [t for t in texts if t not in found]
        if missing:
            tagged = dict(zip(missing, self._run_tagger(missing)))
            if write and cache is not None:
                cache.put(tagged)
            found.update(tagged)
        log.debug("tagger pass: %d texts from the lemma cache, %d tagged", len(texts) - len(missing), len(missing))
        return [found[t] for t in texts]

    # -- the two paths -----------------------------------------------------------
    def _tagger_lemmas(self, texts: list[str]) -> list[str]:
        return [" ".join(lemma for _, lemma in pairs) for pairs in self._tag(texts)]

    def _lookup_lemmas(self, texts: list[str]) -> list[str]:
        pieces = self.__dict__.setdefault("_pieces", {})
        missing = list(dict.fromkeys(p for t in texts for p in t.split() if p not in pieces))
        if len(pieces) + len(missing) > MAX_PIECES:
            pieces.clear()
            missing = list(dict.fromkeys(p for t in texts for p in t.split()))
        table = self.lemma_table_
        whole, kept = self._whole_piece_tests()
        to_tokenize = []
        for piece in missing:
            if whole(piece):  # one token, the piece itself: spaCy's tokenizer has nothing to do
                pieces[piece] = table.get(piece, piece) if kept(piece) else ""
            else:
                to_tokenize.append(piece)
        for piece, doc in zip(to_tokenize, self.tokenizer.pipe(to_tokenize, batch_size=max(self.batch_size, 1000))):
            pieces[piece] = " ".join(table.get(t.text, t.text) for t in doc if _keep(t))
        return [" ".join([lemmas for p in t.split() if (lemmas := pieces[p])]) for t in texts]

    def _whole_piece_tests(self):
        """Two tests on a space-free piece of text, without making spaCy tokens of it:
        `whole`, true when spaCy's tokenizer would keep it as one token (no special case,
        no prefix, suffix or infix matches: most words); `kept`, `_keep` of that token,
        from the same lexical attribute functions spaCy's vocabulary uses."""
        from spacy.attrs import IS_PUNCT, IS_SPACE, LIKE_NUM

        tokenizer = self.tokenizer
        getters = tokenizer.vocab.lex_attr_getters
        if not all(a in getters for a in (IS_PUNCT, IS_SPACE, LIKE_NUM)):
            return (lambda piece: False), None
        rules = tokenizer.rules or {}
        searches = [f for f in (tokenizer.prefix_search, tokenizer.suffix_search) if f is not None]
        infixes = tokenizer.infix_finditer
        is_punct, is_space, like_num = getters[IS_PUNCT], getters[IS_SPACE], getters[LIKE_NUM]

        def whole(piece: str) -> bool:
            return (piece not in rules and all(search(piece) is None for search in searches)
                    and (infixes is None or next(infixes(piece), None) is None))

        def kept(piece: str) -> bool:
            return not (is_punct(piece) or is_space(piece) or like_num(piece))

        return whole, kept

    @staticmethod
    def _learn_table(tagged: list[list[tuple[str, str]]]) -> dict[str, str]:
        seen: dict[str, Counter] = defaultdict(Counter)
        for pairs in tagged:
            for form, lemma in pairs:
                seen[form][lemma] += 1
        # Keep only forms the lemmatizer changes: the table stays small.
        table = {form: c.most_common(1)[0][0] for form, c in seen.items()}
        return {form: lemma for form, lemma in table.items() if lemma != form}
