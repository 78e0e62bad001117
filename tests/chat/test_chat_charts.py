"""The chart figure from plain inputs (fast, no trained system)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from prediction_factory import make_prediction

from stockvision.chat.charts import PastPoint, figure_for


def _bars(n: int = 52) -> pd.DataFrame:
    weeks = pd.date_range(end="2024-05-31", periods=n, freq="W-FRI")
    close = 60_000 + np.cumsum(np.random.default_rng(0).normal(0, 800, n))
    return pd.DataFrame(
        {"week_end": weeks, "open": close - 300, "high": close + 900, "low": close - 900,
         "close": close, "volume": 1e6}
    )  # fmt: skip


def test_candles_target_interval_and_past_predictions():
    pred = make_prediction(last_close=65_000, target=68_500, low=64_200, high=72_900)
    past = [
        PastPoint(date(2024, 5, 3), 61_000, 58_000, 64_000, True, 62_500, True),
        PastPoint(date(2024, 5, 10), 60_000, 58_000, 61_000, True, 63_000, False),
        PastPoint(date(2024, 6, 28), 66_000, 63_000, 69_000, False, None, None),
    ]
    fig = figure_for("VNM", _bars(), prediction=pred, past=past)
    names = [t.name for t in fig.data]
    assert fig.data[0].type == "candlestick" and len(fig.data[0].x) == 52
    assert fig.data[0].close[-1] == _bars()["close"].iloc[-1] / 1000  # thousand VND
    target = fig.data[names.index("Giá mục tiêu 4 tuần")]
    assert target.x[0] == pd.Timestamp(pred.target_date) and target.y[0] == 68.5
    assert target.error_y.array[0] == 72.9 - 68.5
    assert abs(target.error_y.arrayminus[0] - (68.5 - 64.2)) < 1e-9
    band = fig.data[names.index("Khoảng dự báo 80%")]
    assert band.fill == "toself" and max(band.y) == 72.9 and min(band.y) == 64.2
    pastt = fig.data[names.index("Dự báo trước đây")]
    assert list(pastt.customdata) == ["trong khoảng", "ngoài khoảng", "chưa đến hạn"]
    actual = fig.data[names.index("Giá thực tế")]
    assert list(actual.y) == [62.5, 63.0]
    assert not any("MÔ PHỎNG" in (a.text or "") for a in fig.layout.annotations)


def test_simulated_data_is_labelled_on_the_chart_in_the_answer_language():
    fig = figure_for("SIM1", _bars(), prediction=make_prediction(simulated=True), language="en")
    texts = [a.text for a in fig.layout.annotations]
    assert any("SIMULATED DATA" in t for t in texts)
    fig = figure_for("SIM1", _bars(), simulated=True)
    assert any("DỮ LIỆU MÔ PHỎNG" in a.text for a in fig.layout.annotations)


def test_past_predictions_before_the_window_are_left_out_and_empty_bars_say_so():
    old = [PastPoint(date(2020, 1, 3), 1.0, 0.9, 1.1, True, 1.0, True)]
    fig = figure_for("VNM", _bars(), past=old)
    assert [t.type for t in fig.data] == ["candlestick"]
    empty = figure_for("VNM", _bars().iloc[:0])
    assert "Chưa có dữ liệu" in empty.layout.annotations[0].text
    assert (
        date(2024, 5, 31) - timedelta(weeks=51) == pd.Timestamp(_bars()["week_end"].iloc[0]).date()
    )
