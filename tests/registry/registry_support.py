"""A small generated feature/label snapshot, trained and registered for real, for the registry tests.

The snapshot has the layout ``steps.snapshot`` writes (features joined with labels, Parquet named by its
content digest), so the pipeline's own ``train``/``register``/``promote`` steps run on it unchanged; only the
walk-forward evaluation is replaced by metrics the test chooses, which is what the promotion rules read.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from trained_system import sv_environment

from stockvision.config import Settings, get_settings
from stockvision.features import FEATURES
from stockvision.features.labels import PATTERN_CLASSES

#: The models trained here: fast, deterministic, and with files the registry must carry (ridge's
#: transformer, lgbm's booster + calibrator).
FAST_ENV = {"SV_PRICE_MODEL": "ridge", "SV_PATTERN_MODEL": "lgbm_clf", "SV_SOURCE": "csv"}
ALT_ENV = {"SV_PRICE_MODEL": "drift", "SV_PATTERN_MODEL": "momentum_sign"}
#: what the v1 champions scored on the crafted walk-forward window
CHAMPION_SCORES = {
    "ridge": {"mae_pct": 5.0, "interval_coverage": 0.8},
    "lgbm_clf": {"accuracy": 0.45, "ece": 0.03, "log_loss": 1.0},
}


def generated_joined(n_symbols: int = 6, n_weeks: int = 120, seed: int = 3) -> pd.DataFrame:
    """Features + labels of ``n_symbols`` x ``n_weeks`` with a learnable 4-week return signal.

    At least one walk-forward fold must fit (110 labelled weeks), or the train step treats the
    history as short and fits the baselines only.
    """
    rng = np.random.default_rng(seed)
    symbols = [f"S{i:02d}" for i in range(n_symbols)]
    weeks = pd.date_range("2017-01-06", periods=n_weeks, freq="W-FRI")
    index = pd.MultiIndex.from_product([symbols, weeks], names=["symbol", "week_end"])
    n = len(index)
    feats = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), index=index, columns=FEATURES)
    signal = 0.04 * feats["ma_cross_10_40_w"] - 0.03 * feats["rsi_speed"]
    log_ret = (signal + rng.normal(0, 0.02, n)).to_numpy(copy=True)
    close = 10_000 * np.exp(rng.normal(0, 0.02, size=(n_symbols, n_weeks)).cumsum(axis=1)).ravel()
    last = np.tile(np.arange(n_weeks) >= n_weeks - 4, n_symbols)  # the last 4 weeks: unknown future
    log_ret[last] = np.nan
    fut = np.expm1(log_ret)
    pattern = np.where(fut > 0.01, "UP", np.where(fut < -0.01, "DOWN", "SIDEWAYS")).astype(object)
    pattern[last] = None
    assert set(pattern[~last]) == set(PATTERN_CLASSES)
    labels = pd.DataFrame(
        {
            "close": close,
            "raw_close": close,
            "future_return": fut,
            "future_log_return": log_ret,
            "price_target_true": close * (1 + fut),
            "pattern": pattern,
        },
        index=index,
    )
    return feats.join(labels)


def write_snapshot(settings: Settings, joined: pd.DataFrame) -> dict:
    """Write ``joined`` where ``steps.snapshot`` would and return the same description."""
    from stockvision.data.ingest import frame_digest

    dig = frame_digest(joined)
    path = settings.subdir("snapshots") / f"{dig[:16]}.parquet"
    joined.to_parquet(path)
    weeks = joined.index.get_level_values(1)
    return {
        "digest": dig,
        "path": str(path.relative_to(settings.home)),
        "start": str(weeks.min().date()),
        "end": str(weeks.max().date()),
        "symbols": sorted(joined.index.get_level_values(0).unique()),
        "rows": len(joined),
        "simulated": True,
    }


def crafted_evaluation(
    trained: dict,
    *,
    price_mae: float,
    rw_mae: float,
    acc: float,
    ece: float,
    ll: float,
    base_ll: float,
    others: dict | None = None,
) -> dict:
    """An evaluation output (as ``steps.evaluate`` returns it) with chosen walk-forward metrics;
    ``others`` adds the scores of further specs (e.g. the champion's) on the same window."""
    p, q = trained["primary"]["price"], trained["primary"]["pattern"]
    return {
        "digest": f"crafted-{price_mae}-{acc}",
        "report_dir": None,
        "metrics": {
            **(others or {}),
            p: {"mae_pct": price_mae, "interval_coverage": 0.8},
            "random_walk": {"mae_pct": rw_mae, "interval_coverage": 0.8},
            # the served fallback: the same point forecast as the random walk (volatility only
            # changes its range), so the same MAE
            "vol_random_walk": {"mae_pct": rw_mae, "interval_coverage": 0.8},
            q: {"accuracy": acc, "ece": ece, "log_loss": ll},
            "majority": {"accuracy": 0.4, "ece": 0.0, "log_loss": base_ll},
        },
    }


def use_home(home: Path, monkeypatch) -> Settings:
    """Point the SV_* environment (and MLflow) at ``home`` and return fresh settings."""
    from stockvision.registry import tracking

    monkeypatch.setenv("SV_DATA_DIR", str(home))
    for key, value in FAST_ENV.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    tracking.reset()
    return get_settings()


def train(settings: Settings, snap: dict) -> dict:
    """``steps.train`` on a snapshot description, as plain JSON (what ``state.json`` holds)."""
    from stockvision.pipeline import steps
    from stockvision.pipeline.outputs import SnapshotOutput

    return steps.train(settings, SnapshotOutput.from_dict(snap)).to_dict()


def register(settings: Settings, trained: dict, evaluated: dict, snap: dict) -> dict:
    """``steps.register`` on plain JSON outputs; the registered versions keyed by kind."""
    from stockvision.pipeline import steps
    from stockvision.pipeline.outputs import EvaluateOutput, SnapshotOutput, TrainOutput

    out = steps.register(
        settings,
        TrainOutput.from_dict(trained),
        EvaluateOutput.from_dict(evaluated),
        SnapshotOutput.from_dict(snap),
    )
    return out.to_dict()["versions"]


def promote(settings: Settings, registered: dict, evaluated: dict, snap: dict) -> dict:
    """``steps.promote`` on plain JSON outputs; the decisions keyed by kind."""
    from stockvision.pipeline import steps
    from stockvision.pipeline.outputs import EvaluateOutput, RegisterOutput, SnapshotOutput

    out = steps.promote(
        settings,
        RegisterOutput.from_dict({"versions": registered}),
        EvaluateOutput.from_dict(evaluated),
        SnapshotOutput.from_dict(snap),
    )
    return out.to_dict()["decisions"]


def build_home(home: Path) -> dict:
    """Train on a generated snapshot and register v1 of both models (promoted by the rules)."""
    with sv_environment({**FAST_ENV, "SV_DATA_DIR": str(home)}, extra_keys=ALT_ENV):
        settings = get_settings()
        snap = write_snapshot(settings, generated_joined())
        trained = train(settings, snap)
        evaluated = crafted_evaluation(
            trained, price_mae=5.0, rw_mae=6.0, acc=0.45, ece=0.03, ll=1.0, base_ll=1.09
        )
        registered = register(settings, trained, evaluated, snap)
        decisions = promote(settings, registered, evaluated, snap)
        # other specs (a different price and pattern model) for challengers that are not the champion's
        os.environ.update(ALT_ENV)
        get_settings.cache_clear()
        alt = train(get_settings(), snap)
    return {
        "snap": snap,
        "trained": trained,
        "alt": alt,
        "registered": registered,
        "decisions": decisions,
    }


def copy_home(src: Path, dst: Path, built: dict) -> dict:
    """A private copy of a built home (recorded paths are relative to the data dir: they follow)."""
    shutil.copytree(src, dst)
    return json.loads(json.dumps(built))
