"""``/ws`` (live prices, forecasts and alerts pushed over WebSocket) and ``/alerts``.

``/ws?symbols=VNM,FPT&kinds=price,prediction,alert&since=price:120,alert:3`` subscribes on connect;
a JSON message ``{"action": "subscribe", "symbols": [...], "kinds": [...], "since": {...}}`` changes
the subscription later. Every push is ``{"kind", "symbol", "seq", "time", "data"}``. The guard
charges each connection to the client's ``api`` rate limit; the hub caps connections per process
(``SV_WS_MAX_CONNECTIONS``); when ``SV_API_KEY`` is set, a client must send it (``X-API-Key``
header, or ``api_key`` query parameter for browsers). Client messages are limited to a few a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import re
import time
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from stockvision.data.store.alerts import USER_ID_PATTERN, user_owner
from stockvision.serving.routes.responses import BODY_RESPONSES, COMMON_RESPONSES, ERROR_RESPONSES

DELETE_RESPONSES = {
    **COMMON_RESPONSES,
    404: {**ERROR_RESPONSES[404], "description": "No such alert"},
}

router = APIRouter(tags=["stream"])

#: control messages a client may send per second (subscribe changes)
CLIENT_MESSAGES_PER_SECOND = 5
CLOSE_POLICY, CLOSE_TRY_LATER = 1008, 1013


def _since(value: str | dict | None) -> dict[str, int]:
    if not value:
        return {}
    if isinstance(value, dict):
        items = value.items()
    else:
        items = (part.split(":", 1) for part in value.split(",") if ":" in part)
    out = {}
    for k, v in items:
        out[str(k).strip().lower()] = int(v)
    return out


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    """Accept then close with a code and reason, so a client learns why (a refused handshake
    would only say HTTP 403)."""
    await websocket.accept()
    await websocket.close(code, reason)


@router.websocket("/ws")
async def ws(
    websocket: WebSocket,
    symbols: Annotated[str | None, Query(max_length=2000)] = None,
    kinds: Annotated[str | None, Query(max_length=100)] = None,
    since: Annotated[str | None, Query(max_length=200)] = None,
    api_key: Annotated[str | None, Query(max_length=200)] = None,
    user_id: Annotated[str | None, Query(max_length=100)] = None,
) -> None:
    from stockvision.stream.hub import parse_kinds, parse_symbols

    app = websocket.app
    expected = app.state.settings.api_key
    if expected:
        given = websocket.headers.get("x-api-key") or api_key or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            await _refuse(websocket, CLOSE_POLICY, "missing or wrong API key")
            return
    who = websocket.headers.get("x-user-id") or user_id
    if who is not None and not re.match(USER_ID_PATTERN, who):
        await _refuse(websocket, CLOSE_POLICY, "bad user id (8-100 letters, digits, - or _)")
        return
    owned = _OwnedAlerts(_alerts(websocket), _owner(websocket, who))
    live = getattr(app.state, "live", None)
    hub = live.hub if live is not None else None
    if hub is None:
        await _refuse(websocket, CLOSE_TRY_LATER, "live stream is off (SV_STREAM_ENABLED)")
        return
    if hub.full:
        await _refuse(websocket, CLOSE_TRY_LATER, "too many connections, retry later")
        return
    try:
        client = hub.connect(parse_symbols(symbols), parse_kinds(kinds))
        wanted_since = _since(since)
    except ValueError as exc:
        await _refuse(websocket, CLOSE_POLICY, str(exc)[:120])
        return
    await websocket.accept()
    try:
        if wanted_since:
            await hub.backlog(client, wanted_since)
        else:
            hub.snapshot(client)
        receiver = asyncio.create_task(_receive(websocket, hub, client))
        try:
            while not receiver.done():
                item = await client.next(timeout=1.0)
                if item is not None and await owned.allows(item):
                    await websocket.send_text(json.dumps(item, separators=(",", ":")))
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receiver
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.disconnect(client)


async def _receive(websocket: WebSocket, hub, client) -> None:
    """Subscription changes from the client, at most a few a second; anything else is refused."""
    from stockvision.stream.hub import parse_kinds, parse_symbols

    window, count = time.monotonic(), 0
    while True:
        raw = await websocket.receive_text()
        now = time.monotonic()
        if now - window > 1.0:
            window, count = now, 0
        count += 1
        if count > CLIENT_MESSAGES_PER_SECOND or len(raw) > 4096:
            await websocket.send_text(
                json.dumps({"kind": "error", "data": {"error": "rate_limited"}})
            )
            continue
        try:
            msg = json.loads(raw)
            if msg.get("action") != "subscribe":
                raise ValueError('send {"action": "subscribe", "symbols": [...], "kinds": [...]}')
            if "symbols" in msg:
                client.symbols = parse_symbols(msg["symbols"])
            if "kinds" in msg:
                client.kinds = parse_kinds(msg["kinds"])
            if msg.get("since"):
                await hub.backlog(client, _since(msg["since"]))
            await websocket.send_text(json.dumps({"kind": "subscribed", "data": {
                "symbols": sorted(client.symbols) if client.symbols else "*",
                "kinds": sorted(client.kinds)}}))  # fmt: skip
        except (ValueError, TypeError, AttributeError) as exc:
            await websocket.send_text(
                json.dumps(
                    {
                        "kind": "error",
                        "data": {"error": "invalid_request", "message": str(exc)[:200]},
                    }
                )
            )


class PriceAlertRequest(BaseModel):
    # unknown keys are refused: a misspelt "threshhold" must not create a different alert
    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(min_length=1, max_length=10, pattern=r"^[A-Za-z0-9]+$")
    kind: Literal["price_above", "price_below"]
    threshold: float = Field(gt=0, lt=1e9, description="Price in VND, e.g. 90000")
    note: str | None = Field(default=None, max_length=200)


class PatternAlertRequest(BaseModel):
    """A pattern-change alert has no threshold: it has its own route, so that every request the
    documented schema allows is one the server accepts (a one-of body let generated requests be valid
    for one kind while built as a violation of the other)."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(min_length=1, max_length=10, pattern=r"^[A-Za-z0-9]+$")
    note: str | None = Field(default=None, max_length=200)


