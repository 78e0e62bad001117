"""A real ``Prediction`` built from given numbers, for the chat tests.

A module of its own (not ``conftest``) so test files import it by a unique name: ``from conftest
import ...`` resolves to whichever conftest pytest loaded last when several directories are collected.
"""

from __future__ import annotations

from datetime import date, timedelta

from stockvision.predict.types import (
    Driver,
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
    probs: tuple[float, float, float] = (0.2, 0.25, 0.55),
    simulated: bool = False,
    drivers: list[Driver] | None = None,
    company_name: str = "CTCP Sữa Việt Nam",
    direction_supported: bool = True,
    unit: str = "VND",
) -> Prediction:
    """A real ``Prediction`` from given numbers (the service boundary the chat consumes).

    ``unit="points"`` makes an index quote: its display values are the points themselves."""
    scale = 1.0 if unit == "points" else 1000.0
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
        last_close_k=last_close / scale,
        price_target=target,
        price_target_k=target / scale,
        unit=unit,
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
