"""FeatureTransformer: training-only statistics, NaN imputation, sequences, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from stockvision.features import FeatureTransformer


@pytest.fixture()
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.standard_t(3, size=(500, 3)), columns=["a", "b", "c"])
    X.iloc[::7, 1] = np.nan
    X["c"] = 5.0  # constant column
    return X


def test_statistics_are_the_clipped_training_moments(frame):
    t = FeatureTransformer().fit(frame)
    lo, hi = frame.quantile(0.01), frame.quantile(0.99)
    clipped = frame.clip(lo, hi, axis=1)
    np.testing.assert_allclose(t.lower_, lo)
    np.testing.assert_allclose(t.upper_, hi)
    np.testing.assert_allclose(t.mean_, clipped.mean())
    np.testing.assert_allclose(t.scale_[:2], clipped.std(ddof=0)[:2])
    assert t.scale_[2] == 1.0  # zero variance -> unit scale, no division by 0
    out = t.transform(frame)
    assert out.dtype == np.float32 and out.shape == frame.shape
    assert np.isfinite(out).all()
    assert (out[::7, 1] == 0).all()  # NaN -> 0 == the training mean
    np.testing.assert_allclose(out[:, 0].mean(), 0, atol=1e-6)


def test_winsorises_outliers_and_reorders_columns(frame):
    t = FeatureTransformer().fit(frame)
    extreme = frame.iloc[:2].copy()
    extreme["a"] = [1e9, -1e9]
    out = t.transform(extreme[["c", "b", "a"]])  # columns matched by name
    expected = (np.array([t.upper_[0], t.lower_[0]]) - t.mean_[0]) / t.scale_[0]
    np.testing.assert_allclose(out[:, 0], expected, rtol=1e-6)
    with pytest.raises(ValueError, match="lacks columns"):
        t.transform(frame[["a", "b"]])


def test_transform_seq_and_arrays(frame):
    t = FeatureTransformer().fit(frame.to_numpy())
    seq = frame.to_numpy().reshape(100, 5, 3)
    out = t.transform_seq(seq)
    assert out.shape == (100, 5, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out.reshape(500, 3), t.transform(frame.to_numpy()))
    with pytest.raises(ValueError, match="shape"):
        t.transform_seq(seq[:, :, :2])


def test_json_round_trip_and_sklearn_conventions(frame):
    t = FeatureTransformer(lower_quantile=0.05, upper_quantile=0.95).fit(frame)
    back = FeatureTransformer.from_dict(json.loads(json.dumps(t.to_dict())))
    np.testing.assert_array_equal(back.transform(frame), t.transform(frame))
    assert list(back.feature_names_in_) == ["a", "b", "c"]
    assert clone(t).get_params() == {"lower_quantile": 0.05, "upper_quantile": 0.95}
    with pytest.raises(NotFittedError):
        FeatureTransformer().transform(frame)
    with pytest.raises(ValueError, match="lower_quantile"):
        FeatureTransformer(0.9, 0.1).fit(frame)


def test_all_nan_column_is_imputed():
    X = np.c_[np.arange(10.0), np.full(10, np.nan)]
    t = FeatureTransformer().fit(X)
    assert (t.transform(X)[:, 1] == 0).all()
    back = FeatureTransformer.from_dict(json.loads(json.dumps(t.to_dict())))
    np.testing.assert_array_equal(back.transform(X), t.transform(X))
