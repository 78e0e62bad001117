"""Price models: learn a known signal, beat the random walk, honest intervals, no look-ahead."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.tsa.arima.model import ARIMA
from sv_model_windows import SIGNAL_FEATURES, make_panel, window_of
from threadpoolctl import threadpool_limits

from stockvision.features.feature_docs import FEATURES
from stockvision.models import (
    ArimaPriceModel,
    DriftModel,
    LGBMPriceModel,
    RandomWalkModel,
    RidgePriceModel,
)
from stockvision.models._windows import subset_window, symbols_of
from stockvision.models.arima import arma_sum_forecast
from stockvision.models.conformal import coverage_rate


def _mae(model, window) -> float:
    y = window.y_return
    m = np.isfinite(y)
    return float(np.abs(model.predict(window) - y)[m].mean())


@pytest.fixture(scope="module")
def fitted_feature_models(feature_windows):
    train, val, _ = feature_windows
    return {
        "rw": RandomWalkModel().fit(train, val),
        "drift": DriftModel().fit(train, val),
        "ridge": RidgePriceModel().fit(train, val),
        "lgbm": LGBMPriceModel(n_estimators=300, learning_rate=0.05, num_threads=1).fit(train, val),
    }


@pytest.mark.parametrize("name", ["ridge", "lgbm"])
def test_models_beat_random_walk_on_a_strong_signal(fitted_feature_models, feature_windows, name):
    test = feature_windows[2]
    rw = _mae(fitted_feature_models["rw"], test)
    assert _mae(fitted_feature_models[name], test) < 0.8 * rw


def test_random_walk_predicts_zero_log_return(fitted_feature_models, feature_windows):
    rw = fitted_feature_models["rw"]
    test = feature_windows[2]
    np.testing.assert_array_equal(rw.predict(test), np.zeros(len(test)))
    low, high = rw.predict_interval(test)
    np.testing.assert_allclose(high, -low)
    assert rw.conformal_q_ > 0


def test_ridge_tunes_alpha_on_validation_mae(fitted_feature_models, feature_windows):
    ridge = fitted_feature_models["ridge"]
    assert set(ridge.validation_mae_) == {0.1, 1.0, 10.0, 100.0, 1000.0}
    assert ridge.validation_mae_[ridge.alpha_] == min(ridge.validation_mae_.values())
    fixed = RidgePriceModel(alpha=3.0, alphas=None).fit(*feature_windows[:2])
    assert fixed.alpha_ == 3.0


def test_ridge_predicts_log_returns_and_price_targets(fitted_feature_models, feature_windows):
    ridge = fitted_feature_models["ridge"]
    test = feature_windows[2]
    pred = ridge.predict(test)
    assert np.abs(pred).max() < 1.0  # a log return, not a price level
    target, low, high = ridge.predict_price(test)
    raw = test.labels["raw_close"].to_numpy()
    np.testing.assert_allclose(target, raw * np.exp(pred))
    assert np.all((low < target) & (target < high))


def test_ridge_contributions_sum_to_prediction_and_find_the_signal(
    fitted_feature_models, feature_windows
):
    ridge = fitted_feature_models["ridge"]
    test = feature_windows[2]
    contrib = ridge.contributions(test)
    assert list(contrib.columns) == list(FEATURES)
    assert contrib.index.equals(test.X.index)
    np.testing.assert_allclose(
        contrib.sum(axis=1) + ridge.intercept_, ridge.predict(test), atol=1e-10
    )
    top3 = contrib.abs().mean().nlargest(3).index
    assert set(top3) == set(SIGNAL_FEATURES)


def test_lgbm_contributions_sum_to_prediction(fitted_feature_models, feature_windows):
    lgbm = fitted_feature_models["lgbm"]
    test = feature_windows[2]
    contrib = lgbm.contributions(test)
    base = lgbm.booster_.predict(lgbm._matrix(test), pred_contrib=True)[:, -1]
    np.testing.assert_allclose(contrib.sum(axis=1) + base, lgbm.predict(test), atol=1e-9)
    assert SIGNAL_FEATURES[0] in contrib.abs().mean().nlargest(3).index


@pytest.mark.parametrize("name", ["rw", "ridge", "lgbm"])
def test_conformal_interval_coverage_close_to_nominal(fitted_feature_models, feature_windows, name):
    # rows of the generated set are exchangeable (iid noise), so split-conformal should hold
    model = fitted_feature_models[name]
    test = feature_windows[2]
    low, high = model.predict_interval(test)
    assert abs(coverage_rate(test.y_return, low, high) - 0.8) < 0.07
    assert model.n_calibration_ == int(np.isfinite(feature_windows[1].y_return).sum())


def test_without_val_the_calibration_tail_is_held_out(feature_windows):
    train, _, test = feature_windows
    ridge = RidgePriceModel().fit(train)
    weeks = np.unique(train.X.index.get_level_values(1))
    n_tail = round(len(weeks) * 0.15)
    n_symbols = len(np.unique(symbols_of(train)))
    assert ridge.n_calibration_ == n_tail * n_symbols
    assert ridge.n_train_ == (len(weeks) - n_tail - 4) * n_symbols
    low, high = ridge.predict_interval(test)
    assert abs(coverage_rate(test.y_return, low, high) - 0.8) < 0.1


def test_drift_learns_symbol_means_with_pooled_fallback(feature_windows):
    train, val, test = feature_windows
    model = DriftModel(min_obs=8).fit(train, val)
    y = train.labels["future_log_return"]
    expected = y.groupby(level=0).mean()
    for sym, mean in expected.items():
        assert model.symbol_means_[sym] == pytest.approx(mean)
    assert model.pooled_mean_ == pytest.approx(y.mean())
    renamed = subset_window(test, np.ones(len(test), dtype=bool))
    renamed.X = renamed.X.rename(index=lambda s: "NEWSYM" if s == "S00" else s, level=0)
    pred = model.predict(renamed)
    assert np.all(pred[symbols_of(renamed) == "NEWSYM"] == model.pooled_mean_)
    model_strict = DriftModel(min_obs=10_000).fit(train, val)
    assert model_strict.symbol_means_ == {}


def test_arma_recursion_matches_statsmodels_forecast_on_a_long_history():
    rng = np.random.default_rng(5)
    n, phi, theta, mu = 600, 0.5, 0.3, 0.002
    e = rng.normal(0, 0.03, n)
    x = np.zeros(n)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t] + theta * e[t - 1]
    r = mu + x
    with threadpool_limits(limits=1):
        res = ARIMA(r, order=(1, 0, 1), trend="c").fit()
    const, ar, ma = res.params[0], [res.params[1]], [res.params[2]]
    ours = arma_sum_forecast(r[None, :], const, ar, ma, 4)[0]
    assert ours == pytest.approx(float(res.forecast(4).sum()), abs=1e-6)
    # an 8-week history (what Window.seq gives) is already close to the full-history forecast
    short = arma_sum_forecast(r[None, -8:], const, ar, ma, 4)[0]
    assert short == pytest.approx(ours, abs=0.1 * np.std(r) + 1e-3)


def test_arima_beats_random_walk_on_autoregressive_returns(ar_windows):
    train, val, test = ar_windows
    arima = ArimaPriceModel().fit(train, val)
    rw = RandomWalkModel().fit(train, val)
    assert _mae(arima, test) < 0.98 * _mae(rw, test)
    assert len(arima.params_) == len(np.unique(symbols_of(train))) + 1  # + pooled
    phis = [p["ar"][0] for k, p in arima.params_.items() if p["ar"]]
    assert np.median(phis) > 0.3  # true phi = 0.6 (AR estimates on ~100 weeks are biased down)


def test_arima_has_no_look_ahead(ar_windows):
    """A row's forecast depends only on its own past: the rest of the window cannot change it."""
    train, val, test = ar_windows
    arima = ArimaPriceModel(orders=((1, 0, 1),)).fit(train, val)
    full = arima.predict(test)
    first_weeks = test.X.index.get_level_values(1) <= test.X.index.get_level_values(1)[3]
    part = subset_window(test, first_weeks)
    np.testing.assert_array_equal(arima.predict(part), full[first_weeks])
    tampered = subset_window(test, np.ones(len(test), dtype=bool))
    tampered.labels = tampered.labels.assign(future_log_return=0.0)  # labels are never read
    np.testing.assert_array_equal(arima.predict(tampered), full)


