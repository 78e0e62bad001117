"""Integration on the real VN30 constituents 2016-2019 (skipped when ../shared/data is absent)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stockvision.features import FEATURES, build_features_and_labels

corporate_actions = pytest.importorskip(
    "stockvision.market.corporate_actions",
    reason="needs stockvision.market.corporate_actions.adjust",
)


@pytest.fixture(scope="module")
def vn30(vn30_daily_path):
    raw = pd.read_csv(vn30_daily_path)
    daily = pd.DataFrame(
        {
            "symbol": raw["ticket"].astype(str).str.upper(),
            "date": pd.to_datetime(raw["date"]),
            "open": raw["open"].astype(float),
            "high": raw["high"].astype(float),
            "low": raw["low"].astype(float),
            "close": raw["close"].astype(float),
            "volume": raw["volume"].astype(float),
        }
    ).sort_values(["symbol", "date"], ignore_index=True)
    adjusted = corporate_actions.adjust(daily, exchange_of="HOSE")  # VN30 members list on HOSE
    features, labels = build_features_and_labels(adjusted)
    return daily, features, labels


def test_shape(vn30):
    daily, features, _ = vn30
    n_symbols = daily["symbol"].nunique()
    weeks = features.index.get_level_values("week_end").unique()
    assert features.index.get_level_values("symbol").nunique() == n_symbols == 30
    assert 170 <= len(weeks) <= 185  # Jan 2016 .. mid-June 2019
    assert len(features) <= n_symbols * len(weeks)
    assert list(features.columns) == FEATURES
    # after a year of history every feature is mostly defined (HDB, TCB, VHM... list in 2017-18)
    late = features[features.index.get_level_values("week_end") >= "2018-01-01"]
    assert (late.isna().mean() < 0.15).all()
    assert late.drop(columns="ret_52w").isna().mean().max() < 0.08


def test_label_balance(vn30):
    _, _, labels = vn30
    share = labels["pattern"].value_counts(normalize=True)
    assert set(share.index) == {"DOWN", "SIDEWAYS", "UP"}
    assert 0.05 < share["SIDEWAYS"] < 0.3
    assert 0.25 < share["UP"] < 0.65 and 0.25 < share["DOWN"] < 0.65
    fr = labels["future_return"].dropna()
    assert abs(fr.median()) < 0.05
    assert fr.min() > -0.6 and fr.max() < 2.0  # ROS's 2016 run-up (+171% in 4 weeks) is real


@pytest.mark.parametrize(("symbol", "raw_drop"), [("HPG", -0.31), ("PNJ", -0.36)])
def test_corporate_actions_do_not_show_as_crashes(vn30, symbol, raw_drop):
    daily, features, _ = vn30
    week = pd.Timestamp("2016-05-20")
    raw = daily[daily["symbol"] == symbol].set_index("date")["close"]
    raw_week = raw[:week].iloc[-1] / raw[: week - pd.Timedelta(days=7)].iloc[-1] - 1
    assert raw_week == pytest.approx(raw_drop, abs=0.01)  # the unadjusted feed shows the drop
    ret = features.loc[symbol, "ret_1w"]
    assert ret.loc[week] > -0.15  # adjusted: an ordinary week
    assert ret.loc["2016-04-01":"2016-07-01"].min() > -0.15
    assert features.loc[symbol, "max_4w"].max() < 0.075  # never beyond HOSE's 7% daily band
    assert np.isfinite(ret.loc["2016-06-03"])
