"""Shared fixtures: a small slice of the seed set, and one model trained on it with the real spaCy model."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pandas as pd
import pytest

from pipeline.config import PROJECT_DIR, load_config
from pipeline.domains import load_label_set

SHARED = PROJECT_DIR.parent / "shared" / "data"

# No test reads or writes the project's lemma cache (.cache/lemmas/); the cache's
# own tests point it at a temporary folder.
os.environ["BAROMETRE_LEMMA_CACHE"] = "off"

# A suite started as a background job (`make test &`, nohup) inherits Ctrl-C ignored, and a run started so
# leaves it ignored, as it should (interrupt.stop_on). The tests that stop runs with it give it back its
# default: here, and so in the processes they start.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def write_config(tmp: Path, **paths) -> Path:
    """A copy of config/pipeline.toml whose [paths] point into `tmp`."""
    text = (PROJECT_DIR / "config" / "pipeline.toml").read_text(encoding="utf-8")
    for key, value in paths.items():
        lines = text.splitlines()
        lines = [f'{key} = "{value}"' if l.split("=")[0].strip() == key else l for l in lines]
        text = "\n".join(lines) + "\n"
    path = tmp / "pipeline.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def labels():
    return load_label_set(PROJECT_DIR / "config" / "domains.csv")


@pytest.fixture(scope="session")
def seed() -> pd.DataFrame:
    return pd.read_csv(PROJECT_DIR / "data" / "labeled" / "seed.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, seed):
    """Train once, through the real command, on 20 seed rows per domain; return its config."""
    tmp = tmp_path_factory.mktemp("trained")
    (tmp / "labeled").mkdir()
    slice_ = seed.groupby("domain", group_keys=False).head(20)
    slice_.to_csv(tmp / "labeled" / "seed.csv", index=False)
    config_path = write_config(tmp, labeled=str(tmp / "labeled"), models=str(tmp / "models"),
                               predicted=str(tmp / "predicted"), reports=str(tmp / "reports"),
                               reviewed=str(tmp / "reviewed"))
    from pipeline.cli import main

    assert main(["--config", str(config_path), "-q", "train", "--cv-folds", "3"]) == 0
    return load_config(config_path)