class AlertItem(BaseModel):
    id: str
    symbol: str
    kind: str
    threshold: float | None
    note: str | None
    active: bool
    created_at: str


class AlertsResponse(BaseModel):
    alerts: list[AlertItem]
    events: list[dict]


#: ``X-User-Id``: the same random secret a client gives ``POST /agent/chat`` as ``user_id``.
#: Typed ``str`` (default None) rather than ``str | None``: an absent header is None either way,
#: and the schema then says "a string", so no client is invited to send the text "null".
UserIdHeader = Annotated[
    str,
    Header(
        alias="X-User-Id",
        min_length=8,
        max_length=100,
        pattern=USER_ID_PATTERN,
        description="Your user id (the agent's user_id): alerts made in the chat and here are "
        "the same list. Without it the owner is your client address.",
    ),
]


def _owner(request: Request | WebSocket, user_id: str | None) -> str:
    """Who owns the alerts of this request: the user id's hashed owner when the client sends
    ``X-User-Id`` (chat and REST share it), else the client address (anonymous, per address)."""
    if user_id:
        return user_owner(user_id)
    return str(request.scope.get("state", {}).get("sv_client", "unknown"))


class _OwnedAlerts:
    """Which alert firings one WebSocket client may see: only its owner's (the hub fans every
    firing out by symbol; another user's alert, its threshold and its time are not this client's
    business). The owner's alert ids are cached and re-read on an unknown id, at most once a
    second, so an alert created a moment ago is delivered."""

    def __init__(self, store, owner: str) -> None:
        self.store = store
        self.owner = owner
        self.ids: set[str] = set()
        self.loaded = float("-inf")

    async def allows(self, item: dict) -> bool:
        if item.get("kind") != "alert":
            return True
        alert_id = str((item.get("data") or {}).get("alert_id") or "")
        if alert_id not in self.ids and time.monotonic() - self.loaded > 1.0:
            rows = await run_in_threadpool(self.store.list, self.owner, False)
            self.ids = {r["id"] for r in rows}
            self.loaded = time.monotonic()
        return alert_id in self.ids


def _alerts(request: Request | WebSocket):
    live = getattr(request.app.state, "live", None)
    if live is None or live.alert_store is None:
        from stockvision.data.store import Store
        from stockvision.data.store.alerts import AlertStore

        return AlertStore(Store.from_settings(request.app.state.settings))
    return live.alert_store


def _item(row: dict) -> AlertItem:
    return AlertItem(**{**row, "created_at": str(row["created_at"])})


@router.get("/alerts", response_model=AlertsResponse, responses=COMMON_RESPONSES)
async def list_alerts(request: Request, x_user_id: UserIdHeader = None) -> AlertsResponse:
    """Your alerts and the latest times they fired (yours only: the owner is your ``X-User-Id``,
    or your client address without it)."""
    store = _alerts(request)
    owner = _owner(request, x_user_id)
    rows = await run_in_threadpool(store.list, owner)
    events = await run_in_threadpool(store.events, owner, None, 50)
    for e in events:
        e["fired_at"] = str(e["fired_at"])
        e["recorded_at"] = str(e["recorded_at"])
    return AlertsResponse(alerts=[_item(r) for r in rows], events=events)


@router.post("/alerts", response_model=AlertItem, status_code=201, responses=BODY_RESPONSES)
async def create_alert(
    request: Request, body: PriceAlertRequest, x_user_id: UserIdHeader = None
) -> AlertItem:
    """e.g. ``{"symbol": "VNM", "kind": "price_above", "threshold": 90000}`` (báo khi VNM vượt 90k)."""
    row = await run_in_threadpool(
        _alerts(request).create,
        body.symbol,
        body.kind,
        body.threshold,
        _owner(request, x_user_id),
        body.note,
    )
    return _item(row)


@router.post("/alerts/pattern", response_model=AlertItem, status_code=201, responses=BODY_RESPONSES)
async def create_pattern_alert(
    request: Request, body: PatternAlertRequest, x_user_id: UserIdHeader = None
) -> AlertItem:
    """e.g. ``{"symbol": "HPG"}``: fires when the forecast pattern of HPG changes (khi dự báo HPG đổi
    chiều)."""
    row = await run_in_threadpool(
        _alerts(request).create,
        body.symbol,
        "pattern_change",
        None,
        _owner(request, x_user_id),
        body.note,
    )
    return _item(row)


@router.delete("/alerts/{alert_id}", status_code=204, responses=DELETE_RESPONSES)
async def delete_alert(
    request: Request,
    alert_id: Annotated[str, Path(min_length=1, max_length=32)],
    x_user_id: UserIdHeader = None,
) -> None:
    """Delete one of your alerts (another owner's id answers 404, as an unknown one)."""
    await run_in_threadpool(_alerts(request).delete, alert_id, _owner(request, x_user_id))
