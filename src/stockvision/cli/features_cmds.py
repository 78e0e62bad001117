"""``stockvision features build|report|export`` (``export --feast DIR``: a Feast repository)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stockvision.cli._common import console, out, print_json, progress_bar
from stockvision.config import get_settings

features_app = typer.Typer(help="Weekly features and monthly labels.", no_args_is_help=True)


@features_app.command("build")
def build(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Compute weekly features and one-month-ahead labels from the adjusted prices in the store."""
    from stockvision.pipeline.steps import build_features, build_labels

    settings = get_settings()
    with progress_bar(not as_json) as bar:
        feats = build_features(settings, progress=bar)
        labels = build_labels(settings)
    if as_json:
        print_json({"features": feats, "labels": labels})
        return
    console.print(
        f"[green]Features[/green]: {feats.rows:,} rows, {feats.symbols} symbols, {feats.weeks} weeks "
        f"({feats.first_week} .. {feats.last_week}). [green]Labels[/green]: {labels.labelled:,} labelled, "
        f"balance {labels.balance}."
    )


@features_app.command("report")
def report(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """The dataset validation report: NaN share, label balance, distributions, short histories."""
    from stockvision.features.report import render_text, validate_features
    from stockvision.pipeline.steps import load_snapshot

    settings = get_settings()
    feats, labels = load_snapshot(settings)
    rep = validate_features(feats, labels, settings.min_history_weeks)
    if as_json:
        print_json(rep)
    else:
        out.print(render_text(rep), markup=False, highlight=False)


@features_app.command("export")
def export(
    out_path: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output file: .csv or .parquet.")
    ] = None,
    feast_dir: Annotated[
        Path | None,
        typer.Option("--feast", help="Write a Feast feature repository into this folder."),
    ] = None,
) -> None:
    """Export features and labels per symbol and week (CSV or Parquet by the file's extension),
    or, with --feast DIR, a Feast feature repository of the weekly features (entity: symbol)."""
    from stockvision.pipeline.steps import load_snapshot

    if (out_path is None) == (feast_dir is None):
        raise typer.BadParameter("give exactly one of --out FILE or --feast DIR")
    if feast_dir is not None:
        from stockvision.features.feast_export import FEATURE_VIEW, write_feast_repo

        feats, _ = load_snapshot(get_settings())
        write_feast_repo(feats, feast_dir)
        console.print(
            f"[green]Wrote[/green] Feast repository {feast_dir} (feature view {FEATURE_VIEW}, "
            f"{len(feats):,} rows); run `feast apply` there"
        )
        return
    assert out_path is not None
    suffix = out_path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise typer.BadParameter(
            f"unsupported extension {suffix!r}: use .csv or .parquet", param_hint="--out"
        )
    feats, labels = load_snapshot(get_settings())
    frame = feats.join(labels, how="left").reset_index()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(out_path, index=False)
    else:
        frame.to_parquet(out_path, index=False)
    console.print(
        f"[green]Wrote[/green] {len(frame):,} rows x {frame.shape[1]} columns to {out_path}"
    )
