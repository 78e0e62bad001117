"""stockvision.engine: outcomes in item order whatever the completion order, errors carried as
data, settings select the engine, an unreachable scheduler is a clear error."""

from __future__ import annotations

import time

import pytest

from stockvision.config import Settings
from stockvision.engine import DaskEngine, SerialEngine, engine_from_settings
from stockvision.errors import ConfigError, EngineUnavailableError


def _slow_square(shared, item):
    if item == 3:
        raise ValueError("three is not welcome")
    time.sleep(0.05 * (5 - item))  # early items finish last
    return shared["offset"] + item * item


def _check(outcomes):
    assert [o.ok for o in outcomes] == [True, True, True, False, True]
    assert [o.value for o in outcomes if o.ok] == [100, 101, 104, 116]
    with pytest.raises(ValueError, match="three"):
        outcomes[3].get()


def test_serial_engine_runs_in_order_and_keeps_errors():
    seen, started = [], []
    outcomes = SerialEngine().map(
        _slow_square, range(5), shared={"offset": 100},
        on_result=lambda i, o: seen.append(i), on_start=started.append,
    )  # fmt: skip
    _check(outcomes)
    assert seen == started == [0, 1, 2, 3, 4]


def test_dask_engine_returns_outcomes_in_item_order():
    pytest.importorskip("distributed")
    seen = []
    with DaskEngine(n_workers=2) as engine:
        outcomes = engine.map(
            _slow_square, list(range(5)), shared={"offset": 100},
            on_result=lambda i, o: seen.append(i),
        )  # fmt: skip
        assert engine.map(_slow_square, [], shared={"offset": 0}) == []
    _check(outcomes)
    assert sorted(seen) == [0, 1, 2, 3, 4]


def test_settings_choose_the_engine(tmp_path):
    assert isinstance(engine_from_settings(Settings(data_dir=tmp_path)), SerialEngine)
    engine = engine_from_settings(
        Settings(data_dir=tmp_path, engine="dask", dask_address="tcp://10.0.0.1:8786")
    )
    assert isinstance(engine, DaskEngine) and engine.address == "tcp://10.0.0.1:8786"
    assert engine._client is None  # nothing is contacted before the first map
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, engine="spark")
    with pytest.raises(ConfigError):
        DaskEngine(n_workers=0)


def test_an_unreachable_scheduler_says_which_setting_to_fix():
    pytest.importorskip("distributed")
    engine = DaskEngine("tcp://127.0.0.1:9", timeout=2)
    with pytest.raises(EngineUnavailableError) as err:
        engine.map(_slow_square, [1], shared={"offset": 0})
    assert "SV_DASK_ADDRESS" in str(err.value) and err.value.code == "engine_unavailable"
