"""The tagger pass cached on disk: one SQLite file per spaCy model, version and spaCy version.

Keyed by the normalised text, so that a second `make train` skips spaCy for
every text it has already seen. The folder is `.cache/lemmas/` in the project,
or the environment variable BAROMETRE_LEMMA_CACHE (a folder, or "off").
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)


CACHE_ENV = "BAROMETRE_LEMMA_CACHE"


def lemma_cache_folder() -> Path | None:
    """Where the tagger pass is cached: $BAROMETRE_LEMMA_CACHE, or .cache/lemmas/ ("off": nowhere)."""
    value = os.environ.get(CACHE_ENV)
    if value is None:
        from pipeline.config import PROJECT_DIR

        return PROJECT_DIR / ".cache" / "lemmas"
    if value.strip().lower() in ("", "off", "0", "no", "false"):
        return None
    return Path(value)


class LemmaCache:
    """The tagger's (form, lemma) pairs per normalised text, in one SQLite file.

    A failure to read or write (read-only folder, full disk) is logged once and
    the cache is then left alone: it only ever saves time.
    """

    _CHUNK = 500  # parameters per SELECT ... IN (...)

    def __init__(self, path: Path):
        self.path = Path(path)
        self.ok = True

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=60)
        con.execute("CREATE TABLE IF NOT EXISTS lemmas (text TEXT PRIMARY KEY, pairs TEXT NOT NULL)")
        return con

    def _failed(self, exc: Exception) -> None:
        log.warning("lemma cache %s not used: %s", self.path, exc)
        self.ok = False

    def get(self, texts: list[str]) -> dict[str, list[tuple[str, str]]]:
        if not self.ok or not texts or not self.path.exists():
            return {}
        found = {}
        try:
            con = self._connect()
            try:
                for i in range(0, len(texts), self._CHUNK):
                    part = texts[i:i + self._CHUNK]
                    rows = con.execute(f"SELECT text, pairs FROM lemmas WHERE text IN "
                                       f"({','.join('?' * len(part))})", part)
                    found.update((t, [tuple(p) for p in json.loads(pairs)]) for t, pairs in rows)
            finally:
                con.close()
        except (sqlite3.Error, OSError, ValueError) as exc:
            self._failed(exc)
            return {}
        return found

    def put(self, items: dict[str, list[tuple[str, str]]]) -> None:
        if not self.ok or not items:
            return
        try:
            con = self._connect()
            try:
                with con:
                    con.executemany("INSERT OR REPLACE INTO lemmas VALUES (?, ?)",
                                    ((t, json.dumps(p, ensure_ascii=False)) for t, p in items.items()))
            finally:
                con.close()
        except (sqlite3.Error, OSError) as exc:
            self._failed(exc)
