"""Self-contained HTML report and ``metrics.json`` of a walk-forward evaluation.

``report.html`` embeds plotly.js once (inline, ~4 MB) so it opens offline; ``metrics.json`` holds
only deterministic figures (no timestamps or timings, which go to ``timings.json``) so two runs of
the same evaluation produce byte-identical files.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stockvision.evaluation.backtest import BacktestConfig
from stockvision.evaluation.scoring import BASELINES, Scorecard, jsonable, score
from stockvision.evaluation.walkforward import EvaluationResult

__all__ = ["write_metrics", "write_report"]

CLASS_NAMES = ["DOWN", "SIDEWAYS", "UP"]


def write_metrics(card: Scorecard, path: Path) -> Path:
    """Write ``card.metrics`` as strict JSON (NaN -> null), deterministic formatting."""
    text = json.dumps(jsonable(card.metrics), indent=2, allow_nan=False, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def write_report(
    result: EvaluationResult,
    out_dir: Path | str,
    backtest_config: BacktestConfig | None = None,
    card: Scorecard | None = None,
) -> Path:
    """Score ``result`` and write ``report.html``, ``metrics.json``, ``timings.json`` and
    ``predictions.csv`` (the out-of-sample predictions) into ``out_dir``; returns the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    card = card or score(result, backtest_config)
    write_metrics(card, out / "metrics.json")
    run_info = {"timings": result.timings, "failed": result.failed}
    (out / "timings.json").write_text(
        json.dumps(jsonable(run_info), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    result.predictions.to_csv(out / "predictions.csv", index=False, float_format="%.10g")
    page = _render(result, card)
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------
class _Figures:
    """Render plotly figures as divs, inlining plotly.js only in the first one."""

    def __init__(self) -> None:
        self._first = True

    def div(self, fig: Any) -> str:
        include = self._first
        self._first = False
        fig.update_layout(template="plotly_white", margin={"l": 50, "r": 20, "t": 50, "b": 40})
        return fig.to_html(full_html=False, include_plotlyjs=include, config={"displaylogo": False})


def _equity_figure(card: Scorecard) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, bt in card.backtests.items():
        fig.add_trace(go.Scatter(x=bt.equity.index, y=bt.equity.to_numpy() / 1e9, name=name))
    if card.buy_and_hold is not None:
        eq = card.buy_and_hold.equity
        fig.add_trace(
            go.Scatter(
                x=eq.index,
                y=eq.to_numpy() / 1e9,
                name="buy & hold (equal weight)",
                line={"dash": "dash", "color": "black"},
            )
        )
    fig.update_layout(title="Equity, billion VND (top-k long only, after fees and tax)", height=450)
    return fig


def _ic_figure(card: Scorecard) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, ic in card.ic.items():
        if ic.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=ic.index,
                y=ic["rank_ic"].rolling(13, min_periods=4).mean(),
                name=name,
                visible=True if name not in BASELINES else "legendonly",
            )
        )
    fig.add_hline(y=0, line={"color": "grey"})
    fig.update_layout(title="Rank IC per week (13-week rolling mean)", height=420)
    return fig


