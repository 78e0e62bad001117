"""``stockvision ingest`` and ``stockvision data status|adjust``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from stockvision.cli._common import console, out, print_json, progress_bar
from stockvision.config import get_settings

data_app = typer.Typer(help="Inspect and maintain the price store.", no_args_is_help=True)


def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="CSV files or folders (csv source).")
    ] = None,
    source: Annotated[
        str, typer.Option("--source", "-s", help="auto, vnstock, csv or synthetic.")
    ] = "",
    symbols: Annotated[
        str | None,
        typer.Option("--symbols", help="Comma-separated symbols to fetch (vnstock/auto)."),
    ] = None,
    replace_simulated: Annotated[
        bool,
        typer.Option(
            "--replace-simulated",
            help="Replace the simulated demo market in the store with these real prices.",
        ),
    ] = False,
    exchange: Annotated[
        str | None,
        typer.Option(
            "--exchange",
            help="HOSE, HNX or UPCOM: where these symbols trade (over listings and folder names).",
        ),
    ] = None,
    price_unit: Annotated[
        str | None,
        typer.Option(
            "--price-unit", help="vnd or thousand: the CSV prices' unit (default: guess)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Import daily prices from a source into the store (idempotent), then recompute adjustment factors."""
    from stockvision.errors import ConfigError
    from stockvision.market.exchanges import Exchange
    from stockvision.pipeline.steps import fetch

    settings = get_settings()
    if exchange is not None:
        try:
            exchange = Exchange.parse(exchange).value
        except ValueError as exc:
            raise ConfigError(str(exc), "Use --exchange HOSE, HNX or UPCOM.") from None
    if price_unit is not None and price_unit.lower() not in ("vnd", "thousand"):
        raise ConfigError(
            f"unknown price unit {price_unit!r}", "Use --price-unit vnd or --price-unit thousand."
        )
    name = source or ("csv" if paths else settings.source)
    wanted = [s.strip().upper() for s in symbols.split(",")] if symbols else None
    with progress_bar(not as_json) as bar:
        result = fetch(
            settings,
            progress=bar,
            paths=paths or None,
            source=name,
            symbols=wanted,
            replace_simulated=replace_simulated or None,
            exchange=exchange,
            price_unit=price_unit.lower() if price_unit else None,
        )
    if as_json:
        print_json(result)
        return
    sim = " [bold yellow](SIMULATED data)[/bold yellow]" if result.simulated else ""
    console.print(
        f"[green]Ingested[/green] from [bold]{result.source}[/bold]{sim}: "
        f"{result.rows_parsed:,} rows parsed, {result.inserted:,} inserted, "
        f"{result.updated:,} updated, {result.unchanged:,} unchanged, {result.rejected:,} rejected; "
        f"{len(result.symbols)} symbols up to {result.latest_date}; "
        f"{result.corporate_actions} corporate actions."
    )
    if result.repairs:
        kept = sum(result.repairs.values())
        console.print(f"[cyan]{kept:,} repairs on kept rows[/cyan] (flagged per bar):")
        for name, count in sorted(result.repairs.items(), key=lambda kv: -kv[1]):
            example = (result.repair_examples.get(name) or [""])[0]
            console.print(
                f"  {count:>9,} x {name}" + (f"  e.g. {escape(example)}" if example else "")
            )
    for note in result.notes:
        console.print(f"[dim]note: {escape(note)}[/dim]")
    if result.rejected:
        console.print(
            f"[yellow]{result.rejected} rows failed validation[/yellow] (not stored), e.g.:"
        )
        for line in result.rejected_rows[:10]:
            console.print(f"  {line}")
    for warning in result.warnings:
        console.print(f"[dim]note: {warning}[/dim]")
    if result.n_parse_errors:
        console.print(f"[yellow]{result.n_parse_errors} rows could not be parsed[/yellow], e.g.:")
        for line in result.parse_errors[:10]:
            console.print(f"  {line}")


