"""Normalisation, tokenisation and the symbol resolver (small hand-made table)."""

from __future__ import annotations

import pytest

from stockvision.chat.symbols import SymbolResolver, short_name, typo_distance
from stockvision.chat.text import fold, has_diacritics, is_shouting, strip_diacritics, tokenize


def test_fold_strips_diacritics_case_and_punctuation():
    assert strip_diacritics("Đường Hòa Phát") == "Duong Hoa Phat"
    assert fold("  Dự đoán   giá VNM, tháng sau?? ") == "du doan gia vnm thang sau"
    # decomposed input (NFD) folds the same as composed input
    assert fold("Ho\u0300a Pha\u0301t") == fold("Hòa Phát") == "hoa phat"


def test_tokens_keep_original_spelling_and_offsets():
    text = "Giá VNM 68,5 nghìn"
    toks = tokenize(text)
    assert [t.text for t in toks] == ["Giá", "VNM", "68,5", "nghìn"]
    assert [t.key for t in toks] == ["gia", "vnm", "68,5", "nghin"]
    assert text[toks[1].start : toks[1].end] == "VNM"
    assert toks[2].is_number and toks[1].is_upper


def test_diacritics_and_shouting_detection():
    assert has_diacritics("đ") and has_diacritics("giá") and not has_diacritics("gia vnm")
    assert is_shouting("CÓ NÊN MUA FPT") and not is_shouting("có nên mua FPT")


@pytest.fixture()
def resolver(small_listings):
    return SymbolResolver(small_listings)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dự đoán VNM", ["VNM"]),
        ("vnm thang sau", ["VNM"]),
        ("Vinamilk tháng sau", ["VNM"]),
        ("hoa phat va Hòa Phát", ["HPG"]),
        ("Vietcombank với Techcombank", ["VCB", "TCB"]),
        ("Sữa Việt Nam", ["VNM"]),  # company name without its legal form
        ("so sanh ssi, vnd, hcm", ["SSI", "VND"]),
        ("Thế Giới Di Động", ["MWG"]),
    ],
)
def test_resolves_tickers_names_and_aliases(resolver, text, expected):
    assert resolver.resolve(text).symbols == expected


@pytest.mark.parametrize(
    "text",
    [
        "CÓ NÊN MUA THE TOP AN GIA BAN NAO",  # shouting: ordinary words are not tickers
        "giá gas hôm nay",  # "gas" is a word unless typed as the ticker GAS
        "CAN YOU HELP",  # CAN is a listed ticker, but the whole message is upper-case
        "hoa đẹp quá, mua về nhà",  # "hoa", "mua" are words, not tickers
        "giá 50 nghìn VND",  # currency after an amount
        "Mua hay bán thì tốt?",
    ],
)
def test_no_false_positive_tickers(resolver, text):
    assert resolver.resolve(text).symbols == []


def test_ambiguous_ticker_accepted_when_typed_as_ticker(resolver):
    assert resolver.resolve("Giá GAS tháng sau").symbols == ["GAS"]
    assert resolver.resolve("CAN tháng sau").symbols == ["CAN"]


def test_groups_vi_en_with_and_without_diacritics(resolver, small_listings):
    banks = [s for s, x in small_listings.items() if x.group == "banking"]
    for text in ("top cổ phiếu ngân hàng", "ngan hang nao tang", "which banks will fall"):
        res = resolver.resolve(text)
        assert res.group == "banking" and res.group_symbols == banks
    assert resolver.resolve("nhóm chứng khoán").group == "securities"
    assert resolver.resolve("thép tháng tới").group == "steel"
    # the stock market as a whole is not the securities sector
    assert resolver.resolve("thị trường chứng khoán tháng tới").group is None


def test_name_beats_group_word(resolver):
    res = resolver.resolve("Ngân hàng TMCP Ngoại thương Việt Nam")
    assert res.symbols == ["VCB"] and res.group is None


@pytest.mark.parametrize(("typo", "best"), [("VNN", "VNM"), ("FTP", "FPT"), ("HGP", "HPG")])
def test_did_you_mean(resolver, typo, best):
    res = resolver.resolve(f"Dự đoán {typo} tháng sau")
    assert res.symbols == [] and res.unknown == [typo]
    assert res.did_you_mean[0] == best


def test_lower_case_typo_only_without_vowel(resolver):
    assert resolver.resolve("vnn thang sau").did_you_mean[0] == "VNM"
    assert resolver.resolve("con meo").did_you_mean == []  # Vietnamese words are not typos


def test_typo_distance_prefers_adjacent_keys():
    assert typo_distance("VNN", "VNM") < typo_distance("VNN", "VND")
    assert typo_distance("FTP", "FPT") == 0.5


def test_short_name_and_bad_table():
    assert short_name("Ngân hàng TMCP Á Châu") == "a chau"
    assert short_name("Công ty Cổ phần FPT") == "fpt"
    with pytest.raises(ValueError, match="non-empty listing table"):
        SymbolResolver({})
    with pytest.raises(KeyError, match="known groups"):
        SymbolResolver({"VNM": {"symbol": "VNM", "exchange": "HOSE", "group": "x"}}).symbols_in("y")


def test_works_with_real_listings_table():
    listings = pytest.importorskip("stockvision.market.listings")
    resolver = SymbolResolver(listings.LISTINGS)
    assert resolver.resolve("Hòa Phát và Vinamilk").symbols == ["HPG", "VNM"]
    assert set(resolver.resolve("cổ phiếu ngân hàng").group_symbols) == set(
        listings.symbols_in_group("banking")
    )