def _scale_coverage_figure(card: Scorecard) -> Any | None:
    """Coverage of the 80 % range per bin of each model's own predicted scale (calmest first):
    where a flat line at 80 % would mean the range is honest at every width."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, v in card.metrics["models"].items():
        bins = (v.get("distribution") or {}).get("coverage_80_by_scale") or []
        if not bins:
            continue
        fig.add_trace(
            go.Scatter(
                x=[f"{b['q_low'] * 100:g}-{b['q_high'] * 100:g}%" for b in bins],
                y=[b["coverage_80"] for b in bins],
                mode="lines+markers",
                name=name,
                text=[f"n={b['rows']:,}, scale <= {b['scale_max']:.4f}" for b in bins],
            )
        )
    if not fig.data:
        return None
    fig.add_hline(y=0.8, line={"dash": "dot", "color": "grey"})
    fig.update_layout(
        title="80% range coverage by the model's own predicted scale (narrowest first)",
        xaxis_title="quantile bin of the predicted scale over the test rows",
        yaxis_title="coverage",
        yaxis={"tickformat": ".0%"},
        height=420,
    )
    return fig


def _calibration_figure(name: str, cal: pd.DataFrame, unc: pd.DataFrame | None) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], name="perfect", line={"dash": "dot", "color": "grey"})
    )
    for label, frame in (("before calibration", unc), ("after calibration", cal)):
        if frame is None:
            continue
        f = frame[frame["count"] > 0]
        fig.add_trace(
            go.Scatter(
                x=f["mean_confidence"],
                y=f["accuracy"],
                mode="lines+markers",
                name=label,
                text=[f"n={c}" for c in f["count"]],
            )
        )
    fig.update_layout(
        title=f"Reliability diagram, {name} (top label)",
        xaxis_title="confidence",
        yaxis_title="accuracy",
        height=400,
        width=520,
    )
    return fig


def _confusion_figure(name: str, cm: np.ndarray) -> Any:
    import plotly.graph_objects as go

    shares = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig = go.Figure(
        go.Heatmap(
            z=shares,
            x=CLASS_NAMES,
            y=CLASS_NAMES,
            text=cm,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
        )
    )
    fig.update_layout(
        title=f"Confusion matrix, {name} (colour: share of the true class)",
        xaxis_title="predicted",
        yaxis_title="actual",
        height=400,
        width=480,
    )
    return fig


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------
def _num(x: Any, kind: str = "f") -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "–"
    if isinstance(x, list):
        return "[" + ", ".join(_num(v, kind) for v in x) + "]"
    if kind == "pct":
        return f"{x * 100:.1f}%"
    if kind == "pp":
        return f"{x:.2f}%"
    if kind == "p":
        return f"{x:.3g}"
    return f"{x:.3f}"


_SUMMARY_COLUMNS = [
    ("price", "mae_pct", "MAE %", "pp"),
    ("price", "mae_ratio_vs_random_walk", "MAE / RW", "f"),
    ("price", "dm_pvalue", "DM p", "p"),
    ("price", "interval_coverage", "coverage", "pct"),
    ("distribution", "crps", "CRPS", "f"),
    ("distribution", "crps_skill", "CRPS skill", "pct"),
    ("distribution", "dm_pvalue", "CRPS DM p", "p"),
    ("distribution", "coverage_80", "cov. 80%", "pct"),
    ("distribution", "coverage_80_by_vol_quintile", "cov. 80% by vol quintile", "f"),
    ("distribution", "interval_score_skill", "Winkler skill", "pct"),
    ("distribution", "pattern_log_loss_skill", "dist. LL skill", "f"),
    ("pattern", "accuracy", "accuracy", "pct"),
    ("pattern", "balanced_accuracy", "bal. acc.", "pct"),
    ("pattern", "macro_f1", "macro F1", "f"),
    ("pattern", "log_loss_skill", "LL skill", "f"),
    ("pattern", "brier_skill", "Brier skill", "f"),
    ("pattern", "ece_uncalibrated", "ECE before", "f"),
    ("pattern", "ece_model_temperature", "ECE val-T", "f"),
    ("pattern", "ece", "ECE", "f"),
    ("ranking", "rank_ic_mean", "rank IC", "f"),
    ("ranking", "rank_ic_ci95", "rank IC 95% CI", "f"),
    ("ranking", "icir", "ICIR", "f"),
    ("backtest", "annual_return", "ann. return", "pct"),
    ("backtest", "sharpe", "Sharpe", "f"),
    ("backtest", "max_drawdown", "max DD", "pct"),
    ("backtest", "turnover", "turnover", "pct"),
    ("backtest", "hit_rate", "hit rate", "pct"),
]


def _summary_table(card: Scorecard) -> str:
    head = "".join(f"<th>{html.escape(c[2])}</th>" for c in _SUMMARY_COLUMNS)
    rows = []
    models = card.metrics["models"]
    entries = [(n, v) for n, v in models.items()]
    if "buy_and_hold" in card.metrics:
        entries.append(
            ("buy & hold", {"kind": "benchmark", "backtest": card.metrics["buy_and_hold"]})
        )
    for name, v in entries:
        tag = (
            " <span class='tag'>baseline</span>"
            if name in BASELINES or v["kind"] == "benchmark"
            else ""
        )
        cells = "".join(
            f"<td>{_num((v.get(g) or {}).get(k), fmt)}</td>" for g, k, _, fmt in _SUMMARY_COLUMNS
        )
        rows.append(f"<tr><td>{html.escape(name)}{tag}</td><td>{v['kind']}</td>{cells}</tr>")
    return (
        f"<table><thead><tr><th>model</th><th>kind</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _goals_table(card: Scorecard) -> str:
    if not card.goals:
        return "<p>No non-baseline model was evaluated.</p>"
    rows = []
    for g in card.goals:
        mark = {True: "<b class='ok'>met</b>", False: "<b class='bad'>not met</b>"}.get(
            g.met, "<b>n/a</b>"
        )
        rows.append(
            f"<tr><td>{html.escape(g.model)}</td><td>{html.escape(g.goal)}</td>"
            f"<td>{html.escape(g.value)}</td><td>{mark}</td></tr>"
        )
    return (
        "<table><thead><tr><th>model</th><th>goal</th><th>measured</th><th>status</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _per_symbol_table(card: Scorecard) -> str:
    df = card.per_symbol
    if df.empty or df.shape[1] == 0:
        return "<p>No per-symbol figures.</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in df.columns)
    body = []
    for sym, row in df.iterrows():
        cells = []
        for col, val in row.items():
            if col.startswith("MAE%"):
                cells.append(_num(val, "pp"))
            elif col.startswith("positions"):
                cells.append("–" if pd.isna(val) else str(int(val)))
            else:
                cells.append(_num(val, "pct"))
        body.append(
            f"<tr><td>{html.escape(str(sym))}</td>{''.join(f'<td>{c}</td>' for c in cells)}</tr>"
        )
    return f"<table><thead><tr><th>symbol</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
h1{margin-bottom:4px} h2{margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px;margin:8px 0;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#f4f6f8} td:first-child,th:first-child{text-align:left}
.tag{font-size:11px;background:#eee;border-radius:3px;padding:0 4px;color:#555}
.ok{color:#17803d} .bad{color:#b42318} .grid{display:flex;flex-wrap:wrap;gap:12px}
.note{color:#555;font-size:13px;max-width:1000px}
"""


