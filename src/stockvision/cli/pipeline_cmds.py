"""``stockvision pipeline run`` and ``stockvision monitor``."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table

from stockvision.cli._common import (
    SCORE_COLUMNS,
    console,
    out,
    print_json,
    progress_bar,
    score_cells,
)
from stockvision.config import get_settings

pipeline_app = typer.Typer(help="The weekly pipeline.", no_args_is_help=True)


@pipeline_app.command("run")
def run(
    force: Annotated[
        bool, typer.Option("--force", help="Redo every step even if its inputs are unchanged.")
    ] = False,
    wait: Annotated[
        float,
        typer.Option("--wait", help="Seconds to wait for another run to finish (default: none)."),
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run record as JSON.")] = False,
) -> None:
    """fetch -> features -> labels -> validate -> snapshot -> train -> evaluate -> register -> promote ->
    batch predict -> monitor, with retries, timing, a run log and resumption."""
    from stockvision.pipeline.flow import run_pipeline

    settings = get_settings()
    t0 = time.perf_counter()

    def on_event(step: str, event: str, info: dict) -> None:
        if as_json:
            return
        if event == "started" and info.get("attempt", 1) == 1:
            console.print(f"[cyan]▶ {step}[/cyan]")
        elif event == "skipped":
            console.print(f"[dim]↷ {step}: inputs unchanged, skipped[/dim]")
        elif event == "succeeded":
            console.print(f"[green]✔ {step}[/green] ({info['seconds']:.1f}s)")
        elif event == "error":
            console.print(f"[yellow]! {step} attempt {info['attempt']}: {info['error']}[/yellow]")

    with progress_bar(not as_json) as bar:
        result = run_pipeline(settings, progress=bar, on_event=on_event, force=force, wait=wait)
    doc = result.to_dict()
    doc["wall_seconds"] = round(time.perf_counter() - t0, 2)
    doc["outputs"] = {
        k: (v.to_dict() if v is not None else None)
        for k, v in result.outputs.items()
        if k in ("fetch", "promote", "batch_predict", "monitor")
    }
    evaluated = result.outputs.get("evaluate")
    skipped = getattr(evaluated, "skipped", None)
    if skipped is not None:
        doc["walk_forward"] = {
            "skipped": True,
            **skipped.to_dict(),
            "reason": skipped.reason_en,
            "reason_vi": skipped.reason_vi,
            "holdout": {
                name: {k: v for k, v in m.items() if k.startswith("holdout_")}
                for name, m in evaluated.metrics.items()
            },
        }
    if as_json:
        print_json(doc)
        return
    fetched = result.outputs.get("fetch")
    if fetched is not None:
        sim = " [bold yellow]SIMULATED data[/bold yellow]" if fetched.simulated else ""
        console.print(
            f"Data: source [bold]{fetched.source}[/bold]{sim}, "
            f"{len(fetched.symbols)} symbols up to {fetched.latest_date}."
        )
    promote = result.outputs.get("promote")
    if any(s.name == "promote" and s.status == "skipped" for s in result.steps):
        console.print(
            "[dim]Promotion skipped: nothing changed since the last decision below.[/dim]"
        )
    for kind, d in (promote.decisions if promote is not None else {}).items():
        console.print(f"[bold]{kind}[/bold] v{d.version}: {d.action} — {d.reason}")
        if d.fallback_champion is not None:
            fb = d.fallback_champion
            console.print(f"  serving baseline {fb.model} as champion v{fb.version}")
    if skipped is not None:
        console.print(_short_history_text(skipped, evaluated.metrics))
    _print_champions()
    console.print(f"Pipeline finished in {doc['wall_seconds']:.1f}s (run {doc['run_id']}).")


def _short_history_text(skipped, metrics: dict) -> str:
    """What a short history means for the served models, in one paragraph of sentences."""
    from stockvision.models.registry_names import FALLBACK

    text = (
        f"[bold yellow]Walk-forward evaluation skipped[/bold yellow]: {skipped.reason_en}. "
        "Only the baselines were trained and are served, labelled as baselines."
    )
    price = metrics.get(FALLBACK["price"], {})
    cov = price.get("holdout_coverage_80")
    if cov is None:
        return text + (
            " Too few weeks remain for a holdout, so the coverage of the 80% range is not measured."
        )
    skill = price.get("holdout_crps_skill")
    text += (
        f" On the last {skipped.holdout_weeks} weeks held out ({price.get('holdout_rows', 0):.0f} "
        f"rows, one period of overlapping 4-week outcomes) the {FALLBACK['price']} 80% range held "
        f"{cov * 100:.0f}% of the outcomes"
    )
    if skill is not None:
        text += f"; its CRPS was {abs(skill) * 100:.1f}% {'better' if skill > 0 else 'worse'} than the constant-width random walk"
    return text + "."


def _print_champions() -> None:
    from stockvision.registry.model_registry import ModelRegistry

    reg = ModelRegistry(get_settings())
    table = Table(title="Champion models (walk-forward metrics)")
    for col in ("serves", "version", "model"):
        table.add_column(col, no_wrap=True)
    for col in SCORE_COLUMNS:
        table.add_column(col)
    serves = {"price": "price", "pattern": "pattern", "price_baseline": "new listings"}
    for kind in serves:
        rec = reg.champion(kind)
        if rec is None:
            if kind != "price_baseline":  # the new-listing fallback exists only on a long market
                table.add_row(kind, "-", "-", *("" for _ in SCORE_COLUMNS))
            continue
        table.add_row(
            serves[kind],
            rec.version,
            rec.tags.get("model_name", rec.model_class),
            *score_cells(rec.metrics),
        )
    out.print(table)
    for kind in ("price", "pattern"):
        rec = reg.champion(kind)
        if rec is not None and rec.tags.get("evaluation.walk_forward") == "skipped":
            out.print(
                f"{rec.name} v{rec.version} has no walk-forward metrics: "
                f"{rec.tags.get('evaluation.reason', 'the history is too short')}."
            )


def monitor(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Live outcomes and drift of the champion models; writes an HTML and a JSON report."""
    from stockvision.monitoring.report import run_monitoring

    result = run_monitoring(get_settings())
    if as_json:
        print_json(result)
        return
    s = result["summary"]
    state = "[red]DEGRADED[/red]" if s["degraded"] else "[green]OK[/green]"
    console.print(f"Monitoring: {state}")
    for key, value in s.items():
        console.print(f"  {key}: {value}")
    bins = result.get("coverage_by_width") or []
    if any(b["live_rows"] for b in bins):
        table = Table(title="80 % range coverage by predicted width (price champion)")
        for col in ("width bin", "walk-forward", "live", ""):
            table.add_column(col)
        for b in bins:
            live = (
                f"{b['live_coverage']:.1%} of {b['live_rows']:,}"
                if b["live_coverage"] is not None
                else "no resolved forecast"
            )
            table.add_row(
                f"{b['label']} (narrowest first)" if b is bins[0] else b["label"],
                f"{b['walk_forward_coverage']:.1%} of {b['walk_forward_rows']:,}"
                if b["walk_forward_coverage"] is not None
                else "not measured",
                live,
                "[red]departed[/red]" if b["departs"] else "",
            )
        console.print(table)
    console.print(f"Report: {result['report_dir']}/report.html")
