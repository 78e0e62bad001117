"""The auto source reading back the store keeps the 'simulated' label of what is stored."""

from __future__ import annotations

import pytest

from stockvision.config import get_settings
from stockvision.data.ingest import read_store_labelled as _read_store_labelled
from stockvision.data.sources import generate_market
from stockvision.data.store import Store
from stockvision.errors import SimulatedDataError


def test_store_read_for_auto_source_is_labelled_simulated_only_when_all_of_it_is():
    store = Store.from_settings(get_settings())
    sim = generate_market(n_symbols=2, years=1, seed=3)
    store.upsert_daily(sim, source="synthetic", simulated=True)
    assert _read_store_labelled(store).attrs["simulated"] is True
    real = sim[sim["symbol"] == sim["symbol"].iloc[0]].assign(symbol="VNM")
    # a store never holds a mixture, so the label is all-or-nothing by construction
    with pytest.raises(SimulatedDataError):
        store.upsert_daily(real, source="csv", simulated=False)
    assert _read_store_labelled(store).attrs["simulated"] is True
    store.upsert_daily(real, source="csv", simulated=False, replace_simulated=True)
    labelled = _read_store_labelled(store)
    assert labelled.attrs["simulated"] is False
    assert set(labelled["symbol"]) == {"VNM"}
