"""A forecast whose range is among the narrowest (a price that has barely moved lately) says how
often ranges that narrow held the outcome in the walk-forward, in both languages, through the one
prediction core; a calibrated middle forecast says nothing extra; no bins, no caveat."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from sv_model_windows import windows_from_arrays

from stockvision.evaluation.scale_coverage import ScaleBin, ScaleCoverage
from stockvision.features.feature_docs import FEATURES
from stockvision.models.baselines import MajorityClassModel
from stockvision.models.volatility import VolRandomWalkModel
from stockvision.predict import ModelSet, Predictor


@pytest.fixture(scope="module")
def fitted():
    """30 symbols with daily vols from 0.1 % (a price that barely moves) to 5 %."""
    rng = np.random.default_rng(4)
    n_symbols, n_weeks = 30, 120
    weeks = pd.date_range("2016-01-01", periods=n_weeks, freq="W-FRI")
    vol = np.geomspace(0.001, 0.05, n_symbols)[:, None] * np.ones((1, n_weeks))
    fut = vol * math.sqrt(20) * rng.normal(size=vol.shape)
    fut[:, -4:] = np.nan
    feats = np.abs(rng.normal(0.02, 0.01, size=(n_symbols, n_weeks, len(FEATURES))))
    feats[:, :, FEATURES.index("vol_4w")] = vol
    train, val, last = windows_from_arrays(feats, fut, weeks, [(0, 80), (85, 100), (119, 120)])
    models = ModelSet(
        price=VolRandomWalkModel().fit(train, val),
        pattern=MajorityClassModel().fit(train, val),
        price_version="3",
        pattern_version="1",
    )
    return models, last


def _bins(scales: np.ndarray) -> ScaleCoverage:
    """Bins as an evaluation would have measured them: the calmest forecasts under-cover (the
    whole market's calmest 1 %: 70.9 % on 2,450 rows), the widest over-cover."""
    q = np.quantile(scales, [0.1, 0.9])
    return ScaleCoverage(
        (
            ScaleBin(0.0, 0.01, float(q[0]), 2450, 0.709),
            ScaleBin(0.01, 0.95, float(q[1]), 200_000, 0.80),
            ScaleBin(0.95, 1.0, float("inf"), 12_000, 0.851),
        )
    )


def test_the_narrowest_ranges_quote_their_measured_coverage_in_both_languages(fitted):
    models, last = fitted
    scales = models.price.predict_distribution(last).scale
    metrics = {"distribution_coverage_80": 0.80, **_bins(scales).flat()}
    preds = Predictor().predict(last, ModelSet(**{**models.__dict__, "price_metrics": metrics}))
    by_symbol = {p.symbol: p for p in preds}
    calm = by_symbol[last.X.index[int(np.argmin(scales))][0]]
    wide = by_symbol[last.X.index[int(np.argmax(scales))][0]]
    middle = by_symbol[last.X.index[int(np.argsort(scales)[len(scales) // 2])][0]]

    assert calm.interval.measured_coverage == pytest.approx(0.80)  # the overall figure stays
    assert calm.interval.measured_coverage_similar == pytest.approx(0.709)
    assert calm.interval.similar_scale_quantiles == (0.0, 0.01)
    assert calm.interval.similar_rows == 2450
    [caveat] = calm.caveats
    assert caveat.code == "narrow_range_undercovers" and caveat.measured == pytest.approx(0.709)
    assert "71%" in caveat.message_en and "2,450" in caveat.message_en
    assert "among the narrowest 1% of all forecasts" in caveat.message_en
    assert "moved less than usual" in caveat.message_en
    assert "71%" in caveat.message_vi and "2.450" in caveat.message_vi
    assert "1% hẹp nhất" in caveat.message_vi and "ít hơn thường lệ" in caveat.message_vi
    # nothing is claimed about why (thin trading is measured on the market, not for this stock)
    assert "thin" not in caveat.message_en and "thanh khoản" not in caveat.message_vi

    [over] = wide.caveats
    assert over.code == "wide_range_overcovers" and "85%" in over.message_en
    assert "the widest 5%" in over.message_en and "thận trọng" in over.message_vi
    assert middle.caveats == [] and middle.interval.measured_coverage_similar == 0.80


def test_without_measured_bins_no_answer_claims_one(fitted):
    models, last = fitted
    preds = Predictor().predict(last, models)
    assert all(p.caveats == [] and p.interval.measured_coverage_similar is None for p in preds)


def test_a_width_bin_whose_live_coverage_departed_says_so_with_both_figures(fitted):
    models, last = fitted
    scales = models.price.predict_distribution(last).scale
    bins = _bins(scales)
    metrics = {"distribution_coverage_80": 0.80, **bins.flat()}
    champion = ModelSet(**{**models.__dict__, "price_metrics": metrics})
    # live: the middle bin (quoted nothing in the walk-forward) held only 62 % of 420 outcomes
    live = {(0.01, 0.95): ScaleBin(0.01, 0.95, bins.bins[1].scale_max, 420, 0.62)}
    preds = {p.symbol: p for p in Predictor().predict(last, champion, live_by_width=live)}
    middle = preds[last.X.index[int(np.argsort(scales)[len(scales) // 2])][0]]
    calm = preds[last.X.index[int(np.argmin(scales))][0]]
    [cav] = middle.caveats
    assert cav.code == "live_coverage_departed" and cav.measured == pytest.approx(0.62)
    assert "held the outcome 62% of the time (420 resolved forecasts)" in cav.message_en
    assert "against 80% in the walk-forward test" in cav.message_en
    assert "larger than measured" in cav.message_en
    assert "62%" in cav.message_vi and "420 dự báo đã có kết quả" in cav.message_vi
    # another bin's answers keep only their own walk-forward caveat
    assert [c.code for c in calm.caveats] == ["narrow_range_undercovers"]
    # a live bin that covers MORE than measured reads the other way
    live = {(0.01, 0.95): ScaleBin(0.01, 0.95, bins.bins[1].scale_max, 420, 0.93)}
    preds = {p.symbol: p for p in Predictor().predict(last, champion, live_by_width=live)}
    [cav] = preds[middle.symbol].caveats
    assert "more cautious than measured" in cav.message_en and "93%" in cav.message_en