def test_shuffled_targets_do_not_beat_random_walk_by_more_than_noise(feature_windows):
    train, val, test = feature_windows
    rng = np.random.default_rng(11)
    shuffled = subset_window(train, np.ones(len(train), dtype=bool))
    shuffled.labels = train.labels.assign(
        future_log_return=rng.permutation(train.labels["future_log_return"].to_numpy())
    )
    ridge = RidgePriceModel().fit(shuffled, val)
    rw = RandomWalkModel().fit(shuffled, val)
    assert _mae(ridge, test) > 0.97 * _mae(rw, test)


def test_price_models_are_deterministic(feature_windows):
    train, val, test = feature_windows
    for make in (
        lambda: RidgePriceModel(),
        lambda: LGBMPriceModel(n_estimators=100, num_threads=1),
    ):
        a, b = make().fit(train, val), make().fit(train, val)
        np.testing.assert_array_equal(a.predict(test), b.predict(test))
        np.testing.assert_array_equal(a.predict_interval(test)[1], b.predict_interval(test)[1])


def test_bad_windows_get_clear_errors(feature_windows):
    train, val, test = feature_windows
    ridge = RidgePriceModel()
    with pytest.raises(ValueError, match="coverage"):
        RidgePriceModel(coverage=1.5).fit(train, val)
    ridge.fit(train, val)
    broken = subset_window(test, np.ones(len(test), dtype=bool))
    broken.X = broken.X.drop(columns=["rsi_14w"])
    with pytest.raises(ValueError, match="lacks features \\['rsi_14w'\\]"):
        ridge.predict(broken)
    unlabelled = subset_window(train, np.ones(len(train), dtype=bool))
    unlabelled.labels = train.labels.assign(future_log_return=np.nan)
    with pytest.raises(ValueError, match="no rows with a known return label"):
        RidgePriceModel().fit(unlabelled)
    with pytest.raises(TypeError, match=r"expected a stockvision\.features\.dataset\.Window"):
        ridge.predict(train.X)
    small = window_of(make_panel(n_symbols=2, n_weeks=8), 0, 5)
    with pytest.raises(ValueError, match="too few to hold out"):
        RidgePriceModel().fit(small)
