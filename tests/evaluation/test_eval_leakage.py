"""Leakage guard: models trained on shuffled labels must not beat the baselines out of sample.

The walk-forward is run through a builder proxy that permutes the label rows of every training
and validation window (the test blocks keep their true labels). Whatever the models then learn
cannot carry over to the test weeks, so any out-of-sample edge over the majority class / random
walk would mean test information reached the fit (overlapping windows, calibration or early
stopping on test weeks, look-ahead in the pipeline). A deliberately leaky control (test weeks
inside the training and validation windows) shows the same check does catch a leak.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from eval_synth import make_daily

from stockvision.evaluation import metrics as m
from stockvision.evaluation.splits import Fold, WalkForwardSplitter
from stockvision.evaluation.walkforward import PROB_COLUMNS, labelled_weeks, run_walk_forward
from stockvision.features import DatasetBuilder, build_features_and_labels

SHUFFLED = ["future_return", "future_log_return", "price_target_true", "pattern"]
PARAMS = {
    "ridge": {"degree": 1},
    "lgbm_reg": {"n_estimators": 80, "num_threads": 1},
    "lgbm_clf": {"n_estimators": 80, "num_threads": 1},
}


class ShuffledTrainingLabels:
    """A ``DatasetBuilder`` whose non-test windows have their label rows permuted."""

    def __init__(self, builder: DatasetBuilder, folds: list[Fold], seed: int = 0) -> None:
        self._builder = builder
        self._tests = {(f.test_start, f.test_end) for f in folds}
        self._seed = seed

    def __getattr__(self, name: str):
        return getattr(self._builder, name)

    def window(self, start=None, end=None):
        w = self._builder.window(start, end)
        if (start, end) in self._tests or len(w) == 0:
            return w
        rng = np.random.default_rng([self._seed, pd.Timestamp(start).value, len(w)])
        perm = rng.permutation(len(w))
        w.labels = w.labels.assign(**{c: w.labels[c].to_numpy()[perm] for c in SHUFFLED})
        return w


@pytest.fixture(scope="module")
def market():
    daily = make_daily(n_symbols=8, n_weeks=130, seed=21)
    features, labels = build_features_and_labels(daily)
    builder = DatasetBuilder(features, labels, seq_len=8, horizon=4)
    splitter = WalkForwardSplitter(min_train_weeks=60, val_weeks=8, max_folds=6)
    return builder, list(splitter.split(labelled_weeks(builder)))


def _scores(result) -> dict[str, float]:
    out = {}
    for name, kind in result.model_kinds.items():
        df = result.model_predictions(name)
        if kind == "price":
            df = df[np.isfinite(df["actual_log_return"])]
            target = df["raw_close"] * np.exp(df["pred_log_return"])
            out[name] = m.mae_pct(target, df["actual_price"])
        else:
            df = df[df["actual_pattern"] >= 0]
            out[name] = m.log_loss(df[PROB_COLUMNS].to_numpy(), df["actual_pattern"].to_numpy())
    return out


def _noise(result, model: str, baseline: str) -> float:
    """2 standard errors of the mean per-row log-loss difference (weeks are the blocks)."""
    a, b = (result.model_predictions(n) for n in (model, baseline))
    a, b = a[a["actual_pattern"] >= 0], b[b["actual_pattern"] >= 0]
    y = a["actual_pattern"].to_numpy()
    la = -np.log(np.clip(a[PROB_COLUMNS].to_numpy()[np.arange(len(y)), y], 1e-15, 1))
    lb = -np.log(np.clip(b[PROB_COLUMNS].to_numpy()[np.arange(len(y)), y], 1e-15, 1))
    weekly = pd.Series(la - lb).groupby(a["week_end"].to_numpy()).mean()
    return float(2 * weekly.std(ddof=1) / np.sqrt(len(weekly)))


def test_shuffled_training_labels_do_not_beat_the_baselines(market):
    builder, folds = market
    shuffled = ShuffledTrainingLabels(builder, folds)
    names = ["ridge", "lgbm_reg", "random_walk", "lgbm_clf", "majority"]
    res = run_walk_forward(shuffled, names, folds, seed=3, model_params=PARAMS)
    s = _scores(res)
    # price: no model beats the random walk's MAE by more than 3%
    assert s["ridge"] > 0.97 * s["random_walk"], s
    assert s["lgbm_reg"] > 0.97 * s["random_walk"], s
    # pattern: no log-loss edge over the training class frequencies beyond noise
    assert s["lgbm_clf"] >= s["majority"] - _noise(res, "lgbm_clf", "majority"), s
    # the test blocks really kept their true labels
    truth = builder.window(folds[0].test_start, folds[0].test_end).labels["future_log_return"]
    got = res.model_predictions("ridge").query("fold == 0")["actual_log_return"].to_numpy()
    np.testing.assert_array_equal(got, truth.to_numpy())


def test_the_check_catches_a_deliberate_leak(market):
    """Control: train and validate ON the test weeks (true labels) and the edge appears."""
    builder, folds = market
    leaky = [
        Fold(
            train_start=folds[0].train_start,
            train_end=f.test_end,
            val_start=f.test_start,
            val_end=f.test_end,
            test_start=f.test_start,
            test_end=f.test_end,
            index=f.index,
        )
        for f in folds
    ]
    params = {"lgbm_clf": {"n_estimators": 300, "min_data_in_leaf": 5, "num_threads": 1}}
    res = run_walk_forward(builder, ["lgbm_clf", "majority"], leaky, seed=3, model_params=params)
    s = _scores(res)
    assert s["lgbm_clf"] < s["majority"] - _noise(res, "lgbm_clf", "majority"), s
