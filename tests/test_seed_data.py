"""The seed set the project ships: well-formed, balanced enough, and its own text.

The project must not ship rows copied or lightly rewritten from ../shared/data:
every seed text is compared with every title of the shared labeled and
unlabeled sets, on the near-duplicate key that CV groups by and on the
cosine similarity of their word sets.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED
from sklearn.feature_extraction.text import CountVectorizer

from pipeline.config import PROJECT_DIR
from pipeline.io.tables import read_table
from pipeline.modeling.cv import duplicate_key

SEED_FILES = sorted((PROJECT_DIR / "data" / "labeled").glob("*.csv"))
# data/reviewed/ holds the user's own review workbooks (docs/review.md): real titles
# they corrected, trained on but never committed, so never checked here.
# (file under ../shared/data, its text column)
SHARED_TEXTS = [
    ("dgcl/annotated.csv", "intitule"),
    ("dgcl/annotated-random.csv", "intitule"),
    ("dgcl/dotations-2018.csv", "intitule"),
    ("dgcl/dotations-2019.csv", "intitule"),
    ("dgcl/dotations-2023.csv", "intitule"),
    ("paris-bp/laureats-2014-2021.csv", "titre_projet_gagnant"),
    ("toulouse-bp/projects-2022.csv", "name"),
    ("fonds-vert/fonds-vert-2023.csv", "nom_du_projet"),
]
# Word-set cosine at or above this, for texts of 5 words or more, counts as a rewrite.
NEAR_COPY_COSINE = 0.9


@pytest.fixture(scope="module")
def seed_rows() -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False).assign(file=p.name) for p in SEED_FILES]
    return pd.concat(frames, ignore_index=True)


def test_seed_files_are_well_formed(seed_rows, labels):
    assert list(seed_rows.columns[:4]) == ["id", "text", "domain", "digital"]
    assert seed_rows["id"].is_unique
    assert (seed_rows["text"].str.strip() != "").all()
    assert set(seed_rows["domain"]) == set(labels.codes)
    assert set(seed_rows["digital"]) <= {"yes", "no"}
    assert not seed_rows["text"].map(duplicate_key).duplicated().any(), "a seed text is repeated"


def test_seed_texts_are_not_copied_from_shared_data(seed_rows):
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not beside the project")
    shared = pd.concat([read_table(SHARED / path)[col].dropna().astype(str) for path, col in SHARED_TEXTS],
                       ignore_index=True).drop_duplicates()
    seed_keys = seed_rows["text"].map(duplicate_key)
    same = seed_rows[seed_keys.isin(set(shared.map(duplicate_key)))]
    assert same.empty, f"seed rows equal to a shared text: {same['id'].tolist()}"

    vectorizer = CountVectorizer(binary=True, preprocessor=duplicate_key).fit(shared)
    a, b = vectorizer.transform(seed_rows["text"]), vectorizer.transform(shared)
    # Cosine of binary word sets; words unknown to the shared texts count in the seed's norm.
    seed_words = seed_rows["text"].map(lambda t: len(set(duplicate_key(t).split())))
    b_norm = np.sqrt(np.asarray(b.sum(axis=1)).ravel())
    overlap = (a @ b.T).tocsr()
    worst = []
    for i in range(a.shape[0]):
        row = overlap.getrow(i)
        if row.nnz == 0 or seed_words.iloc[i] < 5:
            continue
        cos = row.data / (np.sqrt(seed_words.iloc[i]) * b_norm[row.indices])
        j = int(cos.argmax())
        if cos[j] >= NEAR_COPY_COSINE:
            worst.append((seed_rows["id"].iloc[i], shared.iloc[row.indices[j]], round(float(cos[j]), 2)))
    assert not worst, f"seed rows nearly equal to shared texts: {worst[:10]}"


def test_locked_test_set_names_rows_of_the_random_sample():
    """config/locked_test.toml: 300 distinct ids of annotated-random.csv, drawn from the file it names."""
    import tomllib

    from pipeline.io.files import sha256_of

    locked = tomllib.loads((PROJECT_DIR / "config" / "locked_test.toml").read_text(encoding="utf-8"))
    assert len(locked["ids"]) == len(set(locked["ids"])) == 300 == sum(locked["per_domain"].values())
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not beside the project")
    path = SHARED / "dgcl" / "annotated-random.csv"
    assert sha256_of(path) == locked["sha256"], "annotated-random.csv changed since the draw"
    rows = read_table(path).set_index(locked["id_column"])
    assert set(locked["ids"]) <= set(rows.index)
    assert rows.loc[locked["ids"], "domain"].value_counts().to_dict() == {
        k: v for k, v in locked["per_domain"].items() if v}


def test_reviewed_workbooks_are_the_users_own_data_not_the_projects():
    import subprocess

    tracked = subprocess.run(["git", "ls-files", "data/reviewed"], cwd=PROJECT_DIR, capture_output=True, text=True)
    assert tracked.returncode != 0 or tracked.stdout.strip() == ""  # no user workbook committed (outside git: skip)
    ignored = (PROJECT_DIR / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "data/reviewed/" in ignored
