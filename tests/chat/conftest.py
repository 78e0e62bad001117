"""Fixtures for the chat tests: a small listing table (Prediction builder: prediction_factory)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from prediction_factory import make_prediction

__all__ = ["make_prediction"]


@dataclass(frozen=True)
class SmallListing:
    """Same attribute names as ``stockvision.market.listings.Listing``, for a hand-made table."""

    symbol: str
    exchange: str
    company_name: str
    aliases: tuple[str, ...] = field(default_factory=tuple)
    group: str = "other"
    group_label: str = "khác"


def _table() -> dict[str, SmallListing]:
    rows = [
        ("VNM", "HOSE", "CTCP Sữa Việt Nam", ("Vinamilk",), "food_beverage", "thực phẩm - đồ uống"),
        (
            "VCB",
            "HOSE",
            "Ngân hàng TMCP Ngoại thương Việt Nam",
            ("Vietcombank",),
            "banking",
            "ngân hàng",
        ),
        (
            "TCB",
            "HOSE",
            "Ngân hàng TMCP Kỹ thương Việt Nam",
            ("Techcombank",),
            "banking",
            "ngân hàng",
        ),
        (
            "BID",
            "HOSE",
            "Ngân hàng TMCP Đầu tư và Phát triển Việt Nam",
            ("BIDV",),
            "banking",
            "ngân hàng",
        ),
        ("ACB", "HOSE", "Ngân hàng TMCP Á Châu", (), "banking", "ngân hàng"),
        ("FPT", "HOSE", "CTCP FPT", (), "technology", "công nghệ"),
        ("HPG", "HOSE", "CTCP Tập đoàn Hòa Phát", ("Hòa Phát",), "steel", "thép"),
        ("HSG", "HOSE", "CTCP Tập đoàn Hoa Sen", ("Hoa Sen",), "steel", "thép"),
        ("NKG", "HOSE", "CTCP Thép Nam Kim", ("Thép Nam Kim",), "steel", "thép"),
        ("SSI", "HOSE", "CTCP Chứng khoán SSI", (), "securities", "chứng khoán"),
        ("VCI", "HOSE", "CTCP Chứng khoán Vietcap", ("Vietcap",), "securities", "chứng khoán"),
        ("VND", "HOSE", "CTCP Chứng khoán VNDirect", ("VNDirect",), "securities", "chứng khoán"),
        ("VIC", "HOSE", "Tập đoàn Vingroup - CTCP", ("Vingroup",), "real_estate", "bất động sản"),
        ("VHM", "HOSE", "CTCP Vinhomes", ("Vinhomes",), "real_estate", "bất động sản"),
        ("MWG", "HOSE", "CTCP Đầu tư Thế Giới Di Động", ("Thế Giới Di Động",), "retail", "bán lẻ"),
        ("GAS", "HOSE", "Tổng Công ty Khí Việt Nam - CTCP", ("PV Gas",), "oil_gas", "dầu khí"),
        ("CAN", "HNX", "CTCP Đồ hộp Hạ Long", (), "food_beverage", "thực phẩm - đồ uống"),
    ]
    return {r[0]: SmallListing(*r) for r in rows}


@pytest.fixture(scope="session")
def small_listings() -> dict[str, SmallListing]:
    return _table()
