"""``stockvision stream run`` (the live worker) and ``stockvision stream status``."""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Annotated

import typer
from rich.table import Table

from stockvision.cli._common import console, out, print_json
from stockvision.config import get_settings

#: touched by a running worker every few seconds (the container health check reads its age)
HEARTBEAT = "stream-worker.heartbeat"

stream_app = typer.Typer(help="Real-time stream: live prices, features, forecasts and alerts.")

BusOpt = Annotated[
    str | None,
    typer.Option("--bus", help="memory:// | nats://host:4222 | kafka://host:9092 (SV_STREAM_BUS)"),
]
PrefixOpt = Annotated[
    str | None, typer.Option("--prefix", help="Namespace of the streams (SV_STREAM_PREFIX).")
]


@stream_app.command("run")
def run(
    bus: BusOpt = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="replay | simulated | vnstock (trades) | vnstock_board (price board) "
            "(SV_STREAM_SOURCE)",
        ),
    ] = None,
    speed: Annotated[
        float | None, typer.Option("--speed", help="Market seconds per wall second; 0 = max.")
    ] = None,
    symbols: Annotated[
        str | None, typer.Option("--symbols", help="Comma-separated tickers (default: all).")
    ] = None,
    days: Annotated[int | None, typer.Option("--days", help="Stored days a replay plays.")] = None,
    prefix: PrefixOpt = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 4096,
    no_produce: Annotated[
        bool, typer.Option("--no-produce", help="Consume only (another process publishes ticks).")
    ] = False,
    exit_when_idle: Annotated[
        float | None,
        typer.Option(
            "--exit-when-idle",
            help="Stop after this many seconds without ticks (once the source has finished).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    no_forecasts: Annotated[
        bool, typer.Option("--no-forecasts", help="Prices, features and alerts only.")
    ] = False,
) -> None:
    """Publish live ticks and turn them into bars, features, forecasts and alerts.

    SIGINT/SIGTERM stop it gracefully: the batch in hand is finished and acknowledged first. A
    killed worker resumes where its consumer group stopped (NATS/Kafka), losing nothing.
    """
    from stockvision.data.store import Store
    from stockvision.data.store.alerts import AlertStore
    from stockvision.stream.runtime import load_live_data, make_bus, make_source, run_stream

    settings = get_settings()
    store = Store.from_settings(settings)
    data = load_live_data(store, settings, with_models=not no_forecasts)
    wanted = [s.strip().upper() for s in symbols.split(",") if s.strip()] if symbols else None
    src = make_source(source or settings.stream_source, data, settings, wanted, speed, days, seed)
    console.print(
        f"stream: {type(src).__name__} -> {bus or settings.stream_bus} "
        f"({'forecasts on' if data.models is not None else 'forecasts off: no champion models'})"
    )

    async def main() -> dict:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with make_bus(settings, bus, prefix) as b:
            worker = await run_stream(
                b, data, settings, src, stop, AlertStore(store), batch_size=batch_size,
                idle_exit_s=exit_when_idle, produce=not no_produce,
                heartbeat=settings.home / HEARTBEAT, shadow=data.shadow_for(settings, store),
            )  # fmt: skip
            return worker.stats.to_dict()

    stats = asyncio.run(main())
    console.print("stream stopped: " + json.dumps(stats))


@stream_app.command("status")
def status(
    bus: BusOpt = None,
    prefix: PrefixOpt = None,
    group: Annotated[str, typer.Option("--group")] = "live",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Last sequence of each stream and the lag of the worker's consumer group."""
    from stockvision.stream.bus import STREAMS
    from stockvision.stream.runtime import make_bus

    settings = get_settings()

    async def main() -> list[dict]:
        rows = []
        async with make_bus(settings, bus, prefix) as b:
            for s in STREAMS:
                info = await b.group_info(s, group)
                consumed = s == "ticks" or info.acked > 0  # the worker's group reads ticks
                rows.append({"stream": s, "first_seq": await b.first_seq(s),
                             "last_seq": info.last_seq,
                             "acked": info.acked if consumed else None,
                             "lag": info.lag if consumed else None})  # fmt: skip
        return rows

    rows = asyncio.run(main())
    if as_json:
        print_json({"bus": bus or settings.stream_bus, "group": group, "streams": rows})
        return
    table = Table(title=f"Stream status ({bus or settings.stream_bus}, group {group})")
    for col in ("stream", "first seq", "last seq", "acked", "lag"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["stream"], str(r["first_seq"]), str(r["last_seq"]),
                      "-" if r["acked"] is None else str(r["acked"]),
                      "-" if r["lag"] is None else str(r["lag"]))  # fmt: skip
    out.print(table)


@stream_app.command("shadow")
def shadow(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Challenger vs champion on the live answers both gave (shadow scoring, A/B): answers logged,
    resolved, mean CRPS and log loss of each on realised outcomes."""
    from stockvision.data.store import Store
    from stockvision.data.store.shadow import ShadowStore
    from stockvision.monitoring.shadow import compare_shadow

    store = Store.from_settings(get_settings())
    rows = ShadowStore(store).read()
    pairs = (
        compare_shadow(rows, store.read_labels(sorted(rows["symbol"].unique())))
        if len(rows)
        else []
    )
    if as_json:
        print_json({"pairs": pairs})
        return
    if not pairs:
        console.print("no shadow answers yet: they are logged while a challenger exists")
        return
    table = Table(title="Shadow scoring: challenger vs champion (realised outcomes)")
    for col in ("champion", "challenger", "answers", "resolved", "weeks", "CRPS champ.",
                "CRPS chall.", "change %", "weekly t", "log loss champ.", "log loss chall."):  # fmt: skip
        table.add_column(col)

    def num(value, fmt="{:.5f}"):
        return "-" if value is None else fmt.format(value)

    for p in pairs:
        table.add_row(
            f"v{p['champion']['price']}/v{p['champion']['pattern']}",
            f"v{p['challenger']['price']}/v{p['challenger']['pattern']}",
            str(p["answers"]), str(p["resolved"]), str(p["weeks"]),
            num(p.get("champion_crps")), num(p.get("challenger_crps")),
            num(p.get("crps_change_pct"), "{:+.2f}"), num(p.get("crps_weekly_t"), "{:.2f}"),
            num(p.get("champion_log_loss"), "{:.4f}"), num(p.get("challenger_log_loss"), "{:.4f}"),
        )  # fmt: skip
    out.print(table)
