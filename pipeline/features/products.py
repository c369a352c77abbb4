"""Named products: one feature column per domain, shared by every product of that domain.

Public-contract subjects often name only a product ("MAINT <product> 2025"): the
model learns a product's weight from the rows that hold it, so a product no
training row names counts for nothing. The product list (config/products.csv,
product and domain, written from vendors' public catalogues) gives all the
products of a domain one shared column: the training rows that name any of them
teach its weight, and it reaches every product of the list
(docs/model.md#named-products).
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from pipeline.config import read_settings_text
from pipeline.errors import PipelineError
from pipeline.features.cues import LemmaStringsIn
from pipeline.features.text import normalize

# A product's words: runs of letters and digits. The lemmas keep a product's dots and apostrophes
# ("bl.enfance", "r'ads") or split at them ("x' map"); hyphens, dots and apostrophes separate words
# on both sides, so that all of these match.
_WORD = re.compile(r"[^\W_]+")
_PRODUCT = re.compile(r"[\w .'’-]+")
_NONE: frozenset = frozenset()


def product_words(text: str) -> tuple[str, ...]:
    """The words a product or a lemma string is matched on: lower case, accents stripped."""
    return tuple(_WORD.findall(normalize(text)))


def load_products(path: str | Path, domains) -> tuple[tuple[str, str], ...]:
    """(product, domain) pairs of a product file: CSV with columns product, domain (and any others);
    lines starting with `#` are comments. Each domain must be one of `domains`."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"product list not found: {path} ([paths] products of pipeline.toml)")
    lines = [(n, line) for n, line in enumerate(read_settings_text(path).splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader([line for _, line in lines])
    if not {"product", "domain"} <= set(reader.fieldnames or ()):
        raise PipelineError(f"{path}: the first line that is not a comment must name the columns product and domain")
    products = []
    for (number, _), row in zip(lines[1:], reader):
        product, domain = (row.get("product") or "").strip(), (row.get("domain") or "").strip()
        if not product_words(product) or not _PRODUCT.fullmatch(product):
            raise PipelineError(f"{path}, line {number}: product {product!r} is not words of letters and digits "
                                "(separated by spaces, hyphens, dots or apostrophes)")
        if domain not in domains:
            raise PipelineError(f"{path}, line {number}: domain {domain!r} is not one of config/domains.csv's "
                                f"codes ({', '.join(domains)})")
        products.append((product, domain))
    return tuple(products)


class ProductIndicator(LemmaStringsIn, TransformerMixin, BaseEstimator):
    """One column per domain of `products`: `weight` where a lemma string names one of its products, else 0.

    A product is found where its words follow each other, whole, among the text's words.
    Parameters only are stored; `fit` builds the look-up of the products' words
    (`phrases_`: words -> columns; `longest_`: first word -> most words of a product
    starting with it; `domains_`: the columns' domains). A dictionary look-up per word,
    not a regular expression: the column costs predict little.
    """

    def __init__(self, products: tuple[tuple[str, str], ...] = (), weight: float = 1.0):
        self.products = products
        self.weight = weight

    def fit(self, X, y=None):
        self.domains_ = np.asarray(sorted({domain for _, domain in self.products}), dtype=object)
        column = {d: i for i, d in enumerate(self.domains_)}
        self.phrases_: dict[tuple[str, ...], set[int]] = {}
        self.longest_: dict[str, int] = {}
        for product, domain in self.products:
            words = product_words(product)
            self.phrases_.setdefault(words, set()).add(column[domain])
            self.longest_[words[0]] = max(self.longest_.get(words[0], 0), len(words))
        return self

    def transform(self, X):
        check_is_fitted(self, "phrases_")
        rows, columns = [], []
        phrases, longest = self.phrases_, self.longest_
        for row, text in enumerate(X):
            words = tuple(_WORD.findall(text))  # lemma strings: lower case and accents stripped already
            found = set()
            for i, word in enumerate(words):
                for n in range(1, longest.get(word, 0) + 1):
                    found |= phrases.get(words[i:i + n], _NONE)
            rows += [row] * len(found)
            columns += sorted(found)
        return sp.csr_matrix((np.full(len(rows), float(self.weight)), (rows, columns)),
                             shape=(len(X), len(self.domains_)))

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "domains_")
        return np.asarray([f"product_{d}" for d in self.domains_], dtype=object)
