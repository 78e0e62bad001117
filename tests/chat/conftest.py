"""Fixtures for the chat tests: a small listing table and Prediction builders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest

from stockvision.predict.types import (
    Driver,
    ModelVersions,
    PatternProbabilities,
    Prediction,
    PriceInterval,
)


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


def make_prediction(
    symbol: str = "VNM",
    last_close: float = 65_000.0,
    target: float = 68_500.0,
    low: float = 64_200.0,
    high: float = 72_900.0,
    probs: tuple[float, float, float] = (0.2, 0.25, 0.55),
    simulated: bool = False,
    drivers: list[Driver] | None = None,
    company_name: str = "CTCP Sữa Việt Nam",
    direction_supported: bool = True,
) -> Prediction:
    """A real ``Prediction`` from given numbers (the service boundary the chat consumes)."""
    down, sideways, up = probs
    pattern = ["DOWN", "SIDEWAYS", "UP"][max(range(3), key=lambda i: probs[i])]
    as_of = date(2024, 5, 31)
    return Prediction(
        symbol=symbol,
        exchange="HOSE",
        company_name=company_name,
        prediction_date=as_of,
        target_date=as_of + timedelta(weeks=4),
        data_as_of=as_of,
        last_close=last_close,
        last_close_k=last_close / 1000,
        price_target=target,
        price_target_k=target / 1000,
        interval=PriceInterval(low=low, high=high, coverage=0.8, measured_coverage=0.78),
        expected_return=target / last_close - 1,
        pattern=pattern,
        probabilities=PatternProbabilities(up=up, down=down, sideways=sideways),
        confidence=max(probs),
        direction_supported=direction_supported,
        drivers=drivers or [],
        model_versions=ModelVersions(price="ridge@v3", pattern="lstm@v5"),
        simulated=simulated,
    )
