"""The digital cue words: the file, the pattern, and the flag's shared cue column."""
import pickle

import numpy as np
import pytest
from sklearn.base import clone

from pipeline.config import load_config
from pipeline.errors import PipelineError
from pipeline.features.cues import CueIndicator, cue_pattern, load_cues
from pipeline.modeling.estimators import DigitalRecipe, digital_classifier
from pipeline.modeling.settings import TrainSettings


def test_cue_file_reads_comments_accents_and_endings(tmp_path):
    path = tmp_path / "cues.txt"
    path.write_text("# header\n\nvidéoprotection  # a comment\ncamer*\nwi-fi\nréalit* augment*\n", encoding="utf-8")
    cues = load_cues(path)
    assert cues == ("vidéoprotection", "camer*", "wi-fi", "réalit* augment*")
    pattern = cue_pattern(cues)
    # Matched on lemma strings: lower case, accents stripped, hyphens as spaces.
    assert pattern.search("installation de videoprotection")
    assert pattern.search("achat de camer pour le mairie")  # "caméras" as the lemmatiser cuts it
    assert pattern.search("borne wi fi")
    assert pattern.search("parcours en realite augmentee")
    # Whole words only, but where a word ends in *: no cue inside another word.
    assert not pattern.search("videoprotections")
    assert not pattern.search("parcours en realite")
    assert not cue_pattern(()).search("anything")


def test_a_bad_cue_line_names_the_file_and_line(tmp_path):
    path = tmp_path / "cues.txt"
    path.write_text("camera*\nvid*eo\n", encoding="utf-8")
    with pytest.raises(PipelineError, match=r"cues.txt, line 2: 'vid\*eo'"):
        load_cues(path)
    path.write_text("camera*\n - \n", encoding="utf-8")  # a hyphen alone: no word left to match
    with pytest.raises(PipelineError, match=r"cues.txt, line 2: '-'"):
        load_cues(path)
    with pytest.raises(PipelineError, match="digital cue list not found"):
        load_cues(tmp_path / "missing.txt")


def test_cue_indicator_is_one_weighted_column_and_pickles_its_list():
    cues = CueIndicator(("logiciel*", "tni"), weight=3.0)
    assert clone(cues).get_params() == {"cues": ("logiciel*", "tni"), "weight": 3.0}
    texts = ["achat de tni pour le ecole", "refection de toiture", "maintenance logiciel de paie"]
    X = cues.fit(texts).transform(texts)
    assert X.shape == (3, 1) and X.toarray().ravel().tolist() == [3.0, 0.0, 3.0]
    loaded = pickle.loads(pickle.dumps(cues))
    assert (loaded.transform(texts) != X).nnz == 0
    assert list(cues.get_feature_names_out()) == ["digital_cue"]


def test_the_project_cue_list_is_read_into_both_flags():
    recipe = TrainSettings.from_config(load_config()).digital
    assert "vidéoprotection" in recipe.cues
    for word_counts, weight in ((False, recipe.cue_weight), (True, recipe.word_counts_cue_weight)):
        union = dict(digital_classifier(recipe, word_counts).named_steps["features"].transformer_list)
        assert union["cues"].weight == weight and union["cues"].cues == recipe.cues
    # Without cues (or at weight 0) the flag is its n-grams alone.
    assert "cues" not in dict(digital_classifier(DigitalRecipe()).named_steps["features"].transformer_list)


def test_a_rare_cue_word_lifts_the_flag():
    # "tbi" is in two training rows only; "numerique" in many. With the shared column the
    # rare word borrows the common words' weight.
    yes = ["achat de materiel numerique pour le ecole", "equipement numerique de le mediatheque",
           "acquisition de tbi pour le classe", "espace numerique de travail", "logiciel de paie",
           "site internet de le commune", "tablette numerique pour le ecole"]
    no = ["refection de toiture de le ecole", "amenagement de le place", "renovation de le eglise",
          "creation de piste cyclable", "travaux de voirie", "achat de mobilier pour le classe",
          "isolation de le salle polyvalente", "extension de le cimetiere"]
    X, y = yes + no, ["yes"] * len(yes) + ["no"] * len(no)
    cues = ("numeri*", "tbi", "vpi", "logiciel*", "internet", "tablette*")
    plain = digital_classifier(DigitalRecipe()).fit(X, y)
    cued = digital_classifier(DigitalRecipe(cues=cues)).fit(X, y)
    unseen = ["acquisition de vpi pour le ecole elementaire"]  # a cue no training row holds
    p_plain, p_cued = (m.predict_proba(unseen)[0, list(m.classes_).index("yes")] for m in (plain, cued))
    assert p_cued > p_plain + 0.1
    assert np.all(cued.predict(["refection de toiture"]) == "no")
