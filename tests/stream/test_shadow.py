"""Challenger shadow scoring (A/B): the challenger answers every live forecast in the background,
the pair is logged with both versions, the served answers stay what they were, and the running
comparison scores both on realised outcomes (CRPS, log loss)."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pandas as pd
import pytest
from brokers import run
from scipy import integrate, stats
from stream_support import build_system

from stockvision.data.store import Store
from stockvision.data.store.shadow import ShadowStore
from stockvision.features.dataset import DatasetBuilder
from stockvision.models.baselines import MajorityClassModel, RandomWalkModel
from stockvision.models.distribution import crps_student_t
from stockvision.monitoring.shadow import compare_shadow, score_shadow
from stockvision.predict import ModelSet
from stockvision.stream.bus.memory import MemoryBus
from stockvision.stream.predictions import LivePredictor
from stockvision.stream.shadow import ShadowScorer
from stockvision.stream.sources import ReplaySource
from stockvision.stream.worker import StreamWorker, publish_source


def _row(symbol, week, made_min, close, champ_loc, chall_loc, scale=0.05, df=None, chall_df=5.0):
    arm = lambda name, loc, d, pv: {  # noqa: E731
        f"{name}_price_version": pv, f"{name}_pattern_version": "1", f"{name}_loc": loc,
        f"{name}_scale": scale, f"{name}_df": d, f"{name}_target": close * math.exp(loc),
        f"{name}_p_down": 0.2, f"{name}_p_sideways": 0.3, f"{name}_p_up": 0.5,
    }  # fmt: skip
    return {
        "key": f"live:{symbol}:{made_min}", "source": "live", "symbol": symbol,
        "prediction_date": pd.Timestamp(week), "made_at": pd.Timestamp(week) + pd.Timedelta(minutes=made_min),
        "last_close": close, **arm("champion", champ_loc, df, "3"), **arm("challenger", chall_loc, chall_df, "4"),
    }  # fmt: skip


def test_both_arms_are_scored_on_the_same_realised_outcome_and_pending_ones_wait():
    weeks = ["2024-01-05", "2024-01-12", "2024-01-19"]
    truth = {("AAA", w): 100 * math.exp(0.02 * (i + 1)) for i, w in enumerate(weeks)}
    truth[("BBB", weeks[0])] = 50 * math.exp(-0.03)
    rows = [_row("AAA", w, 10, 100.0, 0.02 * (i + 1), 0.02 * (i + 1) + 0.06)
            for i, w in enumerate(weeks)]  # fmt: skip
    rows += [
        _row("BBB", weeks[0], 20, 50.0, -0.03, -0.01),
        _row("BBB", "2024-01-26", 5, 50.0, 0, 0),
    ]
    labels = pd.DataFrame(
        [{"symbol": s, "week_end": pd.Timestamp(w), "price_target_true": v,
          "pattern": "UP" if v > 60 else "DOWN"} for (s, w), v in truth.items()]
    ).set_index(["symbol", "week_end"])  # fmt: skip
    scored = score_shadow(pd.DataFrame(rows), labels)
    assert scored["resolved"].tolist() == [True, True, True, True, False]  # 01-26: no outcome yet
    # the champion's normal CRPS against an independent numerical integral of (F - 1{x >= y})^2
    y, loc = float(scored.loc[3, "y"]), -0.03
    assert y == pytest.approx(math.log(truth[("BBB", weeks[0])] / 50.0))
    F = stats.norm(loc, 0.05).cdf
    expected = integrate.quad(lambda x: F(x) ** 2, -2, y)[0] + integrate.quad(
        lambda x: (1 - F(x)) ** 2, y, 2)[0]  # fmt: skip
    assert scored.loc[3, "champion_crps"] == pytest.approx(expected, rel=1e-6)
    assert scored.loc[3, "challenger_crps"] == pytest.approx(
        crps_student_t(np.array([y]), np.array([-0.01]), np.array([0.05]), 5.0)[0])  # fmt: skip
    assert scored.loc[0, "champion_log_loss"] == pytest.approx(-math.log(0.5))  # realised UP
    assert scored.loc[3, "challenger_log_loss"] == pytest.approx(-math.log(0.2))  # realised DOWN

    (pair,) = compare_shadow(pd.DataFrame(rows), labels)
    assert pair["champion"] == {"price": "3", "pattern": "1"}
    assert pair["challenger"] == {"price": "4", "pattern": "1"}
    assert (pair["answers"], pair["resolved"], pair["symbols"], pair["weeks"]) == (5, 4, 2, 3)
    done = scored[scored["resolved"]]
    assert pair["champion_crps"] == pytest.approx(done["champion_crps"].mean())
    assert pair["crps_change_pct"] > 0  # the challenger, off by 6 points, is worse
    weekly = (
        (done["challenger_crps"] - done["champion_crps"]).groupby(done["prediction_date"]).mean()
    )
    assert pair["crps_weekly_t"] == pytest.approx(
        weekly.mean() / (weekly.std(ddof=1) / math.sqrt(3)))  # fmt: skip
    assert compare_shadow(pd.DataFrame(rows[-1:]), labels)[0]["resolved"] == 0


@pytest.fixture(scope="module")
def past_system():
    """Replayed days 30 trading days before the end: their outcomes are in the labels."""
    return build_system(n_symbols=6, replay_days=2, days_before_end=30, seed=5)


def _challengers(system):
    builder = DatasetBuilder(system.features, system.labels, seq_len=4, horizon=4)
    train = builder.window(end=system.days[0] - pd.Timedelta(days=60))
    return ModelSet(price=RandomWalkModel().fit(train), pattern=MajorityClassModel().fit(train),
                    price_version="2", pattern_version="2")  # fmt: skip


def _replay(system, shadow):
    bus = MemoryBus()

    async def go():
        src = ReplaySource(system.raw, days=system.days, speed=0, ticks_per_day=16, seed=2)
        await publish_source(bus, src)
        worker = StreamWorker(bus, system.engine_for, system.predictor_for, batch_size=37,
                              shadow=shadow)  # fmt: skip
        await worker.run(asyncio.Event(), idle_exit_s=0.3)
        return [m.data for m in await bus.read("predictions", 1, limit=100_000)]

    return run(go())


def test_live_forecasts_are_shadow_scored_without_changing_what_is_served(past_system, tmp_path):
    system = past_system
    store = Store(f"sqlite:///{tmp_path / 'sv.db'}")
    shadow_store = ShadowStore(store)
    challengers = _challengers(system)
    predictor = LivePredictor(lambda: challengers, system.features, system.labels, seq_len=4,
                              horizon=4)  # fmt: skip
    scorer = ShadowScorer(predictor, shadow_store)
    served_alone = _replay(system, None)
    served_with_shadow = _replay(system, scorer)
    drop = ("generated_at",)
    assert [{k: v for k, v in p.items() if k not in drop} for p in served_with_shadow] == [
        {k: v for k, v in p.items() if k not in drop} for p in served_alone
    ]  # the served answers are the same with or without the challenger
    assert all(p["model_versions"] == {"price": "1", "pattern": "1"} for p in served_with_shadow)
    rows = shadow_store.read()
    assert scorer.stats.errors == 0 and scorer.stats.skipped_batches == 0
    assert len(rows) == len(served_with_shadow) > 0  # one pair per served forecast
    assert set(rows["champion_price_version"]) == {"1"}
    assert set(rows["challenger_price_version"]) == {"2"}
    served = {(p["symbol"], p["time"]): p for p in served_with_shadow}
    for r in rows.itertuples():
        p = served[(r.symbol, int(pd.Timestamp(r.made_at).value))]
        assert r.champion_loc == pytest.approx(p["distribution"]["loc"])
        assert r.champion_target == pytest.approx(p["price_target"])
        assert r.challenger_loc == 0.0  # the random walk's median log return
        assert r.last_close == pytest.approx(p["last_close"])
    # replaying the same ticks again (a restarted worker) logs no pair twice
    _replay(system, ShadowScorer(predictor, shadow_store))
    assert shadow_store.count() == len(rows)
    # the outcomes of these past days are known: both arms are scored on them
    (pair,) = compare_shadow(rows, system.labels)
    assert pair["resolved"] == len(rows) and pair["weeks"] >= 1
    scored = score_shadow(rows, system.labels)
    assert pair["champion_crps"] == pytest.approx(scored["champion_crps"].mean())
    assert pair["challenger_crps"] == pytest.approx(scored["challenger_crps"].mean())
    assert pair["champion_crps"] != pair["challenger_crps"]


def test_no_challenger_means_no_shadow_rows(past_system, tmp_path):
    store = ShadowStore(Store(f"sqlite:///{tmp_path / 'sv.db'}"))
    predictor = LivePredictor(lambda: None, past_system.features, past_system.labels, seq_len=4,
                              horizon=4)  # fmt: skip
    scorer = ShadowScorer(predictor, store)
    assert _replay(past_system, scorer)  # forecasts are served as usual
    assert store.count() == 0 and scorer.stats.errors == 0


def test_the_comparison_is_served_by_the_api_and_the_cli(past_system, tmp_path, monkeypatch):
    """``GET /models/shadow`` and ``stockvision stream shadow --json`` on a store holding shadow
    rows and the labels of their weeks give the same comparison as ``compare_shadow``."""
    import json

    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from stockvision.cli.main import app as cli
    from stockvision.config import Settings, get_settings
    from stockvision.serving.app import create_app

    monkeypatch.setenv("SV_DATA_DIR", str(tmp_path / "home"))
    get_settings.cache_clear()
    settings = Settings()
    store = Store.from_settings(settings)
    system = past_system
    store.upsert_labels(system.labels)
    challengers = _challengers(system)
    predictor = LivePredictor(lambda: challengers, system.features, system.labels, seq_len=4,
                              horizon=4)  # fmt: skip
    _replay(system, ShadowScorer(predictor, ShadowStore(store)))
    expected = compare_shadow(ShadowStore(store).read(), system.labels)
    assert expected and expected[0]["resolved"] > 0

    app = create_app(settings, start_background=False, mount_chat_ui=False)
    with TestClient(app) as client:
        r = client.get("/api/v1/models/shadow")
    assert r.status_code == 200, r.text
    (pair,) = r.json()["pairs"]
    assert pair["challenger"] == {"price": "2", "pattern": "2"}
    assert pair["resolved"] == expected[0]["resolved"]
    assert pair["challenger_crps"] == pytest.approx(expected[0]["challenger_crps"])

    result = CliRunner().invoke(cli, ["stream", "shadow", "--json"])
    assert result.exit_code == 0, result.output
    (cli_pair,) = json.loads(result.output)["pairs"]
    assert cli_pair["champion_crps"] == pytest.approx(expected[0]["champion_crps"])
    table = CliRunner().invoke(cli, ["stream", "shadow"], env={"COLUMNS": "220"})
    assert table.exit_code == 0 and "v2/v2" in table.output
    get_settings.cache_clear()
