"""Which listed companies a news item concerns: tickers and company names, precision first.

A wrong symbol is worse than a missing one (it puts another company's news beside a forecast), so
the rules only accept:

* a ticker in an unmistakable context: ``(Mã: VGC)``, ``(HOSE: CKG)``, ``mã HPG``, ``cổ phiếu
  VNM``, ``cổ phiếu HPG, HSG và NKG``: any three-character code, known or not (new listings);
* a bare upper-case token that is a KNOWN ticker (the listings snapshot, plus ``extra_tickers``),
  unless it is also an everyday word or code (``CEO``, ``VND`` the currency, ``HCM`` the city);
* a company name or alias from the listings, matched with its case and diacritics (``Hòa Phát``,
  ``Vinamilk``), the longest name winning (``Chứng khoán FPT`` is FTS, not FPT).

Precision and recall are measured against a hand-labelled sample in ``tests/news``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stockvision.market.listings import LISTINGS
from stockvision.news.items import NewsItem

#: Three-character upper-case codes that are not (or rarely) tickers in Vietnamese finance news.
NOT_TICKERS = frozenset(
    {"USD", "EUR", "JPY", "CNY", "GBP", "AUD", "KRW", "SGD", "THB", "IPO", "ETF", "GDP", "FDI",
     "ESG", "CFO", "COO", "CPI", "PMI", "FED", "VAT", "SJC", "EVN", "PVN", "III", "VII", "XII",
     "XIV", "ODA", "PPP", "BOT", "BCC", "API", "ATM", "GPS", "WTO", "WHO", "IMF", "ADB", "USA",
     "UAE", "EPS", "ROE", "ROA", "NIM", "CAR", "NPL", "LDR", "OTC", "HNX", "HSX", "VSD", "SSC",
     "A80", "KRX", "BYD", "UOB", "PYN", "CNN", "BBC", "AFP", "OCR", "LNG", "CEO",
     "VND", "HCM", "MXV", "BHX", "TPP", "CTV", "MUA", "KCN", "TNG", "VNI", "ETH",
     "BTC", "NFT", "SME", "TTC", "VNG", "VPS", "VCK", "IFC", "IEA", "OMO", "FMO"}
)  # fmt: skip
#: Known tickers that read as everyday words: accepted only in a ticker context.
AMBIGUOUS = frozenset({"CEO", "VND", "HCM", "TTC", "VNG", "EVF", "SME", "TNG", "BTC", "MUA"})
_CONTEXT = (
    r"(?:\((?:[Mm]ã|MÃ)(?:\s+(?:CK|chứng khoán|cổ phiếu))?\s*:\s*"
    r"|[(,;]\s*(?:HOSE|HoSE|HSX|HNX|UPCoM|UPCOM|Upcom)\s*[:;]\s*"
    r"|\b(?:[Mm]ã|MÃ)(?:\s+(?:CK|chứng khoán|cổ phiếu))?\s+"
    r"|\b(?:[Cc]ổ phiếu|CỔ PHIẾU|[Cc]ổ phần|CP|cp)\s+)"
)
_CODE = r"[A-Z][A-Z0-9]{2}(?![\w&])"
_CONTEXT_RE = re.compile(_CONTEXT + rf"({_CODE}(?:\s*(?:,|và|;)\s*{_CODE})*)")
_WORD_RE = re.compile(r"\w+")
_LIST_SPLIT = re.compile(r"\s*(?:,|và|;)\s*")
_TOKEN_RE = re.compile(r"(?<![\w.&/-])([A-Z][A-Z0-9]{2})(?![\w&]|-\w)")
_PAREN_RE = re.compile(r"\(([A-Z][A-Z0-9]{2})\)")
#: a name followed by a parenthesis giving its code: "VPBank (VPBankS, HOSE: VPX)"
_CODE_AFTER = re.compile(r"(?:\s+[A-ZĐ][\w&.-]*){0,3}\s*\([^()]{0,40}?\b([A-Z][A-Z0-9]{2})\)")
#: a headline opening with a code: "QCG sau tin ...", "DBT muốn bán ..."
_LEAD_RE = re.compile(r"^([A-Z][A-Z0-9]{2})\s+(?=[a-zà-ỹđ])")
#: the company is cited as an analyst, not as the subject: "SSI Research", "chuyên gia MBS"
_ANALYST_RE = re.compile(
    r"\b(?:chuyên gia|Chuyên gia|theo|Theo)\s+([A-Z][A-Z0-9]{2})\b|\b([A-Z][A-Z0-9]{2})\s+Research\b"
)
_GENERIC_PREFIX = re.compile(
    r"^(?:Tổng Công ty Cổ phần|Tổng Công ty|Công ty Cổ phần|Công ty CP|CTCP)\s+", re.IGNORECASE
)
_GENERIC_SUFFIX = re.compile(r"\s*-\s*(?:CTCP|Công ty CP|Công ty Cổ phần)$", re.IGNORECASE)


#: Listed subsidiaries and brands whose names contain a parent's name, and common short names.
#: Facts (name -> ticker); the longest name wins, so "Nông nghiệp Hòa Phát" is HPA, not HPG.
EXTRA_NAMES: dict[str, str] = {
    "Nông nghiệp Hòa Phát": "HPA",
    "Masan Consumer": "MCH",
    "Masan MEATLife": "MML",
    "Masan High-Tech Materials": "MSR",
    "VPBankS": "VPX",
    "Chứng khoán VPBank": "VPX",
    "HAGL Agrico": "HNG",
    "HAGL": "HAG",
    "Vinpearl": "VPL",
    "GELEX Electric": "GEE",
    "Gelex Electric": "GEE",
    "TCBS": "TCX",
    "Chứng khoán Kỹ Thương": "TCX",
    "EVNFinance": "EVF",
    "Viconship": "VSC",
    "Coteccons": "CTD",
    "Becamex": "BCM",
    "Bamboo Capital": "BCG",
    "Vietjet": "VJC",
    "Vietnam Airlines": "HVN",
    "Đạm Cà Mau": "DCM",
    "Đạm Phú Mỹ": "DPM",
    "Petrosetco": "PET",
    "Pomina": "POM",
    "Damsan": "ADS",
    "VietCredit": "TIN",
    "Thiên Long": "TLG",
    "Vinatex": "VGT",
}


#: Old-style tone placement ("Hoà") to the modern one ("Hòa"): both are common in news text.
_TONE_PAIRS = {
    "oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
    "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
    "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy",
}  # fmt: skip
_TONE_RE = re.compile("|".join(_TONE_PAIRS) + "|" + "|".join(k.upper() for k in _TONE_PAIRS))


def _nfc(text: str) -> str:
    """NFC with the modern tone placement, so "Hoà Phát" matches "Hòa Phát"."""
    text = unicodedata.normalize("NFC", text)
    return _TONE_RE.sub(
        lambda m: _TONE_PAIRS.get(m.group(0)) or _TONE_PAIRS[m.group(0).lower()].upper(), text
    )


def _name_keys(listings: Mapping[str, object]) -> dict[str, str]:
    """Company name or alias -> symbol; short all-caps aliases are handled as tokens instead."""
    keys: dict[str, str] = {}
    for sym, item in listings.items():
        names = [getattr(item, "name", ""), *getattr(item, "aliases", ())]
        official = getattr(item, "name", "")
        core = _GENERIC_SUFFIX.sub("", _GENERIC_PREFIX.sub("", official)).strip()
        if core.startswith(("Ngân hàng TMCP ", "Ngân hàng Thương mại Cổ phần ")):
            core = (
                "Ngân hàng " + core.split(" ", 3)[-1]
            )  # "Ngân hàng TMCP Á Châu" -> "Ngân hàng Á Châu"
        if len(core.split()) >= 2 or len(core) >= 6:
            names.append(core)
        for name in names:
            name = _nfc(name.strip())
            if len(name) < 4 or (name.isupper() and len(name) <= 4):
                continue
            keys.setdefault(name, sym)
    return keys


def _token_aliases(listings: Mapping[str, object]) -> dict[str, str]:
    """Short upper-case aliases (``HSC`` -> HCM, ``NCB`` -> NVB) that act like tickers."""
    out: dict[str, str] = {}
    for sym, item in listings.items():
        for alias in getattr(item, "aliases", ()):
            if re.fullmatch(r"[A-Z][A-Z0-9]{2,3}", alias) and alias not in listings:
                out.setdefault(alias, sym)
    return out


def _loose(name: str) -> bool:
    return len(name.split()) >= 3


@dataclass(frozen=True)
class Tag:
    """One symbol found, and the rule that found it (for explanations and error analysis)."""

    symbol: str
    rule: str
    text: str


class SymbolTagger:
    """Find the listed companies a text concerns (see the module docstring for the rules)."""

    def __init__(
        self,
        listings: Mapping[str, object] | None = None,
        *,
        extra_tickers: Iterable[str] = (),
        use_summary: bool = True,
    ) -> None:
        self.listings = dict(LISTINGS if listings is None else listings)
        self.known = frozenset(self.listings) | {t.strip().upper() for t in extra_tickers}
        self.use_summary = use_summary
        self.token_aliases = _token_aliases(self.listings)
        names = {**_name_keys(self.listings), **(EXTRA_NAMES if listings is None else {})}
        names = {_nfc(n): s for n, s in names.items()}
        # long names ignore case ("Thế giới Di động"); short ones keep it ("Phát Đạt", not
        # "phát đạt", a verb)
        self.name_to_symbol = {n.casefold() if _loose(n) else n: s for n, s in names.items()}
        # One regex per name, reached through its rarest word: a text only tries the names whose
        # rarest word it contains (one big alternation was 10x slower on the shared file).
        self._by_first: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
        freq: dict[str, int] = {}
        for n in names:
            for w in {w.casefold() for w in _WORD_RE.findall(n)}:
                freq[w] = freq.get(w, 0) + 1
        for n in names:
            flags = re.IGNORECASE if _loose(n) else 0
            rx = re.compile(rf"(?<!\w){re.escape(n)}(?!\w)", flags)
            key = min({w.casefold() for w in _WORD_RE.findall(n)}, key=lambda w: (freq[w], w))
            self._by_first.setdefault(key, []).append((n, rx))

    def tags(self, text: str) -> list[Tag]:
        """Every (symbol, rule) found in ``text``, in order of appearance."""
        text = _nfc(text)
        found: list[Tag] = []
        spans = self._name_spans(text)
        masked = text
        for start, end in spans:
            matched = text[start:end]
            sym = self.name_to_symbol.get(matched) or self.name_to_symbol[matched.casefold()]
            after = _CODE_AFTER.match(text, end)
            if after is not None and after.group(1) != sym and after.group(1) not in NOT_TICKERS:
                continue  # the text names the company's own code: "Masan Consumer (MCH)"
            found.append(Tag(sym, "name", matched))
        # names consumed: "Chứng khoán FPT" must not also yield FPT
        for start, end in spans:
            masked = masked[:start] + " " * (end - start) + masked[end:]
        for m in _CONTEXT_RE.finditer(masked):
            for code in _LIST_SPLIT.split(m.group(1)):
                code = code.strip()
                if code and (code not in NOT_TICKERS or (code in self.known and code in AMBIGUOUS)):
                    found.append(Tag(self.token_aliases.get(code, code), "context", m.group(0)))
        for m in _PAREN_RE.finditer(masked):
            code = m.group(1)
            if (code in self.known and code not in NOT_TICKERS) or (
                code in AMBIGUOUS and code in self.known
            ):
                found.append(Tag(code, "paren", m.group(0)))
        lead = _LEAD_RE.match(masked)
        if lead is not None and lead.group(1) not in NOT_TICKERS:
            found.append(
                Tag(self.token_aliases.get(lead.group(1), lead.group(1)), "lead", lead.group(0))
            )
        analysts = {g for m in _ANALYST_RE.finditer(masked) for g in m.groups() if g}
        for m in _TOKEN_RE.finditer(masked):
            code = m.group(1)
            if code in AMBIGUOUS or code in NOT_TICKERS or code in analysts:
                continue
            if code in self.known:
                found.append(Tag(code, "ticker", code))
            elif code in self.token_aliases:
                found.append(Tag(self.token_aliases[code], "alias", code))
        return found

    def _name_spans(self, text: str) -> list[tuple[int, int]]:
        """Non-overlapping name matches, leftmost first and then longest (like one alternation
        of all names sorted longest first)."""
        words = {w.casefold() for w in _WORD_RE.findall(text)}
        hits: list[tuple[int, int]] = []
        for word in words & self._by_first.keys():
            for _name, rx in self._by_first[word]:
                hits.extend((m.start(), m.end()) for m in rx.finditer(text))
        hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
        spans: list[tuple[int, int]] = []
        last = -1
        for start, end in hits:
            if start >= last:
                spans.append((start, end))
                last = end
        return spans

    def symbols(self, text: str) -> list[str]:
        """Sorted distinct symbols of ``text``."""
        return sorted({t.symbol for t in self.tags(text)})

    def __call__(self, item: NewsItem) -> list[str]:
        text = item.title + (" \n " + item.summary if self.use_summary and item.summary else "")
        return self.symbols(text)


def precision_recall(
    predicted: Mapping[str, Iterable[str]], truth: Mapping[str, Iterable[str]]
) -> dict[str, float]:
    """Micro precision and recall of (item, symbol) pairs over the items of ``truth``."""
    tp = fp = fn = 0
    for key, want in truth.items():
        want_set = set(want)
        got = set(predicted.get(key, ()))
        tp += len(got & want_set)
        fp += len(got - want_set)
        fn += len(want_set - got)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {"precision": precision, "recall": recall, "tp": tp, "fp": fp, "fn": fn}
