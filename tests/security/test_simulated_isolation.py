"""Simulated prices never enter a store that holds real ones, whoever asks (CLI, pipeline, a request)."""

from __future__ import annotations

import pytest

from stockvision.data.sources import generate_market
from stockvision.data.store import Store
from stockvision.errors import SimulatedDataError, SourceUnavailableError


@pytest.fixture()
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'sv.db'}")
    yield s
    s.dispose()


def _real(symbols=("VNM",)):
    sim = generate_market(n_symbols=1, years=1, seed=5)
    first = sim["symbol"].iloc[0]
    import pandas as pd

    return pd.concat([sim[sim["symbol"] == first].assign(symbol=s) for s in symbols])


def test_simulated_prices_are_refused_next_to_real_ones(store):
    store.upsert_daily(_real(), source="csv")
    before = store.read_daily()
    with pytest.raises(SimulatedDataError, match="real prices of 1 symbols") as info:
        store.upsert_daily(generate_market(n_symbols=3, years=1, seed=2), source="synthetic")
    assert "SV_DATA_DIR" in info.value.hint and info.value.message_vi
    assert store.read_daily().equals(before)  # nothing written
    assert store.composition() == {"real": 1, "simulated": 0}


def test_real_prices_replace_the_demo_market_only_when_asked(store):
    store.upsert_daily(generate_market(n_symbols=3, years=1, seed=2), source="synthetic")
    with pytest.raises(SimulatedDataError, match="--replace-simulated"):
        store.upsert_daily(_real(), source="csv")
    assert store.composition() == {"real": 0, "simulated": 3}
    result = store.upsert_daily(_real(("VNM", "FPT")), source="csv", replace_simulated=True)
    assert result.replaced_simulated == 3
    assert store.composition() == {"real": 2, "simulated": 0}
    assert sorted(store.read_daily()["symbol"].unique()) == ["FPT", "VNM"]
    assert not store.read_symbols()["simulated"].any()


def test_on_demand_fetches_use_real_sources_only(tmp_path):
    from stockvision.config import Settings
    from stockvision.data.sources import VnstockSource, real_source

    with pytest.raises(SourceUnavailableError, match="simulated demo market"):
        real_source(Settings(data_dir=tmp_path, source="synthetic"))
    # auto means vnstock here: never the store-or-synthetic fallback chain
    assert isinstance(real_source(Settings(data_dir=tmp_path, source="auto")), VnstockSource)


@pytest.mark.integration
def test_an_anonymous_request_cannot_pollute_the_real_store(trained_settings):
    """The attack of the issue: the default auto source, no network, a listed symbol the store lacks."""
    from fastapi.testclient import TestClient

    from stockvision.serving.app import create_app

    settings = trained_settings.model_copy(update={"source": "auto"})
    app = create_app(settings, start_background=False, mount_chat_ui=False)
    with TestClient(app) as c:
        service = app.state.service
        before = service.store.composition()
        assert before["simulated"] == 0 and before["real"] > 0
        first = c.post("/api/v1/predict/HSG")
        assert first.status_code == 202
        job = service.healer.wait("HSG", timeout=60)
        assert job.state == "failed" and job.error_code == "source_unavailable"
        again = c.post("/api/v1/predict/HSG")
        assert again.status_code == 503 and "vnstock" in again.json()["message"]
        assert service.store.composition() == before  # not one simulated symbol came in
        chat = c.post("/api/v1/chat", json={"message": "Dự đoán giá HSG tháng sau?"})
        assert chat.status_code == 200 and "DataUnavailable" not in chat.json()["answer"]
        assert service.store.composition() == before
