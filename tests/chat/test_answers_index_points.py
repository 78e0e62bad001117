"""An index (VN30, VNINDEX) is quoted in points: the chat never shows it as thousand VND."""

from __future__ import annotations

from prediction_factory import make_prediction

from stockvision.chat.answers import format_prediction
from stockvision.data.directory import SymbolDirectory
from stockvision.predict.types import Prediction


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
