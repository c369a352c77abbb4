"""Share estimation corrected for the classifier's known errors: functions of arrays, no I/O.

A quantifier (QuaPy's aggregative methods) is fitted on out-of-fold
posteriors of labeled rows and their true labels, then turns the posteriors
of any sample (a predictions file's proba_<domain> columns) into class
shares. Nothing here sees a text or the model: the report reads predictions
only.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from pipeline.quantify.methods import PaccEmq, log_posteriors

# The methods compared (docs/quantification.md); "CC" is raw counting.
# ACC and PACC solve the adjustment q = M p by inversion, then project p onto the simplex
# (QuaPy's solver "exact-cc", norm "mapsimplex"): milliseconds. "-min" variants use QuaPy's
# default constrained minimisation (SLSQP, numerical gradients): about 1 s a call here,
# too slow for hundreds of bootstrap replicates. "PACC+EMQ" (pipeline/quantify/methods.py): the mean
# of PACC on a shrunk matrix ("PACC-shrunk") and EM on temperature-scaled posteriors ("EMQ-TS"), the
# default since it cut raw counting's error under shifted mixes by 46 % (docs/quantification.md).
METHODS = ("CC", "PCC", "ACC", "PACC", "ACC-min", "PACC-min", "EMQ", "EMQ-BCTS", "KDEy",
           "PACC-shrunk", "EMQ-TS", "PACC+EMQ")
OWN = {"PACC+EMQ": "both", "PACC-shrunk": "pacc", "EMQ-TS": "emq"}  # methods.PaccEmq's parts
CRISP = {"CC", "ACC", "ACC-min"}
DEFAULT_METHOD = "PACC+EMQ"


class _Precomputed(ClassifierMixin, BaseEstimator):
    """Stands for the classifier QuaPy would train: the posteriors are computed already
    (out-of-fold at training, by `predict` for a sample); QuaPy only reads `classes_`."""

    def __init__(self, n_classes: int = 2):
        self.n_classes = n_classes
        self.classes_ = np.arange(n_classes)

    def fit(self, X=None, y=None):  # never called: fit_classifier=False
        return self


def _quapy_aggregative():
    """QuaPy's aggregative methods, imported late (QuaPy's import is slow) and inside an rc_context:
    importing QuaPy sets matplotlib's default font size to 18 for the whole process (quapy/plot.py),
    and every report chart drawn after the digital flag's correction had its axes' text at 18 pt."""
    import matplotlib

    with matplotlib.rc_context():  # rcParams as they were, once QuaPy is imported
        from quapy.method import aggregative
    return aggregative


def _quapy_method(method: str, n_classes: int):
    if method in OWN:
        return PaccEmq(OWN[method])
    agg = _quapy_aggregative()

    clf = _Precomputed(n_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "val_split ignored when the classifier is trained": as meant
        if method == "CC":
            return agg.CC(clf, fit_classifier=False)
        if method == "PCC":
            return agg.PCC(clf, fit_classifier=False)
        if method in ("ACC", "PACC"):
            cls = agg.ACC if method == "ACC" else agg.PACC
            return cls(clf, fit_classifier=False, val_split=None, solver="exact-cc", norm="mapsimplex")
        if method in ("ACC-min", "PACC-min"):
            cls = agg.ACC if method == "ACC-min" else agg.PACC
            return cls(clf, fit_classifier=False, val_split=None)
        if method in ("EMQ", "EMQ-BCTS"):
            # The prior EM starts from: the labeled rows' mean posterior, the prior the
            # posteriors carry (their true shares are another source's mix).
            return agg.EMQ(clf, fit_classifier=False, val_split=None, exact_train_prev=False,
                           calib="bcts" if method == "EMQ-BCTS" else None)
        if method == "KDEy":
            from quapy.method._kdey import KDEyML
            return KDEyML(clf, fit_classifier=False, val_split=None, random_state=0)
    raise ValueError(f"unknown quantification method {method!r}; one of {', '.join(METHODS)}")


@dataclass(frozen=True)
class Sample:
    """A sample's posteriors as a fitted ShareQuantifier reads them, computed once so that a
    bootstrap's replicates take rows of them instead of computing them again: each row's likeliest
    class, the posteriors on the classes with labeled rows, and their log where EM reads it."""
    top: np.ndarray
    proba: np.ndarray
    logp: np.ndarray | None

    def __len__(self) -> int:
        return len(self.top)

    def take(self, rows: np.ndarray) -> "Sample":
        # np.take: 1.4 ms against 9.5 for fancy indexing on 72,000 × 13 (measured)
        return Sample(*(None if a is None else np.take(a, rows, axis=0) for a in (self.top, self.proba, self.logp)))


class ShareQuantifier:
    """Class shares of a sample from its posteriors, corrected by `method`.

    fit(proba, y): out-of-fold posteriors (n × k) and the true classes as
    column indices 0..k-1. predict(proba): the k shares of a sample (sum 1).
    A class absent from the labeled rows keeps its classify-and-count share: its
    error rates are unknown.
    """

    def __init__(self, method: str = DEFAULT_METHOD):
        if method not in METHODS:
            raise ValueError(f"unknown quantification method {method!r}; one of {', '.join(METHODS)}")
        self.method = method

    def fit(self, proba: np.ndarray, y: np.ndarray) -> "ShareQuantifier":
        proba, y = np.asarray(proba, dtype=float), np.asarray(y, dtype=int)
        self.n_classes_ = proba.shape[1]
        self.seen_ = np.isin(np.arange(self.n_classes_), y)
        # QuaPy is fitted on the classes with labeled rows only (KDEy refuses an empty class;
        # ACC would assume an unseen class perfectly recognised).
        self.quantifier_ = _quapy_method(self.method, int(self.seen_.sum()))
        self.quantifier_.aggregation_fit(self._inputs(self._seen(proba)), np.searchsorted(np.flatnonzero(self.seen_), y))
        return self

    def predict(self, proba: np.ndarray) -> np.ndarray:
        proba = np.asarray(proba, dtype=float)
        if len(proba) == 0:
            return np.full(self.n_classes_, np.nan)
        return self.predict_sample(self.sample(proba))

    def sample(self, proba: np.ndarray) -> Sample:
        """What `predict` reads of the posteriors `proba` (n × k, n > 0). It serves any quantifier
        fitted with this one's method on rows of the same classes (a stratified resample's)."""
        proba = np.asarray(proba, dtype=float)
        seen = self._seen(proba)
        reads_log = self.method in OWN and OWN[self.method] != "pacc"
        return Sample(proba.argmax(1), seen, log_posteriors(seen) if reads_log else None)

    def predict_sample(self, sample: Sample) -> np.ndarray:
        if sample.proba.shape[1] != self.seen_.sum():
            raise ValueError("a Sample of other classes than this quantifier's labeled rows")
        raw = np.bincount(sample.top, minlength=self.n_classes_) / len(sample)  # raw_shares
        shares = raw.copy()
        # Unseen classes keep their classify-and-count share (their mean probability over-reports
        # a class never predicted); the seen ones share the rest as corrected.
        mass = 1.0 - raw[~self.seen_].sum()
        if self.method in OWN:
            corrected = self.quantifier_.aggregate(sample.proba, sample.logp)
        else:
            corrected = np.asarray(self.quantifier_.aggregate(self._inputs(sample.proba)), dtype=float)
        shares[self.seen_] = corrected / max(corrected.sum(), 1e-12) * mass
        return shares

    def _seen(self, proba: np.ndarray) -> np.ndarray:
        if self.seen_.all():
            return proba
        part = proba[:, self.seen_]
        return part / np.clip(part.sum(1, keepdims=True), 1e-12, None)

    def _inputs(self, proba: np.ndarray) -> np.ndarray:
        return proba.argmax(1) if self.method in CRISP else proba


def raw_shares(proba: np.ndarray) -> np.ndarray:
    """Classify and count: the share of rows whose likeliest class is each class."""
    proba = np.asarray(proba, dtype=float)
    return np.bincount(proba.argmax(1), minlength=proba.shape[1]) / max(len(proba), 1)


def binary_proba(p_yes) -> np.ndarray:
    """A yes/no flag's P(yes) (or 0/1 labels) as two posterior columns: no, yes."""
    p = np.asarray(p_yes, dtype=float)
    return np.column_stack([1.0 - p, p])
