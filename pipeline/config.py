"""The project's settings: config/pipeline.toml, overridden by command-line options."""
from __future__ import annotations

import copy
import difflib
import tomllib
from pathlib import Path
from typing import Any

from pipeline.errors import PipelineError

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
    if path.resolve() != DEFAULT_CONFIG.resolve() and DEFAULT_CONFIG.is_file():
        check_settings(config, tomllib.loads(read_settings_text(DEFAULT_CONFIG)), path)
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


# Settings whose value may be of another kind than config/pipeline.toml's: a word or a number.
EITHER_KIND = {("predict", "review_threshold")}


def check_settings(config: dict, reference: dict, path) -> None:
    """A config other than config/pipeline.toml holds only its sections and settings, each of the kind
    the shipped file gives it (a number, a word, a list, true/false): a typo or a quoted number is
    named here, not taken silently or met as a crash in the middle of a run."""
    for section, values in config.items():
        if section not in reference or not isinstance(values, dict):
            raise PipelineError(f"{path}: unknown section [{section}]{_typo_hint(section, reference)}; "
                                f"the sections are {', '.join(f'[{s}]' for s in reference)}")
        for key, value in values.items():
            if key not in reference[section]:
                raise PipelineError(f"{path}: unknown setting [{section}] {key}{_typo_hint(key, reference[section])}")
            expected = reference[section][key]
            if (section, key) not in EITHER_KIND and _kind(value) != _kind(expected):
                raise PipelineError(f"{path}: [{section}] {key} = {value!r} is {_kind(value)}; give {_kind(expected)}, "
                                    f"as config/pipeline.toml does ({key} = {expected!r})")


def _kind(value) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return {str: "a quoted text", list: "a list [...]", dict: "a section"}.get(type(value), type(value).__name__)


def _typo_hint(name: str, names) -> str:
    close = difflib.get_close_matches(str(name), [str(n) for n in names], n=2, cutoff=0.6)
    return f" (a typo of {' or '.join(close)}?)" if close else ""


def _resolve(value: str) -> str:
    p = Path(value)
    return str(p if p.is_absolute() else PROJECT_DIR / p)
