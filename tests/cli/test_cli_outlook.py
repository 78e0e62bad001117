"""`stockvision predict`'s table follows the chat's honesty rules: range first, base rates beside the
probabilities, an arrow only with evidence, indices in points, and the model that speaks."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chat"))
from prediction_factory import make_prediction

from stockvision.cli.serve_cmds import _model_lines, _outlook_table
from stockvision.predict.types import PatternProbabilities, ServingModel


def _render(preds) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(_outlook_table(preds))
    return console.export_text()


def test_no_arrow_without_evidence_and_base_rates_beside_the_probabilities():
    flat = make_prediction(
        "VNM", target=65_000.0, probs=(0.42, 0.16, 0.42), direction_supported=False
    )
    flat = flat.model_copy(
        update={"base_rates": PatternProbabilities(up=0.48, down=0.40, sideways=0.12)}
    )
    text = _render([flat])
    assert "no clear direction" in text and "▲" not in text and "UP" not in text
    assert "48% / 12% / 40%" in text  # base rate: up / sideways / down
    assert "64.20 – 72.90k" in text and "65.00k (+0.0%)" in text


def test_arrow_only_when_supported_and_index_in_points():
    up = make_prediction("FPT", probs=(0.1, 0.2, 0.7), direction_supported=True)
    index = make_prediction(
        "VN30",
        last_close=932.75,
        target=940.0,
        low=880.0,
        high=990.0,
        unit="points",
        direction_supported=False,
    )
    text = _render([up, index])
    assert "▲ UP" in text
    assert "932.75 pts" in text and "880.00 – 990.00 pts" in text and "0.93" not in text


def test_the_serving_model_is_named_once_with_its_measured_line():
    model = ServingModel(
        name="har_vol",
        label_vi="mô hình biến động học từ dữ liệu (HAR)",
        label_en="learned volatility model (HAR)",
        baseline=False,
        skill_en="Walk-forward test: CRPS 1.7% better than the constant-width random walk.",
    )
    preds = [make_prediction(s).model_copy(update={"serving_model": model}) for s in ("VNM", "HPG")]
    assert _model_lines(preds) == [
        "Forecast model: learned volatility model (HAR). Walk-forward test: CRPS 1.7% better "
        "than the constant-width random walk."
    ]
