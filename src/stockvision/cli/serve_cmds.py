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
    if preds:
        out.print(_outlook_table(preds))
        for line in _model_lines(preds):
            console.print(line, highlight=False)
        for line in _caveat_lines(preds):
            console.print(line, highlight=False, markup=False)
        v = preds[0].model_versions
        console.print(f"Models: price v{v.price}, pattern v{v.pattern}. {preds[0].disclaimer}")
    for e in errors:
        console.print(f"[red]{e.symbol}[/red]: {e.message}")
    if errors and not preds:
        raise typer.Exit(1)


_ARROWS = {"UP": "[green]▲ UP[/green]", "DOWN": "[red]▼ DOWN[/red]", "SIDEWAYS": "► SIDEWAYS"}


def _outlook_table(preds: list) -> Table:
    """The same reading order as the chat: the 80 % range first, then the median target, the
    probabilities next to the base rate, and an arrow only when the evidence supports a direction
    (``direction_supported``; otherwise "no clear direction", never the argmax of near-equal odds).
    Shares in thousand VND, indices in points."""
    table = Table(title="Stock Vision — 4-week outlook")
    for col in ("symbol", "last", "range 80 %", "median target", "P up/side/down", "base rate"):
        table.add_column(col)
    table.add_column("direction", no_wrap=True)
    table.add_column("data as of")
    for p in preds:
        pr, base = p.probabilities, p.base_rates
        k = 1.0 if p.unit == "points" else 1000.0  # the interval's low_k/high_k are always /1000
        unit = " pts" if p.unit == "points" else "k"
        table.add_row(
            p.symbol + (" [yellow](sim)[/yellow]" if p.simulated else ""),
            f"{p.last_close_k:,.2f}{unit}",
            f"{p.interval.low / k:,.2f} – {p.interval.high / k:,.2f}{unit}",
            f"{p.price_target_k:,.2f}{unit} ({p.expected_return:+.1%})",
            f"{pr.up:.0%} / {pr.sideways:.0%} / {pr.down:.0%}",
            "-" if base is None else f"{base.up:.0%} / {base.sideways:.0%} / {base.down:.0%}",
            _ARROWS.get(p.pattern, p.pattern) if p.direction_supported else "no clear direction",
            str(p.data_as_of),
        )
    return table


def _model_lines(preds: list) -> list[str]:
    """Which model speaks, in plain words with its one measured line (once per serving model)."""
    lines: list[str] = []
    seen: set[str] = set()
    for p in preds:
        m = p.serving_model
        if m is None or m.name in seen:
            continue
        seen.add(m.name)
        kind = "baseline" if m.baseline else "model"
        lines.append(
            f"Forecast {kind}: {m.label_en}. {m.skill_en or ''} {m.limits_en or ''}".strip()
        )
    return lines


def _caveat_lines(preds: list) -> list[str]:
    """The measured limits of single answers (e.g. a range among the narrowest, with the coverage
    measured for ranges that narrow), one line per symbol and caveat."""
    return [f"! {p.symbol}: {c.message_en}" for p in preds for c in p.caveats]


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
