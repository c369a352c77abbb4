import pickle

from sklearn.base import clone

from pipeline.features.lemmatizer import SpacyLemmatizer, normalize


def test_normalize_folds_case_accents_and_apostrophes():
    assert normalize("  RÉNOVATION de l’École  Élémentaire ") == "renovation de l'ecole elementaire"


def test_accent_stripped_and_upper_case_titles_meet_the_same_features():
    lem = SpacyLemmatizer().fit(["Rénovation des écoles élémentaires", "Installation de caméras"])
    clean, stripped, upper = lem.transform([
        "Rénovation des écoles élémentaires",
        "renovation des ecoles elementaires",
        "RENOVATION DES ECOLES ELEMENTAIRES",
    ])
    assert clean == stripped == upper
    assert "ecole" in clean.split()  # plural lemmatised


def test_punctuation_and_numbers_are_dropped():
    lem = SpacyLemmatizer(mode="tagger").fit([])
    assert lem.transform(["Vidéoprotection : 13 caméras (tranche 2)"]) == ["videoprotection camera tranche"]


def test_lookup_mode_learns_lemmas_of_forms_seen_in_training():
    lem = SpacyLemmatizer().fit(["acquisition de tablettes pour les ecoles"])
    assert lem.lemma_table_["tablettes"] == "tablette"
    assert lem.transform(["tablettes"]) == ["tablette"]
    # An unseen form keeps its own (normalised) form.
    assert lem.transform(["Zyxwvu"]) == ["zyxwvu"]


def test_estimator_contract_clone_and_pickle_without_spacy():
    lem = SpacyLemmatizer(batch_size=64)
    assert lem.get_params()["batch_size"] == 64
    assert not hasattr(lem, "_nlp")  # __init__ loads nothing
    fitted = lem.fit(["Création d'un city stade"])
    assert fitted is lem
    assert lem._nlp is not None
    blob = pickle.dumps(lem)
    assert b"spacy.lang" not in blob and len(blob) < 50_000
    again = pickle.loads(blob)
    assert again.transform(["Création d'un city stade"]) == lem.transform(["Création d'un city stade"])
    assert clone(lem).get_params() == lem.get_params()
