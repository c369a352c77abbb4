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

from pipeline.errors import PipelineError
from pipeline.features.cues import _CUE_WORD, LemmaStringsIn, cue_pattern

# The lemmas keep a product's dots and apostrophes ("bl.enfance", "r'ads") or split at them
# ("x' map"): both sides are matched with them as spaces.
_JOINERS = re.compile(r"[.'’]")


def match_form(text: str) -> str:
    return _JOINERS.sub(" ", text)


def load_products(path: str | Path, domains) -> tuple[tuple[str, str], ...]:
    """(product, domain) pairs of a product file: CSV with columns product, domain (and any others);
    lines starting with `#` are comments. Each domain must be one of `domains`."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"product list not found: {path} ([paths] products of pipeline.toml)")
    lines = [(n, line) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader([line for _, line in lines])
    if not {"product", "domain"} <= set(reader.fieldnames or ()):
        raise PipelineError(f"{path}: the first line that is not a comment must name the columns product and domain")
    products = []
    for (number, _), row in zip(lines[1:], reader):
        product, domain = (row.get("product") or "").strip(), (row.get("domain") or "").strip()
        bad = [w for w in match_form(product).split() if not _CUE_WORD.fullmatch(w)] or ([] if product else [""])
        if bad:
            raise PipelineError(f"{path}, line {number}: {bad[0]!r} is not a product word (letters, digits, "
                                "hyphens, dots, apostrophes; a final * for any ending)")
        if domain not in domains:
            raise PipelineError(f"{path}, line {number}: domain {domain!r} is not one of config/domains.csv's "
                                f"codes ({', '.join(domains)})")
        products.append((product, domain))
    return tuple(products)


class ProductIndicator(LemmaStringsIn, TransformerMixin, BaseEstimator):
    """One column per domain of `products`: `weight` where a lemma string names one of its products, else 0.

    Parameters only are stored; `fit` compiles one pattern (`pattern_`, a group per
    domain of `domains_`), which pickles as its source: a saved model keeps the
    product list it was trained with.
    """

    def __init__(self, products: tuple[tuple[str, str], ...] = (), weight: float = 1.0):
        self.products = products
        self.weight = weight

    def fit(self, X, y=None):
        by_domain: dict[str, list[str]] = {}
        for product, domain in self.products:
            by_domain.setdefault(domain, []).append(match_form(product))
        self.domains_ = np.asarray(sorted(by_domain), dtype=object)
        # One pass over each text: a group per domain, named by its column.
        self.pattern_ = re.compile("|".join(f"(?P<c{i}>{cue_pattern(by_domain[d]).pattern})"
                                            for i, d in enumerate(self.domains_)) or r"(?!)")
        return self

    def transform(self, X):
        check_is_fitted(self, "pattern_")
        rows, columns = [], []
        for row, text in enumerate(X):
            found = {int(m.lastgroup[1:]) for m in self.pattern_.finditer(match_form(text))}
            rows += [row] * len(found)
            columns += sorted(found)
        return sp.csr_matrix((np.full(len(rows), float(self.weight)), (rows, columns)),
                             shape=(len(X), len(self.domains_)))

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "domains_")
        return np.asarray([f"product_{d}" for d in self.domains_], dtype=object)
