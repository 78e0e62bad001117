"""Live stream answers carry the monitoring's live coverage of their width bin, like the API's,
and only for the champion version the report is about (through the real reader and report file)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from stream_support import build_system

from stockvision.data.schema import WEEK_END
from stockvision.evaluation.scale_coverage import ScaleBin, ScaleCoverage
from stockvision.features import FEATURES
from stockvision.monitoring.live_width import LiveWidthReader
from stockvision.monitoring.state import MonitoringState
from stockvision.predict import ModelSet
from stockvision.stream.predictions import LivePredictor


def _report(version: str) -> dict:
    return {
        "summary": {"price_version": version},
        "live": {
            "coverage_by_width": [
                {"q_low": 0.0, "q_high": 0.5, "scale_max": 1e9, "walk_forward_rows": 900,
                 "walk_forward_coverage": 0.80, "live_rows": 250, "live_coverage": 0.58,
                 "departs": True, "label": "0-50 %"},
                {"q_low": 0.5, "q_high": 1.0, "scale_max": float("inf"), "walk_forward_rows": 900,
                 "walk_forward_coverage": 0.80, "live_rows": 0, "live_coverage": None,
                 "departs": False, "label": "50-100 %"},
            ]
        },
    }  # fmt: skip


def test_stream_predictions_say_when_their_width_bin_departed_live(tmp_path):
    system = build_system()
    bins = ScaleCoverage((ScaleBin(0.0, 0.5, 1e9, 900, 0.80), ScaleBin(0.5, 1.0, np.inf, 900, 0.8)))
    models = ModelSet(**{**system.models.__dict__, "price_metrics": bins.flat()})
    weeks = system.features.index.get_level_values(WEEK_END)
    live = system.features[weeks == weeks.max()][FEATURES]
    closes = system.labels.reindex(live.index)["raw_close"].to_numpy(float)
    state = MonitoringState(tmp_path / "monitoring")
    reader = LiveWidthReader(state)
    predictor = LivePredictor(
        models, system.features, system.labels, seq_len=4, horizon=4, live_width=reader.read
    )

    assert all(p.caveats == [] for p in predictor.predict(live, closes))  # no report yet
    state.write_latest(_report(str(models.price_version)))
    preds = predictor.predict(live, closes)
    assert len(preds) == len(live)
    for p in preds:
        [cav] = p.caveats
        assert cav.code == "live_coverage_departed"
        assert "58% of the time (250 resolved forecasts), against 80%" in cav.message_en
    token, got = reader.read(models.price_version)
    assert token and got is not None and got[(0.0, 0.5)].rows == 250
    assert reader.read("another") == ("", None)
    assert pd.Index(p.symbol for p in preds).is_unique
