"""POST /chat on the real app, the CSV upload prediction and the UI's event functions."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest
from chat_trained_helpers import write_index_style_csv
from fastapi.testclient import TestClient

from stockvision.errors import BadUploadError
from stockvision.serving.errors import http_status

pytestmark = pytest.mark.integration


@pytest.fixture()
def client(trained_settings):
    from stockvision.serving.app import create_app

    app = create_app(trained_settings, start_background=False, mount_chat_ui=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture()
def service(trained_settings):
    from stockvision.serving.service import PredictionService

    svc = PredictionService(trained_settings)
    svc.start(background=False)
    yield svc
    svc.stop()


# ---------------------------------------------------------------------------------- POST /chat
def test_post_chat_returns_answer_intent_symbols_and_predictions(client):
    r = client.post("/chat", json={"message": "Dự đoán giá VNM tháng sau?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["intent"] == "predict" and body["symbols"] == ["VNM"]
    assert "nghìn đồng" in body["answer"]
    assert body["predictions"][0]["symbol"] == "VNM"
    assert body["predictions"][0]["price_target"] > 0
    assert body["session_id"]
    versioned = client.post("/api/v1/chat", json={"message": "Mã nào tăng tháng tới?"})
    assert versioned.status_code == 200
    assert versioned.json()["intent"] == "ranking" and len(versioned.json()["predictions"]) >= 3


def test_post_chat_follow_up_uses_the_same_session(client):
    first = client.post("/chat", json={"message": "Dự đoán giá VNM", "session_id": "web-1"}).json()
    assert first["session_id"] == "web-1"
    follow = client.post("/chat", json={"message": "còn FPT thì sao?", "session_id": "web-1"})
    assert follow.json()["symbols"] == ["FPT"] and follow.json()["intent"] == "predict"
    why = client.post("/chat", json={"message": "tại sao?", "session_id": "web-1"}).json()
    assert why["intent"] == "explain" and why["symbols"] == ["FPT"]
    other = client.post("/chat", json={"message": "tại sao?", "session_id": "web-2"}).json()
    assert other["predictions"] == []


def test_post_chat_rejects_an_empty_message(client):
    r = client.post("/chat", json={"message": ""})
    assert r.status_code == 422


# ---------------------------------------------------------------------------------- CSV upload
def test_upload_predicts_an_index_style_export_like_the_service(service, vn30_daily_path, tmp_path):
    path = write_index_style_csv(vn30_daily_path, "VNM", tmp_path / "VNM Historical Data.csv")
    rows_before = len(service.store.read_daily())
    preds_before = service.store.read_predictions(symbol="VNM")
    preds, weekly = service.predict_upload(path.read_bytes(), path.name)
    served = service.predict_one("VNM")
    assert [p.symbol for p in preds] == ["VNM"]
    got = preds[0]
    assert got.data_as_of == served.data_as_of and got.last_close == served.last_close
    assert got.model_versions == served.model_versions and not got.simulated
    assert got.interval.low < got.price_target < got.interval.high
    assert len(weekly) == 52 and set(weekly["symbol"]) == {"VNM"}
    assert weekly["week_end"].max().date() == served.data_as_of
    info = weekly.attrs["summary"]
    assert info["file"] == "VNM Historical Data.csv" and info["rows"] > 800
    # nothing was written: same store rows, and only the explicit predict_one above was stored
    assert len(service.store.read_daily()) == rows_before
    after = service.store.read_predictions(symbol="VNM")
    assert len(after) <= len(preds_before) + 1


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("", "empty"),
        ("when,price\n2019-01-02,1\n", "missing required column"),
        ("date,open,high,low,close,volume\nnot-a-date,1,2,0.5,1,10\n??,x,y,z,w,v\n", "none of"),
        # a negative close cannot be repaired (a swapped high/low around the close can, and is)
        ("date,open,high,low,close,volume\n2019-01-02,10,11,9,-10,100\n", "no valid price rows"),
    ],
    ids=["empty", "bad-columns", "unparseable-rows", "invalid-ohlc"],
)
def test_upload_rejects_bad_files_naming_the_problem(service, tmp_path, content, needle):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BadUploadError) as info:
        service.predict_upload(path.read_bytes(), path.name)
    assert needle in info.value.message
    assert "bad.csv" in info.value.message and str(tmp_path) not in info.value.message
    assert info.value.message_vi and http_status(info.value) == 400


def test_upload_needs_enough_weeks(service, vn30_daily_path, tmp_path):
    path = write_index_style_csv(vn30_daily_path, "FPT", tmp_path / "FPT.csv", weeks=15)
    with pytest.raises(BadUploadError) as info:
        service.predict_upload(path.read_bytes(), path.name)
    need = service.settings.min_predict_weeks
    assert (
        "too little history" in info.value.message
        and f"at least {need} weeks" in info.value.message
    )
    assert f"cần ít nhất {need} tuần" in info.value.message_vi


# ---------------------------------------------------------------------------------- UI functions
def test_ui_handlers_answer_chart_and_upload(
    service, trained_settings, vn30_daily_path, tmp_path, monkeypatch
):
    from stockvision.chat.ui import make_handlers

    uploads = tmp_path / "gradio"  # where Gradio puts what a browser uploaded
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    from stockvision.chat.wiring import build_engine

    h = make_handlers(build_engine(service, trained_settings), service)
    history, box, sid, chart_req = h["ask"]("Dự đoán giá VNM tháng sau?", [], None, "auto")
    assert box == "" and sid and [m["role"] for m in history] == ["user", "assistant"]
    assert "nghìn đồng" in history[1]["content"] and chart_req["symbol"] == "VNM"
    history, _, sid2, _ = h["ask"]("còn FPT thì sao?", history, sid, "en")
    assert sid2 == sid and len(history) == 4 and "thousand VND" in history[3]["content"]
    fig = h["chart"](chart_req)
    assert isinstance(fig, go.Figure)
    kinds = [t.type for t in fig.data]
    assert kinds[0] == "candlestick" and len(fig.data[0].x) == 52
    target = next(t for t in fig.data if t.name == "Giá mục tiêu 4 tuần")
    assert target.y[0] == pytest.approx(chart_req["prediction"]["price_target_k"])
    (uploads / "a1").mkdir(parents=True)
    path = write_index_style_csv(vn30_daily_path, "VNM", uploads / "a1" / "VNM.csv")
    text, up_fig = h["upload"](str(path), "vi")
    assert "Kết quả dự báo" in text and "VNM" in text and "nghìn đồng" in text
    assert up_fig.data[0].type == "candlestick"
    assert not path.exists() and not (uploads / "a1").exists()  # nothing of it outlives the answer
    (uploads / "b2").mkdir()
    bad = uploads / "b2" / "x.csv"
    bad.write_text("foo,bar\n1,2\n")
    text, _ = h["upload"](str(bad), "vi")
    assert "Không dự báo được" in text and "missing required column" in text
    # a path the browser did not upload (anywhere outside the upload folder) is never read
    outside = tmp_path / "secret.csv"
    outside.write_text("date,open,high,low,close,volume\n2019-01-02,1,1,1,1,1\n")
    text, _ = h["upload"](str(outside), "vi")
    assert "Không nhận được file" in text and outside.exists()
