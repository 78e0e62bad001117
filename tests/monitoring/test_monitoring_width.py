"""Live coverage by predicted width on the trained system: past weeks forecast by the real
prediction core, stored, resolved against the real labels and binned like the walk-forward."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.integration


def test_monitor_checks_each_width_bin_of_the_champion_against_live_outcomes(trained_settings):
    from stockvision.data.store import Store
    from stockvision.evaluation.scale_coverage import ScaleCoverage
    from stockvision.features.dataset import DatasetBuilder
    from stockvision.monitoring.outcomes import join_outcomes
    from stockvision.monitoring.report import run_monitoring
    from stockvision.predict import Predictor
    from stockvision.registry.champions import load_champions
    from stockvision.registry.model_registry import ModelRegistry

    settings = trained_settings
    store = Store.from_settings(settings)
    models = load_champions(ModelRegistry(settings))
    by_scale = ScaleCoverage.from_metrics(dict(models.price_metrics))
    assert by_scale is not None, "the trained champion's walk-forward measures coverage by width"

    builder = DatasetBuilder(
        store.read_features(), store.read_labels(), settings.seq_len, settings.horizon_weeks
    )
    weeks = builder.labelled_weeks()[-26:]
    window = builder.window(weeks[0], weeks[-1])
    preds = Predictor(settings.horizon_weeks, settings.interval_coverage).predict(window, models)
    assert store.save_predictions([p.to_record("batch") for p in preds]) == len(preds)

    stored = store.read_predictions()

    def key(symbol, day):
        return symbol, pd.Timestamp(day).date()

    scales = {key(p.symbol, p.prediction_date): p.distribution.scale for p in preds}
    got = {
        key(r.symbol, r.prediction_date): r.return_scale
        for r in stored.itertuples()
        if key(r.symbol, r.prediction_date) in scales
    }
    assert got == pytest.approx(scales)

    result = run_monitoring(settings)
    report_dir = Path(result["report_dir"])
    data = json.loads((report_dir / "report.json").read_text())
    bins = data["live"]["coverage_by_width"]
    assert len(bins) == len(by_scale.bins)

    # the same figures by hand: champion's rows, resolved, inside their stored 80 % range
    out = join_outcomes(stored, store.read_labels())
    out = out[out["resolved"] & (out["price_model_version"] == str(models.price_version))]
    which = by_scale.bin_of(out["return_scale"].to_numpy(float))
    inside = out["in_interval"].to_numpy(float)
    assert sum(b["live_rows"] for b in bins) == len(out) >= 100
    for i, b in enumerate(bins):
        sel = which == i
        assert b["live_rows"] == int(sel.sum())
        if sel.any():
            assert b["live_coverage"] == pytest.approx(float(np.mean(inside[sel])))
        assert b["walk_forward_coverage"] == pytest.approx(by_scale.bins[i].coverage_80)
    assert data["summary"]["coverage_by_width_departures"] == [
        b["label"] for b in bins if b["departs"]
    ]
    assert "coverage by predicted width" in (report_dir / "report.html").read_text()

    # the same figures on /metrics (the API exports the latest report when it reads it: /health)
    from fastapi.testclient import TestClient

    from stockvision.serving.app import create_app

    app = create_app(settings, start_background=False, mount_chat_ui=False)
    with TestClient(app) as client:
        assert client.get("/api/v1/health").status_code == 200
        metrics = client.get("/metrics").text
    for b in bins:
        line = f'sv_walk_forward_interval_coverage_by_width{{bin="{b["label"]}"}}'
        assert line in metrics
        flag = "1.0" if b["departs"] else "0.0"
        assert f'sv_interval_width_bin_departed{{bin="{b["label"]}"}} {flag}' in metrics
    assert any(
        line.startswith('sv_live_interval_coverage_by_width{bin="') for line in metrics.splitlines()
    )

    # and in `stockvision monitor` (the operator's view)
    from typer.testing import CliRunner

    from stockvision.cli.main import app as cli_app

    run = CliRunner().invoke(cli_app, ["monitor"], env={"COLUMNS": "200"})
    assert run.exit_code == 0, run.output
    assert "coverage by predicted width" in run.output
    for b in bins:
        assert b["label"] in run.output
