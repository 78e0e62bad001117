"""The chart panel: a year of weekly candles, the one-month target with its interval, and how
past predictions compared with what happened.

``figure_for`` draws from plain inputs (weekly bars, an optional ``Prediction``, past
predictions) so the CSV upload tab and the chat share it; ``build_chart`` fetches those inputs
from the prediction service. Prices are shown in thousand VND like Vietnamese trading boards.
Simulated data is labelled on the chart itself, not only in the text.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from stockvision.predict.types import Prediction

log = logging.getLogger(__name__)

UP_COLOR = "#16a34a"
DOWN_COLOR = "#dc2626"
TARGET_COLOR = "#2563eb"
WALKFORWARD_RGB = (13, 148, 136)
ACTUAL_COLOR = "#f59e0b"

TEXT = {
    "vi": {
        "candles": "Nến tuần (giá điều chỉnh)",
        "target": "Giá mục tiêu 4 tuần",
        "band": "Khoảng dự báo",
        "past": "Dự báo trước đây",
        "walkforward": "Kiểm định walk-forward (ngoài mẫu)",
        "actual": "Giá thực tế",
        "title": "{sym} — nến tuần {n} tuần gần nhất và dự báo 1 tháng",
        "price": "Giá (nghìn đồng)",
        "simulated": "DỮ LIỆU MÔ PHỎNG — không phải giá thật",
        "uploaded": "Dữ liệu tải lên",
        "no_data": "Chưa có dữ liệu để vẽ biểu đồ",
        "hit": "trong khoảng",
        "miss": "ngoài khoảng",
        "pending": "chưa đến hạn",
    },
    "en": {
        "candles": "Weekly candles (adjusted)",
        "target": "4-week price target",
        "band": "Forecast interval",
        "past": "Past predictions",
        "walkforward": "Walk-forward test (out of sample)",
        "actual": "Actual price",
        "title": "{sym} — weekly candles, last {n} weeks, and the 1-month forecast",
        "price": "Price (thousand VND)",
        "simulated": "SIMULATED DATA — not real prices",
        "uploaded": "Uploaded data",
        "no_data": "No data to chart yet",
        "hit": "inside interval",
        "miss": "outside interval",
        "pending": "not due yet",
    },
}


def _k(values: Any) -> Any:
    """VND -> thousand VND (works on scalars, arrays and Series)."""
    return values / 1000.0


def empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(
        xaxis={"visible": False}, yaxis={"visible": False}, height=420, template="plotly_white"
    )
    return fig


def figure_for(
    symbol: str,
    bars: pd.DataFrame,
    prediction: Prediction | None = None,
    past: Sequence[Any] = (),
    simulated: bool = False,
    language: str = "vi",
    subtitle: str | None = None,
    walkforward: Sequence[Any] = (),
) -> go.Figure:
    """Candles from ``bars`` (``week_end, open, high, low, close`` in VND), the target at its date
    with the interval as an error bar and a shaded cone from the last close, and ``past``
    predictions (``PastPrediction``-like: ``target_date, price_target, interval_low/high,
    actual_price, in_interval``) and ``walkforward`` out-of-sample test predictions against the
    realised prices."""
    t = TEXT["en" if language == "en" else "vi"]
    if bars is None or len(bars) == 0:
        return empty_figure(t["no_data"])
    bars = bars.sort_values("week_end")
    x = pd.to_datetime(bars["week_end"])
    fig = go.Figure()
    fig.add_trace(
        go.Candlestick(
            x=x,
            open=_k(bars["open"]),
            high=_k(bars["high"]),
            low=_k(bars["low"]),
            close=_k(bars["close"]),
            name=t["candles"],
            increasing_line_color=UP_COLOR,
            decreasing_line_color=DOWN_COLOR,
        )
    )
    if prediction is not None:
        _add_target(fig, prediction, t)
    if walkforward:
        _add_past(fig, walkforward, t, x.min(), t["walkforward"], WALKFORWARD_RGB)
    if past:
        _add_past(fig, past, t, start=x.min())
    title = t["title"].format(sym=symbol, n=len(bars))
    if subtitle:
        title += f"<br><sup>{subtitle}</sup>"
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 15}},
        yaxis_title=t["price"],
        xaxis_rangeslider_visible=False,
        template="plotly_white",
        height=460,
        margin={"l": 55, "r": 20, "t": 70, "b": 40},
        legend={"orientation": "h", "yanchor": "top", "y": -0.08, "x": 0},
        hovermode="x unified",
    )
    if simulated or (prediction is not None and prediction.simulated):
        _label_simulated(fig, t["simulated"])
    return fig


def _add_target(fig: go.Figure, p: Prediction, t: dict[str, str]) -> None:
    start, end = pd.Timestamp(p.prediction_date), pd.Timestamp(p.target_date)
    last_k, target_k = p.last_close_k, p.price_target_k
    low_k, high_k = _k(p.interval.low), _k(p.interval.high)
    cov = round(p.interval.coverage * 100)
    # shaded cone from the last close widening to the interval at the target date
    fig.add_trace(
        go.Scatter(
            x=[start, end, end, start],
            y=[last_k, high_k, low_k, last_k],
            fill="toself",
            fillcolor="rgba(37, 99, 235, 0.12)",
            line={"width": 0},
            hoverinfo="skip",
            name=f"{t['band']} {cov}%",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[start, end],
            y=[last_k, target_k],
            mode="lines",
            line={"color": TARGET_COLOR, "dash": "dot", "width": 1.5},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[end],
            y=[target_k],
            mode="markers",
            marker={"color": TARGET_COLOR, "size": 11, "symbol": "diamond"},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [high_k - target_k],
                "arrayminus": [target_k - low_k],
                "color": TARGET_COLOR,
                "thickness": 2,
                "width": 8,
            },
            name=t["target"],
            hovertemplate=(
                f"{t['target']}: %{{y:.2f}}<br>{t['band']}: {low_k:.2f} – {high_k:.2f}"
                "<extra></extra>"
            ),
        )
    )


@dataclass(frozen=True)
class PastPoint:
    """A past prediction and its outcome, in ``PastPrediction``'s attribute names."""

    target_date: date
    price_target: float
    interval_low: float | None
    interval_high: float | None
    resolved: bool
    actual_price: float | None
    in_interval: bool | None


