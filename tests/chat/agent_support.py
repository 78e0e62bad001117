"""An agent over generated predictions and a real Qdrant memory (local mode in a temp dir)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from prediction_factory import make_prediction

from stockvision.chat.agent import Agent
from stockvision.chat.engine import ChatEngine
from stockvision.errors import UnknownSymbolError

PRICES = {"VNM": 65_000.0, "FPT": 95_000.0, "HPG": 27_000.0, "HSG": 18_000.0, "VCB": 88_000.0}
PROBS = {"VNM": (0.2, 0.25, 0.55), "FPT": (0.15, 0.2, 0.65), "HPG": (0.5, 0.3, 0.2)}
METRICS = {
    "models": {
        "ridge": {"kind": "price", "price": {"mae_pct": 6.21, "mae_ratio_vs_random_walk": 0.97}},
        "lgbm": {"kind": "pattern", "pattern": {"accuracy": 0.431, "log_loss_skill": 0.012}},
    }
}


def predict(symbol: str):
    if symbol not in PRICES:
        raise UnknownSymbolError(symbol, [])
    close = PRICES[symbol]
    probs = PROBS.get(symbol, (0.3, 0.4, 0.3))
    move = {0: -0.04, 1: 0.0, 2: 0.05}[int(np.argmax(probs))]
    return make_prediction(
        symbol,
        last_close=close,
        target=close * (1 + move),
        low=close * 0.9,
        high=close * 1.12,
        probs=probs,
    )


def history(symbol: str, weeks: int) -> pd.DataFrame:
    rng = np.random.default_rng(sum(map(ord, symbol)))
    common = np.random.default_rng(0).normal(0, 0.03, weeks)
    closes = PRICES.get(symbol, 10_000.0) * np.exp(np.cumsum(common + rng.normal(0, 0.02, weeks)))
    end = date(2024, 5, 31)
    dates = [end - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    return pd.DataFrame({"date": pd.to_datetime(dates), "close": closes})


def news(symbol: str, limit: int, until: datetime | None = None):
    """Stored headlines as the news view returns them: two about HPG, none for the others
    (``until``: only those published by then, as the store's query does)."""
    from stockvision.news.views import Headline

    if symbol != "HPG":
        return []
    items = [
        Headline("Hòa Phát báo lãi quý tăng mạnh", "cafef", datetime(2024, 5, 30, 9, 15),
                 "https://cafef.vn/hpg.html", "positive", 0.05, 0.13, 0.82, ["HPG"]),
        Headline("Giá thép xây dựng giảm lần thứ 3", "vnexpress", datetime(2024, 5, 28, 14, 40),
                 None, "negative", 0.71, 0.2, 0.09, ["HPG", "HSG"]),
    ]  # fmt: skip
    return [h for h in items if until is None or h.published_at <= until][:limit]


def make_engine(news_fn=news) -> ChatEngine:
    from stockvision.market.listings import LISTINGS

    def rank(universe, direction, top_n):
        syms = [s for s in PRICES if universe is None or s in universe]
        preds = sorted((predict(s) for s in syms), key=lambda p: p.expected_return)
        return (preds if direction == "down" else preds[::-1])[:top_n]

    return ChatEngine(
        predict_fn=predict,
        rank_fn=rank,
        history_fn=history,
        metrics_fn=lambda: METRICS,
        listings=LISTINGS,
        track_fn=lambda s: [],
        market_fn=lambda: [predict(s) for s in PRICES],
        news_fn=news_fn,
    )


def make_memory(path: Path):
    from qdrant_client import QdrantClient

    from stockvision.chat.memory import Memory

    return Memory(QdrantClient(path=str(path)))


def make_alerts(path: Path):
    """The real alert store on a fresh SQLite file (what the stream worker reads)."""
    from stockvision.data.store import Store
    from stockvision.data.store.alerts import AlertStore

    return AlertStore(Store(f"sqlite:///{path / 'alerts.db'}"))


def make_agent(memory=None, llm=None, alerts=None, news_fn=news) -> Agent:
    return Agent(make_engine(news_fn), memory=memory, llm=llm, alerts=alerts)
