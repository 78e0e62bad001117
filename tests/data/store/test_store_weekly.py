"""Features, labels, corporate actions and predictions in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from stockvision.data.store import FEATURE_COLUMNS, LABEL_COLUMNS, Store

pytestmark = pytest.mark.integration


def _features(symbols: list[str], weeks: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.MultiIndex.from_product(
        [symbols, pd.date_range("2024-01-05", periods=weeks, freq="W-FRI")],
        names=["symbol", "week_end"],
    )
    values = rng.normal(size=(len(index), len(FEATURE_COLUMNS)))
    values[0, :5] = np.nan  # warm-up NaNs survive the round trip as NaN
    values[3, 7] = np.nan
    return pd.DataFrame(values, index=index, columns=FEATURE_COLUMNS)


def _labels(features: pd.DataFrame) -> pd.DataFrame:
    n = len(features)
    rng = np.random.default_rng(1)
    raw = rng.uniform(10_000, 50_000, n)
    ret = rng.normal(0, 0.05, n)
    labels = pd.DataFrame(
        {
            "close": raw * 0.95,
            "raw_close": raw,
            "future_return": ret,
            "future_log_return": np.log1p(ret),
            "price_target_true": raw * (1 + ret),
            "pattern": np.where(ret > 0.01, "UP", np.where(ret < -0.01, "DOWN", "SIDEWAYS")),
        },
        index=features.index,
    )
    tail = labels.groupby(level="symbol").tail(2).index  # horizon not yet reached: NaN labels
    labels.loc[tail, ["future_return", "future_log_return", "price_target_true"]] = np.nan
    labels["pattern"] = labels["pattern"].astype(object)
    labels.loc[tail, "pattern"] = None
    return labels[LABEL_COLUMNS]


def test_features_round_trip_and_idempotence(store: Store) -> None:
    features = _features(["FPT", "VNM"])

    first = store.upsert_features(features)
    again = store.upsert_features(features)

    assert (first.inserted, first.updated) == (12, 0)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 12)
    back = store.read_features()
    pd.testing.assert_frame_equal(back, features, check_exact=True, check_index_type=False)
    assert back.index.get_level_values("week_end").dtype == "datetime64[ns]"


def test_features_update_filters_and_last_week(store: Store) -> None:
    features = _features(["FPT", "VNM"])
    store.upsert_features(features)
    changed = features.copy()
    changed.iloc[0, 0] = 0.5  # NaN -> value counts as a change
    changed.iloc[5, 3] = np.nan  # value -> NaN too

    result = store.upsert_features(changed)

    assert (result.inserted, result.updated, result.unchanged) == (0, 2, 10)
    part = store.read_features(symbols="vnm", start="2024-01-12", end="2024-01-26")
    want = changed.loc[(["VNM"], slice("2024-01-12", "2024-01-26")), :]
    pd.testing.assert_frame_equal(part, want, check_exact=True, check_index_type=False)
    last = store.last_feature_week("fpt")
    assert last is not None
    assert last["week_end"] == pd.Timestamp("2024-02-09")
    assert last["ret_1w"] == changed.loc[("FPT", pd.Timestamp("2024-02-09")), "ret_1w"]
    assert store.last_feature_week("NOPE") is None


def test_feature_frame_with_wrong_columns_is_refused(store: Store) -> None:
    features = _features(["FPT"]).drop(columns="rsi_speed").assign(extra=1.0)
    with pytest.raises(ValueError, match=r"missing \['rsi_speed'\], unknown \['extra'\]"):
        store.upsert_features(features)
    doubled = pd.concat([_features(["FPT"]), _features(["FPT"])])
    with pytest.raises(ValueError, match="duplicate"):
        store.upsert_features(doubled)
    assert store.read_features().empty


def test_labels_round_trip_keeps_missing_labels(store: Store) -> None:
    labels = _labels(_features(["FPT", "HPG"]))

    store.upsert_labels(labels)
    again = store.upsert_labels(labels)

    assert (again.inserted, again.updated) == (0, 0)
    back = store.read_labels()
    pd.testing.assert_frame_equal(back, labels, check_exact=True, check_index_type=False)
    assert back["pattern"].isna().sum() == 4


def test_replace_factors_only_touches_given_symbols(store: Store) -> None:
    days = pd.bdate_range("2024-01-01", periods=4)
    factors = pd.DataFrame(
        {
            "symbol": ["AAA"] * 4 + ["BBB"] * 4,
            "date": list(days) * 2,
            "factor": [0.5] * 2 + [1.0] * 6,
        }
    )
    events = pd.DataFrame(
        {
            "symbol": ["AAA"],
            "date": [days[2]],
            "prev_close": [20_000.0],
            "close": [10_100.0],
            "pct_change": [-0.495],
            "ratio": [1.0],
            "kind": ["stock_dividend"],
        }
    )
    store.replace_factors(factors, events)
    new_aaa = pd.DataFrame({"symbol": ["AAA"] * 2, "date": days[:2], "factor": [0.8, 1.0]})

    assert store.replace_factors(new_aaa) == 2

    back = store.read_factors()
    assert back.groupby("symbol").size().to_dict() == {"AAA": 2, "BBB": 4}
    assert back.loc[back["symbol"] == "AAA", "factor"].tolist() == [0.8, 1.0]
    assert back["date"].dtype == "datetime64[ns]"
    assert store.read_corporate_actions().empty  # AAA's events were replaced by none
    store.replace_factors(factors, events)
    actions = store.read_corporate_actions("AAA")
    assert actions[["symbol", "kind", "ratio"]].to_dict("records") == [
        {"symbol": "AAA", "kind": "stock_dividend", "ratio": 1.0}
    ]
    assert actions["date"].iloc[0] == days[2]


def _prediction(**overrides: object) -> dict:
    row = {
        "symbol": "FPT",
        "prediction_date": date(2024, 3, 1),
        "target_date": date(2024, 3, 29),
        "last_close": 100_000.0,
        "price_target": 104_000.0,
        "interval_low": 95_000.0,
        "interval_high": 112_000.0,
        "expected_return": 0.04,
        "pattern": "UP",
        "p_up": 0.55,
        "p_down": 0.2,
        "p_sideways": 0.25,
        "confidence": 0.55,
        "price_model_version": "3",
        "pattern_model_version": "5",
        "simulated": False,
        "source": "api",
        "request_id": "req-1",
    }
    row.update(overrides)
    return row


def test_predictions_round_trip_without_duplicates(store: Store) -> None:
    assert store.save_predictions([_prediction(), _prediction(symbol="VNM")]) == 2
    assert store.save_predictions([_prediction(source="chat", request_id="req-2")]) == 0
    assert store.save_predictions([_prediction(price_target=105_000.0)]) == 1
    assert store.save_predictions([_prediction(price_model_version="4")]) == 1
    assert store.save_predictions([_prediction(price_model_version=None)]) == 1
    assert store.save_predictions([_prediction(price_model_version=None)]) == 0

    back = store.read_predictions()
    assert len(back) == 4
    fpt = back[(back["symbol"] == "FPT") & (back["price_model_version"] == "3")].iloc[0]
    assert fpt["price_target"] == 105_000.0
    assert fpt["source"] == "api"  # first serve kept; the chat re-serve did not duplicate it
    assert back["price_model_version"].isna().sum() == 1
    assert back["prediction_date"].dtype == "datetime64[ns]"
    assert len(store.read_predictions(symbol="VNM")) == 1
    assert store.read_predictions(since="2024-03-02").empty


def test_predictions_accept_frames_and_prediction_objects(store: Store) -> None:
    from stockvision.predict.types import (
        ModelVersions,
        PatternProbabilities,
        Prediction,
        PriceInterval,
    )

    served = Prediction(
        symbol="HPG",
        exchange="HOSE",
        company_name="Hoa Phat",
        prediction_date=date(2024, 3, 8),
        target_date=date(2024, 4, 5),
        data_as_of=date(2024, 3, 8),
        last_close=28_000.0,
        last_close_k=28.0,
        price_target=27_000.0,
        price_target_k=27.0,
        interval=PriceInterval(low=25_000.0, high=30_000.0, coverage=0.8),
        expected_return=-0.036,
        pattern="DOWN",
        probabilities=PatternProbabilities(up=0.2, down=0.5, sideways=0.3),
        confidence=0.5,
        model_versions=ModelVersions(price="7", pattern="8"),
        simulated=True,
        generated_at=datetime(2024, 3, 8, 9, 30),
    )
    frame = pd.DataFrame([_prediction(source="batch"), _prediction(symbol="VNM", source="cli")])

    assert store.save_predictions(frame) == 2
    assert store.save_predictions([served]) == 1

    row = store.read_predictions(symbol="HPG").iloc[0]
    assert (row["interval_low"], row["p_down"], row["pattern_model_version"]) == (
        25_000.0,
        0.5,
        "8",
    )
    assert bool(row["simulated"]) and row["created_at"] == pd.Timestamp("2024-03-08 09:30")
    with pytest.raises(ValueError, match="source"):
        store.save_predictions([_prediction(source="web")])


def test_feature_columns_follow_the_features_module() -> None:
    features = pytest.importorskip("stockvision.features")
    if not hasattr(features, "FEATURES"):
        pytest.skip("stockvision.features does not export FEATURES yet")
    assert list(features.FEATURES) == FEATURE_COLUMNS


def test_a_prediction_served_with_other_caveats_updates_its_row_in_place(store: Store) -> None:
    departed = {"code": "live_coverage_departed", "measured": 0.55}
    narrow = {"code": "narrow_range_undercovers", "measured": 0.71}
    assert store.save_predictions([_prediction(caveats=[departed, narrow])]) == 1
    # the same caveats in another order (and with their messages) are the same row: no write
    same = [{**narrow, "message_en": "…"}, {**departed, "message_vi": "…"}]
    assert store.save_predictions([_prediction(caveats=same, source="chat")]) == 0
    assert store.save_predictions([_prediction(caveats=[narrow], source="chat")]) == 1
    [row] = store.read_predictions().to_dict("records")
    assert row["caveats"] == '[{"code":"narrow_range_undercovers","measured":0.71}]'
    assert row["source"] == "api"  # who asked first is kept; only what was shown changed
    with pytest.raises(ValueError, match=r"caveats must be a list of \{code, measured\}"):
        store.save_predictions([_prediction(caveats="not json")])
    with pytest.raises(ValueError, match="caveats must be"):
        store.save_predictions([_prediction(caveats=[{"measured": 0.5}])])