_WF_LOCK = threading.Lock()
_WF_CACHE: dict[str, tuple[int, pd.DataFrame]] = {}


def walkforward_points(
    report_dir: Path | str | None, model: str | None, symbol: str, horizon_weeks: int = 4
) -> list[PastPoint]:
    """Out-of-sample walk-forward predictions of ``model`` for ``symbol`` with their outcomes,
    from the evaluation's ``predictions.csv`` (targets = raw close * exp(predicted log return))."""
    if report_dir is None or not model:
        return []
    path = Path(report_dir) / "predictions.csv"
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return []
    with _WF_LOCK:
        cached = _WF_CACHE.get(str(path))
        if cached is None or cached[0] != mtime:
            frame = pd.read_csv(path)
            frame = frame.loc[frame["kind"] == "price"]
            _WF_CACHE[str(path)] = cached = (mtime, frame)
    frame = cached[1]
    rows = frame.loc[(frame["model"] == model) & (frame["symbol"] == symbol)]
    out = []
    for r in rows.itertuples(index=False):
        close = float(r.raw_close)
        actual = None if pd.isna(r.actual_price) else float(r.actual_price)
        low, high = close * np.exp(float(r.low)), close * np.exp(float(r.high))
        out.append(
            PastPoint(
                target_date=pd.Timestamp(r.week_end).date() + timedelta(weeks=horizon_weeks),
                price_target=close * float(np.exp(r.pred_log_return)),
                interval_low=low,
                interval_high=high,
                resolved=actual is not None,
                actual_price=actual,
                in_interval=None if actual is None else bool(low <= actual <= high),
            )
        )
    return out


