"""The MLflow registry for real (embedded SQLite store in a temp data dir) driven by the pipeline's own
train/register/promote steps on a small generated snapshot.

One home is built per module (train + register + promote v1); each test works on a private copy.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from registry_support import (
    CHAMPION_SCORES,
    build_home,
    copy_home,
    crafted_evaluation,
    promote,
    register,
    use_home,
)

from stockvision.features import FEATURES
from stockvision.features.dataset import DatasetBuilder
from stockvision.models.base import load_model
from stockvision.models.registry_names import FALLBACK
from stockvision.registry.model_registry import ModelRegistry, RegistryError


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict]:
    home = tmp_path_factory.mktemp("registry") / "home"
    return home, build_home(home)


@pytest.fixture()
def home(built, tmp_path, monkeypatch):
    """(settings, built) on a private copy of the module's registry."""
    src, info = built
    dst = tmp_path / "home"
    info = copy_home(src, dst, info)
    return use_home(dst, monkeypatch), info


def _register_and_promote(settings, info, **metrics):
    trained, snap = info["trained"], info["snap"]
    evaluated = crafted_evaluation(trained, **metrics)
    registered = register(settings, trained, evaluated, snap)
    return registered, promote(settings, registered, evaluated, snap)


def test_first_models_are_logged_with_everything_needed_to_trace_them(home):
    import mlflow

    settings, info = home
    assert info["decisions"]["price"]["action"] == "promoted"
    assert "random walk" in info["decisions"]["price"]["reason"]
    assert info["decisions"]["pattern"]["action"] == "promoted"
    reg = ModelRegistry(settings)
    for kind, name in (("price", "price_target_model"), ("pattern", "pattern_model")):
        rec = reg.champion(kind)
        assert rec is not None and rec.version == "1" and rec.aliases == ["champion"]
        mv = reg.client.get_model_version(name, "1")
        assert mv.current_stage in (None, "None")  # governed by aliases, never stages
        run = reg.client.get_run(rec.run_id)
        # parameters, every evaluation metric, the validation metric and the dataset it came from
        assert run.data.params["model"] == info["trained"]["primary"][kind]
        assert json.loads(run.data.params["train_window"]) == info["trained"]["train_window"]
        key = "mae_pct" if kind == "price" else "accuracy"
        assert run.data.metrics[key] == rec.metrics[key]
        val_key = "val_mae_pct" if kind == "price" else "val_log_loss"
        trained = info["trained"]["models"][info["trained"]["primary"][kind]]
        assert math.isclose(run.data.metrics[val_key], trained["val_metric"], rel_tol=1e-9)
        snap = info["snap"]
        assert run.data.tags["dataset.digest"] == snap["digest"] == rec.tags["dataset.digest"]
        assert run.data.tags["dataset.start"] == snap["start"]
        assert run.data.tags["dataset.end"] == snap["end"]
        assert run.data.tags["dataset.n_symbols"] == str(len(snap["symbols"]))
        assert run.inputs.dataset_inputs, "the training dataset is logged as a run input"
        # the promotion decision is on the version too
        assert rec.tags["promotion.decision"] == "promoted"
        assert json.loads(rec.tags["promotion.compared"])
        # signature from the input example
        model_info = mlflow.models.get_model_info(f"models:/{name}/1")
        inputs = {c.name for c in model_info.signature.inputs.inputs}
        assert {"symbol", "week_end", "raw_close", *FEATURES} <= inputs
    # the fitted preprocessing travels inside the registered model
    native = load_model(settings.home / info["trained"]["models"]["ridge"]["dir"])
    model_dir = reg.download("price", "1")
    meta = json.loads((model_dir / "model.json").read_text())
    assert meta["transformer"] == json.loads(json.dumps(native.transformer_.to_dict()))
    loaded, record = reg.load("price", alias="champion")
    assert record.version == "1" and loaded.transformer_ is not None


