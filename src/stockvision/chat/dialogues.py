"""Score the agent on a labelled dialogue set: tool choice and arguments, grounding, latency.

A dialogue is a list of turns for one user; each turn names the tools it must call (``tools``) and
arguments some call of a tool must have (``args``: tool -> {arg: value}). A turn with no tools must
call no data tool. ``new_session`` starts a new session for the same user (memory must carry over).
Used by the test suite (a bar to pass) and ``benchmarks/bench_agent.py`` (figures printed).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

DATA_TOOLS = frozenset(
    {"predict", "rank", "history", "model_quality", "track_record", "market", "news"}
    | {"alerts_list", "alert_create", "alert_delete"}
)


def load_dialogues(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _turn_ok(turn: dict[str, Any], calls: list[Any]) -> bool:
    names = {c.name for c in calls}
    wanted = set(turn.get("tools") or [])
    if wanted and not wanted <= names:
        return False
    if not wanted and names & DATA_TOOLS:
        return False
    for tool, expected in (turn.get("args") or {}).items():
        if not any(
            c.name == tool and all(c.args.get(k) == v for k, v in expected.items()) for c in calls
        ):
            return False
    return True


def evaluate_dialogues(
    agent: Any, dialogues: Iterable[dict[str, Any]], prefix: str = "dlg"
) -> dict[str, Any]:
    """Run every dialogue through ``agent.chat``; accuracy, grounding rate and latencies."""
    turns = ok = grounded = 0
    latencies: list[float] = []
    single: list[float] = []
    misses: list[str] = []
    for i, dialogue in enumerate(dialogues):
        user = f"{prefix}-{dialogue.get('user', 'u')}-{i:04d}"
        session = f"{user}-s0"
        for k, turn in enumerate(dialogue["turns"]):
            if turn.get("new_session"):
                session = f"{user}-s{k}"
            t0 = time.perf_counter()
            resp = agent.chat(turn["text"], user, session)
            ms = (time.perf_counter() - t0) * 1000
            latencies.append(ms)
            data_calls = [c for c in resp.tool_calls if c.name in DATA_TOOLS]
            if len(data_calls) == 1:
                single.append(ms)
            turns += 1
            good = _turn_ok(turn, resp.tool_calls)
            ok += good
            grounded += resp.grounded
            if not good or not resp.grounded:
                called = [(c.name, c.args) for c in resp.tool_calls]
                misses.append(f"{turn['text']!r}: {called} unsupported={resp.unsupported_numbers}")
    return {
        "dialogues": i + 1 if turns else 0,
        "turns": turns,
        "tool_accuracy": ok / turns if turns else 0.0,
        "grounded_rate": grounded / turns if turns else 0.0,
        "p50_ms": statistics.median(latencies) if latencies else 0.0,
        "p95_single_tool_ms": _p95(single),
        "misses": misses,
    }


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


Factory = Callable[[], Any]


def evaluate_utterances(parser: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Intent accuracy, symbol micro-F1, language and slot accuracy on labelled utterances.

    A row with ``context`` is a follow-up parsed after a turn about those symbols.
    """
    from types import SimpleNamespace

    correct = tp = fp = fn = lang_ok = slot_ok = slot_n = 0
    errors = []
    for row in rows:
        context = None
        if "context" in row:
            context = SimpleNamespace(
                last_symbols=list(row["context"]),
                last_intent="predict",
                last_group=None,
                last_direction=None,
                last_top_n=None,
            )
        q = parser.parse(row["text"], context)
        correct += q.intent == row["intent"]
        lang_ok += q.language == row["language"]
        expected, got = set(row["symbols"]), set(q.symbols)
        tp += len(expected & got)
        fp += len(got - expected)
        fn += len(expected - got)
        for key in ("group", "top_n", "direction", "weeks", "month", "far", "index", "foreign"):
            if key in row:
                slot_n += 1
                slot_ok += getattr(q, key) == row[key]
        if "did_you_mean" in row:
            slot_n += 1
            slot_ok += bool(q.did_you_mean) and q.did_you_mean[0] == row["did_you_mean"]
        if q.intent != row["intent"] or expected != got:
            errors.append(
                f"{row['text']!r}: {q.intent} {q.symbols} != {row['intent']} {row['symbols']}"
            )
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    n = len(rows)
    return {
        "n": n,
        "intent_accuracy": correct / n if n else 0.0,
        "symbol_f1": f1,
        "language_accuracy": lang_ok / n if n else 0.0,
        "slot_accuracy": slot_ok / slot_n if slot_n else 1.0,
        "errors": errors,
    }
