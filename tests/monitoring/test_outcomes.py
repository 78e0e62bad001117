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


# --------------------------------------------------------------------------------------------
def _scale_coverage():
    from stockvision.evaluation.scale_coverage import ScaleBin, ScaleCoverage

    return ScaleCoverage(
        (
            ScaleBin(0.0, 0.05, 0.03, 500, 0.70),
            ScaleBin(0.05, 0.95, 0.12, 9000, 0.80),
            ScaleBin(0.95, 1.0, 1.0, 500, 0.88),
        )
    )


def _width_outcomes(n: int, scale: float, covered: float, version: str = "3") -> pd.DataFrame:
    k = round(n * covered)
    return pd.DataFrame(
        {
            "resolved": [True] * n,
            "return_scale": [scale] * n,
            "in_interval": [1.0] * k + [0.0] * (n - k),
            "price_model_version": [version] * n,
        }
    )


def test_live_coverage_by_width_bins_like_the_walk_forward_and_flags_only_real_departures():
    from stockvision.monitoring.outcomes import live_coverage_by_width

    outcomes = pd.concat(
        [
            _width_outcomes(200, 0.02, 0.50),  # narrowest bin: far below its measured 70 %
            _width_outcomes(300, 0.08, 0.78),  # middle: within noise of 80 %
            _width_outcomes(30, 0.50, 0.40),  # widest: far off, but too few to say anything
            _width_outcomes(100, 0.02, 1.00, version="2"),  # another version's rows: left out
            _width_outcomes(50, 0.02, 1.00).assign(resolved=False),  # not resolved yet
            _width_outcomes(50, 0.02, 1.00).assign(return_scale=np.nan),  # stored without a scale
        ],
        ignore_index=True,
    )
    bins = live_coverage_by_width(outcomes, _scale_coverage(), version="3")
    assert [b.label() for b in bins] == ["0-5 %", "5-95 %", "95-100 %"]
    assert [b.live_rows for b in bins] == [200, 300, 30]
    assert [b.live_coverage for b in bins] == [0.5, 0.78, 0.4]
    assert [b.departs for b in bins] == [True, False, False]
    assert bins[0].walk_forward_coverage == 0.70 and bins[0].walk_forward_rows == 500
    assert bins[0].to_dict()["label"] == "0-5 %"
    # all versions when none is named; nothing at all when no row has a scale
    assert sum(b.live_rows for b in live_coverage_by_width(outcomes, _scale_coverage())) == 630
    empty = live_coverage_by_width(outcomes.drop(columns="return_scale"), _scale_coverage())
    assert [b.live_rows for b in empty] == [0, 0, 0] and not any(b.departs for b in empty)
    assert [b.live_coverage for b in empty] == [None, None, None]


def test_live_against_a_small_walk_forward_bin_counts_the_noise_of_both():
    from stockvision.evaluation.scale_coverage import departs, departs_from_measured

    # VN30's calmest 1 %: 47 walk-forward rows at 53 %; 200 live rows at 64 %
    assert departs(0.64, 0.53, 200)  # as if 53 % were exact
    assert not departs_from_measured(0.64, 200, 0.53, 47)  # it is not: +-7 points itself
    assert departs_from_measured(0.50, 200, 0.70, 500)
    assert not departs_from_measured(0.50, 200, 0.70, 39)  # too few walk-forward rows
    assert not departs_from_measured(0.78, 300, 0.80, 9000)


def test_departs_is_the_quoting_rule_of_the_answers():
    from stockvision.evaluation.scale_coverage import departs

    assert departs(0.70, 0.80, 400) and not departs(0.78, 0.80, 400)
    assert not departs(0.70, 0.80, 39)  # too few rows to quote
    assert not departs(0.74, 0.80, 60)  # 6 points, but within 3 standard errors of 60 rows
    assert departs(0.50, 0.70, 200) and not departs(float("nan"), 0.8, 500)
