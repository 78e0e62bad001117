"""Deterministic intent parser for the Stock Vision chatbot (Vietnamese and English, no network).

How a message is understood, in order:

1. The resolver finds symbols, a sector group and mistyped tickers (``symbols.py``).
2. Tokens are folded (no case, no diacritics); tokens that are not known words are snapped to the
   closest cue word when the slip is small (similarity >= 0.8, or a swap of two letters in a 4-letter
   word: "predcit" -> "predict", "dona" -> "doan").
3. Cue phrases per intent are looked up. A cue written with diacritics ("đỏ", "vàng", "múc") is
   *strict*: when the message itself has diacritics it must match them exactly, so "độ chính xác"
   is not the colour "đỏ"; in a message typed without diacritics the folded form matches.
4. A fixed precedence decides between intents (see ``_decide``): topics outside the stock market
   first (only when no stock is named), then requests for a buy/sell decision (``advice``), then
   why-questions, model quality, comparisons, charts, rankings, and finally a plain prediction when
   a stock is named. Follow-ups without a stock reuse the conversation's last symbols.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from stockvision.chat.symbols import COMMON_WORDS, SymbolResolver, word_list
from stockvision.chat.text import clean, fold, has_diacritics, nfc, strip_diacritics, tokenize

INTENTS = (
    "predict",
    "ranking",
    "explain",
    "compare",
    "chart",
    "model_quality",
    "help",
    "greeting",
    "advice",
    "out_of_scope",
    "market",
    "track_record",
    "portfolio",
    "holding",
    "memory_show",
    "memory_forget",
)

CUES: dict[str, tuple[str, ...]] = {
    "predict": (
        "du doan",
        "du bao",
        "dự đoán",
        "predict",
        "prediction",
        "predictions",
        "forecast",
        "forecasts",
        "gia muc tieu",
        "muc tieu",
        "price target",
        "target",
        "outlook",
        "trien vong",
        "thang sau",
        "thang toi",
        "tuan toi",
        "tuan sau",
        "sap toi",
        "next month",
        "next week",
        "bao nhieu",
        "the nao",
        "ra sao",
        "len hay xuong",
        "tang hay giam",
        "go up",
        "going up",
        "expected price",
        "kha quan",
        "co tang",
        "co len",
        "hoi phuc",
        "projection",
    ),
    "ranking": (
        "ma nao",
        "co phieu nao",
        "cp nao",
        "nhung ma",
        "nhung co phieu",
        "ma gi",
        "top",
        "xep hang",
        "bang xep hang",
        "which stocks",
        "which stock",
        "what stocks",
        "which shares",
        "which",
        "best",
        "worst",
        "gainers",
        "losers",
        "rank",
        "ranking",
        "manh nhat",
        "nhieu nhat",
        "tot nhat",
        "kem nhat",
        "danh sach",
        "the most",
    ),
    "market": (
        "thi truong",
        "toan thi truong",
        "ca thi truong",
        "vn index",
        "vnindex",
        "vn30",
        "vn 30",
        "hnx index",
        "hnxindex",
        "upcom index",
        "chi so",
        "market",
        "the market",
        "stock market",
        "index",
    ),
    "track_record": (
        "thang truoc",
        "tuan truoc",
        "lan truoc",
        "ky truoc",
        "hom qua",
        "hom truoc",
        "du bao truoc",
        "du bao cu",
        "dung khong",
        "dung chua",
        "co dung",
        "ket qua du bao",
        "last month",
        "last week",
        "last time",
        "previous forecast",
        "previous prediction",
        "past predictions",
        "past forecasts",
        "track record",
        "how did",
        "were you right",
        "was it right",
        "gio sao roi",
        "bay gio sao",
    ),
    "portfolio": (
        "danh muc cua minh",
        "danh muc cua toi",
        "danh muc cua em",
        "danh muc",
        "portfolio",
        "my holdings",
        "my stocks",
        "ca danh muc",
    ),
    "memory_show": (
        "nho gi",
        "ban nho",
        "biet gi ve minh",
        "biet gi ve toi",
        "what do you remember",
        "what do you know about me",
        "what you remember",
        "your memory",
    ),
    "memory_forget": (
        "quen het",
        "quen di",
        "quen tat ca",
        "xoa tri nho",
        "xoa het",
        "xoa du lieu cua minh",
        "forget everything",
        "forget me",
        "forget all",
        "delete my data",
        "delete my memory",
        "clear memory",
    ),
    "explain": (
        "tai sao",
        "vi sao",
        "sao lai",
        "why",
        "ly do",
        "nguyen nhan",
        "giai thich",
        "explain",
        "explanation",
        "yeu to",
        "anh huong",
        "driver",
        "drivers",
        "drives",
        "reason",
        "reasons",
        "dong luc",
        "dua vao dau",
        "based on what",
        "co so nao",
        "what makes",
    ),
    "compare": (
        "so sanh",
        "compare",
        "comparison",
        "vs",
        "versus",
        "doi chieu",
        "hay hon",
        "tot hon",
        "ngon hon",
        "hon",
        "better",
        "cai nao",
        "con nao",
        "khac gi",
        "difference",
        "so voi",
    ),
    "chart": (
        "bieu do",
        "do thi",
        "chart",
        "graph",
        "plot",
        "lich su gia",
        "price history",
        "history",
        "vẽ",
        "candlestick",
        "nen nhat",
        "đồ thị",
    ),
    "model_quality": (
        "mo hinh",
        "model",
        "models",
        "do chinh xac",
        "chinh xac",
        "accurate",
        "accuracy",
        "dang tin",
        "tin cay",
        "tin duoc",
        "trust",
        "reliable",
        "reliability",
        "sai so",
        "error",
        "errors",
        "backtest",
        "ty le dung",
        "doan dung",
        "hieu qua",
        "performance",
        "metrics",
        "doan bua",
        "random",
        "mae",
        "calibration",
        "hieu chinh",
        "walk forward",
    ),
    "help": (
        "giup",
        "help",
        "huong dan",
        "lam duoc gi",
        "lam gi",
        "hoi gi",
        "hoi nhung gi",
        "cach dung",
        "cach su dung",
        "su dung",
        "what can you do",
        "how do i use",
        "how to use",
        "menu",
        "commands",
        "command",
        "tinh nang",
        "features",
        "usage",
        "guide",
        "vi du",
        "example",
    ),
    "greeting": (
        "xin chao",
        "chao",
        "hello",
        "hi",
        "hey",
        "alo",
        "he lo",
        "helo",
        "good morning",
        "good afternoon",
        "good evening",
        "chao buoi sang",
        "yo",
        "howdy",
        "greetings",
    ),
    "advice": (
        "co nen",
        "nen mua",
        "nen ban",
        "nên bán",
        "nen",
        "should i",
        "should",
        "buy",
        "sell",
        "hold",
        "a buy",
        "good time",
        "bat day",
        "du dinh",
        "cat lo",
        "chot loi",
        "gong lo",
        "múc",
        "xa hang",
        "all in",
        "tu van",
        "khuyen nghi",
        "recommend",
        "recommendation",
        "invest in",
        "luot song",
        "giai ngan",
        "vao lenh",
        "nen vao",
        "worth buying",
    ),
    "out_of_scope": (
        "thoi tiet",
        "weather",
        "mua bao",
        "nhiet do",
        "chuyen cuoi",
        "ke chuyen",
        "joke",
        "jokes",
        "funny",
        "bai tho",
        "thơ",
        "poem",
        "poetry",
        "bai hat",
        "song",
        "nau",
        "nau an",
        "mon an",
        "an gi",
        "recipe",
        "cook",
        "cooking",
        "restaurant",
        "nha hang",
        "quan an",
        "bong da",
        "football",
        "soccer",
        "world cup",
        "vo dich",
        "match",
        "tran dau",
        "vàng",
        "gold",
        "ty gia",
        "đô la",
        "usd",
        "exchange rate",
        "bitcoin",
        "btc",
        "crypto",
        "ethereum",
        "tien ao",
        "coin",
        "xo so",
        "lottery",
        "nguoi yeu",
        "girlfriend",
        "boyfriend",
        "translate",
        "dich sang",
        "phim",
        "movie",
        "nhac",
        "music",
        "game",
        "who won",
        "tin tuc",
        "news",
        "chinh tri",
        "politics",
        "benh",
        "doctor",
        "suc khoe",
        "health",
        "homework",
        "bai tap",
        "lai suat tiet kiem",
        "xe may",
        "du lich",
        "travel",
        "hotel",
        "khach san",
    ),
}

DIRECTION_CUES: dict[str, tuple[str, ...]] = {
    "up": (
        "tang",
        "len",
        "xanh",
        "tím",
        "tim tran",
        "trần",
        "kich tran",
        "bullish",
        "rise",
        "rising",
        "gain",
        "gains",
        "gainers",
        "up",
        "increase",
        "increasing",
        "best",
        "tot nhat",
        "hoi phuc",
        "gom",
        "gom hang",
        "outperform",
        "climb",
    ),
    "down": (
        "giam",
        "xuong",
        "đỏ",
        "do lua",
        "nam san",
        "giam san",
        "ve san",
        "dinh san",
        "cham san",
        "sàn",
        "bearish",
        "fall",
        "falling",
        "drop",
        "decline",
        "declining",
        "down",
        "worst",
        "losers",
        "lose",
        "mat gia",
        "lao doc",
        "sập",
        "kem nhat",
        "underperform",
    ),
}

SLANG: dict[str, str] = {
    "f0": "new_investor",
    "luot song": "short_term",
    "bat day": "bottom_fishing",
    "du dinh": "buying_top",
    "ca map": "big_players",
    "tay to": "big_players",
    "tim tran": "limit_up",
    "kich tran": "limit_up",
    "nam san": "limit_down",
    "xanh": "green",
    "đỏ": "red",
    "múc": "buy_aggressively",
    "gong lo": "holding_loss",
    "cat lo": "stop_loss",
    "chot loi": "take_profit",
    "all in": "all_in",
    "xa hang": "dumping",
}

VERSION_CUES = ("phien ban", "version", "versions", "model version", "ban mo hinh")

FOLLOW_UP_CUES = (
    "con",
    "thi sao",
    "the con",
    "what about",
    "how about",
    "and",
    "con ma",
    "con nua",
    "vay con",
)

_VI_WORDS = frozenset(
    word_list(
        """
    khong ko k nao gi cua cho thang sau toi ma co phieu gia du doan bao tang giam nen mua duoc dc
    nhu minh oi nhe nha chao giup huong dan bieu sanh hay hon len xuong tuan hom nay roi chua dang
    nhung cac mot lam gio vay ne thi sao ra voi va la ban nam con cach nau pho bo ve xem thi ai
    tai vi ly yeu ngan hang chung khoan thep bat san nhieu nhat manh tot trong toi anh chi em duoi
    tren uy tin tien loi lo vao qua biet hoi tu van danh muc sai so mo hinh chinh xac tin cay tim
    tran xanh song luot dinh day kha quan trien vong thoi tiet cuoi tho vang ty xo so nguoi doi
    chieu lon ong cai ngon giai thich nguyen nhan buoi sang alo
    """
    )
)
_EN_WORDS = frozenset(
    word_list(
        """
    the what which how will price stock stocks predict prediction predictions next month is are
    should i buy sell hold why explain compare chart model accurate accuracy help can you me my of
    for to in and or show give please hello hi hey good morning weather tell joke who won top best
    worst rank forecast outlook target where be going up down does drivers drive drives reasons
    behind expected weeks week year years last history graph plot trust these reliable your
    forecasts use do this menu commands there time it a some invest restaurant translate french
    football match night bitcoin brokers real estate likely drop gainers five increase banks fall
    most over four versus better with retail like that performance metrics what's whats
    predicted recommend thanks thank bye goodbye okay about think
    """
    )
)
_NUM_WORDS = {
    "mot": 1,
    "hai": 2,
    "ba": 3,
    "bon": 4,
    "tu": 4,
    "nam": 5,
    "sau": 6,
    "bay": 7,
    "tam": 8,
    "chin": 9,
    "muoi": 10,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twenty": 20,
}
_RANK_NOUNS = ("ma", "co phieu", "cp", "stocks", "stock", "names", "shares", "mã")
_PERIOD_UNITS = {
    "tuan": 1.0,
    "week": 1.0,
    "weeks": 1.0,
    "w": 1.0,
    "thang": 52 / 12,
    "month": 52 / 12,
    "months": 52 / 12,
    "nam": 52.0,
    "year": 52.0,
    "years": 52.0,
    "y": 52.0,
    "quy": 13.0,
    "quarter": 13.0,
    "quarters": 13.0,
}


class ContextLike(Protocol):
    """What the parser reads from a conversation (``context.Conversation``)."""

    last_symbols: list[str]
    last_intent: str | None
    last_group: str | None
    last_direction: str | None
    last_top_n: int | None


@dataclass
class ParsedQuery:
    """The structured reading of one message."""

    text: str
    intent: str
    symbols: list[str] = field(default_factory=list)
    group: str | None = None
    group_symbols: list[str] = field(default_factory=list)
    top_n: int | None = None
    direction: str | None = None
    weeks: int | None = None
    language: str = "vi"
    did_you_mean: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # ticker-like tokens that match no symbol
    confidence: float = 0.0
    slang: list[str] = field(default_factory=list)
    follow_up: bool = False
    show_versions: bool = False
    foreign: list[str] = field(default_factory=list)  # foreign tickers: not listed in Vietnam
    fuzzy: list[tuple[str, str]] = field(default_factory=list)  # (typed name, symbol it meant)
    month: int | None = None  # a named calendar month ("tháng 3", "in March")
    far: str | None = None  # a horizon beyond the forecast's reach ("year_end", "next_year"...)
    index: str | None = None  # "VN-Index", "VN30", "HNX-Index" when the market is asked by name
    quantity: int | None = None  # shares in a holding statement ("cầm 1.000 HPG")
    cost: float | None = None  # cost price in VND ("giá vốn 28k")


# Folded slang that is also part of ordinary phrases: "múc" (buy hard) is not "danh mục" or "mục tiêu".
_NOT_SLANG: dict[str, tuple[str, ...]] = {"muc": ("danh muc", "muc tieu"), "do": ("do chinh xac",)}


@functools.lru_cache(maxsize=4096)
def _cue_forms(cue: str) -> tuple[str, str | None]:
    """A cue's padded folded form and, for a cue written with diacritics, its padded NFC form
    (cached: the cue tables are fixed, folding them per message was most of the parse time)."""
    return f" {fold(cue)} ", (None if cue.isascii() else f" {nfc(cue)} ")


class _Matcher:
    """Whole-word phrase lookup over the folded and the accented (lower-case) token streams."""

    def __init__(self, folded: list[str], accented: list[str], strict: bool, vi: bool) -> None:
        self._folded = " " + " ".join(folded) + " "
        self._accented = " " + " ".join(accented) + " "
        self._strict = strict
        self._vi = vi

    def has(self, cue: str) -> bool:
        key, accented = _cue_forms(cue)
        if accented is not None:
            if self._strict:
                return accented in self._accented
            if not self._vi:
                return False  # "đỏ" typed as "do" only in Vietnamese text, never English "do"
            folded = self._folded
            for phrase in _NOT_SLANG.get(key.strip(), ()):
                folded = folded.replace(f" {phrase} ", " § ")
            return key in folded
        return key in self._folded

    def count(self, cues: tuple[str, ...]) -> int:
        return sum(self.has(c) for c in cues)


def _vocabulary() -> frozenset[str]:
    words: set[str] = set()
    for table in (CUES, DIRECTION_CUES):
        for cues in table.values():
            for cue in cues:
                words.update(fold(cue).split())
    words.update(fold(s) for s in SLANG)
    return frozenset(w for w in words if len(w) >= 4)


_VOCAB = _vocabulary()
_MONTH_WORDS = frozenset(
    word_list(
        """january february march april may june july august september october november december
        jan feb mar apr jun jul aug sep sept oct nov dec gieng chap index vnindex vn30 hnx upcom"""
    )
)
_KNOWN = _VOCAB | _VI_WORDS | _EN_WORDS | COMMON_WORDS | _MONTH_WORDS


def correct_token(token: str) -> str:
    """Snap a slightly mistyped word onto a cue word; unknown words are returned unchanged."""
    if len(token) < 4 or token in _KNOWN or not token.isalpha():
        return token
    if len(token) == 4:
        for word in _VOCAB:
            if len(word) == 4 and sorted(word) == sorted(token):
                diffs = [a != b for a, b in zip(word, token, strict=True)]
                if sum(diffs) == 2:
                    return word
        return token
    match = difflib.get_close_matches(token, sorted(_VOCAB), n=1, cutoff=0.8)
    return match[0] if match else token


def detect_language(text: str) -> str:
    """ "vi" for diacritics or Vietnamese function words, "en" for English words; default "vi"."""
    if has_diacritics(text):
        return "vi"
    words = [correct_token(w) for w in fold(text).split()]
    vi = sum(w in _VI_WORDS for w in words)
    en = sum(w in _EN_WORDS for w in words)
    # "the nao" / "the con" are Vietnamese ("thế nào"), not the English article.
    for a, b in itertools.pairwise(words):
        if a == "the" and b in {"nao", "con", "thi"}:
            vi += 1
            en -= 1
    return "en" if en > vi else "vi"


def _find_top_n(folded: list[str]) -> int | None:
    text = " ".join(folded)
    m = re.search(r"\btop (\d{1,2})\b", text)
    if m:
        return int(m.group(1))
    nums = "|".join(_NUM_WORDS)
    m = re.search(rf"\btop ({nums})\b", text)
    if m:
        return _NUM_WORDS[m.group(1)]
    nouns = "|".join(fold(n).replace(" ", r"\s") for n in _RANK_NOUNS)
    m = re.search(rf"\b(\d{{1,2}}|{nums}) (?:{nouns})\b", text)
    if m:
        value = m.group(1)
        return int(value) if value.isdigit() else _NUM_WORDS[value]
    return None


def _find_weeks(folded: list[str]) -> int | None:
    text = " ".join(folded)
    if re.search(r"\b(nua nam|half a year|half year)\b", text):
        return 26
    nums = "|".join(_NUM_WORDS)
    units = "|".join(_PERIOD_UNITS)
    m = re.search(rf"\b(\d{{1,3}}|{nums}|a) ({units})\b", text)
    if m:
        raw = m.group(1)
        n = 1 if raw == "a" else int(raw) if raw.isdigit() else _NUM_WORDS[raw]
        return max(1, round(n * _PERIOD_UNITS[m.group(2)]))
    if re.search(r"\b(quy|quarter)\b", text):
        return 13
    return None


_EN_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        )
    )
}
_EN_MONTHS.update({k[:3]: v for k, v in list(_EN_MONTHS.items()) if k != "may"})
_VI_MONTH_WORDS = {"gieng": 1, "gieng nam": 1, "chap": 12, "muoi mot": 11, "muoi hai": 12}


def _find_month(folded: list[str], accented: list[str]) -> int | None:
    """A named calendar month: "tháng 3", "thang 12", "tháng sáu", "in March", "by Dec"."""
    text = " ".join(folded)
    m = re.search(r"\bthang (1[0-2]|0?[1-9])\b(?! (?:tuan|thang|nam|ngay))", text)
    if m:
        return int(m.group(1))
    for word, month in _VI_MONTH_WORDS.items():
        if re.search(rf"\bthang {word}\b", text):
            return month
    if re.search(r"\btháng sáu\b", " ".join(accented)):
        return 6
    m = re.search(r"\bt(1[0-2]|[1-9])\b", text)  # "T3" as traders write it
    if m and re.search(r"\b(gia|du bao|du doan|price|muc tieu)\b", text):
        return int(m.group(1))
    for i, word in enumerate(folded):
        month = _EN_MONTHS.get(word)
        if month and word == "may":
            before = folded[i - 1] if i else ""
            if before not in {"in", "by", "until", "of", "for", "through"}:
                continue
        if month:
            return month
    return None


_FAR_CUES = {
    "year_end": ("cuoi nam", "end of the year", "end of year", "year end", "year-end", "tet"),
    "next_year": ("nam sau", "nam toi", "next year", "sang nam"),
    "long_term": ("dai han", "long term", "long-term", "vai nam", "nhieu nam"),
}


def _find_far(folded: list[str]) -> str | None:
    text = f" {' '.join(folded)} "
    for tag, cues in _FAR_CUES.items():
        if any(f" {c} " in text for c in cues):
            return tag
    return None


def _find_index(folded: list[str]) -> str | None:
    text = f" {' '.join(folded)} "
    if " vn30 " in text or " vn 30 " in text:
        return "VN30"
    if " hnx index " in text or " hnxindex " in text:
        return "HNX-Index"
    if " vn index " in text or " vnindex " in text:
        return "VN-Index"
    return None


_HOLD_VERBS = (
    "dang cam",
    "cam",
    "co",
    "dang co",
    "mua",
    "da mua",
    "nam giu",
    "dang giu",
    "giu",
    "hold",
    "own",
    "bought",
    "have",
    "i hold",
)


def _find_holding(text: str) -> tuple[int | None, float | None]:
    """Shares and cost price of a holding statement ("cầm 1.000 HPG giá vốn 28k")."""
    key = strip_diacritics(text).lower().replace("đ", "d")
    qty = None
    m = re.search(
        r"\b(\d{1,3}(?:[.,]\d{3})+|\d+(?:[.,]\d+)?)\s*(k|nghin|ngan|tr|trieu)?\s*"
        r"(?:cp|co phieu|cổ phiếu|shares?|ma|mã)?\s*[a-z]{3}\b",
        key,
    )
    if m:
        raw, unit = m.group(1), m.group(2)
        grouped = re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", raw)
        number = (
            float(raw.replace(".", "").replace(",", ""))
            if grouped
            else float(raw.replace(",", "."))
        )
        scale = {"k": 1e3, "nghin": 1e3, "ngan": 1e3, "tr": 1e6, "trieu": 1e6}.get(unit or "", 1.0)
        qty = round(number * scale)
    cost = None
    m = re.search(
        r"\b(?:gia von|von|gia mua|at|cost|average|avg|gia)\s*(?:la\s*)?"
        r"(\d+(?:[.,]\d+)?)\s*(k|nghin|ngan|d|dong|vnd)?\b",
        key,
    )
    if m:
        value = float(m.group(1).replace(",", "."))
        unit = m.group(2) or ""
        cost = value * 1000 if unit in {"k", "nghin", "ngan"} or value < 1000 else value
    return qty, cost


def _find_direction(match: _Matcher) -> str | None:
    up = match.count(DIRECTION_CUES["up"])
    down = match.count(DIRECTION_CUES["down"])
    if up and not down:
        return "up"
    if down and not up:
        return "down"
    return None


class IntentParser:
    """Parse a chat message into a ``ParsedQuery`` using the resolver and rule tables above."""

    def __init__(self, resolver: SymbolResolver) -> None:
        self.resolver = resolver
        resolver.vocabulary = _KNOWN  # ordinary words are never misspelt company names

    def parse(self, text: str, context: ContextLike | Any | None = None) -> ParsedQuery:
        display = clean(text or "")
        tokens = tokenize(display)
        res = self.resolver.resolve(display)
        # Words inside a company name ("Đất Xanh", "Thế Giới Di Động") are not cues: mask them.
        spans = [(m.start, m.end) for m in res.mentions]
        masked = [any(a <= t.start < b for a, b in spans) for t in tokens]
        folded = ["§" if m else correct_token(t.key) for t, m in zip(tokens, masked, strict=True)]
        accented = ["§" if m else t.text.lower() for t, m in zip(tokens, masked, strict=True)]
        language = detect_language(display)
        match = _Matcher(folded, accented, has_diacritics(display), language == "vi")
        q = ParsedQuery(
            text=display,
            intent="help",
            symbols=list(res.symbols),
            group=res.group,
            group_symbols=list(res.group_symbols),
            top_n=_find_top_n(folded),
            direction=_find_direction(match),
            weeks=_find_weeks(folded),
            language=language,
            did_you_mean=list(res.did_you_mean),
            unknown=list(res.unknown),
            slang=[tag for phrase, tag in SLANG.items() if match.has(phrase)],
            show_versions=any(match.has(c) for c in VERSION_CUES),
            foreign=list(res.foreign),
            fuzzy=list(res.fuzzy),
            month=_find_month(folded, accented),
            far=_find_far(folded),
            index=_find_index(folded),
        )
        if not tokens:
            q.intent, q.confidence = "help", 1.0
            return q
        scores = {intent: match.count(cues) for intent, cues in CUES.items()}
        self._advice_from_slang(q, scores)
        q.intent, q.confidence = self._decide(q, scores, folded, context)
        self._apply_context(q, scores, match, context)
        return q

    @staticmethod
    def _advice_from_slang(q: ParsedQuery, scores: dict[str, int]) -> None:
        # Trading-action slang (bắt đáy, múc, chốt lời...) asks for a decision: that is advice.
        actions = {"bottom_fishing", "buying_top", "buy_aggressively", "holding_loss", "stop_loss"}
        actions |= {"take_profit", "all_in", "short_term"}
        if actions & set(q.slang):
            scores["advice"] += 1

    def _decide(
        self, q: ParsedQuery, s: dict[str, int], folded: list[str], context: Any
    ) -> tuple[str, float]:
        has_sym = bool(q.symbols)
        ctx_syms = list(getattr(context, "last_symbols", None) or [])
        n_syms = len(q.symbols)
        # "sao" opens a why-question ("sao TCB lại giảm?") but not "thế sao"/"ra sao"/"thì sao".
        if folded and folded[0] == "sao" and len(folded) > 1:
            s["explain"] += 1
        if s["memory_forget"]:
            return "memory_forget", 0.9
        if s["memory_show"]:
            return "memory_show", 0.9
        text = f" {' '.join(folded)} "
        asks = any(f" {w} " in text for w in ("nen", "co nen", "should", "why", "tai sao"))
        if has_sym and not s["explain"] and not asks:
            held = any(f" {v} " in text for v in _HOLD_VERBS)
            qty, cost = _find_holding(q.text)
            if held and qty and qty >= 10 and n_syms == 1:
                q.quantity, q.cost = qty, cost
                return "holding", 0.85
        if s["portfolio"] and not has_sym and not s["advice"]:
            return "portfolio", 0.85
        if s["out_of_scope"] and not has_sym and not q.group and not q.did_you_mean:
            return "out_of_scope", 0.9
        if s["advice"]:
            return "advice", 0.85
        if s["track_record"] and (has_sym or ctx_syms) and not s["chart"]:
            return "track_record", 0.8
        if (
            (s["market"] or q.index)
            and not has_sym
            and not q.group
            and not s["ranking"]
            and not q.top_n
        ):
            return "market", 0.85
        if s["explain"] and (has_sym or ctx_syms or not s["ranking"]):
            return "explain", 0.9 if has_sym else 0.7
        if s["model_quality"] and not (has_sym and q.show_versions):
            return "model_quality", 0.9
        if s["compare"] and (n_syms >= 2 or (n_syms == 1 and (ctx_syms or q.foreign))):
            return "compare", 0.9
        if s["chart"]:
            return "chart", 0.9 if has_sym else 0.7
        if not has_sym and (s["ranking"] or q.group or q.top_n or s["market"]):
            return "ranking", 0.85 if s["ranking"] else 0.7
        if has_sym:
            return "predict", 0.9 if s["predict"] else 0.75
        if q.did_you_mean or q.foreign:
            return "predict", 0.6
        if s["predict"] and not s["greeting"] and not s["help"]:
            return "predict", 0.6 if ctx_syms else 0.5
        if s["help"]:
            return "help", 0.85
        if s["greeting"]:
            return "greeting", 0.9
        follow = any(f" {c} " in f" {' '.join(folded)} " for c in FOLLOW_UP_CUES)
        if follow and q.direction and getattr(context, "last_intent", None) == "ranking":
            return "ranking", 0.6  # "còn giảm thì sao?" after a ranking: the other direction
        if ctx_syms and follow:
            return "predict", 0.5
        return "out_of_scope", 0.3

    @staticmethod
    def _apply_context(q: ParsedQuery, s: dict[str, int], match: _Matcher, context: Any) -> None:
        if context is None:
            return
        last_syms = list(getattr(context, "last_symbols", None) or [])
        last_intent = getattr(context, "last_intent", None)
        follow = any(match.has(c) for c in FOLLOW_UP_CUES)
        needs_symbol = q.intent in {"predict", "explain", "chart", "advice", "track_record"}
        if q.intent == "compare" and len(q.symbols) == 1 and last_syms:
            q.symbols = [s for s in last_syms if s not in q.symbols][:3] + q.symbols
            q.follow_up = True
        elif (
            needs_symbol
            and not q.symbols
            and not q.group
            and not q.did_you_mean
            and not q.unknown  # "dự đoán XYZ": say XYZ is unknown, never answer for the last symbol
            and not q.foreign
            and last_syms
        ):
            q.symbols = last_syms if q.intent != "chart" else last_syms[:1]
            q.follow_up = True
        elif (
            q.symbols
            and follow
            and q.intent == "predict"
            and last_intent in {"explain", "chart", "advice"}
            and not s["predict"]
        ):
            q.intent, q.follow_up = last_intent, True
        if q.intent == "ranking" and last_intent == "ranking" and (follow or not s["ranking"]):
            q.follow_up = True
            q.direction = q.direction or getattr(context, "last_direction", None)
            q.top_n = q.top_n or getattr(context, "last_top_n", None)
            if q.group is None and not follow:
                q.group = getattr(context, "last_group", None)
        if q.follow_up:
            q.confidence = min(q.confidence, 0.8)
