"""Find stock symbols, company names and sector groups in a chat message.

The resolver takes the listing table as a constructor argument (normally
``stockvision.market.listings.LISTINGS``; tests pass a small table) and never touches the network.

Ticker rule (what counts as a ticker, and why):

1. Only tokens of exactly 3 letters/digits are ticker candidates: every HoSE/HNX/UPCoM common stock
   has a 3-character code; warrants/ETFs are out of scope for the chatbot.
2. A known ticker whose folded spelling is *not* an ordinary word (``vnm``, ``hpg``, ``fpt``) is
   accepted in any case: ``vnm``, ``Vnm``, ``VNM``.
3. A known ticker that is also an ordinary Vietnamese/English word (``COMMON_WORDS``: "gas", "can",
   "bid", "top", "mua", ...) is accepted only when typed in upper case inside a message that is not
   written entirely in capitals ("giá GAS" yes, "giá gas", "CAN YOU ..." no).
4. A ticker right after an amount or a money word ("50 nghìn VND") is a currency, not a ticker.
5. An unknown 3-character token is a *mistyped ticker* (-> ``did_you_mean``) when it is typed in upper
   case in a normal-case message, or has no vowel at all (no Vietnamese syllable lacks a vowel:
   "vnn", "ftp"), and is not a common word. Suggestions rank known tickers by a keyboard-aware edit
   distance (adjacent-key slips and swapped letters cost less), ties broken by table order.
6. Short aliases that are not tickers ("HSC" -> HCM, "MB" -> MBB) follow rule 3 for 2-letter
   ones (upper case only) and rule 2 for 3-letter ones.

Company names and aliases ("Vinamilk", "Hòa Phát", "hoa phat", "Vietcombank") match on folded text
(no case, no diacritics), longest phrase first, so "Vincom Retail" beats the group word "retail".
Group words ("ngân hàng", "banks", "bất động sản", "thép") select a sector of the table; "chứng khoán"
after "thị trường"/"sàn" means the stock market, not the securities sector.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from stockvision.chat.text import fold, is_shouting, tokenize


def word_list(text: str) -> list[str]:
    """Whitespace-separated word list (keeps long vocabularies readable)."""
    return text.split()


# Ordinary words (folded) that must not be read as tickers unless typed as one (rule 3/5).
COMMON_WORDS: frozenset[str] = frozenset(
    word_list(
        """
    a ai an anh ba ban bao bay bi bo bon cai can cap cho chi chu co con cua cu da dai dam dan dau
    day den di do du duoc dc dung em gan gi gia gio giu hai hay het hoa hoi hom hon khi ko kg la lai
    len lo luc ma mai may moi mot mua muoi nam nao nay nen nha nhe nhi no noi oi on qua ra roi sai
    san sao sau so ta tai tam tan the thi tim toi tot tra tren tu tui va vao ve vi voi vua xa xem
    yeu ntn nhu thu cung nhung hang tang giam xanh bat all any are ask bad big bid buy can day did
    dig for get got how its let low max min new not now off old one out own per pet put run sam see
    sell set six the too top two use war was way who why win yes yet you and but art bot usd eur
    jpy cny gdp cpi eps roe roa ttm ytd api faq pls plz thx btw lol omg ceo cfo etf ipo vip ten tip
    bds chart plot rank best hold gas oil pan tra fox csv bmi hah mic sgn
    """
    )
)
_MONEY_WORDS = frozenset({"nghin", "ngan", "trieu", "ty", "ti", "dong", "k", "tr"})
_VOWELS = frozenset("aeiouy")

# Group phrases (folded). Keys must match the listing table's group keys; unknown keys are ignored.
GROUP_PHRASES: dict[str, tuple[str, ...]] = {
    "banking": ("ngan hang", "nh", "bank", "banks", "banking", "bank stocks", "lenders"),
    "securities": (
        "chung khoan",
        "cong ty chung khoan",
        "ctck",
        "securities",
        "broker",
        "brokers",
        "brokerage",
        "brokerages",
    ),
    "real_estate": (
        "bat dong san",
        "bds",
        "dia oc",
        "nha dat",
        "real estate",
        "property",
        "properties",
        "developers",
    ),
    "steel": ("thep", "ton thep", "steel", "steelmakers"),
    "oil_gas": ("dau khi", "xang dau", "oil gas", "oil and gas", "oil", "petroleum", "energy"),
    "retail": ("ban le", "retail", "retailers"),
    "technology": ("cong nghe", "tech", "technology", "it", "software"),
    "insurance": ("bao hiem", "insurance", "insurers"),
    "utilities": ("dien", "nganh dien", "nang luong", "utilities", "power", "electricity"),
    "aviation": ("hang khong", "airline", "airlines", "aviation"),
    "food_beverage": ("thuc pham", "do uong", "food", "beverage", "beverages", "consumer staples"),
    "chemicals": ("hoa chat", "phan bon", "chemicals", "fertilizer", "fertilizers"),
    "construction": ("xay dung", "vat lieu xay dung", "construction", "building materials"),
    "industrial_parks": ("khu cong nghiep", "kcn", "industrial parks", "industrial park"),
    "seafood": ("thuy san", "seafood", "fishery"),
    "logistics": ("cang bien", "van tai", "logistics", "shipping", "ports"),
    "agriculture": ("nong nghiep", "agriculture", "farming"),
    "pharma": ("duoc", "duoc pham", "nganh duoc", "y te", "pharma", "pharmaceutical", "healthcare"),
    "industrial": ("cong nghiep", "industrial", "industrials"),
    "rubber": ("cao su", "rubber"),
    "textiles": ("det may", "textile", "textiles", "garment"),
}
# Words that, right before a group phrase, change its meaning ("thị trường chứng khoán").
_GROUP_NEGATIVE_PREFIX: dict[str, frozenset[str]] = {
    "chung khoan": frozenset({"truong", "san", "tai khoan"}),
}
# Single-token group phrases that are too ambiguous to stand alone must be followed/preceded by
# a sector marker; "nh" (ngân hàng) and "it" are only groups next to "nhom"/"nganh"/"co phieu".
_NEEDS_MARKER = frozenset(
    {"nh", "it", "dien", "power", "energy", "oil", "property", "food", "duoc", "y te"}
)
_GROUP_MARKERS = frozenset({"nhom", "nganh", "co", "phieu", "ma", "stocks", "stock", "sector"})

# Legal-form prefixes stripped from company names to derive the short name people say.
_NAME_PREFIXES = (
    "ngan hang thuong mai co phan",
    "ngan hang tmcp",
    "tong cong ty co phan",
    "tong cong ty",
    "cong ty co phan",
    "cong ty tnhh",
    "cong ty",
    "ctcp",
    "tap doan",
    "ngan hang",
    "co phan",
    "joint stock company",
    "corporation",
)
_NAME_SUFFIXES = (
    "jsc",
    "corporation",
    "corp",
    "group",
    "joint stock company",
    "cong ty co phan",
    "ctcp",
    "cong ty cp",
)

# Well-known foreign stocks people ask about: ticker -> (company, exchange). Not an exhaustive
# registry; it lets the chat say "not listed in Vietnam" instead of "unknown ticker".
FOREIGN_STOCKS: dict[str, tuple[str, str]] = {
    "AAPL": ("Apple", "NASDAQ"),
    "MSFT": ("Microsoft", "NASDAQ"),
    "GOOGL": ("Alphabet (Google)", "NASDAQ"),
    "GOOG": ("Alphabet (Google)", "NASDAQ"),
    "AMZN": ("Amazon", "NASDAQ"),
    "TSLA": ("Tesla", "NASDAQ"),
    "NVDA": ("Nvidia", "NASDAQ"),
    "META": ("Meta (Facebook)", "NASDAQ"),
    "NFLX": ("Netflix", "NASDAQ"),
    "INTC": ("Intel", "NASDAQ"),
    "BABA": ("Alibaba", "NYSE"),
    "TSM": ("TSMC", "NYSE"),
    "JPM": ("JPMorgan Chase", "NYSE"),
    "COIN": ("Coinbase", "NASDAQ"),
    "PLTR": ("Palantir", "NASDAQ"),
}
FOREIGN_NAMES: dict[str, str] = {
    "apple": "AAPL",
    "microsoft": "MSFT",
    "google": "GOOGL",
    "alphabet": "GOOGL",
    "amazon": "AMZN",
    "tesla": "TSLA",
    "nvidia": "NVDA",
    "facebook": "META",
    "netflix": "NFLX",
    "intel": "INTC",
    "alibaba": "BABA",
    "tsmc": "TSM",
    "jpmorgan": "JPM",
    "palantir": "PLTR",
}

# Keyboard rows for the typo-aware distance used by ``did_you_mean``.
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_POS = {ch: (r, c) for r, row in enumerate(_ROWS) for c, ch in enumerate(row)}


class ListingLike(Protocol):
    """What the resolver needs from one listing (``stockvision.market.listings.Listing``)."""

    symbol: str
    exchange: str


@dataclass(frozen=True)
class Mention:
    """One thing found in the text: a symbol or a group, with where it was found."""

    kind: str  # "symbol" | "group"
    value: str
    start: int
    end: int
    via: str  # "ticker" | "name" | "group"


@dataclass
class Resolution:
    """Everything the resolver found in one message."""

    symbols: list[str] = field(default_factory=list)
    group: str | None = None
    group_symbols: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    did_you_mean: list[str] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)  # foreign tickers (FOREIGN_STOCKS keys)
    fuzzy: list[tuple[str, str]] = field(default_factory=list)  # (what was typed, symbol)


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    for name in names:
        value = getattr(obj, name, None)
        if value is None and isinstance(obj, Mapping):
            value = obj.get(name)
        if value is not None:
            return value
    return default


def short_name(name: str) -> str:
    """Folded company name without legal-form words: "CTCP Sữa Việt Nam" -> "sua viet nam"."""
    key = fold(name)
    changed = True
    while changed:
        changed = False
        for prefix in _NAME_PREFIXES:
            if key.startswith(prefix + " "):
                key, changed = key[len(prefix) + 1 :], True
        for suffix in _NAME_SUFFIXES:
            if key.endswith(" " + suffix):
                key, changed = key[: -len(suffix) - 1], True
    return key.strip()


def _sub_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    pa, pb = _POS.get(a), _POS.get(b)
    if pa and pb and abs(pa[0] - pb[0]) <= 1 and abs(pa[1] - pb[1]) <= 1:
        return 0.5
    return 1.0


def typo_distance(a: str, b: str) -> float:
    """Damerau-Levenshtein distance where adjacent-key slips and swapped letters cost 0.5."""
    a, b = a.lower(), b.lower()
    d = [[0.0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = float(i)
    for j in range(len(b) + 1):
        d[0][j] = float(j)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(
                d[i - 1][j] + 1.0,
                d[i][j - 1] + 1.0,
                d[i - 1][j - 1] + _sub_cost(a[i - 1], b[j - 1]),
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 0.5)
    return d[len(a)][len(b)]


class SymbolResolver:
    """Resolve tickers, company names/aliases and sector groups in free text.

    ``listings`` maps symbol -> listing object with ``symbol``, ``exchange``, a company name
    (``company_name`` or ``name``), optional ``aliases`` and a group key (``group`` or ``sector``).
    """

    max_suggestions = 3

    def __init__(self, listings: Mapping[str, Any]) -> None:
        if not listings:
            raise ValueError("SymbolResolver needs a non-empty listing table (symbol -> Listing).")
        self.listings = listings
        self._order = {sym.upper(): i for i, sym in enumerate(listings)}
        self._groups: dict[str, list[str]] = {}
        self._group_labels: dict[str, str] = {}
        self._phrases: dict[tuple[str, ...], tuple[str, str]] = {}
        self._short_aliases: dict[str, str] = {}
        for sym, listing in listings.items():
            sym = sym.upper()
            group = _get(listing, "group", "sector")
            if group:
                self._groups.setdefault(group, []).append(sym)
                label = _get(listing, "group_label", "group_vi", "sector_vi")
                if label:
                    self._group_labels.setdefault(group, label)
            names = [
                _get(listing, "company_name", "name", default=""),
                _get(listing, "english_name", default=""),
            ]
            for alias in _get(listing, "aliases", default=()) or ():
                key = fold(alias)
                if len(key) <= 3 and key.isalnum() and key.upper() not in listings:
                    self._short_aliases.setdefault(key, sym)  # "HSC", "MB": ticker-like alias
                else:
                    names.append(alias)
            for name in names:
                for key in {fold(name), short_name(name)}:
                    self._add_phrase(key, ("symbol", sym))
        for group, phrases in GROUP_PHRASES.items():
            if group not in self._groups:
                continue
            for phrase in phrases:
                self._phrases.setdefault(tuple(phrase.split()), ("group", group))
        for group, label in self._group_labels.items():
            self._phrases.setdefault(tuple(fold(label).split()), ("group", group))
        self._max_len = max((len(k) for k in self._phrases), default=1)
        # company-name phrases by (word count, first letter), for one-slip matching of names
        self._fuzzy: dict[tuple[int, str], list[tuple[str, str]]] = {}
        for words, (kind, value) in self._phrases.items():
            joined = " ".join(words)
            if kind == "symbol" and len(joined) >= 6 and len(words) <= 3:
                self._fuzzy.setdefault((len(words), joined[0]), []).append((joined, value))
        #: words that are never a misspelt company name (the parser adds its vocabulary)
        self.vocabulary: frozenset[str] = frozenset()

    def _add_phrase(self, key: str, target: tuple[str, str]) -> None:
        words = tuple(key.split())
        if not words:
            return
        # A one-word name is only safe when it is not an ordinary word ("Hoa", "Nam").
        if len(words) == 1 and (len(words[0]) < 4 or words[0] in COMMON_WORDS):
            return
        existing = self._phrases.get(words)
        if existing and existing != target:
            return  # ambiguous alias: first listing wins, keep it deterministic
        self._phrases[words] = target

    # ------------------------------------------------------------------ queries
    @property
    def groups(self) -> dict[str, list[str]]:
        """Group key -> member symbols, in table order."""
        return {k: list(v) for k, v in self._groups.items()}

    def group_label(self, group: str, language: str = "vi") -> str:
        """Human label of a group ("ngân hàng" / "banking")."""
        if language == "vi" and group in self._group_labels:
            return self._group_labels[group]
        return group.replace("_", " ")

    def is_symbol(self, symbol: str) -> bool:
        return symbol.upper() in self._order

    def listing(self, symbol: str) -> Any:
        return self.listings[symbol.upper()]

    def did_you_mean(self, token: str, n: int | None = None) -> list[str]:
        """Known tickers closest to a mistyped one ("VNN" -> ["VNM", ...]), best first."""
        n = n or self.max_suggestions
        token = token.upper()
        scored = []
        for sym in self._order:
            cost = typo_distance(token, sym)
            if 0 < cost <= 1.0:
                scored.append((cost, self._order[sym], sym))
        scored.sort()
        if not scored:
            return []
        best = scored[0][0]
        return [sym for cost, _, sym in scored if cost <= best][:n]

    def resolve(self, text: str) -> Resolution:
        """Find symbols (in order of appearance, deduplicated), a group and typo suggestions."""
        tokens = tokenize(text)
        keys = [t.key for t in tokens]
        shouting = is_shouting(text)
        result = Resolution()
        i = 0
        while i < len(tokens):
            match = self._match_phrase(keys, i)
            if match:
                n, (kind, value) = match
                start, end = tokens[i].start, tokens[i + n - 1].end
                result.mentions.append(
                    Mention(kind, value, start, end, "name" if kind == "symbol" else "group")
                )
                i += n
                continue
            tok = tokens[i]
            foreign = FOREIGN_NAMES.get(tok.key) or (
                tok.key.upper() if tok.is_upper and tok.key.upper() in FOREIGN_STOCKS else None
            )
            if foreign and tok.key.upper() not in self._order:
                if foreign not in result.foreign:
                    result.foreign.append(foreign)
                i += 1
                continue
            fuzzy = self._fuzzy_name(tokens, keys, i)
            if fuzzy:
                n, sym = fuzzy
                start, end = tokens[i].start, tokens[i + n - 1].end
                result.mentions.append(Mention("symbol", sym, start, end, "fuzzy"))
                result.fuzzy.append((text[start:end], sym))
                i += n
                continue
            alias_sym = self._short_aliases.get(tok.key)
            if alias_sym and (
                (tok.is_upper and not shouting)
                or (len(tok.key) == 3 and tok.key not in COMMON_WORDS)
            ):
                result.mentions.append(Mention("symbol", alias_sym, tok.start, tok.end, "alias"))
                i += 1
                continue
            if len(tok.key) == 3 and tok.key.isalnum() and not tok.key.isdigit():
                prev = keys[i - 1] if i else ""
                after_number = i and tokens[i - 1].is_number
                listed_ticker = tok.is_upper and not shouting and tok.key.upper() in self._order
                if prev in _MONEY_WORDS or (after_number and not listed_ticker):
                    i += 1
                    continue
                typed_as_ticker = tok.is_upper and not shouting
                sym = tok.key.upper()
                if sym in self._order:
                    if tok.key not in COMMON_WORDS or typed_as_ticker:
                        result.mentions.append(Mention("symbol", sym, tok.start, tok.end, "ticker"))
                elif (
                    tok.key.isalpha()
                    and tok.key not in COMMON_WORDS
                    and (typed_as_ticker or not (set(tok.key) & _VOWELS))
                ):
                    result.unknown.append(sym)
            i += 1
        for m in result.mentions:
            if m.kind == "symbol" and m.value not in result.symbols:
                result.symbols.append(m.value)
            elif m.kind == "group" and result.group is None:
                result.group = m.value
        if result.group:
            result.group_symbols = list(self._groups[result.group])
        for token in result.unknown:
            for sym in self.did_you_mean(token):
                if sym not in result.did_you_mean:
                    result.did_you_mean.append(sym)
        return result

    def _fuzzy_name(self, tokens: list[Any], keys: list[str], i: int) -> tuple[int, str] | None:
        """A company name typed with one slip ("Vinamik", "Techcombak"): (words used, symbol).

        Only for words that are not ordinary words (the parser's vocabulary, common words), at
        least 6 letters, within one typo (keyboard neighbours and swaps count half), and only when
        the best match is unique.
        """
        for n in (3, 2, 1):
            words = keys[i : i + n]
            if len(words) < n or not all(w.isalpha() for w in words):
                continue
            if all(w in self.vocabulary or w in COMMON_WORDS for w in words):
                continue
            typed = " ".join(words)
            if len(typed) < 6:
                continue
            best: list[tuple[float, str]] = []
            for phrase, sym in self._fuzzy.get((n, typed[0]), ()):
                if abs(len(phrase) - len(typed)) > 1 or phrase == typed:
                    continue
                if len(set(phrase) ^ set(typed)) > 2:
                    continue  # one slip changes at most two distinct letters: cheap reject
                cost = typo_distance(typed, phrase)
                if cost <= 1.0:
                    best.append((cost, sym))
            if best:
                best.sort()
                top = [sym for cost, sym in best if cost == best[0][0]]
                if len(set(top)) == 1:
                    return n, top[0]
        return None

    def _match_phrase(self, keys: list[str], i: int) -> tuple[int, tuple[str, str]] | None:
        for n in range(min(self._max_len, len(keys) - i), 0, -1):
            words = tuple(keys[i : i + n])
            target = self._phrases.get(words)
            if target is None:
                continue
            if target[0] == "group" and not self._group_context_ok(keys, i, n):
                continue
            return n, target
        return None

    @staticmethod
    def _group_context_ok(keys: list[str], i: int, n: int) -> bool:
        phrase = " ".join(keys[i : i + n])
        before = keys[i - 1] if i else ""
        before2 = " ".join(keys[max(0, i - 2) : i])
        negative = _GROUP_NEGATIVE_PREFIX.get(phrase, frozenset())
        if before in negative or before2 in negative:
            return False
        if phrase in _NEEDS_MARKER:
            after = keys[i + n] if i + n < len(keys) else ""
            return before in _GROUP_MARKERS or after in _GROUP_MARKERS
        return True

    def symbols_in(self, group: str) -> list[str]:
        """Members of a group key; raises with the known keys when the group does not exist."""
        if group not in self._groups:
            known = ", ".join(sorted(self._groups))
            raise KeyError(f"unknown group {group!r}; known groups: {known}")
        return list(self._groups[group])


def iter_listing_names(listings: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """(symbol, company name) pairs, for help texts and suggestions."""
    for sym, listing in listings.items():
        yield sym.upper(), _get(listing, "company_name", "name", default=sym)
