"""``stockvision evaluate`` and ``stockvision models list|show|promote|rollback``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from stockvision.cli._common import (
    SCORE_COLUMNS,
    console,
    fmt_number,
    fmt_pct,
    out,
    print_json,
    progress_bar,
    score_cells,
)
from stockvision.config import get_settings

models_app = typer.Typer(
    help="Registered models: champion/challenger aliases and promotions.", no_args_is_help=True
)

ALL_MODELS = [
    "ridge",
    "lgbm_reg",
    "arima",
    "random_walk",
    "drift",
    "lstm",
    "gru",
    "cnn_bilstm_attn",
    "lgbm_clf",
    "majority",
    "momentum_sign",
]


def evaluate(
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for report.html and metrics.json.")
    ],
    models: Annotated[
        str | None, typer.Option("--models", help="Comma-separated model names (default: all).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print metrics.json on stdout.")] = False,
) -> None:
    """Walk-forward evaluation of every model and baseline, with a backtest and an HTML report."""
    from stockvision.pipeline.steps import evaluate as run_eval
    from stockvision.pipeline.steps import snapshot

    settings = get_settings()
    names = [m.strip() for m in models.split(",")] if models else ALL_MODELS
    snap = snapshot(settings)
    with progress_bar(not as_json) as bar:
        result = run_eval(
            settings, snap, progress=bar, models=names, out_dir=out_dir, on_error="drop"
        )
    if as_json:
        print_json(json.loads((out_dir / "metrics.json").read_text()))
        return
    if result.skipped is not None:
        _print_short_history(result, out_dir)
        return
    table = Table(
        title=f"Walk-forward evaluation ({snap.start} .. {snap.end}, {len(snap.symbols)} symbols)"
    )
    for col in ("model", *SCORE_COLUMNS, "DM p", "Rank IC", "Sharpe"):
        table.add_column(col, justify="right")
    for name, m in result.metrics.items():
        table.add_row(
            name,
            *score_cells(m),
            fmt_number(m.get("distribution_dm_pvalue"), 4),
            fmt_number(m.get("ranking_rank_ic_mean"), 3),
            fmt_number(m.get("backtest_sharpe"), 2),
        )
    out.print(table)
    if result.failed:
        console.print(f"[yellow]Left out (failed):[/yellow] {', '.join(result.failed)}")
    console.print(f"Report: {out_dir / 'report.html'}")


def _print_short_history(result, out_dir: Path) -> None:
    """A history too short for walk-forward: why, and the baselines' holdout figures."""
    short = result.skipped
    console.print(
        f"[bold yellow]Walk-forward evaluation skipped[/bold yellow]: {short.reason_en}. "
        "Only the baselines can be fitted; they are measured on the last "
        f"{short.holdout_weeks} weeks held out."
        if short.holdout_weeks
        else f"[bold yellow]Walk-forward evaluation skipped[/bold yellow]: {short.reason_en}. "
        "Too few weeks remain for a holdout, so nothing is measured out of sample."
    )
    if short.holdout_weeks:
        table = Table(title="Holdout (one period of overlapping 4-week outcomes)")
        for col in ("model", "rows", "80% coverage", "CRPS", "CRPS skill", "log loss"):
            table.add_column(col, justify="right")
        for name, m in result.metrics.items():
            table.add_row(
                name,
                fmt_number(m.get("holdout_rows"), 0),
                fmt_pct(m.get("holdout_coverage_80")),
                fmt_number(m.get("holdout_crps"), 5),
                fmt_pct(m.get("holdout_crps_skill"), signed=True),
                fmt_number(m.get("holdout_log_loss")),
            )
        out.print(table)
    console.print(f"Metrics: {out_dir / 'metrics.json'}")


def _registry():
    from stockvision.registry.model_registry import ModelRegistry

    return ModelRegistry(get_settings())


@models_app.command("list")
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Every registered model's versions with aliases, metrics and the last promotion decision."""
    reg = _registry()
    summary = reg.summary()
    if as_json:
        print_json({"models": summary, "promotion_log": reg.promotion_log()})
        return
    for name, versions in summary.items():
        table = Table(title=name)
        for col in ("version", "aliases", "model"):
            table.add_column(col, no_wrap=True)
        for col in (*SCORE_COLUMNS, "decision"):
            table.add_column(col, overflow="fold")
        for v in versions:
            table.add_row(
                v["version"],
                ",".join(v["aliases"]) or "-",
                v["tags"].get("model_name", v["model_class"]),
                *score_cells(v["metrics"]),
                v["tags"].get("promotion.decision", "-"),
            )
        if not versions:
            out.print(f"{name}: no versions yet")
            continue
        out.print(table)
        for v in versions:  # reasons are sentences: print them in full under the table
            reason = v["tags"].get("promotion.reason")
            if reason:
                out.print(f"  v{v['version']}: {reason}", highlight=False)


@models_app.command("show")
def show(
    model: Annotated[
        str, typer.Argument(help="price or pattern (or the registered name).")
    ] = "price",
    version: Annotated[str | None, typer.Argument(help="Version (default: the champion).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """One version in detail: aliases, metrics, dataset, promotion decision."""
    from stockvision.registry.model_registry import RegistryError

    reg = _registry()
    record = reg.get(model, version) if version else reg.champion(model)
    if record is None:
        raise RegistryError(f"No champion for {model} yet.", "Run 'stockvision pipeline run'.")
    doc = record.to_dict()
    if as_json:
        print_json(doc)
        return
    out.print_json(json.dumps(doc, default=str))


@models_app.command("promote")
def promote(
    model: Annotated[str, typer.Argument(help="price or pattern.")],
    version: Annotated[str, typer.Argument(help="Version to make champion.")],
) -> None:
    """Manually make VERSION the champion (recorded in the promotion log)."""
    rec = _registry().promote(model, version)
    console.print(f"[green]{rec.name} v{rec.version} is now champion.[/green]")


@models_app.command("rollback")
def rollback(
    model: Annotated[str, typer.Argument(help="price or pattern.")],
    version: Annotated[
        str | None, typer.Argument(help="Version (default: the previous champion).")
    ] = None,
) -> None:
    """Point the champion back to VERSION (default: the previous champion)."""
    rec = _registry().rollback(model, version)
    console.print(f"[green]{rec.name} champion rolled back to v{rec.version}.[/green]")
