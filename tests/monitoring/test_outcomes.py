"""Outcome join and live metrics, checked by hand on a few predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stockvision.monitoring.outcomes import join_outcomes, live_metrics, rolling_live_metrics


def _preds():
    return pd.DataFrame(
        {
            "symbol": ["AAA", "AAA", "BBB"],
            "prediction_date": pd.to_datetime(["2024-01-05", "2024-01-12", "2024-01-05"]),
            "last_close": [100.0, 100.0, 50.0],
            "price_target": [110.0, 95.0, 49.0],
            "interval_low": [100.0, 90.0, 45.0],
            "interval_high": [120.0, 100.0, 52.0],
            "pattern": ["UP", "DOWN", "SIDEWAYS"],
            "p_down": [0.1, 0.7, 0.2],
            "p_sideways": [0.2, 0.2, 0.6],
            "p_up": [0.7, 0.1, 0.2],
            "pattern_model_version": ["1", "1", "2"],
        }
    )


def _labels():
    idx = pd.MultiIndex.from_tuples(
        [("AAA", pd.Timestamp("2024-01-05")), ("BBB", pd.Timestamp("2024-01-05"))],
        names=["symbol", "week_end"],
    )
    return pd.DataFrame(
        {
            "price_target_true": [105.0, 55.0],
            "future_return": [0.05, 0.10],
            "pattern": ["UP", "UP"],
        },
        index=idx,
    )


def test_join_marks_unresolved_and_scores_resolved():
    out = join_outcomes(_preds(), _labels())
    assert out["resolved"].tolist() == [True, False, True]
    aaa = out.iloc[0]
    assert abs(aaa["abs_error_pct"] - 5 / 105 * 100) < 1e-9
    assert aaa["direction_hit"] == 1.0 and aaa["pattern_hit"] == 1.0 and aaa["in_interval"] == 1.0
    bbb = out.iloc[2]
    assert bbb["direction_hit"] == 0.0 and bbb["pattern_hit"] == 0.0 and bbb["in_interval"] == 0.0
    assert np.isnan(out.iloc[1]["direction_hit"])


def test_live_metrics_overall_and_by_version():
    out = join_outcomes(_preds(), _labels())
    overall = live_metrics(out).iloc[0]
    assert overall["n"] == 2
    assert abs(overall["pattern_accuracy"] - 0.5) < 1e-12
    assert abs(overall["interval_coverage"] - 0.5) < 1e-12
    by = live_metrics(out, by=["pattern_model_version"]).set_index("pattern_model_version")
    assert by.loc["1", "pattern_accuracy"] == 1.0 and by.loc["2", "pattern_accuracy"] == 0.0
    rolling = rolling_live_metrics(out, weeks=4)
    assert len(rolling) == 1 and rolling.iloc[0]["n"] == 2


def test_empty_predictions():
    empty = join_outcomes(_preds().iloc[:0], _labels())
    assert live_metrics(empty).empty
