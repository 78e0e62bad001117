"""Run pipeline steps in order with retries, timing, a run log and resumption.

A step declares a *fingerprint* of its inputs. When a step's fingerprint equals the one recorded at its last
success, the step is skipped and its recorded output is reused, so a second run on unchanged data does no work.
A failing step is retried (exponential backoff); if it still fails, the run stops there, names the step and the
reason, and nothing after it runs, so the previous champion keeps serving.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stockvision.errors import StepFailedError, StockVisionError
from stockvision.jsonutil import jsonable


@dataclass
class Step:
    """One unit of the pipeline: ``run(ctx)`` returns its output, stored under ``name``.

    ``output_type`` (a :class:`~stockvision.jsonutil.JsonRecord`) rebuilds the recorded output, so a
    skipped step hands later steps the same typed object a run would have.
    """

    name: str
    run: Callable[[dict[str, Any]], Any]
    fingerprint: Callable[[dict[str, Any]], str | None] | None = None
    retries: int = 3
    description: str = ""
    output_type: type | None = None

    def rebuild(self, recorded: Any) -> Any:
        """The recorded (JSON) output as the step's output type."""
        if recorded is None or self.output_type is None:
            return recorded
        return self.output_type.from_dict(recorded)


@dataclass
class StepRecord:
    name: str
    status: str  # "succeeded", "skipped", "failed"
    attempts: int
    seconds: float
    fingerprint: str | None
    error: str | None = None


@dataclass
class RunResult:
    run_id: str
    started_at: str
    finished_at: str
    status: str
    steps: list[StepRecord] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "steps": [asdict(s) for s in self.steps],
        }


def digest(*parts: Any) -> str:
    """A stable SHA-256 over parts (records and plain values; used for fingerprints)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(jsonable(part), sort_keys=True, default=str).encode())
        h.update(b"\x1f")
    return h.hexdigest()


class PipelineRunner:
    """Executes steps, persisting per-step state in ``state_dir`` for resumption and a JSONL run log."""

    def __init__(
        self,
        steps: list[Step],
        state_dir: Path,
        *,
        backoff_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        on_event: Callable[[str, str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.steps = steps
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.state_path = self.state_dir / "state.json"
        self.log_path = self.state_dir / "runs.jsonl"
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        self.on_event = on_event or (lambda step, event, info: None)

    def _load_state(self) -> dict[str, Any]:
        if self.state_path.exists():
            try:
                return json.loads(self.state_path.read_text())
            except json.JSONDecodeError:
                return {}
        return {}

    def _save_state(self, state: dict[str, Any]) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, default=str, indent=1))
        tmp.replace(self.state_path)

    def invalidate(self, *names: str) -> None:
        """Forget the recorded success of steps so the next run redoes them."""
        state = self._load_state()
        for name in names:
            state.pop(name, None)
        self._save_state(state)

    def run(self, ctx: dict[str, Any] | None = None, force: bool = False) -> RunResult:
        ctx = dict(ctx or {})
        state = self._load_state()
        result = RunResult(
            run_id=uuid.uuid4().hex[:12],
            started_at=datetime.now(UTC).isoformat(),
            finished_at="",
            status="running",
        )
        ctx["run_id"] = result.run_id
        try:
            for step in self.steps:
                record = self._execute(step, ctx, state, force)
                result.steps.append(record)
                result.outputs[step.name] = ctx.get(step.name)
        except StepFailedError:
            result.status = "failed"
            raise
        else:
            result.status = "succeeded"
        finally:
            result.finished_at = datetime.now(UTC).isoformat()
            with self.log_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(result.to_dict(), default=str) + "\n")
        return result

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise StockVisionError(
            f"Unknown pipeline step {name!r}.",
            f"Steps are: {', '.join(s.name for s in self.steps)}.",
            code="invalid_request",
        )

    def last_output(self, name: str) -> Any:
        """The output of the last successful run of step ``name`` (typed), or None."""
        recorded = (self._load_state().get(name) or {}).get("output")
        return self.step(name).rebuild(recorded)

    def run_step(self, name: str, force: bool = False) -> StepRecord:
        """Run one step with the outputs of the earlier steps taken from their last successful runs.

        What an orchestrator that runs each step as its own task (Airflow) calls.
        """
        step = self.step(name)
        state = self._load_state()
        ctx: dict[str, Any] = {}
        for earlier in self.steps[: self.steps.index(step)]:
            ctx[earlier.name] = earlier.rebuild((state.get(earlier.name) or {}).get("output"))
        return self._execute(step, ctx, state, force)

    def _execute(
        self, step: Step, ctx: dict[str, Any], state: dict[str, Any], force: bool
    ) -> StepRecord:
        t0 = time.perf_counter()
        fp = step.fingerprint(ctx) if step.fingerprint else None
        previous = state.get(step.name)
        if not force and fp is not None and previous and previous.get("fingerprint") == fp:
            ctx[step.name] = step.rebuild(previous.get("output"))
            ctx.setdefault("_skipped", []).append(step.name)
            self.on_event(step.name, "skipped", {"fingerprint": fp})
            return StepRecord(step.name, "skipped", 0, time.perf_counter() - t0, fp)
        attempts = 0
        last_error = ""
        last_exc: BaseException | None = None
        while attempts < max(1, step.retries):
            attempts += 1
            self.on_event(step.name, "started", {"attempt": attempts})
            try:
                output = step.run(ctx)
            except Exception as exc:  # retried, then reported with the step's name
                last_exc = exc
                # the message a user reads never carries an exception class name (the event log
                # keeps the traceback for operators)
                last_error = str(exc) or "the step failed without a message"
                self.on_event(
                    step.name,
                    "error",
                    {"attempt": attempts, "error": last_error, "traceback": traceback.format_exc()},
                )
                if _is_permanent(exc) or attempts >= step.retries:
                    break
                self.sleep(self.backoff_seconds * (2 ** (attempts - 1)))
                continue
            ctx[step.name] = output
            seconds = time.perf_counter() - t0
            # fingerprints may depend on outputs of the step itself (e.g. fetch): recompute after run
            fp_after = step.fingerprint(ctx) if step.fingerprint else None
            state[step.name] = {
                "fingerprint": fp_after,
                "output": jsonable(output),
                "succeeded_at": datetime.now(UTC).isoformat(),
                "seconds": seconds,
            }
            self._save_state(state)
            self.on_event(step.name, "succeeded", {"seconds": seconds})
            return StepRecord(step.name, "succeeded", attempts, seconds, fp_after)
        seconds = time.perf_counter() - t0
        self.on_event(step.name, "failed", {"error": last_error})
        raise StepFailedError(step.name, last_error, attempts, last_exc)

    def succeeded_at(self, name: str) -> str | None:
        """When step ``name`` last succeeded (ISO time), or None."""
        return (self._load_state().get(name) or {}).get("succeeded_at")


def _is_permanent(exc: Exception) -> bool:
    """User errors (bad input, missing data) will not fix themselves by retrying."""
    return isinstance(exc, StockVisionError) and getattr(exc, "permanent", True)
