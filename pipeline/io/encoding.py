"""The bytes of a user's file: its format (by content first), decompression, and encoding.

The encoding is decided over the whole file, never from a sample:
- a BOM names UTF-16/UTF-32 (or UTF-8);
- a file that decodes entirely as UTF-8 is UTF-8;
- a UTF-8 file with some lines that are not (a cp1252 line pasted into it, a
  line joining a UTF-8 cell and a cp1252 one, or a UTF-8 BOM over a cp1252
  body) is read as UTF-8 with those lines' bytes that are not UTF-8 read as
  cp1252, and a warning names the lines: every row keeps its accents;
- an 8-bit file is cp1252 (Excel's French export) unless charset-normalizer,
  restricted to the encodings French exports use, finds it reads better as
  another, or its only 8-bit bytes are cp850's French accents with one inside
  a word (a DOS export of a line or two, too short for charset-normalizer),
  or cp1252 lacks some of its bytes and another reads them all as
  accented letters (with a warning); else a byte that cannot be decoded is an
  error naming its line (never replaced silently).
"""
from __future__ import annotations

import bz2
import codecs
import gzip
import logging
import lzma
import re
import zipfile
from pathlib import Path

from pipeline.errors import PipelineError

log = logging.getLogger(__name__)

# Encodings an 8-bit French export may be in: Excel on Windows, DOS tools, old Macs.
EIGHT_BIT = ["cp1252", "cp850", "mac_roman"]
FALLBACK = "cp1252"
MIXED_ERRORS = "barometre-cp1252-fallback"
# UTF-8's French accents and marks (é is C3 A9, œ C5 93, ’ and € E2 80 .., « and ° C2 AB, C2 B0): read as cp1252
# they are "Ã©", "Å“", "â€™", "Â«", which no French text holds. A line with one is UTF-8 evidence even when
# another of its bytes is not UTF-8.
UTF8_ACCENT = re.compile(rb"[\xc3\xc5][\x80-\xbf]|\xc2[\xa0-\xbf]|\xe2[\x80-\xbf]{2}")
_MAGIC = [(b"PAR1", "parquet"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"), (b"\x1f\x8b", "gzip"),
          (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz"), (b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip")]


def _cp1252_fallback(exc: UnicodeDecodeError):
    """Codec error handler: bytes that are not UTF-8 are read as cp1252 (see the module's doc)."""
    bad = exc.object[exc.start:exc.end]
    try:
        return bad.decode(FALLBACK), exc.end
    except UnicodeDecodeError as inner:  # a byte cp1252 does not define (0x81, 0x8d...): no guess
        raise UnicodeDecodeError("utf-8 or cp1252", exc.object, exc.start + inner.start, exc.start + inner.end,
                                 "neither UTF-8 nor cp1252") from None


codecs.register_error(MIXED_ERRORS, _cp1252_fallback)


def file_format(path: Path) -> tuple[str, str | None]:
    """(format, compression): format csv, xlsx, xls, ods or parquet, found by the content, else the suffix."""
    with path.open("rb") as fh:
        head = fh.read(8)
    kind = next((k for magic, k in _MAGIC if head.startswith(magic)), None)
    if kind == "zip":
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if "xl/workbook.xml" in names:
                return "xlsx", None
            if "mimetype" in names and b"spreadsheet" in zf.read("mimetype"):
                return "ods", None
        return "csv", "zip"
    if kind in ("gzip", "bz2", "xz"):
        return "csv", kind
    if kind in ("parquet", "xls"):
        return kind, None
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls", ".ods", ".parquet", ".pq"):
        raise PipelineError(f"{path}: not a {suffix[1:]} file (its content is not); check the file or its name")
    return "csv", None


def zip_member(path: Path) -> str:
    """The one file in a .zip archive (folders and macOS metadata aside)."""
    with zipfile.ZipFile(path) as zf:
        members = [i.filename for i in zf.infolist()
                   if not i.is_dir() and not i.filename.startswith("__MACOSX/")]
    if len(members) != 1:
        raise PipelineError(f"{path}: a .zip input must hold exactly one CSV file; it holds "
                            f"{len(members)} ({', '.join(members[:5])})")
    return members[0]


def open_bytes(path: Path, compression: str | None):
    """A binary file object over the (decompressed) content."""
    if compression == "gzip":
        return gzip.open(path, "rb")
    if compression == "bz2":
        return bz2.open(path, "rb")
    if compression == "xz":
        return lzma.open(path, "rb")
    if compression == "zip":
        zf = zipfile.ZipFile(path)
        member = zf.open(zip_member(path))
        member._barometre_zip = zf  # closed with the member (kept alive until then)
        return member
    return path.open("rb")


def check_encoding_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise PipelineError(f"--encoding {encoding!r}: unknown encoding (e.g. utf-8, cp1252, latin-1, utf-16)") from None


def first_bad_line(path: Path, compression: str | None, encoding: str, errors: str = "strict") -> str | None:
    """A message naming the line of the first byte `encoding` cannot decode, or None if all decode."""
    with open_bytes(path, compression) as fh:
        for lineno, line in enumerate(fh, start=1):
            try:
                line.decode(encoding, errors)
            except UnicodeDecodeError as exc:
                return (f"{path}, line {lineno}: byte {line[exc.start:exc.start + 1]!r} cannot be decoded as "
                        f"{shown_encoding(encoding)}")
    return None


def decode_problem(path: Path, compression: str | None, encoding: str, exc: UnicodeError,
                   errors: str = "strict") -> str:
    """What a failed decoding of the file says: the line of the byte that does not decode, or, for a stream
    refused whole (utf-16 without its BOM: no such byte), the codec's own reason."""
    if isinstance(exc, UnicodeDecodeError):
        problem = first_bad_line(path, compression, encoding, errors)
        if problem:
            return problem
    return f"{path}: cannot be decoded as {shown_encoding(encoding)} ({exc})"


def shown_encoding(encoding: str) -> str:
    """The encoding as the user names it: UTF-8 is read as utf-8-sig (a BOM stripped) whether it has one or not."""
    return "utf-8" if codecs.lookup(encoding).name == "utf-8-sig" else encoding


def _is_utf8(path: Path, compression: str | None) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open_bytes(path, compression) as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                decoder.decode(block)
        decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False


def detect_encoding(path: Path, compression: str | None = None) -> str:
    """The encoding the whole file is read with (see `detect_decoding`)."""
    return detect_decoding(Path(path), compression)[0]


def detect_decoding(path: Path, compression: str | None = None) -> tuple[str, str]:
    """(encoding, errors) to read the whole file with; see the module's doc."""
    with open_bytes(path, compression) as fh:
        head = fh.read(4096)
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32", "strict"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "strict"
    # UTF-16 without BOM: NUL is valid UTF-8, so it would pass as UTF-8 full of NULs.
    if len(head) >= 4 and head[1::2].count(0) > 0.4 * len(head) / 2 > head[0::2].count(0):
        return "utf-16-le", "strict"
    if len(head) >= 4 and head[0::2].count(0) > 0.4 * len(head) / 2 > head[1::2].count(0):
        return "utf-16-be", "strict"
    if b"\x00" in head:  # no text encoding of a CSV but UTF-16/32 has NUL bytes
        raise PipelineError(f"{path}: binary content, not a CSV (nor Excel, ODS or Parquet); check the file")
    if _is_utf8(path, compression):
        return "utf-8-sig", "strict"
    # Not UTF-8 throughout: which lines are UTF-8 with accents, which are not.
    utf8_lines, other_lines, evidence = 0, [], []
    with open_bytes(path, compression) as fh:
        for lineno, line in enumerate(fh, start=1):
            if lineno == 1 and line.startswith(codecs.BOM_UTF8):
                line = line[3:]
            if line.isascii():
                continue
            try:
                line.decode("utf-8")
                whole = True
            except UnicodeDecodeError:
                other_lines.append(lineno)
                whole = False
            # UTF-8 evidence is an accent, whole line UTF-8 or not (a UTF-8 cell beside a cp1252 one): an 8-bit
            # line may decode as UTF-8 by chance (Mac Roman's "’é", D5 8E, is a valid pair: "Վ").
            accent = bool(UTF8_ACCENT.search(line))
            utf8_lines += accent
            if not (whole and accent) and sum(map(len, evidence)) < 1 << 18:
                evidence.append(line)
    if utf8_lines or head.startswith(codecs.BOM_UTF8):
        shown = ", ".join(map(str, other_lines[:10])) + (" ..." if len(other_lines) > 10 else "")
        log.warning("%s: UTF-8, but %d line(s) are not (read as %s): line %s", path, len(other_lines), FALLBACK, shown)
        problem = first_bad_line(path, compression, "utf-8", MIXED_ERRORS)
        if problem:
            raise PipelineError(f"{problem} (nor as UTF-8); give the file's encoding with --encoding")
        return "utf-8-sig", MIXED_ERRORS
    encoding = _eight_bit(b"".join(evidence))
    problem = first_bad_line(path, compression, encoding)
    if problem:
        guess = _eight_bit(b"".join(evidence), exclude=FALLBACK)
        if guess != FALLBACK and _accented_text(b"".join(evidence), guess):
            log.warning("%s: encoding %s (detected by charset-normalizer: cp1252 lacks some of its bytes); "
                        "give --encoding if that is wrong", path, guess)
            return guess, "strict"
        hint = f" (it reads as {guess}: give --encoding {guess} if that is right)" if guess != FALLBACK else ""
        raise PipelineError(f"{problem}{hint}; re-export the file as UTF-8 or give its encoding with --encoding")
    # Said even for cp1252, the usual case: a latin-1 or Mac export read as it would go unnoticed otherwise.
    how = ("detected by charset-normalizer over its non-ASCII lines" if encoding != FALLBACK else
           "not UTF-8: read as Windows' 8-bit encoding, Excel's; give --encoding if that is wrong")
    log.info("%s: encoding %s (%s)", path, encoding, how)
    return encoding, "strict"


def _eight_bit(sample: bytes, exclude: str | None = None) -> str:
    """cp1252 unless charset-normalizer finds another 8-bit French encoding reads `sample` with less chaos."""
    from charset_normalizer import from_bytes

    candidates = [e for e in EIGHT_BIT if e != exclude]
    if not sample:
        return FALLBACK
    if "cp850" in candidates and _dos_accents(sample):
        return "cp850"
    try:
        sample.decode(FALLBACK)
    except UnicodeDecodeError:
        if exclude != FALLBACK:
            return FALLBACK  # the caller names the undecodable line, and asks for a guess excluding cp1252
    scores = {m.encoding: m.chaos for m in from_bytes(sample, cp_isolation=candidates)}
    if not scores:
        return FALLBACK
    best = min(scores, key=lambda e: (scores[e], e != FALLBACK))
    # cp1252 stays unless charset-normalizer rejected it or found it worse.
    return best if scores.get(FALLBACK, float("inf")) > scores[best] else FALLBACK


# cp850's French accents (é â à ç ê ë è ï î ô û ù) are bytes cp1252 reads as punctuation (‚ ƒ … ‡ ˆ ‰ Š ‹ Œ “ – —).
DOS_ACCENTS = bytes([0x82, 0x83, 0x85, 0x87, 0x88, 0x89, 0x8A, 0x8B, 0x8C, 0x93, 0x96, 0x97])
# Inside a word, only those no cp1252 French text puts there: Œ ("CŒUR") and the dashes left out.
_DOS_IN_A_WORD = re.compile(rb"[A-Za-z][\x82\x83\x85\x87\x88\x89\x8a\x8b\x93][A-Za-z]")


def _dos_accents(sample: bytes) -> bool:
    """Whether `sample` reads as French in cp850 and not in cp1252: its only 8-bit bytes are cp850's accents,
    one of them inside a word ("R\\x82novation": cp1252 would read "R‚novation"). On a line or two
    charset-normalizer cannot tell; a cp1252 text holds é, è, à (above 0xBF) or ’ (0x92), which this excludes."""
    high = {b for b in sample if b >= 0x80}
    return bool(high) and high <= set(DOS_ACCENTS) and bool(_DOS_IN_A_WORD.search(sample))


# Non-ASCII characters a French text holds besides letters: its apostrophe, quotes, dashes, ellipsis, degree,
# no-break space, euro.
FRENCH_MARKS = set("’‘«»“”–—…°\xa0€")


def _accented_text(sample: bytes, encoding: str) -> bool:
    """Enough non-ASCII characters, nearly all letters or French punctuation, to trust a guess over a stray byte."""
    chars = [c for c in sample.decode(encoding, "replace") if ord(c) > 127]
    return len(chars) >= 3 and sum(c.isalpha() or c in FRENCH_MARKS for c in chars) >= 0.9 * len(chars)
