"""Exchange rules: price bands, tick sizes, lots, name parsing (exact values)."""

from __future__ import annotations

import numpy as np
import pytest

from stockvision.market.exchanges import (
    Exchange,
    price_band,
    round_lot,
    round_to_tick,
    tick_size,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("HOSE", Exchange.HOSE),
        ("HoSE", Exchange.HOSE),
        ("hose", Exchange.HOSE),
        ("HSX", Exchange.HOSE),
        (" hnx ", Exchange.HNX),
        ("UPCoM", Exchange.UPCOM),
        ("upcom", Exchange.UPCOM),
        (Exchange.HNX, Exchange.HNX),
    ],
)
def test_parse_exchange_names(name: str, expected: Exchange) -> None:
    assert Exchange.parse(name) is expected


def test_unknown_exchange_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"unknown exchange 'NYSE'.*HOSE.*HNX.*UPCOM"):
        Exchange.parse("NYSE")


def test_limits() -> None:
    assert [e.daily_limit for e in Exchange] == [0.07, 0.10, 0.15]
    assert [e.first_day_limit for e in Exchange] == [0.20, 0.30, 0.40]
    assert Exchange.UPCOM.display_name == "UPCoM"


def test_hose_tick_sizes_scalar_and_vector() -> None:
    assert tick_size(9_990, "HOSE") == 10
    assert tick_size(10_000, "HOSE") == 50
    assert tick_size(49_950, "HOSE") == 50
    assert tick_size(50_000, "HOSE") == 100
    prices = np.array([5_000.0, 10_000.0, 49_950.0, 50_000.0, 120_000.0])
    np.testing.assert_array_equal(tick_size(prices, Exchange.HOSE), [10, 50, 50, 100, 100])
    np.testing.assert_array_equal(tick_size(prices, "HNX"), [100] * 5)
    np.testing.assert_array_equal(tick_size(prices, "UPCOM"), [100] * 5)


def test_round_to_tick() -> None:
    assert round_to_tick(12_345, "HOSE") == 12_350
    assert round_to_tick(12_324, "HOSE") == 12_300
    assert round_to_tick(9_996, "HOSE") == 10_000
    assert round_to_tick(49_960, "HOSE") == 49_950
    assert round_to_tick(87_649, "HOSE") == 87_600
    assert round_to_tick(12_345, "HNX") == 12_300
    np.testing.assert_array_equal(round_to_tick([1_234.0, 56_789.0], "HOSE"), [1_230, 56_800])


@pytest.mark.parametrize(
    ("ref", "exchange", "first_day", "band"),
    [
        (100_000, "HOSE", False, (93_000, 107_000)),  # 93000.00000000001 must not round up
        (47_000, "HOSE", False, (43_750, 50_200)),  # floor up on 50-grid, ceiling down on 100-grid
        (9_870, "HOSE", False, (9_180, 10_550)),  # 9179.1 -> 9180; 10560.9 -> 10550
        (23_450, "HOSE", False, (21_850, 25_050)),  # 21808.5 -> 21850; 25091.5 -> 25050
        (23_450, "HOSE", True, (18_800, 28_100)),  # +/-20%: 18760 -> 18800; 28140 -> 28100
        (15_000, "HNX", False, (13_500, 16_500)),
        (15_050, "HNX", False, (13_600, 16_500)),  # 13545 -> 13600; 16555 -> 16500
        (15_000, "HNX", True, (10_500, 19_500)),
        (15_000, "UPCOM", False, (12_800, 17_200)),  # 12750 -> 12800; 17250 -> 17200
        (15_000, "UPCOM", True, (9_000, 21_000)),
    ],
)
def test_price_band_exact(
    ref: float, exchange: str, first_day: bool, band: tuple[float, float]
) -> None:
    assert price_band(ref, exchange, first_day=first_day) == band


def test_price_band_is_at_least_one_tick() -> None:
    # HNX 500 VND: 10% is 50 VND, less than the 100 VND tick, so the band is one tick each side
    assert price_band(500, "HNX") == (400, 600)
    assert price_band(100, "HOSE") == (90, 110)


def test_price_band_vectorised_and_validated() -> None:
    floor, ceiling = price_band(np.array([100_000.0, 47_000.0]), "HOSE")
    np.testing.assert_array_equal(floor, [93_000, 43_750])
    np.testing.assert_array_equal(ceiling, [107_000, 50_200])
    with pytest.raises(ValueError, match="reference_price"):
        price_band(0, "HOSE")


def test_round_lot() -> None:
    assert round_lot(1_234) == 1_200
    assert round_lot(99) == 0
    assert round_lot(300) == 300
    np.testing.assert_array_equal(round_lot(np.array([150.0, 1_000.0])), [100, 1_000])
    with pytest.raises(ValueError):
        round_lot(-5)


def test_price_band_with_a_past_limit() -> None:
    # HNX's 7 % band of 2008-2012 around 18,000: floor 16,740 -> 16,800, ceiling 19,260 -> 19,200
    assert price_band(18_000, "HNX", limit=0.07) == (16_800, 19_200)
    floors, _ = price_band(np.array([18_000.0, 18_000.0]), "HNX", limit=np.array([0.07, 0.10]))
    assert floors.tolist() == [16_800, 16_200]
