"""Vietnamese-aware text normalisation and tokenisation for the chat layer.

Users type Vietnamese with full diacritics, without them ("du doan gia vnm"), or with a mix, so
every matcher works on a *folded* form: lower-case, diacritics removed (``đ`` -> ``d``), punctuation
turned into spaces, whitespace collapsed. Tokens keep their original spelling and character offsets
so the resolver can apply case rules (``VNM`` vs ``vnm``) and answers can quote the user.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_D_MAP = str.maketrans({"đ": "d", "Đ": "D"})
_TOKEN_RE = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*", re.UNICODE)
_SPACE_RE = re.compile(r"\s+")
# Letters that only exist in Vietnamese among Latin-script languages the bot meets.
_VI_SPECIFIC = set("ăâđêôơưĂÂĐÊÔƠƯ")


def strip_diacritics(text: str) -> str:
    """Remove accents and tone marks: ``"Hòa Phát"`` -> ``"Hoa Phat"`` (``đ`` -> ``d``)."""
    decomposed = unicodedata.normalize("NFD", text.translate(_D_MAP))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", stripped)


def nfc(text: str) -> str:
    """Canonical composed form, so the same letter typed two ways compares equal."""
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """Matching key: lower-case, no diacritics, punctuation -> space, single spaces."""
    folded = strip_diacritics(nfc(text)).lower()
    folded = "".join(ch if ch.isalnum() or ch.isspace() else " " for ch in folded)
    return _SPACE_RE.sub(" ", folded).strip()


def clean(text: str) -> str:
    """Display form: NFC, trimmed, whitespace collapsed; case and diacritics kept."""
    return _SPACE_RE.sub(" ", nfc(text)).strip()


def has_diacritics(text: str) -> bool:
    """True when the text carries any accent, tone mark or ``đ`` (a strong Vietnamese signal)."""
    text = nfc(text)
    return any(ch in _VI_SPECIFIC for ch in text) or strip_diacritics(text) != text


def is_shouting(text: str) -> bool:
    """True when every cased letter is upper-case (and there are several words)."""
    letters = [ch for ch in text if ch.isalpha()]
    words = [w for w in _TOKEN_RE.findall(text) if any(ch.isalpha() for ch in w)]
    return len(words) >= 3 and all(ch.isupper() for ch in letters if ch.lower() != ch.upper())


@dataclass(frozen=True)
class Token:
    """One word of the user's text: original spelling, folded key and position."""

    text: str
    key: str
    start: int
    end: int

    @property
    def is_upper(self) -> bool:
        return self.text.isupper()

    @property
    def is_number(self) -> bool:
        return self.key.replace(".", "").replace(",", "").isdigit()


def tokenize(text: str) -> list[Token]:
    """Split into word tokens (letters/digits; ``68,5`` stays one token) with folded keys."""
    text = nfc(text)
    tokens = []
    for match in _TOKEN_RE.finditer(text):
        raw = match.group(0)
        key = strip_diacritics(raw).lower().replace("’", "'")
        tokens.append(Token(raw, key, match.start(), match.end()))
    return tokens


def fold_tokens(text: str) -> list[str]:
    """Folded keys of the tokens, splitting apostrophes (``what's`` -> ``what``, ``s``)."""
    return fold(text).split()


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~>])")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_markdown(text: str | None) -> str:
    """Untrusted text (file names, cell values, user input) made inert for a Markdown answer.

    HTML is entity-escaped (no ``<img onerror=...>``), Markdown control characters are
    backslash-escaped (no links or formatting), and a value that a spreadsheet would run as a
    formula (``=CMD|...``) is prefixed with an apostrophe, as OWASP advises for CSV injection.
    """
    if not text:
        return ""
    value = str(text).replace("\x00", "")
    if value.startswith(_FORMULA_START):
        value = "'" + value
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", value)
