"""The request guard: who the client is, what a request may cost, which chat routes exist at all.

One pure-ASGI middleware (cheaper than ``BaseHTTPMiddleware``, and it also counts chunked bodies that
carry no ``Content-Length``) enforces, for every route:

- **client identity** from the socket peer; ``X-Forwarded-For`` is read only when the peer is one of
  the configured trusted proxies (``SV_TRUSTED_PROXIES``), and then the right-most address that is
  not a trusted proxy is the client, so a forged left part of the header buys nothing;
- **rate limits** in three buckets per client: ``api`` (the work: predictions, rankings, chat
  answers, ``SV_RATE_LIMIT_PER_MINUTE``), ``ui`` (the chat page's assets and polling) and ``ops``
  (probes, metrics, docs). Work-weighted: a batch is charged per symbol by its route;
- **body size** limits (uploads to the chat UI may be larger than API bodies);
- **the chat UI's surface**: only the routes the page needs are reachable; Gradio's file-serving,
  proxy and editor routes are not (this app serves no files to clients). A ``queue/join`` of one of
  the page's cheap polls (the live panel: its Gradio ``fn_index`` is in ``ui_events``) is charged
  to ``ui``; every other ``queue/join`` (an answer, an upload) to ``api``;
- a catch-all that turns an unhandled error into a JSON 500 with a request id, never a traceback.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import time
import uuid
from collections.abc import Iterable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockvision.errors import scrub_paths
from stockvision.serving import metrics as m

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
UPLOAD_PREFIX = "/chat/gradio_api/upload"
UPLOAD_MAX_BYTES = 20 * 1024 * 1024 + 64 * 1024  # the chat UI's 20 MB file limit plus form overhead
API_PREFIX = "/api/v1"
QUEUE_JOIN = "/chat/gradio_api/queue/join"
OPS_PATHS = frozenset(
    {"/health", f"{API_PREFIX}/health", "/ping", f"{API_PREFIX}/ping", "/metrics", "/docs",
     "/openapi.json", "/docs/oauth2-redirect", "/redoc"}
)  # fmt: skip
#: Chat UI routes that do work (an answer, an upload): charged to the ``api`` bucket.
CHAT_WORK = re.compile(
    r"^/chat/gradio_api/(?:queue/join|call/[\w./-]+|run/[\w./-]+|api/[\w./-]+|upload)/?$"
)
#: Chat UI routes the page needs to render and poll: the ``ui`` bucket.
CHAT_UI = re.compile(
    r"^/chat(?:/?|/(?:assets|static|svelte|theme\.css|favicon\.ico|manifest\.json|"
    r"gradio_api/(?:info|config|heartbeat|queue/data|startup-events|upload_progress|"
    r"theme\.css|cancel|reset|app_id|login_check|token|user)|config|info|theme\.css)"
    r"(?:[/?].*)?)$"
)


class ClientResolver:
    """The client address of a request, trusting forwarded headers only from configured proxies."""

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self.networks = [ipaddress.ip_network(p.strip(), strict=False) for p in trusted_proxies]

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client(self, scope: Scope) -> str:
        peer = (scope.get("client") or ("unknown", 0))[0]
        if not self.networks or not self.trusted(peer):
            return peer
        forwarded = ""
        for name, value in scope.get("headers") or ():
            if name == b"x-forwarded-for":
                forwarded = (
                    f"{forwarded},{value.decode('latin-1')}"
                    if forwarded
                    else value.decode("latin-1")
                )
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        for hop in reversed(hops):  # right to left: the last hop a trusted proxy did not add
            if not self.trusted(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return peer  # garbage in the header: fall back to the proxy itself
        return peer


def route_bucket(path: str) -> str | None:
    """``api``, ``ui`` or ``ops`` for a path the app serves; None for a chat route that is closed."""
    if path in OPS_PATHS:
        return "ops"
    if path == "/chat" or path.startswith("/chat/"):
        if CHAT_WORK.match(path):
            return "api"
        if CHAT_UI.match(path):
            return "ui"
        return None
    return "api"


class GuardMiddleware:
    """Body size limit, per-client rate limits, the chat surface and a catch-all for errors."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: Any,
        resolver: ClientResolver | None = None,
        max_body: int = MAX_BODY_BYTES,
        ui_events: set[int] | None = None,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.resolver = resolver or ClientResolver()
        self.max_body = max_body
        #: Gradio fn indices charged to ``ui`` (a set the composition fills when it mounts the page)
        self.ui_events = ui_events if ui_events is not None else set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        client = self.resolver.client(scope)
        scope.setdefault("state", {})["sv_client"] = client
        if scope["type"] == "websocket":
            verdict = self.limiter.hit(client, 1, "api")
            if not verdict.allowed:
                await send({"type": "websocket.close", "code": 1008, "reason": "rate limited"})
                return
            await self.app(scope, receive, send)
            return
        started = False
        t0 = time.perf_counter()

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                if status >= 400:
                    m.ERRORS.labels(str(status)).inc()
                elapsed = f"{(time.perf_counter() - t0) * 1000:.2f}".encode()
                extra = [(b"x-process-time-ms", elapsed)]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        bucket = route_bucket(path)
        if bucket is None:
            await send_error(tracking_send, 404, "not_found", "no such page")
            return
        max_body = UPLOAD_MAX_BYTES if path.startswith(UPLOAD_PREFIX) else self.max_body
        length = None
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                length = value
                break
        if length is not None and (not length.isdigit() or int(length) > max_body):
            await send_error(tracking_send, 413, "payload_too_large", too_large(max_body))
            return
        if bucket == "api" and path == QUEUE_JOIN and self.ui_events:
            body, receive = await _buffer_body(receive, max_body)
            if body is None:
                await send_error(tracking_send, 413, "payload_too_large", too_large(max_body))
                return
            if _fn_index(body) in self.ui_events:
                bucket = "ui"
        verdict = self.limiter.hit(client, 1, bucket)
        if not verdict.allowed:
            await send_error(
                tracking_send,
                429,
                "rate_limited",
                f"too many requests: at most {self.limiter.limit_of(bucket)} per minute per client",
                message_vi="Quá nhiều yêu cầu, vui lòng thử lại sau.",
                headers=[(b"retry-after", str(verdict.retry_after).encode())],
            )
            return

        received = 0
        over = False

        async def limited_receive() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:  # a chunked body without Content-Length
                    over = True
                    return {"type": "http.disconnect"}  # stop reading; the answer becomes 413
            return message

        replaced = False

        async def guarded_send(message: Message) -> None:
            nonlocal replaced
            if over:
                if message["type"] == "http.response.start" and not replaced:
                    replaced = True
                    await send_error(tracking_send, 413, "payload_too_large", too_large(max_body))
                return
            await tracking_send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:  # never leak a traceback to the client
            rid = uuid.uuid4().hex[:12]
            log.exception("unhandled error, request id %s", rid)
            if not started:
                await send_error(
                    tracking_send, 500, "internal_error", f"internal error (request id {rid})"
                )


async def _buffer_body(receive: Receive, limit: int) -> tuple[bytes | None, Receive]:
    """Read a whole request body (None when over ``limit``) and a ``receive`` that replays it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return None, receive
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _fn_index(body: bytes) -> int | None:
    try:
        value = json.loads(body).get("fn_index")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def too_large(limit: int) -> str:
    return f"request body over {limit} bytes"


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    message_vi: str | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps({"error": code, "message": message, "message_vi": message_vi}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def scrub(value: Any) -> Any:
    """``scrub_paths`` over every string of a JSON payload."""
    if isinstance(value, str):
        return scrub_paths(value)
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value