def test_pyfunc_champion_reproduces_the_native_predictions(home):
    import mlflow

    settings, info = home
    joined = pd.read_parquet(settings.home / info["snap"]["path"])
    recent = joined.groupby(level=0).tail(settings.seq_len + 2)
    example = recent.reset_index()[["symbol", "week_end", *FEATURES, "raw_close"]]
    example["week_end"] = example["week_end"].dt.strftime("%Y-%m-%d")  # the logged signature's type
    builder = DatasetBuilder(
        joined[FEATURES], joined.drop(columns=FEATURES), seq_len=settings.seq_len
    )
    latest = builder.latest()
    for kind, name, model_name in (
        ("price", "price_target_model", "ridge"),
        ("pattern", "pattern_model", "lgbm_clf"),
    ):
        pyfunc = mlflow.pyfunc.load_model(f"models:/{name}@champion")
        got = pyfunc.predict(example).set_index("symbol").sort_index()
        native = load_model(settings.home / info["trained"]["models"][model_name]["dir"])
        syms = latest.X.index.get_level_values(0)
        assert list(got.index) == list(syms)
        if kind == "price":
            np.testing.assert_allclose(got["pred_log_return"], native.predict(latest), rtol=1e-6)
            raw = latest.labels["raw_close"].to_numpy()
            np.testing.assert_allclose(got["price_target"], raw * np.exp(native.predict(latest)))
        else:
            probs = native.predict_proba(latest)
            np.testing.assert_allclose(got[["p_down", "p_sideways", "p_up"]], probs, rtol=1e-6)


