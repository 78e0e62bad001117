"""An index (VN30, VNINDEX) is quoted in points: the chat never shows it as thousand VND."""

from __future__ import annotations

from datetime import date

from prediction_factory import make_prediction

from stockvision.chat.answers import (
    format_comparison,
    format_history,
    format_prediction,
    format_ranking,
    format_track_record,
)
from stockvision.data.directory import SymbolDirectory
from stockvision.predict.types import Prediction
from stockvision.serving.api_schemas import PastPrediction


def _index_prediction() -> Prediction:
    return make_prediction(
        "VN30",
        932.75,
        950.0,
        900.0,
        990.0,
        company_name="VN30 Index",
        direction_supported=False,
        unit="points",
    )


def test_vn30_index_is_shown_in_points_in_both_languages() -> None:
    p = _index_prediction()
    en = format_prediction(p, "en")
    vi = format_prediction(p, "vi")
    assert "932.8 points" in en
    assert "thousand VND" not in en and "0.93" not in en
    assert "điểm" in vi and "nghìn đồng" not in vi
    assert "900" in en and "990" in en  # the range in points, not divided by 1000


def test_a_share_is_still_in_thousand_vnd() -> None:
    en = format_prediction(make_prediction(direction_supported=False), "en")
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


def test_comparison_shows_an_index_in_points_beside_a_stock_in_thousand_vnd() -> None:
    stock = make_prediction(direction_supported=False)
    index = _index_prediction()
    for lang, points, thousand in (("en", "points", "thousand VND"), ("vi", "điểm", "nghìn đồng")):
        table = format_comparison([stock, index], lang)
        title, rows = table.splitlines()[0], table.splitlines()
        assert thousand in title and points in title and "VN30" in title
        vn30 = next(r for r in rows if r.startswith("VN30"))
        # last close, target and the 80 % range in points, never divided by 1000
        assert "932" in vn30 and "950" in vn30 and "900" in vn30 and "990" in vn30
        assert "0.93" not in vn30 and "0,93" not in vn30 and "0.99" not in vn30
        vnm = next(r for r in rows if r.startswith("VNM"))
        assert "65" in vnm and "64" in vnm and "72" in vnm  # the stock still in thousand VND


def test_comparison_of_indices_only_is_titled_in_points() -> None:
    vn30 = _index_prediction()
    vnindex = make_prediction(
        "VNINDEX", 1200.0, 1230.0, 1150.0, 1290.0, direction_supported=False, unit="points"
    )
    table = format_comparison([vn30, vnindex], "en")
    assert "points" in table.splitlines()[0]
    assert "thousand VND" not in table
    assert "1,150.0–1,290.0" in table


def test_ranking_names_the_index_unit() -> None:
    stock = make_prediction(direction_supported=False)
    index = _index_prediction()
    en = format_ranking([stock, index], "en", "up")
    assert "VN30: 932.8 → 950.0" in en
    assert "VN30 in points" in en.splitlines()[-1]
    vi = format_ranking([index], "vi", "up")
    assert "điểm" in vi.splitlines()[-1] and "nghìn đồng" not in vi


def test_history_and_track_record_of_an_index_are_in_points() -> None:
    days = [date(2019, 3, 1), date(2019, 3, 8), date(2019, 3, 15)]
    text = format_history("VN30", days, [900.0, 950.0, 932.75], "en")
    assert "900.0 → 932.8 points" in text and "thousand VND" not in text
    vi = format_history("VNINDEX", days, [900.0, 950.0, 932.75], "vi")
    assert "điểm" in vi and "nghìn đồng" not in vi
    stock = format_history("VNM", days, [65_000.0, 66_000.0, 64_500.0], "en")
    assert "65.0 → 64.5 thousand VND" in stock
    # an explicit unit wins (a store that knows a series is an index)
    assert "points" in format_history("XYZIDX", days, [10.0, 11.0, 12.0], "en", unit="points")

    item = PastPrediction(
        prediction_date=date(2019, 2, 1),
        target_date=date(2019, 3, 1),
        last_close=910.0,
        price_target=940.0,
        pattern="UP",
        resolved=True,
        actual_price=932.75,
        actual_pattern="SIDEWAYS",
        in_interval=True,
    )
    record = format_track_record("VN30", [item], "en")
    assert "(points)" in record and "target 940.0" in record and "actual 932.8" in record
    assert "thousand VND" not in record
