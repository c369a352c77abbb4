"""The seed set and the written evaluation sets the project ships: well-formed, and its own text.

The project must not ship rows copied or lightly rewritten from ../shared/data:
every seed text and every text of data/eval/ is compared with every title of the
shared labeled and unlabeled sets, on the near-duplicate key that CV groups by and
on the cosine similarity of their word sets. An evaluation row must not be a seed
row either (it would be scored on what the model trained on).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED
from sklearn.feature_extraction.text import CountVectorizer

from pipeline.config import PROJECT_DIR
from pipeline.io.tables import read_table
from pipeline.modeling.cv import duplicate_key

SEED_FILES = sorted((PROJECT_DIR / "data" / "labeled").glob("*.csv"))
EVAL_FILES = sorted((PROJECT_DIR / "data" / "eval").glob("*.csv"))
# The seed of the dev/test draw of data/eval/ (data/eval/README.md).
EVAL_SPLIT_SEED = 20261203
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


@pytest.fixture(scope="module")
def eval_rows() -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False).assign(file=p.name) for p in EVAL_FILES]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def shared_texts() -> pd.Series:
    if not SHARED.is_dir():
        pytest.skip("../shared/data is not beside the project")
    return pd.concat([read_table(SHARED / path)[col].dropna().astype(str) for path, col in SHARED_TEXTS],
                     ignore_index=True).drop_duplicates()


def near_copies(texts: pd.Series, names: pd.Series, shared: pd.Series) -> tuple[list, list]:
    """Texts equal to a shared text (duplicate key), and (name, shared text, cosine) of near-copies."""
    keys = texts.map(duplicate_key)
    same = names[keys.isin(set(shared.map(duplicate_key)))].tolist()
    vectorizer = CountVectorizer(binary=True, preprocessor=duplicate_key).fit(shared)
    a, b = vectorizer.transform(texts), vectorizer.transform(shared)
    # Cosine of binary word sets; words unknown to the shared texts count in the text's norm.
    words = texts.map(lambda t: len(set(duplicate_key(t).split())))
    b_norm = np.sqrt(np.asarray(b.sum(axis=1)).ravel())
    overlap = (a @ b.T).tocsr()
    worst = []
    for i in range(a.shape[0]):
        row = overlap.getrow(i)
        if row.nnz == 0 or words.iloc[i] < 5:
            continue
        cos = row.data / (np.sqrt(words.iloc[i]) * b_norm[row.indices])
        j = int(cos.argmax())
        if cos[j] >= NEAR_COPY_COSINE:
            worst.append((names.iloc[i], shared.iloc[row.indices[j]], round(float(cos[j]), 2)))
    return same, worst


def test_seed_texts_are_not_copied_from_shared_data(seed_rows, shared_texts):
    same, worst = near_copies(seed_rows["text"], seed_rows["id"], shared_texts)
    assert not same, f"seed rows equal to a shared text: {same}"
    assert not worst, f"seed rows nearly equal to shared texts: {worst[:10]}"


def test_eval_texts_are_not_copied_from_shared_data(eval_rows, shared_texts):
    names = eval_rows["file"] + " row " + (eval_rows.groupby("file").cumcount() + 2).astype(str)
    same, worst = near_copies(eval_rows["text"], names, shared_texts)
    assert not same, f"evaluation rows equal to a shared text: {same}"
    assert not worst, f"evaluation rows nearly equal to shared texts: {worst[:10]}"


def eval_split(domains: pd.Series) -> list[str]:
    """The documented draw: per domain (sorted), a seeded permutation of its rows; the first ceil(n/2) dev."""
    rng = np.random.default_rng(EVAL_SPLIT_SEED)
    split = ["test"] * len(domains)
    for domain in sorted(set(domains)):
        rows = np.flatnonzero(domains.to_numpy() == domain)
        for i in rng.permutation(rows)[: math.ceil(len(rows) / 2)]:
            split[int(i)] = "dev"
    return split


def test_eval_sets_are_well_formed_split_as_documented_and_not_seed_rows(eval_rows, seed_rows, labels):
    assert len(EVAL_FILES) >= 2
    assert list(eval_rows.columns[:6]) == ["text", "domain", "digital", "text_kind", "note", "split"]
    assert (eval_rows["text"].str.strip() != "").all()
    assert set(eval_rows["domain"]) <= set(labels.codes)
    assert set(eval_rows["digital"]) <= {"yes", "no"}
    keys = eval_rows["text"].map(duplicate_key)
    assert not keys.duplicated().any(), "an evaluation text is repeated"
    in_seed = eval_rows.loc[keys.isin(set(seed_rows["text"].map(duplicate_key))), "text"].tolist()
    assert not in_seed, f"evaluation rows equal to a seed row: {in_seed}"
    for name, rows in eval_rows.groupby("file"):
        assert rows["split"].tolist() == eval_split(rows["domain"].reset_index(drop=True)), name


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
    # no user workbook committed, only the placeholder that makes the folder exist in a fresh clone, so that
    # docs/review.md's `mv review-2024.xlsx data/reviewed/` files it rather than failing (outside git: skip)
    assert tracked.returncode != 0 or tracked.stdout.split() == ["data/reviewed/.gitkeep"]
    ignored = (PROJECT_DIR / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "data/reviewed/*" in ignored and "!data/reviewed/.gitkeep" in ignored
