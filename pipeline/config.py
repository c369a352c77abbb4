"""The project's settings: config/pipeline.toml, overridden by command-line options."""
from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError
from pipeline.io.columns import closest

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_DIR / "config" / "pipeline.toml"


def read_settings_text(path: str | Path) -> str:
    """A settings file's text (pipeline.toml, sources.toml, domains.csv, the product and cue lists...):
    UTF-8, with the byte-order mark that Excel and Notepad put at its start taken off (it made the first
    name unreadable: "expected columns code,label_fr"). Another encoding is named, with its first line."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise PipelineError(f"{path}, line {line}: not UTF-8 text (byte {data[exc.start]:#x}): save the file "
                            "as UTF-8 (in Excel: CSV UTF-8; in an editor: encoding UTF-8)") from None


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict:
    """Read the TOML config and apply `overrides` given as {"section.key": value}.

    Relative paths in [paths] are resolved against the project folder, so the
    commands work from any working directory; a path given on the command line
    (--sources, --models) against the working directory, as --extra and --input are.
    """
    path = Path(path) if path else DEFAULT_CONFIG
    if not path.is_file():
        raise PipelineError(f"config file not found: {path}")
    try:
        config = tomllib.loads(read_settings_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise PipelineError(f"{path}: not valid TOML: {exc}") from exc
    check_settings(config, path)
    config = copy.deepcopy(config)
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, key = dotted.partition(".")
        if section not in config or key not in config[section]:
            raise PipelineError(f"{path}: no setting [{section}] {key} to override")
        config[section][key] = str(Path(value).absolute()) if section == "paths" else value
    config = Settings({name: Settings(values, path, name) if isinstance(values, dict) else values
                       for name, values in config.items()}, path)
    config["paths"] = Settings({k: _resolve(v) for k, v in config["paths"].items()}, path, "paths")
    config["config_file"] = str(path)
    return config


class Settings(dict):
    """The config, or one of its sections: a setting it lacks is one line naming the file and the names
    close to it that it holds (a typo), where it was a KeyError and a crash log."""

    def __init__(self, values: dict, path, section: str | None = None):
        super().__init__(values)
        self.path, self.section = str(path), section

    def __missing__(self, key):
        what = f"setting [{self.section}] {key}" if self.section else f"section [{key}]"
        raise PipelineError(f"{self.path}: no {what}{_typo_hint(key, self)}: add it (the project's "
                            "config/pipeline.toml, as shipped, lists every setting)")


# The kinds of value a setting takes, as _kind names them.
NUMBER, TEXT, LIST, YES_NO = "a number", "a quoted text", "a list [...]", "true or false"
NUMBER_OR_MODEL = 'a number or the word "model"'  # [predict] review_threshold: "model", the model's own

# Every setting the code reads, by section, with its kind: the one list of their names and kinds. A config
# file, the shipped config/pipeline.toml as much as a --config one, holds no other, each of its kind: a
# misspelt name (review_treshold) would be taken silently and its setting left at its value or default, a
# quoted number (chunk_size = "20000") was a crash in the middle of a run. tests/test_hostile_inputs.py
# checks that the shipped file sets each of them and [digital] those of DigitalRecipe.
SETTINGS = {
    "paths": dict.fromkeys(("labels", "digital_cues", "products", "sources", "locked_test", "labeled", "eval_sets",
                            "domain_guide", "reviewed", "raw_sample", "predicted", "models", "reports", "external"),
                           TEXT),
    "preprocess": {"spacy_model": TEXT, "lemma_mode": TEXT, "batch_size": NUMBER, "n_process": NUMBER},
    "train": {"cv_folds": NUMBER, "cv_repeats": NUMBER, "random_state": NUMBER, "recipes": LIST, "select_on": LIST,
              "review_accuracy": NUMBER, "n_jobs": NUMBER, "product_weight": NUMBER},
    "digital": {"C": NUMBER, "balanced": YES_NO, "pseudo_threshold": NUMBER, "pseudo_weight": NUMBER,
                "threshold": NUMBER, "word_counts_C": NUMBER, "cue_weight": NUMBER, "word_counts_cue_weight": NUMBER},
    "predict": {"review_threshold": NUMBER_OR_MODEL, "text_kind": TEXT, "chunk_size": NUMBER, "n_jobs": NUMBER,
                "text_columns": LIST},
    "review": {"rows": NUMBER, "max_domain_share": NUMBER, "reviewed_weight": NUMBER},
    "report": {"etalab_package": TEXT, "etalab_version": TEXT, "etalab_integrity": TEXT},
}


def check_settings(config: dict, path) -> None:
    """A config holds only the sections and settings of SETTINGS, each of its kind there (a number, a word, a
    list, true/false): a typo or a quoted number is named here, not taken silently or met as a crash in the
    middle of a run."""
    for section, values in config.items():
        if section not in SETTINGS or not isinstance(values, dict):
            raise PipelineError(f"{path}: unknown section [{section}]{_typo_hint(section, SETTINGS)}; "
                                f"the sections are {', '.join(f'[{s}]' for s in SETTINGS)}")
        for key, value in values.items():
            if key not in SETTINGS[section]:
                raise PipelineError(f"{path}: unknown setting [{section}] {key}{_typo_hint(key, SETTINGS[section])}")
            if not of_kind(value, SETTINGS[section][key]):
                raise PipelineError(f"{path}: [{section}] {key} = {value!r} is {_kind(value)}; "
                                    f"give {SETTINGS[section][key]}")


def of_kind(value, kind: str) -> bool:
    if kind == NUMBER_OR_MODEL:
        return _kind(value) == NUMBER or value == "model"
    return _kind(value) == kind


def _kind(value) -> str:
    if isinstance(value, bool):
        return YES_NO
    if isinstance(value, int | float):
        return NUMBER
    return {str: TEXT, list: LIST, dict: "a section"}.get(type(value), type(value).__name__)


def _typo_hint(name: str, names) -> str:
    close = closest(name, names, n=2)
    return f" (a typo of {' or '.join(close)}?)" if close else ""


def _resolve(value: str) -> str:
    p = Path(value)
    return str(p if p.is_absolute() else PROJECT_DIR / p)
