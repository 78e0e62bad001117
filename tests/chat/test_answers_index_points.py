"""An index (VN30, VNINDEX) is quoted in points: the chat never shows it as thousand VND."""

from __future__ import annotations

from datetime import date, timedelta

from stockvision.chat.answers import format_prediction
from stockvision.data.directory import SymbolDirectory
from stockvision.predict.types import (
    ModelVersions,
    PatternProbabilities,
    Prediction,
    PriceInterval,
)


def make_prediction(
    symbol: str = "VNM",
    last_close: float = 65_000.0,
    target: float = 68_500.0,
    low: float = 64_200.0,
    high: float = 72_900.0,
    unit: str = "VND",
) -> Prediction:
    scale = 1.0 if unit == "points" else 1000.0
    as_of = date(2024, 5, 31)
    return Prediction(
        symbol=symbol,
        exchange="HOSE",
        company_name="CTCP Sữa Việt Nam" if unit == "VND" else "VN30 Index",
        prediction_date=as_of,
        target_date=as_of + timedelta(weeks=4),
        data_as_of=as_of,
        last_close=last_close,
        last_close_k=last_close / scale,
        price_target=target,
        price_target_k=target / scale,
        unit=unit,
        interval=PriceInterval(low=low, high=high, coverage=0.8, measured_coverage=0.78),
        expected_return=target / last_close - 1,
        pattern="UP",
        probabilities=PatternProbabilities(up=0.55, down=0.2, sideways=0.25),
        confidence=0.55,
        direction_supported=False,
        model_versions=ModelVersions(price="ridge@v3", pattern="lstm@v5"),
        simulated=False,
    )


def _index_prediction() -> Prediction:
    return make_prediction("VN30", 932.75, 950.0, 900.0, 990.0, unit="points")


def test_vn30_index_is_shown_in_points_in_both_languages() -> None:
    p = _index_prediction()
    en = format_prediction(p, "en")
    vi = format_prediction(p, "vi")
    assert "932.8 points" in en
    assert "thousand VND" not in en and "0.93" not in en
    assert "điểm" in vi and "nghìn đồng" not in vi
    assert "900" in en and "990" in en  # the range in points, not divided by 1000


def test_a_share_is_still_in_thousand_vnd() -> None:
    en = format_prediction(make_prediction(), "en")
    assert "thousand VND" in en and "65" in en


def test_directory_knows_indices_and_never_guesses_hose(tmp_path) -> None:
    class NoStore:
        def read_symbols(self):
            raise RuntimeError("no store")

    directory = SymbolDirectory(NoStore())
    vn30 = directory.describe("VN30")
    assert vn30.kind == "index" and vn30.unit == "points"
    shs = directory.describe("SHS")  # an HNX broker, outside the curated listings
    assert shs.exchange == "HNX" and shs.unit == "VND"
    assert directory.describe("ZZZQ").exchange == "?"  # unknown: said so, not "HOSE"