def _render(result: EvaluationResult, card: Scorecard) -> str:
    figs = _Figures()
    win = card.metrics["evaluation_window"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Stock Vision walk-forward evaluation</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Stock Vision — walk-forward evaluation</h1>",
        f"<p class='note'>Out-of-sample test weeks {win['start']} to {win['end']}, {win['folds']} "
        f"folds (expanding window from {win['first_train_start']}, refit every "
        f"{(result.splitter or {}).get('step_weeks', '?')} weeks, purge {result.horizon} weeks + "
        f"embargo), horizon {result.horizon} weeks, {len(card.metrics['universe'])} symbols: "
        f"{html.escape(', '.join(card.metrics['universe']))}.</p>",
        "<h2>Summary</h2>",
        _summary_table(card),
        "<p class='note'>ECE (15 bins): <i>before</i> = uncalibrated softmax, <i>val-T</i> = each "
        "fold model's own temperature (fitted on its 13-week validation window), <i>ECE</i> = "
        f"the reported probabilities (calibration: {html.escape(str(win.get('calibration')))}; "
        "pooled_val = one temperature per fold fitted on the pooled out-of-fold validation "
        "predictions of that and every earlier fold, never on test weeks).</p>",
        "<h2>Goals</h2>",
        _goals_table(card),
    ]
    by_scale = _scale_coverage_figure(card)
    if by_scale is not None:
        parts += [
            "<h2>Coverage by predicted width</h2>",
            figs.div(by_scale),
            "<p class='note'>Answers quote a bin's coverage when it differs from 80 % by at "
            "least 5 points and by more than 3 binomial standard errors.</p>",
        ]
    if card.backtests:
        parts += ["<h2>Backtest</h2>", figs.div(_equity_figure(card))]
    if any(not ic.empty for ic in card.ic.values()):
        parts += ["<h2>Information coefficient</h2>", figs.div(_ic_figure(card))]
    if card.reliability:
        parts.append("<h2>Calibration</h2><div class='grid'>")
        for name, (cal, unc) in card.reliability.items():
            parts.append(figs.div(_calibration_figure(name, cal, unc)))
        parts.append("</div><h2>Confusion matrices</h2><div class='grid'>")
        for name, cm in card.confusion.items():
            parts.append(figs.div(_confusion_figure(name, cm)))
        parts.append("</div>")
    if result.failed:
        items = "".join(
            f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in result.failed.items()
        )
        parts += ["<h2>Models that failed (left out)</h2>", f"<ul class='note'>{items}</ul>"]
    parts += ["<h2>Per symbol</h2>", _per_symbol_table(card), _METHOD, "</body></html>"]
    return "\n".join(parts)


_METHOD = """
<h2>Method</h2>
<ul class='note'>
<li>Every figure is out of sample: each fold refits every model on data that ends, including the
4-week label horizon and a 1-week embargo, before its validation and test weeks.</li>
<li>MAE % = mean |price target − actual price| / actual price. RW = random walk (target = today's
price). DM p = two-sided Diebold–Mariano test against the random walk on weekly mean absolute
errors, HAC variance over horizon−1 lags, Harvey–Leybourne–Newbold correction.</li>
<li>Skill scores compare with the class frequencies of each fold's training window. ECE: top-label,
15 equal-width bins. Pattern models are ranked by P(UP) − P(DOWN).</li>
<li>IC = Pearson, rank IC = Spearman correlation across symbols per week; ICIR = mean/std of IC; the
95% interval of the mean rank IC is a circular block bootstrap (block = horizon).</li>
<li>Backtest: every 4 weeks buy the top-k by predicted return at the next day's open, whole lots of
100 shares, fee 0.15% per side + 0.1% sales tax, stock dividends via adjustment factors; Sharpe with
risk-free rate 0; turnover = one-way per rebalance; hit rate = positions positive after costs.</li>
</ul>
"""
