"""Listings snapshot and VN30 basket: lookups, fuzzy matching, groups, errors."""

from __future__ import annotations

import pytest

from stockvision.market.exchanges import Exchange
from stockvision.market.listings import (
    GROUPS,
    LISTINGS,
    UnknownSymbolError,
    closest_symbols,
    exchange_of,
    get_listing,
    is_known,
    normalize_text,
    symbols_in_group,
)
from stockvision.market.vn30 import VN30_SYMBOLS, is_vn30


def test_vn30_basket_matches_the_reference_file() -> None:
    assert len(VN30_SYMBOLS) == 30 == len(set(VN30_SYMBOLS))
    assert tuple(sorted(VN30_SYMBOLS)) == VN30_SYMBOLS
    assert is_vn30(" hpg ") and not is_vn30("HSG")


def test_snapshot_is_consistent() -> None:
    assert len(LISTINGS) >= 120
    assert set(VN30_SYMBOLS) <= set(LISTINGS)
    for sym, item in LISTINGS.items():
        assert sym == item.symbol and sym.isupper() and 3 <= len(sym) <= 4
        assert item.group in GROUPS
        assert isinstance(item.exchange, Exchange)
        assert item.name and item.english_name
    assert {item.exchange for item in LISTINGS.values()} == set(Exchange)


def test_lookup_examples() -> None:
    vnm = get_listing("vnm")
    assert vnm.name == "Công ty Cổ phần Sữa Việt Nam"
    assert "Vinamilk" in vnm.aliases
    assert vnm.exchange is Exchange.HOSE
    hpg = get_listing(" HPG ")
    assert "Hòa Phát" in hpg.aliases and hpg.group == "steel" and hpg.group_vi == "thép"
    assert exchange_of("PVS") is Exchange.HNX
    assert exchange_of("ACV") is Exchange.UPCOM
    assert is_known("fpt") and not is_known("XYZQ")


def test_unknown_symbol_has_suggestions() -> None:
    with pytest.raises(UnknownSymbolError) as info:
        get_listing("HPX")
    err = info.value
    assert isinstance(err, KeyError)
    assert err.symbol == "HPX"
    assert "HPG" in err.suggestions
    assert str(err).startswith("Unknown symbol HPX. Did you mean: HPG")
    assert err.code == "unknown_symbol" and err.details["suggestions"] == err.suggestions
    assert "Ý bạn là: HPG" in err.message_vi
    with pytest.raises(UnknownSymbolError):
        exchange_of("QQQQ")


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("Hòa Phát", "HPG"),
        ("hoa phat", "HPG"),
        ("Vinamilk", "VNM"),
        ("sữa việt nam", "VNM"),
        ("vietcombank", "VCB"),
        ("HPGG", "HPG"),
        ("VNN", "VND"),
        ("ssi", "SSI"),
        ("Novaland", "NVL"),
        ("Mobile World", "MWG"),
    ],
)
def test_closest_symbols(text: str, first: str) -> None:
    assert closest_symbols(text)[0] == first


def test_closest_symbols_limits() -> None:
    assert closest_symbols("") == []
    assert closest_symbols("zzzzzzzz qqqq") == []
    assert len(closest_symbols("ngân hàng", n=5)) == 5
    assert set(closest_symbols("ngân hàng", n=5)) <= set(symbols_in_group("banking"))


def test_groups_by_key_or_vietnamese_label() -> None:
    banks = symbols_in_group("banking")
    assert {"VCB", "BID", "CTG", "TCB", "ACB"} <= set(banks)
    assert symbols_in_group("Ngân hàng") == banks == symbols_in_group("ngan hang")
    assert "VHM" in symbols_in_group("real estate")
    with pytest.raises(ValueError, match=r"unknown group.*banking"):
        symbols_in_group("crypto")


def test_normalize_text() -> None:
    assert normalize_text("Đất Xanh") == "dat xanh"
    assert normalize_text("  Hòa-Phát!! ") == "hoa phat"
