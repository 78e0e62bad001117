"""``stockvision predict`` and ``stockvision serve``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from stockvision.cli._common import console, out, print_json
from stockvision.config import get_settings

#: uvicorn's WebSocket protocol: the sans-I/O implementation (uvicorn >= 0.54; the legacy
#: ``websockets`` one is deprecated) waits while the transport is paused, so a slow client holds up
#: only its own sender and the hub's bounded per-client queue drops its oldest messages
#: (tests/stream/test_websocket.py: a stalled socket loses messages, a fast client gets all).
WS_PROTOCOL = "websockets-sansio"


def predict(
    symbols: Annotated[list[str], typer.Argument(help="Tickers, e.g. VNM FPT.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """One-month-ahead price target and pattern for symbols (same service as the API)."""
    from stockvision.serving.app import healing_source
    from stockvision.serving.service import PredictionService

    settings = get_settings()
    service = PredictionService(settings, heal_source=healing_source)
    service.start(background=False)
    preds, errors = service.predict_many([s.upper() for s in symbols], source="cli")
    service.flush()
    if as_json:
        print_json(
            {
                "predictions": [p.model_dump(mode="json") for p in preds],
                "errors": [e.model_dump() for e in errors],
            }
        )
        if errors and not preds:
            raise typer.Exit(1)
        return
    table = Table(title="Stock Vision — 4-week outlook")
    for col in (
        "symbol",
        "last (k VND)",
        "target (k VND)",
        "range 80%",
        "pattern",
        "P(up/side/down)",
        "data as of",
    ):
        table.add_column(col)
    arrows = {"UP": "[green]▲ UP[/green]", "DOWN": "[red]▼ DOWN[/red]", "SIDEWAYS": "► SIDEWAYS"}
    for p in preds:
        pr = p.probabilities
        table.add_row(
            p.symbol + (" [yellow](sim)[/yellow]" if p.simulated else ""),
            f"{p.last_close_k:,.2f}",
            f"{p.price_target_k:,.2f}",
            f"{p.interval.low / 1000:,.2f} – {p.interval.high / 1000:,.2f}",
            arrows.get(p.pattern, p.pattern),
            f"{pr.up:.0%}/{pr.sideways:.0%}/{pr.down:.0%}",
            str(p.data_as_of),
        )
    if preds:
        out.print(table)
        v = preds[0].model_versions
        console.print(f"Models: price v{v.price}, pattern v{v.pattern}. {preds[0].disclaimer}")
    for e in errors:
        console.print(f"[red]{e.symbol}[/red]: {e.message}")
    if errors and not preds:
        raise typer.Exit(1)


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port.")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Uvicorn worker processes.")] = 1,
) -> None:
    """Start the API (docs at /docs) and the chat UI (at /chat)."""
    import uvicorn

    settings = get_settings()
    host = host or settings.api_host
    port = port or settings.api_port
    base = f"http://{host if host != '0.0.0.0' else '127.0.0.1'}:{port}"
    console.print(
        f"[bold green]Stock Vision[/bold green] API docs: {base}/docs  ·  chat: {base}/chat/  ·  "
        f"health: {base}/api/v1/health  ·  metrics: {base}/metrics"
    )
    if workers > 1:
        uvicorn.run(
            "stockvision.app:build_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            # only the guard's resolver interprets X-Forwarded-For (SV_TRUSTED_PROXIES)
            proxy_headers=False,
            ws=WS_PROTOCOL,
        )
        return
    from stockvision.app import build_app

    uvicorn.run(
        build_app(settings),
        host=host,
        port=port,
        log_level="warning",
        proxy_headers=False,
        ws=WS_PROTOCOL,
    )
