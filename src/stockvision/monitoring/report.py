"""``stockvision monitor``: live outcomes, drift against the training window, and the degraded flag.

The result is written as JSON (``<data_dir>/monitoring/latest.json`` and a dated copy under reports) and as an
HTML page with charts. When drift is detected or live accuracy falls more than the allowed points below the
accuracy the champion was promoted with, ``degraded.json`` gets a new token; the pipeline's train step includes
that token in its fingerprint, so the next run retrains a challenger even on unchanged data.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stockvision.config import Settings
from stockvision.evaluation.scale_coverage import ScaleCoverage
from stockvision.jsonutil import jsonable
from stockvision.monitoring.drift import (
    DriftReport,
    calibrated_drift,
    categorical_psi,
    feature_drift,
    psi,
)
from stockvision.monitoring.outcomes import (
    WidthBinOutcome,
    join_outcomes,
    live_coverage_by_width,
    live_metrics,
    rolling_live_metrics,
)
from stockvision.monitoring.state import MonitoringState

MIN_RESOLVED_FOR_ALERT = 30


def _champion_info(settings: Settings) -> dict[str, Any]:
    """Versions, promotion metrics and training windows of the champions (empty when unavailable)."""
    try:
        from stockvision.registry.model_registry import ModelRegistry

        registry = ModelRegistry(settings)
    except Exception:
        return {}
    info: dict[str, Any] = {}
    for kind in ("price", "pattern"):
        rec = registry.champion(kind)
        if rec is None:
            continue
        params: dict[str, str] = {}
        if rec.run_id:
            try:
                params = registry.client.get_run(rec.run_id).data.params
            except Exception:
                params = {}
        window = None
        if "train_window" in params:
            try:
                window = json.loads(params["train_window"])
            except json.JSONDecodeError:
                window = None
        info[kind] = {"version": rec.version, "metrics": rec.metrics, "train_window": window}
    return info


def run_monitoring(
    settings: Settings,
    store: Any = None,
    out_dir: Path | None = None,
    recent_weeks: int = 13,
) -> dict[str, Any]:
    """Outcomes, drift and the degraded flag; writes the report and ``MonitoringState`` files."""
    state = MonitoringState(settings.subdir("monitoring"))
    if store is None:
        from stockvision.data.store import Store

        store = Store.from_settings(settings)
    from stockvision.features import FEATURES

    champions = _champion_info(settings)
    feats = store.read_features()
    labels = store.read_labels()
    preds = store.read_predictions()

    # --- outcomes ------------------------------------------------------------------------
    outcomes = join_outcomes(preds, labels) if preds is not None and len(preds) else pd.DataFrame()
    overall = live_metrics(outcomes) if len(outcomes) else pd.DataFrame()
    by_version = (
        live_metrics(outcomes, by=["pattern_model_version"]) if len(outcomes) else pd.DataFrame()
    )
    by_symbol = live_metrics(outcomes, by=["symbol"]) if len(outcomes) else pd.DataFrame()
    rolling = rolling_live_metrics(outcomes) if len(outcomes) else pd.DataFrame()
    by_width = _coverage_by_width(settings, champions, outcomes)

    # --- drift ---------------------------------------------------------------------------
    drift = None
    if feats is not None and len(feats):
        weeks = feats.index.get_level_values(1)
        all_weeks = np.sort(weeks.unique())
        recent_start = all_weeks[max(0, len(all_weeks) - recent_weeks)]
        window = (champions.get("price") or champions.get("pattern") or {}).get("train_window")
        if window:
            ref_mask = (weeks >= pd.Timestamp(window[0])) & (weeks <= pd.Timestamp(window[1]))
        else:
            ref_mask = weeks < recent_start
        cur_mask = weeks >= recent_start
        reference, current = feats.loc[ref_mask], feats.loc[cur_mask]
        if len(reference) and len(current):
            per_feature = feature_drift(
                reference, current, FEATURES, settings.psi_threshold, settings.ks_pvalue_threshold
            )
            # The alarm: the window's PSI judged against past windows (a fixed PSI threshold flags
            # ordinary market moves of autocorrelated features); not calibrated -> no alarm.
            calibrated = calibrated_drift(
                feats, FEATURES, recent_weeks, settings.drift_false_alarm_rate
            )
            flagged = set(calibrated.drifted_features) if calibrated and calibrated.alarm else set()
            for d in per_feature:
                d.drifted = d.feature in flagged
            calibration = (
                calibrated.to_dict()
                if calibrated is not None
                else {"status": "not calibrated: fewer than 20 past windows of history"}
            )
            drift = DriftReport(
                reference={
                    "start": str(pd.Timestamp(reference.index.get_level_values(1).min()).date()),
                    "end": str(pd.Timestamp(reference.index.get_level_values(1).max()).date()),
                    "rows": len(reference),
                },
                current={
                    "start": str(pd.Timestamp(current.index.get_level_values(1).min()).date()),
                    "end": str(pd.Timestamp(current.index.get_level_values(1).max()).date()),
                    "rows": len(current),
                },
                features=per_feature,
                psi_threshold=settings.psi_threshold,
                drifted_features=[d.feature for d in per_feature if d.drifted],
                calibration=calibration,
            )
            # prediction-distribution and class-mix shift of the served predictions vs the earliest ones
            if preds is not None and len(preds) > 1:
                dates = pd.to_datetime(preds["prediction_date"])
                latest = dates.max()
                cur_p, ref_p = preds[dates == latest], preds[dates < latest]
                if len(ref_p) >= 10 and len(cur_p) >= 5:
                    drift.prediction_psi = psi(
                        ref_p["expected_return"].to_numpy(), cur_p["expected_return"].to_numpy()
                    )
                    drift.class_mix_psi = categorical_psi(ref_p["pattern"], cur_p["pattern"])
            if labels is not None and len(labels):
                lw = labels.index.get_level_values(1)
                ref_lab = labels.loc[
                    (lw >= reference.index.get_level_values(1).min())
                    & (lw <= reference.index.get_level_values(1).max()),
                    "pattern",
                ]
                recent_lab = labels.loc[
                    lw >= recent_start - pd.Timedelta(weeks=settings.horizon_weeks + recent_weeks),
                    "pattern",
                ]
                label_mix = categorical_psi(ref_lab, recent_lab)
            else:
                label_mix = float("nan")
    else:
        label_mix = float("nan")

    # --- degraded? --------------------------------------------------------------------------
    reasons: list[str] = []
    if drift is not None and drift.drift_detected:
        reasons.append(
            "drift: "
            + ", ".join(drift.drifted_features[:8])
            + (f" (prediction PSI {drift.prediction_psi:.3f})" if drift.prediction_psi else "")
        )
    promo_acc = (champions.get("pattern") or {}).get("metrics", {}).get("accuracy")
    live_acc = None
    n_resolved = int(overall.iloc[0]["n"]) if len(overall) else 0
    if len(overall):
        live_acc = float(overall.iloc[0]["pattern_accuracy"])
    if (
        promo_acc is not None
        and live_acc is not None
        and n_resolved >= MIN_RESOLVED_FOR_ALERT
        and (promo_acc - live_acc) * 100 > settings.live_accuracy_drop_pp
    ):
        reasons.append(
            f"live accuracy {live_acc:.3f} is {(promo_acc - live_acc) * 100:.1f} points below the "
            f"promotion figure {promo_acc:.3f}"
        )
    degraded = bool(reasons)
    if degraded:
        state.mark_degraded(reasons)
    else:
        state.clear_degraded()

    summary = {
        "drift_detected": bool(drift.drift_detected) if drift else False,
        "drifted_features": drift.drifted_features if drift else [],
        "degraded": degraded,
        "reasons": reasons,
        "resolved_predictions": n_resolved,
        "live_pattern_accuracy": live_acc,
        "promotion_pattern_accuracy": promo_acc,
        "live_price_mae_pct": float(overall.iloc[0]["price_mae_pct"]) if len(overall) else None,
        "live_interval_coverage": float(overall.iloc[0]["interval_coverage"])
        if len(overall)
        else None,
        "label_mix_psi": label_mix,
        # width bins whose live coverage left the walk-forward figure the answers quote
        "coverage_by_width_departures": [b.label() for b in by_width if b.departs],
        "pattern_version": (champions.get("pattern") or {}).get("version"),
        "price_version": (champions.get("price") or {}).get("version"),
    }
    data = jsonable(
        {
            "generated_at": datetime.now(UTC).isoformat(),
            "summary": summary,
            "champions": champions,
            "drift": drift.to_dict() if drift else None,
            "live": {
                "overall": overall.to_dict("records"),
                "by_model_version": by_version.to_dict("records"),
                "by_symbol": by_symbol.to_dict("records"),
                "rolling": rolling.assign(week_end=rolling["week_end"].astype(str)).to_dict(
                    "records"
                )
                if len(rolling)
                else [],
                "coverage_by_width": [b.to_dict() for b in by_width],
            },
        }
    )
    out_dir = (
        Path(out_dir)
        if out_dir
        else settings.reports_dir / "monitoring" / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(data, indent=1))
    (out_dir / "report.html").write_text(render_html(data), encoding="utf-8")
    state.write_latest(data)
    return {
        "summary": data["summary"],
        "report_dir": str(out_dir),
        "coverage_by_width": data["live"]["coverage_by_width"],
    }


def _coverage_by_width(
    settings: Settings, champions: dict[str, Any], outcomes: pd.DataFrame
) -> list[WidthBinOutcome]:
    """The price champion's walk-forward coverage by predicted width next to its live outcomes
    (empty when the champion has no such measurement or the served range is not the 80 % one)."""
    price = champions.get("price") or {}
    by_scale = ScaleCoverage.from_metrics(price.get("metrics") or {})
    if by_scale is None or abs(float(settings.interval_coverage) - 0.8) > 1e-9:
        return []
    return live_coverage_by_width(outcomes, by_scale, version=price.get("version"))


def _width_chart(bins: list[dict[str, Any]]) -> Any:
    import plotly.graph_objects as go

    x = [b["label"] for b in bins]
    fig = go.Figure()
    live_colors = ["#d62728" if b["departs"] else "#2ca02c" for b in bins]
    for which, name, colors in (
        ("walk_forward", "walk-forward (what answers quote)", None),
        ("live", "live", live_colors),
    ):
        fig.add_trace(
            go.Bar(
                x=x,
                y=[b[f"{which}_coverage"] for b in bins],
                name=name,
                text=[f"{b[f'{which}_rows']:,}" for b in bins],
                marker_color=colors,
            )
        )
    fig.add_hline(y=0.8, line_dash="dot", annotation_text="nominal 80 %")
    fig.update_layout(
        title="80 % range coverage by predicted width, narrowest first (bar labels: forecasts; "
        "red: live left the walk-forward figure beyond noise)",
        barmode="group",
        height=400,
        yaxis_range=[0, 1],
        xaxis_title="bin of the champion's predicted scale (quantiles of its walk-forward)",
    )
    return fig


def render_html(data: dict[str, Any]) -> str:
    """A self-contained HTML page: summary, PSI per feature, rolling live metrics."""
    import plotly.graph_objects as go
    from plotly.io import to_html

    parts = []
    drift = data.get("drift") or {}
    feats = drift.get("features", [])
    if feats:
        threshold = drift.get("psi_threshold", 0.2)
        fig = go.Figure(
            go.Bar(
                x=[f["feature"] for f in feats],
                y=[f["psi"] for f in feats],
                marker_color=["#d62728" if f["drifted"] else "#1f77b4" for f in feats],
            )
        )
        fig.add_hline(y=threshold, line_dash="dash", annotation_text=f"drift threshold {threshold}")
        fig.update_layout(title="Feature drift (PSI, recent weeks vs training window)", height=380)
        parts.append(to_html(fig, include_plotlyjs="inline", full_html=False))
    rolling = data.get("live", {}).get("rolling", [])
    if rolling:
        fig = go.Figure()
        x = [r["week_end"] for r in rolling]
        for key, label in (
            ("pattern_accuracy", "pattern accuracy"),
            ("direction_hit_rate", "direction hit rate"),
            ("interval_coverage", "interval coverage"),
        ):
            fig.add_trace(go.Scatter(x=x, y=[r.get(key) for r in rolling], name=label))
        promo = data["summary"].get("promotion_pattern_accuracy")
        if promo is not None:
            fig.add_hline(y=promo, line_dash="dot", annotation_text="accuracy at promotion")
        fig.update_layout(title="Live metrics (rolling 12 weeks)", height=380, yaxis_range=[0, 1])
        parts.append(
            to_html(fig, include_plotlyjs="inline" if not parts else False, full_html=False)
        )
    by_width = data.get("live", {}).get("coverage_by_width", [])
    if any(b["live_rows"] for b in by_width):
        parts.append(
            to_html(
                _width_chart(by_width),
                include_plotlyjs="inline" if not parts else False,
                full_html=False,
            )
        )
    summary = data.get("summary", {})
    esc = html.escape
    rows = "".join(
        f"<tr><th>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in summary.items()
    )
    status = "DEGRADED" if summary.get("degraded") else "OK"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Stock Vision monitoring</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}"
        "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}</style>"
        f"</head><body><h1>Stock Vision monitoring: {status}</h1>"
        f"<p>Generated {data.get('generated_at')}</p><table>{rows}</table>"
        + "".join(parts)
        + "</body></html>"
    )
