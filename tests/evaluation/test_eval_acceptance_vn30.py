"""Acceptance path of issue 4 on the real VN30 data, reduced to stay around a minute.

Same commands as the full acceptance run (``stockvision ingest`` of the constituents and the VN30
index into one data directory, ``stockvision features build``, ``stockvision evaluate --out DIR``),
but with two models, two baselines and the last two walk-forward folds. Checks the metrics.json
schema the issue names and that two runs write byte-identical metrics.json files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from eval_synth import ISSUE_METRIC_KEYS
from typer.testing import CliRunner

from stockvision.cli.main import app
from stockvision.config import get_settings

pytestmark = pytest.mark.integration

MODELS = ["ridge", "lgbm_clf", "random_walk", "majority"]
GROUPS = ISSUE_METRIC_KEYS
EXPECTED_GROUPS = {
    "ridge": {"price", "distribution", "ranking", "backtest"},
    "random_walk": {"price", "distribution", "ranking", "backtest"},
    "lgbm_clf": {"pattern", "ranking"},
    "majority": {"pattern", "ranking"},
}


def _run(*args: str) -> str:
    get_settings.cache_clear()
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory, vn30_daily_path: Path, vn30_index_path: Path):
    root = tmp_path_factory.mktemp("acceptance")
    mp = pytest.MonkeyPatch()
    mp.setenv("SV_DATA_DIR", str(root / "home"))
    mp.setenv("SV_EVAL_MAX_FOLDS", "2")
    try:
        _run("ingest", "--source", "csv", str(vn30_daily_path))
        _run("ingest", "--source", "csv", str(vn30_index_path))
        _run("features", "build")
        outs = [root / "a", root / "b"]
        for out in outs:
            _run("evaluate", "--out", str(out), "--models", ",".join(MODELS))
        yield outs
    finally:
        mp.undo()
        get_settings.cache_clear()


def test_metrics_json_has_every_metric_of_the_issue(runs):
    metrics = json.loads((runs[0] / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics["models"]) == set(MODELS)
    # the last folds test spring 2019: the 30 constituents (the index file ends in March 2019)
    assert len(metrics["universe"]) >= 28 and "VNM" in metrics["universe"]
    window = metrics["evaluation_window"]
    assert window["folds"] == 2 and window["start"] < window["end"] <= "2019-06-14"
    for name, entry in metrics["models"].items():
        present = {g for g in GROUPS if g in entry}
        assert present == EXPECTED_GROUPS[name], name
        for group in present:
            missing = [k for k in GROUPS[group] if k not in entry[group]]
            assert not missing, (name, group, missing)
    # figures that must be measurable on 2 folds x 31 symbols
    for name in ("ridge", "random_walk"):
        price = metrics["models"][name]["price"]
        assert all(math.isfinite(price[k]) for k in ("mae_pct", "rmse_pct", "interval_coverage"))
        assert 0 < price["mae_pct"] < 50
    assert metrics["models"]["random_walk"]["price"]["mae_ratio_vs_random_walk"] == 1.0
    lgbm = metrics["models"]["lgbm_clf"]["pattern"]
    assert 0 <= lgbm["ece"] <= 1 and 0 <= lgbm["ece_uncalibrated"] <= 1
    assert metrics["buy_and_hold"]["sharpe"] is not None
    assert (runs[0] / "report.html").exists() and (runs[0] / "timings.json").exists()


def test_two_runs_write_identical_metrics_json(runs):
    a, b = (out / "metrics.json" for out in runs)
    assert a.read_bytes() == b.read_bytes()
