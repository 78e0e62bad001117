"""Full and incremental builds, and the validation report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from feature_frames import make_adjusted

from stockvision.config import get_settings
from stockvision.features import (
    build_features_and_labels,
    compute_features,
    incremental_update,
    render_html,
    render_text,
    validate_features,
)
from stockvision.features.labels import LabelSpec


def test_incremental_equals_full_recompute():
    """Stored up to a mid-week day (an incomplete week), then updated: equal to a full build.

    90 weeks of history so the 60-week tail really cuts the data; RSI/MACD depend on all of it."""
    d = make_adjusted(n_symbols=3, n_days=450, seed=8, gaps=[(2, 300, 7)], zero_volume_share=0.02)
    full = compute_features(d)
    cut = pd.Timestamp(d["date"].iloc[430]) - pd.Timedelta(days=2)  # a Wednesday or so
    stored = compute_features(d[d["date"] <= cut])
    updated = incremental_update(stored, d)
    assert updated.index.equals(full.index)
    np.testing.assert_allclose(updated.to_numpy(), full.to_numpy(), rtol=1e-9, atol=1e-12)


def test_incremental_with_a_new_symbol_recomputes_everything():
    d = make_adjusted(n_symbols=3, n_days=200, seed=9)
    stored = compute_features(d[(d["symbol"] != "S02") & (d["date"] < d["date"].max())])
    updated = incremental_update(stored, d)
    pd.testing.assert_frame_equal(updated, compute_features(d))


def test_build_uses_the_label_spec_it_is_given(monkeypatch):
    d = make_adjusted(n_symbols=2, n_days=200, seed=10)
    monkeypatch.setenv("SV_PATTERN_UP", "0.05")
    monkeypatch.setenv("SV_PATTERN_DOWN", "-0.05")
    get_settings.cache_clear()
    # the environment reaches the features layer only through the spec built from the settings
    features, labels = build_features_and_labels(d, LabelSpec.from_settings(get_settings()))
    default = build_features_and_labels(d)[1]
    assert (default["pattern"][default["future_return"].between(0.011, 0.05)] == "UP").all()
    assert labels.index.equals(features.index)
    fr = labels["future_return"]
    assert (labels["pattern"][fr.abs() <= 0.05].dropna() == "SIDEWAYS").all()
    assert (labels["pattern"][fr > 0.05] == "UP").all()


def test_report_contents_and_renderings():
    d = make_adjusted(n_symbols=3, n_days=400, seed=12)
    d = d[(d["symbol"] != "S02") | (d["date"] >= d["date"].iloc[300])]  # S02: ~20 weeks only
    features, labels = build_features_and_labels(d)
    report = validate_features(features, labels)
    json.dumps(report)  # JSON-able
    assert report["symbols"] == 3 and report["rows"] == len(features)
    assert report["date_range"]["last_week_end"] == str(features.index.levels[1].max().date())
    assert set(report["nan_share"]) == set(features.columns)
    assert report["nan_share"]["ret_52w"] > report["nan_share"]["ret_1w"]
    short = [a for a in report["alerts"] if a["kind"] == "short_history"]
    assert len(short) == 1 and list(short[0]["symbols"]) == ["S02"]
    lab = report["labels"]
    assert sum(lab["pattern_counts"].values()) == lab["labelled_rows"]
    assert lab["unlabelled_rows"] == 3 * 4
    dist = report["distribution"]["rsi_14w"]
    assert 0 <= dist["q01"] <= dist["q50"] <= dist["q99"] <= 100
    text = render_text(report)
    assert "S02" in text and "rsi_14w" in text and "short_history" in text
    page = render_html(report)
    assert (
        page.startswith("<!doctype html>")
        and "<table>" in page
        and "S02" not in page.split("<h2>Features")[1]
    )
