"""Acceptance of the weekly pipeline on the real VN30 data (fast config: 4 symbols, lgbm_clf, 2 folds).

One module-scoped history runs the real pipeline several times in one data directory:
1. first run on the data up to 2019-02-28 (a truncated copy of the CSV);
2. the same data again: unchanged steps skipped, nothing promoted;
3. monitoring marks the champion degraded (new token): retrained although the data is unchanged;
4. a run with a broken training configuration: fails naming the step; the champion keeps serving;
5. the full CSV (new weeks appended): a challenger is trained and promoted only by the rules.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from trained_system import sv_environment

from stockvision.config import Settings, get_settings
from stockvision.registry import tracking

pytestmark = pytest.mark.integration

CUTOFF = "2019-03-01"
ENV = {
    "SV_SOURCE": "csv",
    "SV_UNIVERSE": "VNM,FPT,HPG,VCB",
    "SV_PATTERN_MODEL": "lgbm_clf",
    "SV_EVAL_MAX_FOLDS": "2",
}
PRIMARY_STEPS = ["train", "evaluate", "register", "promote"]


def _truncated_csv(src: Path, dst: Path, cutoff: str) -> Path:
    lines = src.read_text(encoding="utf-8").splitlines(keepends=True)
    dst.write_text(lines[0] + "".join(x for x in lines[1:] if x[:10] < cutoff), encoding="utf-8")
    return dst


def _snapshot(settings: Settings) -> dict:
    from stockvision.registry.model_registry import ModelRegistry

    reg = ModelRegistry(settings)
    return {
        "versions": {k: [r.version for r in reg.versions(k)] for k in ("price", "pattern")},
        "champions": {
            k: (r.version if (r := reg.champion(k)) else None) for k in ("price", "pattern")
        },
        "log": reg.promotion_log(),
    }


def _run(env: dict[str, str]) -> dict:
    """Run the pipeline in-process with ``env``; return the run record (or the failure) and the
    registry state after it."""
    from stockvision.pipeline.flow import run_pipeline
    from stockvision.pipeline.runner import StepFailedError

    with sv_environment(env):
        settings = Settings()
        try:
            result = run_pipeline(settings)
            out = {
                "status": result.status,
                "steps": {s.name: s.status for s in result.steps},
                "outputs": {k: v.to_dict() for k, v in result.outputs.items() if v is not None},
            }
        except StepFailedError as exc:
            out = {"status": "failed", "error": exc, "steps": {}}
        out["registry"] = _snapshot(settings)
        return out


@pytest.fixture(scope="module")
def history(tmp_path_factory, vn30_daily_path) -> dict:
    root = tmp_path_factory.mktemp("acceptance")
    home = root / "home"
    truncated = _truncated_csv(vn30_daily_path, root / "vn30_until_2019_02.csv", CUTOFF)
    env = {**ENV, "SV_DATA_DIR": str(home), "SV_CSV_PATHS": str(truncated)}
    runs: dict[str, dict] = {}
    runs["first"] = _run(env)
    degraded = home / "monitoring" / "degraded.json"  # what monitoring/report.py writes
    # monitoring may already flag drift right after the first training (recent weeks vs the training
    # window): that flag is acknowledged, the models were just retrained on exactly this data
    runs["first"]["degraded"] = json.loads(degraded.read_text()) if degraded.exists() else None
    ack = home / "monitoring" / "retrain_ack.json"  # owned by MonitoringState
    runs["first"]["ack"] = json.loads(ack.read_text()) if ack.exists() else None
    runs["unchanged"] = _run(env)
    token = uuid.uuid4().hex
    degraded.write_text(
        json.dumps({"token": token, "reasons": ["live accuracy test"], "at": "now"})
    )
    runs["degraded"] = _run(env)
    runs["failing"] = _run({**env, "SV_PRICE_MODEL": "no_such_model"})
    runs["new_weeks"] = _run({**env, "SV_CSV_PATHS": str(vn30_daily_path)})
    runs["home"] = home
    return runs


def test_first_run_trains_registers_and_decides_by_the_rules(history):
    first = history["first"]
    assert first["status"] == "succeeded", first.get("error")
    assert all(status == "succeeded" for status in first["steps"].values())
    fetched = first["outputs"]["fetch"]
    assert fetched["latest_date"] < CUTOFF
    reg = first["registry"]
    for kind in ("price", "pattern"):
        assert reg["champions"][kind] is not None, f"no {kind} champion after the first run"
        decision = first["outputs"]["promote"]["decisions"][kind]
        assert decision["reason"] and decision["compared"]
    assert first["outputs"]["batch_predict"]["predicted"] == 4


def test_second_run_on_unchanged_data_skips_and_promotes_nothing(history):
    first, second = history["first"], history["unchanged"]
    assert second["status"] == "succeeded"
    assert second["steps"]["fetch"] == "succeeded"  # always reads the source
    skipped = [name for name, status in second["steps"].items() if name != "fetch"]
    assert all(second["steps"][name] == "skipped" for name in skipped), second["steps"]
    assert second["registry"] == first["registry"]  # no new versions, no new decisions
    if first["degraded"] is not None:
        assert first["ack"]["token"] == first["degraded"]["token"]


def test_degraded_champion_forces_a_retrain_on_unchanged_data(history):
    before, run = history["unchanged"], history["degraded"]
    assert run["status"] == "succeeded"
    assert run["outputs"]["fetch"]["data_digest"] == before["outputs"]["fetch"]["data_digest"]
    assert [run["steps"][s] for s in ("features", "labels", "snapshot")] == ["skipped"] * 3
    assert [run["steps"][s] for s in PRIMARY_STEPS] == ["succeeded"] * 4
    for kind in ("price", "pattern"):
        assert (
            len(run["registry"]["versions"][kind]) == len(before["registry"]["versions"][kind]) + 1
        )
        # same data, same spec, same seed: the retrained model cannot beat the champion by the margin
        decision = run["outputs"]["promote"]["decisions"][kind]
        assert decision["action"] == "kept_challenger", decision
    assert run["registry"]["champions"] == before["registry"]["champions"]


def test_a_failing_step_is_named_and_the_champion_keeps_serving(history):
    before, run = history["degraded"], history["failing"]
    assert run["status"] == "failed"
    error = run["error"]
    assert error.step == "train"
    assert "no_such_model" in str(error) and "previous champion" in str(error)
    assert run["registry"] == before["registry"]
    log = (history["home"] / "pipeline" / "runs.jsonl").read_text().splitlines()
    runs = [json.loads(line) for line in log]
    assert [r["status"] for r in runs] == ["succeeded"] * 3 + ["failed", "succeeded"]
    assert [s["name"] for s in runs[3]["steps"]][-1] == "snapshot"  # stopped at train


def test_new_weeks_train_a_challenger_promoted_only_by_the_rules(history):
    from stockvision.registry.model_registry import REGISTERED_NAMES
    from stockvision.registry.promotion import decide

    before, run = history["failing"], history["new_weeks"]
    assert run["status"] == "succeeded", run.get("error")
    assert run["outputs"]["fetch"]["latest_date"] > CUTOFF
    assert [run["steps"][s] for s in ("features", "snapshot", *PRIMARY_STEPS)] == ["succeeded"] * 6
    settings = Settings()
    for kind in ("price", "pattern"):
        new_versions = run["registry"]["versions"][kind][
            len(before["registry"]["versions"][kind]) :
        ]
        assert len(new_versions) >= 1
        decision = run["outputs"]["promote"]["decisions"][kind]
        assert decision["version"] == new_versions[0]
        entry = next(
            e
            for e in run["registry"]["log"]
            if e["model"] == REGISTERED_NAMES[kind] and e["version"] == decision["version"]
        )
        assert entry["action"] == decision["action"] and entry["reason"] == decision["reason"]
        assert entry["compared"] == decision["compared"]
        # re-apply the rule to the recorded numbers: the same verdict
        c = decision["compared"]
        if kind == "price" and "champion_crps" in c:  # proper score (issue 14)
            redo = decide(
                "price",
                {"distribution_crps": c["challenger_crps"]},
                {"distribution_crps": c["champion_crps"]},
                None,
                settings,
            )
        elif kind == "pattern" and "log_loss_gain" in c:
            redo = decide(
                "pattern",
                {"accuracy": 0.5, "log_loss": c["challenger_log_loss"], "ece": c["challenger_ece"]},
                {"log_loss": c["champion_log_loss"], "ece": c["champion_ece"]},
                None,
                settings,
            )
        elif kind == "price" and "champion_mae_pct" in c:
            redo = decide(
                "price",
                {"mae_pct": c["challenger_mae_pct"]},
                {"mae_pct": c["champion_mae_pct"]},
                None,
                settings,
            )
        elif kind == "pattern" and "champion_accuracy" in c:
            redo = decide(
                "pattern",
                {"accuracy": c["challenger_accuracy"], "ece": c["challenger_ece"]},
                {"accuracy": c["champion_accuracy"], "ece": c["champion_ece"]},
                None,
                settings,
            )
        else:
            pytest.fail(f"{kind}: decision not made against the champion: {decision}")
        promoted = decision["action"] == "promoted"
        assert redo.promote == promoted, (decision, redo)
        champion = run["registry"]["champions"][kind]
        if promoted:
            assert champion == decision["version"]
        else:
            assert champion == before["registry"]["champions"][kind]


def test_registered_runs_carry_the_evaluation_report_and_metrics(history, monkeypatch):
    from stockvision.registry.model_registry import ModelRegistry

    monkeypatch.setenv("SV_DATA_DIR", str(history["home"]))
    get_settings.cache_clear()
    tracking.reset()
    try:
        reg = ModelRegistry(get_settings())
        evaluated = history["first"]["outputs"]["evaluate"]
        for kind in ("price", "pattern"):
            record = reg.get(kind, "1")  # the first primary model
            run = reg.client.get_run(record.run_id)
            model = history["first"]["outputs"]["train"]["primary"][kind]
            assert set(evaluated["metrics"][model]) <= set(run.data.metrics)
            if kind == "price":  # the coverage by predicted scale an answer quotes, round trip
                from stockvision.evaluation.scale_coverage import ScaleCoverage

                by_scale = ScaleCoverage.from_metrics(run.data.metrics)
                assert by_scale is not None and 2 <= len(by_scale.bins) <= 8
                assert by_scale.bins[0].q_low == 0 and by_scale.bins[-1].q_high == 1
                assert by_scale == ScaleCoverage.from_metrics(evaluated["metrics"][model])
                assert sum(b.rows for b in by_scale.bins) > 0
            report = Path(evaluated["report_dir"]).name
            files = {Path(a.path).name for a in reg.client.list_artifacts(record.run_id, report)}
            assert {"report.html", "metrics.json"} <= files, files
    finally:
        tracking.reset()