def _add_past(
    fig: go.Figure,
    past: Sequence[Any],
    t: dict[str, str],
    start: Any,
    name: str | None = None,
    color: tuple[int, int, int] = (124, 58, 237),
) -> None:
    rows = [p for p in past if p.target_date is not None and pd.Timestamp(p.target_date) >= start]
    if not rows:
        return
    x = [pd.Timestamp(p.target_date) for p in rows]
    target = [_k(p.price_target) for p in rows]
    plus = [_k(p.interval_high) - _k(p.price_target) if p.interval_high else 0.0 for p in rows]
    minus = [_k(p.price_target) - _k(p.interval_low) if p.interval_low else 0.0 for p in rows]
    status = [
        t["pending"] if not p.resolved else (t["hit"] if p.in_interval else t["miss"]) for p in rows
    ]
    fig.add_trace(
        go.Scatter(
            x=x,
            y=target,
            mode="markers",
            marker={
                "color": f"rgb{color}",
                "size": 7,
                "symbol": "circle-open",
                "line": {"width": 2},
            },
            error_y={
                "type": "data",
                "symmetric": False,
                "array": plus,
                "arrayminus": minus,
                "color": f"rgba{(*color, 0.35)}",
                "width": 3,
            },
            name=name or t["past"],
            customdata=status,
            hovertemplate=f"{name or t['past']}: %{{y:.2f}} (%{{customdata}})<extra></extra>",
        )
    )
    done = [p for p in rows if p.resolved and p.actual_price is not None]
    if done:
        fig.add_trace(
            go.Scatter(
                x=[pd.Timestamp(p.target_date) for p in done],
                y=[_k(p.actual_price) for p in done],
                mode="markers",
                marker={"color": ACTUAL_COLOR, "size": 8, "symbol": "x"},
                name=t["actual"],
                legendgroup="actual",
                showlegend=not any(tr.name == t["actual"] for tr in fig.data),
                hovertemplate=f"{t['actual']}: %{{y:.2f}}<extra></extra>",
            )
        )


def _label_simulated(fig: go.Figure, text: str) -> None:
    fig.add_annotation(
        text=text,
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        showarrow=False,
        font={"size": 26, "color": "rgba(220, 38, 38, 0.28)"},
        textangle=-18,
    )
    fig.add_annotation(
        text=f"⚠ {text}",
        xref="paper",
        yref="paper",
        x=1,
        y=1.06,
        xanchor="right",
        showarrow=False,
        font={"size": 12, "color": DOWN_COLOR},
    )


def bars_frame(history: Any) -> pd.DataFrame:
    """``HistoryResponse.bars`` -> DataFrame with ``week_end, open, high, low, close, volume``."""
    return pd.DataFrame(
        [b.model_dump() for b in history.bars],
        columns=["week_end", "open", "high", "low", "close", "volume"],
    )


def build_chart(
    service: Any,
    symbol: str,
    weeks: int = 52,
    prediction: Prediction | None = None,
    language: str = "vi",
) -> go.Figure:
    """The chart for a tracked symbol, from ``service.history`` and ``service.past_predictions``.

    Missing pieces degrade the chart (no past predictions, no target), they never fail it; an
    unknown symbol gives a figure saying there is nothing to draw.
    """
    t = TEXT["en" if language == "en" else "vi"]
    try:
        history = service.history(symbol, weeks)
    except Exception as exc:
        log.info("chart: no history for %s: %s", symbol, exc)
        return empty_figure(f"{t['no_data']}: {symbol}")
    past: Sequence[Any] = ()
    try:
        past = service.past_predictions(symbol).items
    except Exception as exc:
        log.info("chart: no past predictions for %s: %s", symbol, exc)
    walkforward: list[PastPoint] = []
    try:
        from stockvision.chat.wiring import WalkForwardMetrics

        found = WalkForwardMetrics(service, service.settings).metrics_path()
        walkforward = walkforward_points(
            found.parent if found else None,
            service.models.price_class,
            history.symbol,
            service.settings.horizon_weeks,
        )
    except Exception as exc:
        log.info("chart: no walk-forward predictions for %s: %s", symbol, exc)
    return figure_for(
        history.symbol,
        bars_frame(history),
        prediction=prediction,
        past=past,
        simulated=bool(history.simulated),
        language=language,
        walkforward=walkforward,
    )
