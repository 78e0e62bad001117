"""Validation report of a feature matrix and its labels: JSON-able dict, text and HTML renderings.

Run after every (re)build so a broken source (a symbol with a few weeks of history, a feature that
is suddenly all NaN, labels collapsing into one class) is visible before any model trains on it.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from stockvision.data.schema import SYMBOL, WEEK_END
from stockvision.features.feature_docs import FEATURES
from stockvision.features.labels import PATTERN_CLASSES

QUANTILES = (0.01, 0.25, 0.5, 0.75, 0.99)
#: A feature with more missing values than this share is flagged.
NAN_ALERT_SHARE = 0.5
#: A pattern class rarer than this share among labelled rows is flagged.
CLASS_ALERT_SHARE = 0.1


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _qkey(q: float) -> str:
    return f"q{round(q * 100):02d}"


def validate_features(
    features: pd.DataFrame, labels: pd.DataFrame | None = None, min_history_weeks: int = 50
) -> dict[str, Any]:
    """Summary and alerts for a feature matrix (and labels): plain JSON-able types only.

    ``min_history_weeks``: symbols with fewer weeks are flagged (too short to train on).
    """
    idx = features.index
    weeks = idx.get_level_values(WEEK_END)
    symbols = idx.get_level_values(SYMBOL)
    cols = [c for c in FEATURES if c in features.columns]
    values = features[cols].to_numpy(dtype=np.float64, na_value=np.nan)
    nan_share = np.isnan(values).mean(axis=0) if len(values) else np.zeros(len(cols))

    distribution: dict[str, dict[str, float | None]] = {}
    for j, name in enumerate(cols):
        col = values[:, j]
        col = col[np.isfinite(col)]
        if len(col) == 0:
            keys = ("mean", "std", "min", "max", *(_qkey(q) for q in QUANTILES))
            distribution[name] = dict.fromkeys(keys)
            continue
        qs = np.quantile(col, QUANTILES)
        distribution[name] = {
            "mean": _num(col.mean()),
            "std": _num(col.std()),
            "min": _num(col.min()),
            "max": _num(col.max()),
            **{_qkey(q): _num(v) for q, v in zip(QUANTILES, qs, strict=True)},
        }

    weeks_per_symbol = pd.Series(symbols).value_counts()
    short = weeks_per_symbol[weeks_per_symbol < min_history_weeks].sort_index()
    alerts: list[dict[str, Any]] = []
    if len(short):
        alerts.append(
            {
                "kind": "short_history",
                "message": (
                    f"{len(short)} symbol(s) have fewer than {min_history_weeks} weeks "
                    "of history; their long-lookback features are mostly NaN"
                ),
                "symbols": {str(k): int(v) for k, v in short.items()},
            }
        )
    missing_cols = [c for c in FEATURES if c not in features.columns]
    if missing_cols:
        alerts.append(
            {"kind": "missing_columns", "message": f"missing feature columns {missing_cols}"}
        )
    for name, share in zip(cols, nan_share, strict=True):
        if share > NAN_ALERT_SHARE:
            alerts.append(
                {
                    "kind": "mostly_nan",
                    "message": f"{name} is NaN in {share:.0%} of rows",
                    "feature": name,
                }
            )

    report: dict[str, Any] = {
        "rows": len(features),
        "symbols": int(symbols.nunique()),
        "weeks": int(weeks.nunique()),
        "date_range": {
            "first_week_end": str(weeks.min().date()) if len(weeks) else None,
            "last_week_end": str(weeks.max().date()) if len(weeks) else None,
        },
        "nan_share": {n: float(s) for n, s in zip(cols, nan_share, strict=True)},
        "distribution": distribution,
        "min_history_weeks": int(min_history_weeks),
        "alerts": alerts,
    }
    if labels is not None:
        pattern = labels["pattern"].reindex(idx) if len(labels) else labels["pattern"]
        known = pattern.dropna().astype(str)
        counts = {c: int((known == c).sum()) for c in PATTERN_CLASSES}
        total = max(1, len(known))
        fr = labels["future_return"].to_numpy(dtype=np.float64, na_value=np.nan)
        fr = fr[np.isfinite(fr)]
        report["labels"] = {
            "labelled_rows": len(known),
            "unlabelled_rows": int(len(pattern) - len(known)),
            "pattern_counts": counts,
            "pattern_share": {c: counts[c] / total for c in PATTERN_CLASSES},
            "future_return_mean": _num(fr.mean()) if len(fr) else None,
            "future_return_std": _num(fr.std()) if len(fr) else None,
        }
        for c in PATTERN_CLASSES:
            if len(known) and counts[c] / total < CLASS_ALERT_SHARE:
                alerts.append(
                    {
                        "kind": "label_imbalance",
                        "message": f"class {c} is only {counts[c] / total:.1%} of labelled rows",
                    }
                )
    return report


def render_text(report: dict[str, Any]) -> str:
    """A readable plain-text rendering of :func:`validate_features` output."""
    dr = report["date_range"]
    lines = [
        "Feature validation report",
        f"  rows {report['rows']}, symbols {report['symbols']}, weeks {report['weeks']}",
        f"  week ends {dr['first_week_end']} .. {dr['last_week_end']}",
    ]
    if "labels" in report:
        lab = report["labels"]
        shares = ", ".join(f"{c} {lab['pattern_share'][c]:.1%}" for c in PATTERN_CLASSES)
        lines.append(
            f"  labels: {lab['labelled_rows']} labelled, {lab['unlabelled_rows']} unlabelled; "
            + shares
        )
    lines.append("")
    lines.append(f"  {'feature':<18}{'NaN':>7}{'mean':>12}{'std':>12}{'q01':>12}{'q99':>12}")
    for name, share in report["nan_share"].items():
        d = report["distribution"][name]
        cells = [_fmt(d.get(k)) for k in ("mean", "std", "q01", "q99")]
        lines.append(f"  {name:<18}{share:>7.1%}" + "".join(f"{c:>12}" for c in cells))
    lines.append("")
    if report["alerts"]:
        lines.append("Alerts:")
        for alert in report["alerts"]:
            lines.append(f"  - [{alert['kind']}] {alert['message']}")
            if alert["kind"] == "short_history":
                lines.append(
                    "      " + ", ".join(f"{s} ({n}w)" for s, n in alert["symbols"].items())
                )
    else:
        lines.append("No alerts.")
    return "\n".join(lines)


def render_html(report: dict[str, Any]) -> str:
    """A self-contained HTML page of the report (tables, no scripts)."""
    esc = html.escape
    dr = report["date_range"]
    rows = "".join(
        f"<tr><td>{esc(name)}</td><td>{share:.1%}</td>"
        + "".join(
            f"<td>{_fmt(report['distribution'][name].get(k))}</td>"
            for k in ("mean", "std", "q01", "q50", "q99")
        )
        + "</tr>"
        for name, share in report["nan_share"].items()
    )
    alerts = "".join(f"<li>[{esc(a['kind'])}] {esc(a['message'])}</li>" for a in report["alerts"])
    label_html = ""
    if "labels" in report:
        lab = report["labels"]
        cells = "".join(
            f"<tr><td>{c}</td><td>{lab['pattern_counts'][c]}</td>"
            f"<td>{lab['pattern_share'][c]:.1%}</td></tr>"
            for c in PATTERN_CLASSES
        )
        label_html = (
            "<h2>Labels</h2><table><tr><th>class</th><th>rows</th><th>share</th></tr>"
            f"{cells}</table><p>{lab['unlabelled_rows']} unlabelled rows.</p>"
        )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Stock Vision features</title>"
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}"
        "td:first-child{text-align:left}</style></head><body>"
        "<h1>Feature validation report</h1>"
        f"<p>{report['rows']} rows, {report['symbols']} symbols, {report['weeks']} weeks "
        f"({esc(str(dr['first_week_end']))} .. {esc(str(dr['last_week_end']))})</p>"
        f"<h2>Alerts</h2><ul>{alerts or '<li>none</li>'}</ul>{label_html}"
        "<h2>Features</h2><table><tr><th>feature</th><th>NaN</th><th>mean</th><th>std</th>"
        f"<th>q01</th><th>median</th><th>q99</th></tr>{rows}</table></body></html>"
    )


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.4g}"
