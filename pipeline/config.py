"""The project's settings: config/pipeline.toml, overridden by command-line options."""
from __future__ import annotations

import copy
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
    config = copy.deepcopy(config)
    for dotted, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, key = dotted.partition(".")
        if section not in config or key not in config[section]:
            raise PipelineError(f"{path}: no setting [{section}] {key} to override")
        config[section][key] = str(Path(value).absolute()) if section == "paths" else value
    config["paths"] = {k: _resolve(v) for k, v in config["paths"].items()}
    config["config_file"] = str(path)
    return config


def _resolve(value: str) -> str:
    p = Path(value)
    return str(p if p.is_absolute() else PROJECT_DIR / p)
