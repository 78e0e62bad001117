"""``/ws`` and ``/alerts`` on a real uvicorn server, a real WebSocket client and the real NATS bus."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from brokers import drop_streams, run

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from live_server import LiveServer

from stockvision.config import Settings
from stockvision.serving.app import create_app
from stockvision.stream.bus import open_bus

websockets = pytest.importorskip("websockets")


@pytest.fixture(scope="module")
def server(request, tmp_path_factory, nats_url):
    prefix = f"w{uuid.uuid4().hex[:8]}"
    options = {"ws_max_connections": 3, "ws_queue_size": 8, **getattr(request, "param", {})}
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("home"), stream_enabled=True, stream_bus=nats_url, stream_prefix=prefix,
        api_key="k3y", **options,
    )  # fmt: skip
    app = create_app(settings, start_background=False, mount_chat_ui=False)
    with _Server(app) as srv:
        srv.prefix = prefix
        srv.nats = nats_url
        srv.app = app
        yield srv
    run(drop_streams(nats_url, prefix))


class _Server(LiveServer):
    """The app on uvicorn with the WebSocket protocol ``stockvision serve`` uses."""

    def __init__(self, app) -> None:
        import threading

        import uvicorn

        from stockvision.cli.serve_cmds import WS_PROTOCOL

        super().__init__(app)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                ws=WS_PROTOCOL)  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)


def _ws_url(server, query: str) -> str:
    return server.url.replace("http", "ws") + "/ws?" + query


async def _publish(server, stream, items):
    async with open_bus(server.nats, prefix=server.prefix) as bus:
        return await bus.publish_many(stream, items)


async def _recv(ws, n, timeout=10.0):
    out = []
    while len(out) < n:
        out.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    return out


def _bar(sym, price, minute):
    return ({"symbol": sym, "price": price, "time": minute}, sym, f"bar:{sym}:{minute}")


def test_subscribed_symbols_and_kinds_are_pushed_with_seq_and_a_reconnect_gets_what_it_missed(
    server,
):
    async def go():
        async with websockets.connect(
            _ws_url(server, "symbols=VNM&kinds=price,alert&api_key=k3y")
        ) as ws:
            await asyncio.sleep(0.5)  # the hub tails from "now"
            await _publish(server, "bars", [_bar("VNM", 61000, 1), _bar("FPT", 99000, 1),
                                            _bar("VNM", 61100, 2), _bar("VNM", 61100, 2)])  # fmt: skip
            got = await _recv(ws, 2)
            assert [(m["kind"], m["symbol"], m["data"]["price"]) for m in got] == [
                ("price", "VNM", 61000),
                ("price", "VNM", 61100),
            ]  # FPT filtered, duplicate dropped
            assert got[1]["seq"] > got[0]["seq"] and {
                "kind",
                "symbol",
                "seq",
                "time",
                "data",
            } <= set(got[0])
            last = got[-1]["seq"]
            await ws.send(json.dumps({"action": "subscribe", "symbols": ["VNM", "FPT"]}))
            ack = await _recv(ws, 1)
            assert ack[0]["kind"] == "subscribed" and ack[0]["data"]["symbols"] == ["FPT", "VNM"]
        await _publish(server, "bars", [_bar("VNM", 61200, 3), _bar("VNM", 61300, 4)])
        # reconnect with the last seq seen: the two missed prices come first
        async with websockets.connect(
            _ws_url(server, f"symbols=VNM&kinds=price&since=price:{last}"),
            additional_headers={"X-API-Key": "k3y"},
        ) as ws:
            missed = await _recv(ws, 2)
            assert [m["data"]["price"] for m in missed] == [61200, 61300]

    run(go())


def test_api_key_connection_limit_and_bad_subscriptions_are_refused(server):
    async def go():
        for _ in range(100):  # the previous test's connections are gone on the server
            if not server.app.state.live.hub.clients:
                break
            await asyncio.sleep(0.05)
        with pytest.raises(websockets.exceptions.ConnectionClosedError) as err:
            async with websockets.connect(_ws_url(server, "symbols=VNM")) as ws:
                await ws.recv()
        assert err.value.rcvd.code == 1008
        with pytest.raises(websockets.exceptions.ConnectionClosedError) as err:
            async with websockets.connect(_ws_url(server, "symbols=VN%3BDROP&api_key=k3y")) as ws:
                await ws.recv()
        assert err.value.rcvd.code == 1008
        held = [await websockets.connect(_ws_url(server, "api_key=k3y")) for _ in range(3)]
        with pytest.raises(websockets.exceptions.ConnectionClosedError) as err:
            async with websockets.connect(_ws_url(server, "api_key=k3y")) as ws:
                await ws.recv()
        assert err.value.rcvd.code == 1013  # the 4th of 3 allowed: try later
        async with held[0] as ws:
            await ws.send("not json")
            reply = await _recv(ws, 1)
            while reply[0]["kind"] == "price":  # the snapshot of the newest prices comes first
                reply = await _recv(ws, 1)
            assert reply[0]["kind"] == "error"
        for h in held[1:]:
            await h.close()

    run(go())


def _stalled_client(server, path):
    """A WebSocket client that completes the handshake, then never reads (tiny receive buffer)."""
    import base64
    import os
    import socket

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())  # fmt: skip
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert b" 101 " in head.split(b"\r\n", 1)[0]
    return sock


@pytest.mark.parametrize("server", [{"ws_queue_size": 64}], indirect=True)
def test_a_slow_client_drops_its_oldest_messages_and_never_holds_up_a_fast_one(server):
    pad = "x" * 2000  # big messages fill the slow client's socket buffers quickly
    n = 3000

    async def go():
        slow = _stalled_client(server, "/ws?kinds=price&api_key=k3y")
        async with websockets.connect(_ws_url(server, "kinds=price&api_key=k3y")) as fast:
            await asyncio.sleep(0.5)
            async with open_bus(server.nats, prefix=server.prefix) as bus:
                for start in range(0, n, 10):  # a market pace, not one burst
                    await bus.publish_many("bars", [
                        ({"symbol": "HPG", "price": i, "time": i, "pad": pad}, "HPG", f"b{i}")
                        for i in range(start, start + 10)])  # fmt: skip
                    await asyncio.sleep(0.004)
            got = await _recv(fast, n, timeout=20)
            assert [m["data"]["price"] for m in got] == list(range(n))
            assert "dropped" not in got[-1]
        hub = server.app.state.live.hub
        assert hub.status()["slow_client_drops"] > 0  # the slow reader lost its oldest
        slow.close()

    run(go())


def test_alerts_are_created_listed_and_deleted_per_client(server):
    with httpx.Client(base_url=server.url) as http:
        r = http.post("/alerts", json={"symbol": "VNM", "kind": "price_above", "threshold": 90000})
        assert r.status_code == 201, r.text
        alert = r.json()
        bad = http.post("/alerts", json={"symbol": "VNM", "kind": "price_above"})
        assert bad.status_code in (400, 422) and "threshold" in bad.text
        listed = http.get("/api/v1/alerts").json()
        assert [a["id"] for a in listed["alerts"]] == [alert["id"]]
        assert http.delete(f"/alerts/{alert['id']}").status_code == 204
        assert http.get("/alerts").json()["alerts"] == []
        assert http.delete("/alerts/nope").status_code == 404
