"""The scoring maths of the benchmark scripts that docs/evaluation.md quotes figures from."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from stockvision.models.distribution import crps_student_t

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


shape = _load("bench_forecast_shape")
compare = _load("bench_forecast_compare")


def _rows(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "y": rng.standard_t(4, n) * 0.05,
            "loc": rng.normal(0, 0.01, n),
            "scale": np.exp(rng.normal(-3, 0.3, n)),
            "df": np.where(rng.random(n) < 0.5, 4.0, np.inf),
        }
    )


def _student(rows: pd.DataFrame) -> np.ndarray:
    return np.array(
        [
            crps_student_t(np.array([r.y]), np.array([r.loc]), np.array([r.scale]), r.df)[0]
            for r in rows.itertuples()
        ]
    )


def test_mixture_without_mass_at_zero_is_the_student_t():
    rows = _rows(200)
    np.testing.assert_allclose(shape.mixture_crps(rows, np.zeros(200)), _student(rows), atol=1e-12)


def test_mixture_all_mass_at_zero_is_the_absolute_return():
    rows = _rows(200)
    np.testing.assert_allclose(shape.mixture_crps(rows, np.ones(200)), rows["y"].abs(), atol=1e-12)


def test_mixture_matches_monte_carlo():
    rng = np.random.default_rng(1)
    y, loc, scale, pi, n = 0.03, 0.01, 0.04, 0.3, 400_000
    draw = lambda: np.where(rng.random(n) < pi, 0.0, loc + scale * rng.standard_t(4, n))  # noqa: E731
    x, x2 = draw(), draw()
    mc = np.abs(x - y).mean() - 0.5 * np.abs(x - x2).mean()
    row = pd.DataFrame({"y": [y], "loc": [loc], "scale": [scale], "df": [4.0]})
    assert shape.mixture_crps(row, np.array([pi]))[0] == pytest.approx(mc, rel=0.01)


def test_mean_abs_t():
    assert shape._mean_abs_t(4.0) == pytest.approx(1.0)
    assert shape._mean_abs_t(np.inf) == pytest.approx(np.sqrt(2 / np.pi))
    assert shape._mean_abs_t(3.0) == pytest.approx(2 * np.sqrt(3) / np.pi)


def test_empirical_crps_of_t_quantiles_is_the_t_crps():
    atoms = stats.t.ppf((np.arange(5000) + 0.5) / 5000, 4)
    u = np.array([-2.0, 0.0, 0.5, 3.0])
    got = shape.empirical_crps(u, np.full(4, 2.0), atoms)
    np.testing.assert_allclose(
        got, crps_student_t(2 * u, np.zeros(4), np.full(4, 2.0), 4.0), rtol=1e-5
    )


def _pattern_frame(informative: bool, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    weeks = pd.date_range("2015-01-02", periods=60, freq="W-FRI")
    frames = []
    for w in weeks:
        ret = rng.normal(0, 0.05, 40)
        y = np.digitize(ret, [-0.01, 0.01])
        prior = np.tile([0.4, 0.2, 0.4], (40, 1))
        if informative:
            probs = np.full((40, 3), 0.1)
            probs[np.arange(40), y] = 0.8
        else:
            probs = prior
        frames.append(
            pd.DataFrame(
                {
                    "week_end": w,
                    "actual_pattern": y,
                    "actual_log_return": ret,
                    "p_down": probs[:, 0],
                    "p_sideways": probs[:, 1],
                    "p_up": probs[:, 2],
                    "ll": -np.log(probs[np.arange(40), y]),
                    "ll_ref": -np.log(prior[np.arange(40), y]),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_pattern_block_rewards_information_and_not_the_prior():
    good = compare.pattern_block(_pattern_frame(True), horizon=4, n_boot=200)
    assert good["log_loss_skill"] > 0.3 and good["dm_pvalue"] < 0.01
    assert good["rank_ic_mean"] > 0.5 and good["rank_ic_ci95"][0] > 0
    flat = compare.pattern_block(_pattern_frame(False), horizon=4, n_boot=200)
    assert flat["log_loss_skill"] == pytest.approx(0.0)
    assert np.isnan(flat["rank_ic_mean"])
