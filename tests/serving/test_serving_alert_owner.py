"""Alert ownership over REST and WebSocket: one owner per user id (``X-User-Id``, the agent's
``user_id``); a client never lists, deletes or is pushed another user's alerts (real app, real
SQLite store, the in-process memory bus and the real hub)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

ALICE, BOB = "alice-ws-00001", "bob-ws-000001"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from stockvision.config import Settings
    from stockvision.serving.app import create_app

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("home"), stream_enabled=True, stream_bus="memory://",
        rate_limit_per_minute=100000, agent_memory=False,
    )  # fmt: skip
    app = create_app(settings, start_background=False, mount_chat_ui=False)
    with TestClient(app) as c:
        yield c


def _fire(client, alert_id: str, symbol: str, n: int) -> None:
    live = client.app.state.live
    item = ({"alert_id": alert_id, "symbol": symbol, "message": f"crossed {n}"}, symbol, f"a:{n}")
    client.portal.call(live.bus.publish_many, "alerts", [item])


def test_rest_alerts_are_per_user_id(client):
    a = client.post(
        "/alerts", json={"symbol": "VNM", "kind": "price_above", "threshold": 90000},
        headers={"X-User-Id": ALICE},
    )  # fmt: skip
    assert a.status_code == 201
    assert [
        x["id"] for x in client.get("/alerts", headers={"X-User-Id": ALICE}).json()["alerts"]
    ] == [a.json()["id"]]
    assert client.get("/alerts", headers={"X-User-Id": BOB}).json()["alerts"] == []
    assert client.get("/alerts").json()["alerts"] == []  # anonymous is the client address
    assert client.delete(f"/alerts/{a.json()['id']}", headers={"X-User-Id": BOB}).status_code == 404
    assert client.get("/alerts", headers={"X-User-Id": "short"}).status_code == 422


def test_websocket_pushes_only_the_clients_own_alert_firings(client):
    alice, bob = ALICE + "w", BOB + "w"
    mine = client.post(
        "/alerts/pattern", json={"symbol": "HPG"}, headers={"X-User-Id": alice}
    ).json()["id"]
    theirs = client.post(
        "/alerts/pattern", json={"symbol": "HPG"}, headers={"X-User-Id": bob}
    ).json()["id"]
    with client.websocket_connect(
        "/ws?kinds=alert&symbols=HPG", headers={"X-User-Id": alice}
    ) as ws:
        _fire(client, theirs, "HPG", 1)  # bob's firing first: alice must not get it
        _fire(client, mine, "HPG", 2)
        got = ws.receive_json()
        assert got["kind"] == "alert" and got["data"]["alert_id"] == mine
    with client.websocket_connect(f"/ws?kinds=alert&user_id={bob}") as ws:  # browsers: query
        _fire(client, mine, "HPG", 3)
        _fire(client, theirs, "HPG", 4)
        got = ws.receive_json()
        assert got["data"]["alert_id"] == theirs and got["data"]["message"] == "crossed 4"
    bad = client.websocket_connect("/ws?kinds=alert&user_id=../x")
    with bad as ws, pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == 1008  # policy: refused, nothing pushed
