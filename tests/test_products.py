"""The named products: the file, the column per domain, and what it does to the domain model."""
import pickle
from dataclasses import replace

import pytest
from sklearn.base import clone

from pipeline.config import load_config
from pipeline.domains import load_label_set
from pipeline.errors import PipelineError
from pipeline.features.products import ProductIndicator, load_products
from pipeline.modeling.estimators import RECIPES, domain_classifier
from pipeline.modeling.settings import TrainSettings

CODES = ("culture", "education", "administration", "securite")


def test_product_file_reads_comments_and_checks_each_line(tmp_path):
    path = tmp_path / "products.csv"
    path.write_text("# header comment\nproduct,domain,what\nmediathek pro,culture,a library system\n"
                    "# a section\nEcolia,education,\n", encoding="utf-8")
    assert load_products(path, CODES) == (("mediathek pro", "culture"), ("Ecolia", "education"))
    path.write_text("product,domain\nmediathek pro,culture\nEcolia,ecole\n", encoding="utf-8")
    with pytest.raises(PipelineError, match=r"products.csv, line 3: domain 'ecole' is not one of"):
        load_products(path, CODES)
    for bad in ("", "vigi*", " - "):
        path.write_text(f"# comment\nproduct,domain\nmediathek pro,culture\n{bad},education\n", encoding="utf-8")
        with pytest.raises(PipelineError, match=r"products.csv, line 4: product '.*' is not words of letters"):
            load_products(path, CODES)
    path.write_text("name,domain\nmediathek pro,culture\n", encoding="utf-8")
    with pytest.raises(PipelineError, match="must name the columns product and domain"):
        load_products(path, CODES)
    with pytest.raises(PipelineError, match="product list not found"):
        load_products(tmp_path / "missing.csv", CODES)


def test_product_indicator_is_a_column_per_domain_matched_as_the_lemmas_write_names():
    products = (("mediathek pro", "culture"), ("x'plan", "administration"), ("bl.ecolia", "education"),
                ("Ecolia", "education"), ("Vigi-Cam", "securite"))
    step = ProductIndicator(products, weight=2.0)
    assert clone(step).get_params() == {"products": products, "weight": 2.0}
    texts = ["maint mediathek pro et x' plan",  # the lemmatiser splits "X'PLAN" at its apostrophe
             "abt bl.ecolia",                     # and keeps "BL.ECOLIA" whole
             "licence vigi cam", "toiture de la mediathek", "ecolia ecolia vigicam"]
    X = step.fit(texts).transform(texts)
    assert list(step.get_feature_names_out()) == ["product_administration", "product_culture",
                                                  "product_education", "product_securite"]
    assert X.toarray().tolist() == [[2, 2, 0, 0], [0, 0, 2, 0], [0, 0, 0, 2], [0, 0, 0, 0], [0, 0, 2, 0]]
    assert (pickle.loads(pickle.dumps(step)).transform(texts) != X).nnz == 0
    assert ProductIndicator().fit([]).transform(["anything"]).shape == (1, 0)


def test_the_project_product_list_reaches_every_recipe():
    config = load_config()
    settings = TrainSettings.from_config(config)
    assert settings.products == load_products(config["paths"]["products"],
                                              load_label_set(config["paths"]["labels"]).codes)
    assert len(settings.products) > 200 and settings.product_weight > 0
    recipe = settings.recipe("svm_balanced_self_training")
    assert recipe.self_training and recipe.products == settings.products
    union = dict(domain_classifier(recipe, 0).named_steps["features"].transformer_list)
    assert union["products"].products == settings.products
    assert recipe.summary()["products"] == len(settings.products)
    # Without products the domain model is its n-grams alone.
    assert "products" not in dict(domain_classifier(RECIPES["svm_balanced"], 0).named_steps["features"].transformer_list)


def test_a_product_no_training_row_names_takes_its_domain():
    # Each domain's products are named by two training rows; "qwarto" by none, and it shares no
    # letters' run with the education rows: only the list says it is education's.
    rows = {"culture": ["maint mediathek pro", "abt bibliopolis", "restauration de le eglise", "fete de le musique"],
            "education": ["licence ecolab", "maint scolarix", "refection de le ecole", "cantine de le ecole"],
            "administration": ["maint finansoft", "abt paiesoft", "renovation de le mairie", "achat de copieur"]}
    products = (("mediathek pro", "culture"), ("bibliopolis", "culture"), ("ecolab", "education"),
                ("scolarix", "education"), ("qwarto", "education"), ("finansoft", "administration"),
                ("paiesoft", "administration"))
    X = [t for texts in rows.values() for t in texts]
    y = [d for d, texts in rows.items() for _ in texts]
    models = [domain_classifier(recipe, 0).set_params(clf__cv=2).fit(X, y)
              for recipe in (RECIPES["svm_balanced"], replace(RECIPES["svm_balanced"], products=products))]
    col = list(models[0].classes_).index("education")
    plain, named = (m.predict_proba(["maint qwarto"])[0, col] for m in models)
    assert named > plain + 0.1 and models[1].predict(["maint qwarto"])[0] == "education"
    assert models[1].predict(["refection de le ecole"])[0] == "education"