def test_models_list_and_json_show_versions_aliases_metrics_and_decisions(home):
    from typer.testing import CliRunner

    from stockvision.cli.main import app

    _settings, _info = home
    runner = CliRunner()
    res = runner.invoke(app, ["models", "list", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    price = doc["models"]["price_target_model"]
    assert [v["version"] for v in price] == ["1"]
    assert price[0]["aliases"] == ["champion"]
    assert price[0]["metrics"]["mae_pct"] == 5.0
    assert price[0]["tags"]["promotion.decision"] == "promoted"
    assert doc["models"]["pattern_model"][0]["metrics"]["accuracy"] == 0.45
    assert {e["model"] for e in doc["promotion_log"]} == {"price_target_model", "pattern_model"}
    # the new-listing fallback the register step logs beside the champions is listed too
    baseline = doc["models"]["price_baseline_model"]
    assert baseline and baseline[-1]["aliases"] == ["champion"]
    assert baseline[-1]["tags"]["model_name"] == FALLBACK["price"]
    table = runner.invoke(app, ["models", "list"])
    assert table.exit_code == 0
    assert "price_target_model" in table.stdout and "champion" in table.stdout
    assert "promoted" in table.stdout and "price_baseline_model" in table.stdout


def test_manual_promote_and_rollback_are_recorded(home):
    settings, info = home
    _register_and_promote(
        settings, info, price_mae=5.1, rw_mae=6.0, acc=0.45, ece=0.03, ll=1.0, base_ll=1.09
    )
    reg = ModelRegistry(settings)
    assert reg.champion("price").version == "1"
    assert reg.by_alias("price", "challenger").version == "2"
    reg.promote("price", "2")
    assert reg.champion("price").version == "2"
    assert reg.by_alias("price", "challenger") is None
    assert reg.get("price", "1").tags["replaced_by"] == "2"
    back = reg.rollback("price")
    assert back.version == "1" and reg.champion("price").version == "1"
    actions = [(e["version"], e["action"]) for e in reg.promotion_log("price")]
    assert actions == [
        ("1", "promoted"),
        ("2", "kept_challenger"),
        ("2", "promoted"),
        ("1", "rolled_back"),
    ]
    assert reg.promotion_log("price")[-1]["compared"]["from_version"] == "2"
    with pytest.raises(RegistryError, match="no version 9"):
        reg.promote("price", "9")
    assert reg.champion("price").version == "1"


def test_worse_challenger_stays_challenger_with_the_numbers(home):
    settings, info = home
    _registered, decisions = _register_and_promote(
        settings, info, price_mae=5.9, rw_mae=6.0, acc=0.43, ece=0.03, ll=1.0, base_ll=1.09
    )
    reg = ModelRegistry(settings)
    for kind in ("price", "pattern"):
        assert decisions[kind]["action"] == "kept_challenger"
        assert reg.champion(kind).version == "1"
        assert reg.by_alias(kind, "challenger").version == "2"
        tags = reg.get(kind, "2").tags
        assert tags["promotion.decision"] == "kept_challenger"
        assert tags["promotion.reason"] == decisions[kind]["reason"]
    # the champion's numbers on the same walk-forward window are what the challenger is compared with
    price = decisions["price"]["compared"]
    assert price["challenger_mae_pct"] == 5.9 and price["champion_mae_pct"] == 5.9
    assert "improvement 0.000 pp < required 0.2 pp" in decisions["price"]["reason"]
    # pattern: the proper score decides (same log loss as the champion on this window: no gain)
    assert decisions["pattern"]["compared"]["log_loss_gain"] == pytest.approx(0.0)
    last = reg.promotion_log("pattern")[-1]
    assert last["action"] == "kept_challenger" and "log-loss gain" in last["reason"]


def _corrupt_artifacts(reg: ModelRegistry, kind: str, version: str) -> None:
    """Break the stored model files of a version (as a damaged artifact store would)."""
    mv = reg.client.get_model_version(reg.get(kind, version).name, version)
    model_id = mv.model_id or str(mv.source).removeprefix("models:/")
    location = reg.client.get_logged_model(model_id).artifact_location
    root = Path(location.removeprefix("file://"))
    model_json = list(root.rglob("model.json"))
    assert model_json, f"no model files under {root}"
    for path in model_json:
        path.write_text("{ not json")


def _clearly_better(trained: dict) -> dict:
    """An evaluation in which the challenger beats the champion by every rule."""
    return crafted_evaluation(
        trained,
        price_mae=4.0,
        rw_mae=6.0,
        acc=0.50,
        ece=0.03,
        ll=0.9,
        base_ll=1.09,
        others=CHAMPION_SCORES,
    )


def test_broken_model_files_are_never_promoted(home):
    settings, info = home
    trained, snap = info["alt"], info["snap"]
    # a clearly better challenger by the numbers, whose files are damaged once registered
    evaluated = _clearly_better(trained)
    registered = register(settings, trained, evaluated, snap)
    reg = ModelRegistry(settings)
    _corrupt_artifacts(reg, "price", registered["price"]["version"])
    decisions = promote(settings, registered, evaluated, snap)
    assert decisions["price"]["action"] == "kept_challenger"
    assert "failed to load" in decisions["price"]["reason"]
    assert reg.champion("price").version == "1"
    # nor by hand: manual promotion and rollback load the version first
    with pytest.raises(RegistryError, match="fail to load"):
        reg.promote("price", registered["price"]["version"])
    with pytest.raises(RegistryError, match="fail to load"):
        reg.rollback("price", registered["price"]["version"])
    assert reg.champion("price").version == "1"
    assert decisions["pattern"]["action"] == "promoted"  # its files are intact
    assert reg.champion("pattern").version == registered["pattern"]["version"]


def test_a_model_not_reproducing_its_validation_metric_is_never_promoted(home):
    settings, info = home
    trained, snap = info["alt"], info["snap"]
    evaluated = _clearly_better(trained)
    registered = register(settings, trained, evaluated, snap)
    reg = ModelRegistry(settings)
    version = registered["price"]["version"]
    # the recorded validation metric no longer matches what the stored model produces
    recorded = float(reg.get("price", version).metrics["val_mae_pct"])
    reg.client.set_model_version_tag(
        "price_target_model", version, "metric.val_mae_pct", f"{recorded * 0.9:.6g}"
    )
    decisions = promote(settings, registered, evaluated, snap)
    assert decisions["price"]["action"] == "kept_challenger"
    assert "does not reproduce its validation metric" in decisions["price"]["reason"]
    assert reg.champion("price").version == "1"


def test_fallback_baseline_champion_then_a_better_model_replaces_it(built, tmp_path, monkeypatch):
    """A first model losing to its naive baseline: the baseline serves; a later model beating the
    baseline by the rule's margin on the same window is promoted over it."""
    import shutil

    src, _ = built
    # the trained models and snapshot, without any registry (a system before its first promotion)
    fresh = tmp_path / "fresh"
    shutil.copytree(
        src, fresh, ignore=shutil.ignore_patterns("mlflow.db", "mlartifacts", "registry")
    )
    info = json.loads(json.dumps(built[1]))  # recorded paths are relative to the data dir
    settings = use_home(fresh, monkeypatch)
    trained, snap = info["trained"], info["snap"]
    lose = crafted_evaluation(
        trained, price_mae=6.5, rw_mae=6.0, acc=0.45, ece=0.03, ll=1.2, base_ll=1.09
    )
    registered = register(settings, trained, lose, snap)
    decisions = promote(settings, registered, lose, snap)
    reg = ModelRegistry(settings)
    for kind, base in (("price", FALLBACK["price"]), ("pattern", "majority")):
        d = decisions[kind]
        assert d["action"] == "kept_challenger" and "does not beat" in d["reason"]
        fallback = d["fallback_champion"]
        assert fallback["model"] == base
        champ = reg.champion(kind)
        assert champ.version == fallback["version"] and champ.tags["model_name"] == base
        assert reg.by_alias(kind, "challenger").version == registered[kind]["version"]
        assert "naive baseline" in champ.tags["promotion.reason"]
    # next week: price model beats the random walk by 0.5 pp, pattern only by 0.001 in log loss
    better = crafted_evaluation(
        trained, price_mae=5.5, rw_mae=6.0, acc=0.405, ece=0.0, ll=1.089, base_ll=1.09
    )
    registered2 = register(settings, trained, better, snap)
    decisions2 = promote(settings, registered2, better, snap)
    assert decisions2["price"]["action"] == "promoted"
    assert decisions2["price"]["compared"]["champion_mae_pct"] == 6.0  # the baseline, same window
    assert reg.champion("price").version == registered2["price"]["version"]
    assert decisions2["pattern"]["action"] == "kept_challenger"
    assert decisions2["pattern"]["fallback_champion"] is None  # the baseline keeps serving
    assert reg.champion("pattern").tags["model_name"] == "majority"


def test_a_copied_data_dir_writes_and_reads_its_own_artifacts(built, tmp_path, monkeypatch):
    """MLflow records absolute artifact URIs; a copied data dir must not use the original's."""
    src, info = built
    before = sorted(p for p in (src / "mlartifacts").rglob("*") if p.is_file())
    dst = tmp_path / "copy"
    info = copy_home(src, dst, info)
    settings = use_home(dst, monkeypatch)
    reg = ModelRegistry(settings)
    experiment = reg.client.get_experiment_by_name("stockvision")
    assert experiment.artifact_location == (dst / "mlartifacts").resolve().as_uri()
    registered, _ = _register_and_promote(
        settings, info, price_mae=5.1, rw_mae=6.0, acc=0.45, ece=0.03, ll=1.0, base_ll=1.09
    )
    model_dir = reg.download("price", registered["price"]["version"])
    assert (model_dir / "model.json").is_file()
    mv = reg.client.get_model_version("price_target_model", registered["price"]["version"])
    model_id = mv.model_id or str(mv.source).removeprefix("models:/")
    location = reg.client.get_logged_model(model_id).artifact_location
    assert location.startswith((dst / "mlartifacts").resolve().as_uri()), location
    loaded, _ = reg.load("price", "1")  # an old version, read from the copy's own folder
    assert loaded is not None
    after = sorted(p for p in (src / "mlartifacts").rglob("*") if p.is_file())
    assert after == before  # the original data dir was not touched


def test_challengers_for_shadow_scoring_pair_with_the_champion_of_the_other_kind(home):
    """``load_challengers`` (the stream's shadow scoring): None without a challenger; a kept
    challenger answers with its own version, the kind without one with the champion's model."""
    from stockvision.registry.champions import load_challengers, load_champions
    from stockvision.registry.model_registry import CHALLENGER, registered_name

    settings, info = home
    reg = ModelRegistry(settings)
    champions = load_champions(reg)
    assert load_challengers(reg, champions) is None
    _register_and_promote(
        settings, info, price_mae=5.9, rw_mae=6.0, acc=0.43, ece=0.03, ll=1.0, base_ll=1.09
    )
    both = load_challengers(reg, champions)
    assert both.ready and (both.price_version, both.pattern_version) == ("2", "2")
    assert both.price is not champions.price
    assert load_challengers(reg, champions, previous=both).price is both.price  # not reloaded
    reg.client.delete_registered_model_alias(registered_name("pattern"), CHALLENGER)
    price_only = load_challengers(reg, champions, previous=both)
    assert (price_only.price_version, price_only.pattern_version) == ("2", "1")
    assert price_only.pattern is champions.pattern
