"""The speed-ups of preprocess and predict give the same output as the plain paths (no timing here)."""
import unicodedata

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from pipeline.features import ngrams as fast
from pipeline.features.lemmatizer import SpacyLemmatizer, _keep, normalize
from pipeline.modeling import workers
from pipeline.modeling.predict import predict_texts
from pipeline.modeling.workers import ParallelPredictor, predict_jobs

TRICKY = ["Rénovation de l’École (tranche 2)", "VIDEO-PROTECTION : 13 caméras", "aujourd'hui c.c.a.s.",
          "Saint-Étienne RD12 n°3", "www.mairie-x.fr contact@ville.fr", "Œuvre   d'art\tà  l'hôtel",
          "straße 1/2 ½", "", "   ", "l'", "Vidéoprotection Vidéoprotection vidéoprotection",
          "deux trois cent premier mille", "... — – etc. cf mme st-denis 1er 2eme xiv", "qu'il jusqu'au"]


def test_normalize_ascii_shortcut_matches_the_full_unicode_path():
    def slow(text):
        text = unicodedata.normalize("NFKD", str(text).casefold())
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
        return " ".join(text.replace("’", "'").split())

    for text in TRICKY + ["KELVIN \u212a", "plain ascii text", "nbsp\u00a0here"]:
        assert normalize(text) == slow(text)


def test_lookup_piece_by_piece_equals_tokenizing_whole_texts():
    lem = SpacyLemmatizer().fit(TRICKY[:4])
    texts = [normalize(t) for t in TRICKY]
    whole = [" ".join(lem.lemma_table_.get(t.text, t.text) for t in doc if _keep(t))
             for doc in lem.tokenizer.pipe(texts)]
    assert lem.transform(TRICKY) == whole
    assert lem.transform(TRICKY) == whole  # second time from the pieces kept in memory
    assert "_pieces" not in lem.__getstate__()
    # The pieces that skip the tokenizer are the ones it keeps whole, with the same _keep.
    is_whole, kept = lem._whole_piece_tests()
    pieces = sorted({p for t in texts for p in t.split()})
    for piece, doc in zip(pieces, lem.tokenizer.pipe(pieces)):
        if is_whole(piece):
            assert [t.text for t in doc] == [piece] and _keep(doc[0]) == kept(piece), piece
    assert not kept("deux") and kept("ecole") and is_whole("ecole") and not is_whole("l'ecole")


def test_lemma_cache_hit_gives_identical_output_without_spacy(tmp_path, monkeypatch):
    monkeypatch.setenv("BAROMETRE_LEMMA_CACHE", str(tmp_path))
    texts = ["Acquisition de tablettes pour les écoles", "Rénovation des vestiaires du stade"]
    for mode in ("lookup", "tagger"):
        cold = SpacyLemmatizer(mode=mode).fit(texts)
        expected = cold.transform(texts)
        assert list(tmp_path.glob("*.sqlite"))
        warm = SpacyLemmatizer(mode=mode)
        monkeypatch.setattr(SpacyLemmatizer, "_run_tagger", lambda self, t: pytest.fail(f"tagger ran on {t}"))
        warm.fit(texts)
        assert warm.transform(texts) == expected
        assert warm.lemma_table_ == cold.lemma_table_
        assert getattr(warm, "_nlp", None) is None  # the tagger was never even loaded
        monkeypatch.undo()
        monkeypatch.setenv("BAROMETRE_LEMMA_CACHE", str(tmp_path))
    # Without the cache, the tagger path gives the same lemmas.
    monkeypatch.setenv("BAROMETRE_LEMMA_CACHE", "off")
    assert SpacyLemmatizer(mode="tagger").fit([]).transform(texts) == expected


def _union():
    return FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
        ("plain_chars", TfidfVectorizer(analyzer="char", ngram_range=(1, 3))),  # no shortcut: sklearn's own
    ])


