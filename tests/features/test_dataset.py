"""DatasetBuilder: purged date windows, aligned sequences, training-only transformer statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_frames import make_adjusted

from stockvision.features import (
    FEATURES,
    DatasetBuilder,
    FeatureTransformer,
    compute_features,
    compute_labels,
)


@pytest.fixture(scope="module")
def builder() -> DatasetBuilder:
    d = make_adjusted(n_symbols=4, n_days=600, seed=4, gaps=[(3, 200, 10)])
    return DatasetBuilder(compute_features(d), compute_labels(d), seq_len=8, horizon=4)


def _weeks(w) -> pd.DatetimeIndex:
    return w.week_ends.unique().sort_values()


def test_split_windows_never_overlap_including_the_horizon(builder):
    cal = builder.calendar
    train, val, test = builder.split(cal[60], val_weeks=10, test_weeks=12)
    for early, late in ((train, val), (val, test)):
        last = cal.get_loc(_weeks(early)[-1])
        first = cal.get_loc(_weeks(late)[0])
        assert first - last == builder.horizon + 1  # purge gap of exactly `horizon` weeks
        # the label horizon of the earlier window ends before the later window starts
        assert cal[last + builder.horizon] < _weeks(late)[0]
    assert _weeks(train)[-1] == cal[60]
    assert len(_weeks(val)) == 10 and len(_weeks(test)) == 12
    for w in (train, val, test):
        assert np.isfinite(w.y_return).all() and (w.y_pattern >= 0).all()
        assert w.X.index.equals(w.labels.index) and list(w.X.columns) == FEATURES


def test_walk_forward_folds_are_purged_and_in_order(builder):
    folds = list(builder.walk_forward(builder.calendar[40], test_weeks=8, val_weeks=4))
    assert len(folds) >= 3
    prev_test_start = None
    for train, val, test in folds:
        assert _weeks(train)[-1] < _weeks(val)[0] < _weeks(test)[0]
        gap = builder.calendar.get_loc(_weeks(test)[0]) - builder.calendar.get_loc(_weeks(val)[-1])
        assert gap == builder.horizon + 1
        if prev_test_start is not None:
            assert _weeks(test)[0] > prev_test_start
        prev_test_start = _weeks(test)[0]
    with pytest.raises(ValueError, match="not enough weeks"):
        builder.split(builder.calendar[-10], val_weeks=10, test_weeks=10)


def test_sequences_align_with_rows(builder):
    w = builder.window(builder.calendar[30], builder.calendar[50])
    assert w.seq.shape == (len(w), 8, len(FEATURES)) and w.seq.dtype == np.float32
    feats = builder.features
    for i in np.random.default_rng(0).choice(len(w), 20, replace=False):
        sym, week = w.X.index[i]
        hist = feats.loc[sym]
        hist = hist[hist.index <= week].iloc[-8:]
        np.testing.assert_allclose(w.seq[i, -len(hist) :], hist.to_numpy(np.float32))
        np.testing.assert_allclose(w.seq[i, -1], w.X.iloc[i].to_numpy(np.float32))
    first = builder.window(builder.calendar[0], builder.calendar[0], labelled=False)
    assert np.isnan(first.seq[:, :-1]).all()  # nothing before a symbol's first week


def test_transformer_fitted_on_train_only(builder):
    train, val, _ = builder.split(builder.calendar[60], val_weeks=10, test_weeks=0)
    t = FeatureTransformer().fit(train.X)
    clipped = train.X.clip(train.X.quantile(0.01), train.X.quantile(0.99), axis=1)
    np.testing.assert_allclose(t.mean_, clipped.mean().fillna(0.0), rtol=1e-9)
    everything = builder.window()
    t_all = FeatureTransformer().fit(everything.X)
    assert not np.allclose(t.mean_, t_all.mean_)  # the statistics depend on the window
    assert t.transform_seq(val.seq).shape == val.seq.shape


def test_latest_rows_are_unlabelled_and_per_symbol(builder):
    latest = builder.latest()
    assert len(latest) == 4
    assert (latest.week_ends == builder.calendar[-1]).all()
    assert np.isnan(latest.y_return).all() and (latest.y_pattern == -1).all()
    assert len(builder.latest(["s00"])) == 1
    with pytest.raises(ValueError, match="no features"):
        builder.latest(["NOPE"])
    labelled = builder.window()
    assert labelled.week_ends.max() < builder.calendar[-4]
