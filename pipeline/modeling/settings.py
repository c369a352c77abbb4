"""The settings of training and evaluation, read from config/pipeline.toml."""
from __future__ import annotations

from dataclasses import dataclass, replace

from pipeline.domains import load_label_set
from pipeline.errors import PipelineError
from pipeline.features.cues import load_cues
from pipeline.features.lemmatizer import MODES
from pipeline.features.products import load_products
from pipeline.modeling.estimators import RECIPES, DigitalRecipe, Recipe


@dataclass(frozen=True)
class TrainSettings:
    cv_folds: int = 5
    # Each recipe's CV is repeated with this many shuffles of the folds and its
    # scores averaged: one split of 698 commune titles moves accuracy by ±0.01.
    cv_repeats: int = 1
    random_state: int = 42
    spacy_model: str = "fr_core_news_sm"
    lemma_mode: str = "lookup"
    batch_size: int = 512
    n_process: int = 1
    # As config/pipeline.toml; the self-training one is skipped without unlabeled texts.
    recipes: tuple[str, ...] = ("svm_balanced", "svm_balanced_self_training")
    # The sources whose rows' CV macro-F1 picks the recipe, in order: real
    # commune titles drawn at random (what users submit), then the digital-heavy
    # set. All rows are used when none is present.
    select_on: tuple[str, ...] = ("dgcl-random", "dgcl-annotated")
    # needs_review threshold: the lowest confidence at which the rows kept
    # reach this accuracy out of fold.
    review_accuracy: float = 0.95
    # Processes for the cross-validation folds (1: this one only).
    n_jobs: int = 1
    # The digital flag's classifier and self-training ([digital] of pipeline.toml).
    digital: DigitalRecipe = DigitalRecipe()
    # The named products of [paths] products and their column's weight ([train] product_weight).
    products: tuple[tuple[str, str], ...] = ()
    product_weight: float = 1.0

    def recipe(self, name: str) -> Recipe:
        """The recipe of that name, with this training's products."""
        return replace(RECIPES[name], products=self.products, product_weight=self.product_weight)

    @classmethod
    def from_config(cls, config: dict) -> "TrainSettings":
        """config/pipeline.toml's [train] and [preprocess] (n_jobs 0: one process per core)."""
        from pipeline.modeling.workers import process_count

        t, p = config["train"], config["preprocess"]
        lemma_mode = p.get("lemma_mode", "lookup")
        if lemma_mode not in MODES:
            raise PipelineError(f"[preprocess] lemma_mode = {lemma_mode!r}: use one of {', '.join(MODES)}")
        return cls(cv_folds=_count(t["cv_folds"], 2, "cv_folds", "--cv-folds", config),
                   cv_repeats=_count(t.get("cv_repeats", 1), 1, "cv_repeats", None, config), random_state=t["random_state"],
                   spacy_model=p["spacy_model"], lemma_mode=lemma_mode, batch_size=p["batch_size"],
                   n_process=p["n_process"], recipes=tuple(t["recipes"]), select_on=_as_tuple(t["select_on"]),
                   review_accuracy=t["review_accuracy"], n_jobs=process_count(t.get("n_jobs", 0)),
                   digital=digital_recipe(config.get("digital", {}), config["paths"].get("digital_cues")),
                   products=(load_products(config["paths"]["products"], load_label_set(config["paths"]["labels"]).codes)
                             if config["paths"].get("products") else ()),
                   product_weight=float(t.get("product_weight", 1.0)))


def digital_recipe(section: dict, cues_path=None) -> DigitalRecipe:
    """[digital] of pipeline.toml (absent entries: DigitalRecipe's defaults; unknown keys are an error),
    with the cue words of `cues_path` (none without it)."""
    known = set(DigitalRecipe.__dataclass_fields__) - {"cues"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise PipelineError(f"[digital] in pipeline.toml: unknown setting(s) {', '.join(unknown)}; "
                            f"use {', '.join(sorted(known))}")
    return DigitalRecipe(**section, cues=load_cues(cues_path) if cues_path else ())


def _count(value, least: int, key: str, option: str | None, config: dict) -> int:
    """[train] `key` as a whole number of at least `least`: cross-validation cannot run on fewer
    (one fold once searched forever for the titles a domain needs)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        given = f"{option} or " if option else ""
        raise PipelineError(f"{key} = {value!r} ({given}[train] {key} of {config.get('config_file', 'pipeline.toml')}): "
                            f"give a whole number of at least {least}")
    return value


def _as_tuple(value) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)