def test_vectorizer_shortcuts_equal_scikit_learn(monkeypatch):
    train = ["renovation le ecole", "videoprotection camera", "creation un city stade", "ecole numerique tablette",
             "a b c", "le le le"]
    union = _union().fit(train)
    shortcuts = fast.Shortcuts()
    # First a batch without a single word (a file of numbers only: lemmas are empty).
    batches = [["", "  "], TRICKY, ["ecole ecole videoprotection", "", "x", "UPPER Case ÉCOLE", "renovation  le\tecole"],
               train]
    monkeypatch.setattr(fast, "MAX_WORDS", 10)  # the word index restarts between batches
    for batch in batches:
        expected = union.transform(batch).toarray()
        got = fast.transform(union, batch, shortcuts).toarray()
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    kinds = {type(c).__name__ for c in shortcuts._counters.values()}
    assert kinds == {"WordNgramCounter", "CharWbCounter", "NoneType"}


def test_dedup_and_parallel_scoring_keep_rows_in_order(trained, monkeypatch):
    from pipeline.modeling.run_folder import load_model

    model = load_model(trained["paths"]["models"])
    texts = ["Vidéoprotection", "", "Rénovation de l'école", "Vidéoprotection", "videoprotection",
             "Création d'un site internet", "Rénovation de l'école"] * 30
    proba, digital = predict_texts(model, texts, dedup=False)
    proba_d, digital_d = predict_texts(model, texts, dedup=True)
    np.testing.assert_array_equal(proba, proba_d)
    np.testing.assert_array_equal(digital, digital_d)
    assert (proba[1] == 0).all() and digital[1] == ""
    chunks = [(i, texts[i * 20:(i + 1) * 20]) for i in range(10)]
    with ParallelPredictor(model, 1) as predictor:
        serial = list(predictor.map(chunks))
    here = []
    monkeypatch.setattr(workers, "predict_texts", lambda *a: here.append(1) or predict_texts(*a))
    for n_jobs in (2, 3):  # one or two workers, and this process when they all have two items queued
        with ParallelPredictor(model, n_jobs) as predictor:
            parallel = list(predictor.map(chunks))
        assert [p for p, _ in parallel] == list(range(10))
        for (_, (p1, d1)), (_, (p2, d2)) in zip(serial, parallel):
            np.testing.assert_array_equal(p1, p2)
            np.testing.assert_array_equal(d1, d2)
    assert here  # some items were scored here, beside the workers


def test_process_count_follows_the_setting_and_the_input_size():
    assert predict_jobs(1, 1_000_000) == 1
    assert predict_jobs(2, 1_000_000) == 2
    assert predict_jobs(4, 12_000) == 3  # at least 5,000 rows a worker
    assert predict_jobs(0, 300) == 1 and predict_jobs(0, None) == 1


def test_the_two_flags_cue_columns_search_each_batch_once(monkeypatch):
    """Both flags hold a cue column of the same cues: the fast path searches a batch once and gives each
    its own weight, equal to scikit-learn's transform."""
    from pipeline.features.cues import CueIndicator

    train = ["ecole numerique tablette", "renovation le ecole", "videoprotection camera"]
    unions = [FeatureUnion([("words", TfidfVectorizer()), ("cues", CueIndicator(("numeri*", "camer*"), w))]).fit(train)
              for w in (1.0, 3.0)]
    calls = []
    real_hits = CueIndicator.hits
    monkeypatch.setattr(CueIndicator, "hits", lambda self, X: calls.append(len(X)) or real_hits(self, X))
    shortcuts = fast.Shortcuts()
    for batch in (["achat de camera", "toiture"], ["site numerique", "", "voirie"]):
        got = [fast.transform(u, batch, shortcuts).toarray() for u in unions]
        calls_fast = len(calls)
        expected = [u.transform(batch).toarray() for u in unions]
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, rtol=0, atol=1e-12)
        assert calls_fast == 1 and len(calls) == 3  # the fast path searched once, scikit-learn twice
        calls.clear()
    assert got[1][:, -1].tolist() == [3.0, 0.0, 0.0] and got[0][:, -1].tolist() == [1.0, 0.0, 0.0]