@data_app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Symbols in the store: rows, date range, gaps, corporate actions found, last update."""
    from stockvision.data.store import Store

    settings = get_settings()
    store = Store.from_settings(settings)
    from stockvision.data.ingest import adjustment_comparison

    summary = store.symbols_summary()
    actions = store.read_corporate_actions()
    last = store.last_ingest()
    compare = adjustment_comparison(store).set_index("symbol")
    by_symbol = {s: g for s, g in actions.groupby("symbol")} if len(actions) else {}
    per_symbol = []
    for row in summary.to_dict("records") if len(summary) else []:
        sym = row["symbol"]
        acts = by_symbol.get(sym, [])
        side = compare.loc[sym] if sym in compare.index else None
        per_symbol.append(
            {
                "symbol": sym,
                "exchange": row.get("exchange") or None,
                "rows": int(row["rows"]),
                "first_date": str(row["first_date"])[:10],
                "last_date": str(row["last_date"])[:10],
                "gaps": int(row.get("gaps", 0) or 0),
                "adjustment": None
                if side is None
                else {
                    "method": str(side["method"]),
                    "source_events": int(side["source_events"]),
                    "detected_events": int(side["detected_events"]),
                    "detected_agreeing": int(side["agree"]),
                },
                "corporate_actions": [
                    {
                        "date": str(a["date"])[:10],
                        "factor": float(a["ratio"]),
                        "pct_change": float(a["pct_change"]),
                        "kind": a.get("kind"),
                        "method": a.get("method"),
                    }
                    for a in (acts.to_dict("records") if len(acts) else [])
                ],
            }
        )
    doc = {
        "database": _safe_url(settings.db_url),
        "symbols": per_symbol,
        "n_symbols": len(per_symbol),
        "rows": sum(s["rows"] for s in per_symbol),
        "last_update": last,
        "adjustment": {
            "source_events": int(compare["source_events"].sum()) if len(compare) else 0,
            "detected_events": int(compare["detected_events"].sum()) if len(compare) else 0,
            "detected_agreeing": int(compare["agree"].sum()) if len(compare) else 0,
        },
    }
    if as_json:
        print_json(doc)
        return
    table = Table(
        title=f"Store {doc['database']}: {doc['n_symbols']} symbols, {doc['rows']:,} rows"
    )
    for col in ("symbol", "exch.", "rows", "first", "last", "gaps", "adjusted by",
                "source events", "detected", "corporate actions"):  # fmt: skip
        table.add_column(col)
    for s in per_symbol:
        acts = ", ".join(f"{a['date']} ×{a['factor']:.3f}" for a in s["corporate_actions"][:3])
        if len(s["corporate_actions"]) > 3:
            acts += f" (+{len(s['corporate_actions']) - 3})"
        adj = s["adjustment"] or {}
        table.add_row(
            s["symbol"],
            s["exchange"] or "?",
            f"{s['rows']:,}",
            s["first_date"],
            s["last_date"],
            str(s["gaps"]),
            str(adj.get("method", "-")),
            str(adj.get("source_events", "-")),
            f"{adj.get('detected_events', '-')} ({adj.get('detected_agreeing', 0)} agree)",
            acts,
        )
    out.print(table)
    a = doc["adjustment"]
    console.print(
        f"Adjustment: {a['source_events']:,} events from the sources' adjusted close; "
        f"band-break detection (as if there were none) finds {a['detected_events']:,}, "
        f"{a['detected_agreeing']:,} of them within a day of a source event."
    )
    if last:
        console.print(f"Last ingest: {last}")


@data_app.command("export")
def export_cmd(
    out_path: Annotated[Path, typer.Option("--out", help="File to write: .parquet or .csv.")],
    symbols: Annotated[
        str | None, typer.Option("--symbols", help="Comma-separated symbols (default: all).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Write the adjusted daily bars (adj_close = close * factor, repair flags) to a file."""
    from stockvision.data.export import export_daily
    from stockvision.data.store import Store

    wanted = [s.strip().upper() for s in symbols.split(",") if s.strip()] if symbols else None
    rows = export_daily(Store.from_settings(get_settings()), out_path, wanted)
    if as_json:
        print_json({"out": str(out_path), "rows": rows})
    else:
        console.print(f"[green]Exported[/green] {rows:,} rows to {escape(str(out_path))}")


@data_app.command("adjust")
def adjust_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Recompute corporate actions and back-adjustment factors for every symbol."""
    from stockvision.pipeline.steps import adjust_store

    result = adjust_store(get_settings())
    if as_json:
        print_json(result)
    else:
        console.print(
            f"[green]Adjusted[/green] {result['symbols']} symbols; {result['events']} corporate actions."
        )


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
