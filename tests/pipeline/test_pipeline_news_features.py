"""SV_NEWS_FEATURES wired through the pipeline: snapshot, training, evaluation inputs and serving.

A small generated market plus generated, scored news in the store. With the switch on, the snapshot
carries the news columns, the trained pattern model lists them among its features, and the serving
panel builds the same columns (a panel without them is refused with the missing names). With the
switch off (default) nothing about news appears anywhere.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from stockvision.config import Settings
from stockvision.data.sources import generate_market
from stockvision.data.store import Store
from stockvision.features import FEATURES
from stockvision.models.base import load_model
from stockvision.news.features import NEWS_FEATURES
from stockvision.news.items import make_item
from stockvision.news.repository import NewsRepository
from stockvision.pipeline import steps
from stockvision.predict import load_panel

FAST = {"pattern_model": "lgbm_clf", "price_model": "ridge", "eval_max_folds": 1}


def _scorer(titles: list[str]):
    probs = [[0.7, 0.2, 0.1] if "giảm" in t else [0.1, 0.2, 0.7] for t in titles]
    return ["negative" if p[0] > 0.5 else "positive" for p in probs], probs, "test-v1"


@pytest.fixture(scope="module")
def market_home(tmp_path_factory) -> str:
    """A data dir with 3 generated symbols (3 years), features, labels and scored news on 2 of them."""
    home = str(tmp_path_factory.mktemp("news_pipeline") / "svdata")
    settings = Settings(data_dir=home)
    store = Store.from_settings(settings)
    sim = generate_market(n_symbols=3, years=3, seed=5)
    store.upsert_daily(sim, source="synthetic", simulated=True)
    steps.adjust_store(settings, store)
    steps.build_features(settings, store=store)
    steps.build_labels(settings, store)
    symbols = sorted(sim["symbol"].unique())
    start = pd.Timestamp(sim["date"].min()).to_pydatetime()
    rng = np.random.default_rng(0)
    items = []
    for i in range(120):
        sym = symbols[i % 2]  # the third symbol never has news: 0 counts, neutral tone
        word = "giảm" if rng.random() < 0.5 else "tăng"
        item = make_item(
            title=f"{sym} {word} mạnh tin số {i}",
            link=f"https://example.test/{i}",
            published=start + timedelta(days=int(rng.integers(0, 3 * 365)), hours=3),
            source="gen",
        )
        item.symbols = [sym]
        items.append(item)
    NewsRepository(store).add(items, source="gen", tagger=lambda it: it.symbols, scorer=_scorer)
    return home


def _train(home: str, **over):
    settings = Settings(data_dir=home, **{**FAST, **over})
    snap = steps.snapshot(settings)
    trained = steps.train(settings, snap)
    return settings, snap, trained


def test_switch_on_trains_and_serves_with_news_columns(market_home: str) -> None:
    settings, snap, trained = _train(market_home, news_features=True)
    joined = pd.read_parquet(steps.resolve(settings, snap.path))
    assert set(NEWS_FEATURES) <= set(joined.columns)
    quiet = sorted(set(joined.index.get_level_values(0)))[2]
    assert (joined.loc[quiet, NEWS_FEATURES] == 0.0).all().all()  # no news: 0 counts, 0 tone
    assert joined["news_count_1w"].sum() > 0
    pattern = load_model(steps.resolve(settings, trained.models["lgbm_clf"].dir))
    price = load_model(steps.resolve(settings, trained.models["ridge"].dir))
    assert pattern.features_ == [*FEATURES, *NEWS_FEATURES]
    assert price.features_ == [*FEATURES, *NEWS_FEATURES]
    assert "news_features" in steps.training_config(settings)
    builder = steps._builder_from_snapshot(settings, snap)  # what evaluate walks forward on
    assert builder.feature_columns == [*FEATURES, *NEWS_FEATURES]
    # serving: the panel built with the switch carries the same columns, so the model predicts
    store = Store.from_settings(settings)
    panel = load_panel(store, settings.seq_len, settings.horizon_weeks, news=2.0)
    window = panel.window(panel.symbols)
    assert list(window.X.columns) == pattern.features_
    probs = pattern.predict_proba(window)
    assert probs.shape == (3, 3) and np.allclose(probs.sum(axis=1), 1.0)
    assert np.isfinite(price.predict(window)).all()
    # the MLflow pyfunc wrapper: its logged input example carries the news columns, and it predicts
    from stockvision.registry.pyfunc_model import StockVisionPyfunc

    example = steps._input_example(settings, snap)
    assert set(NEWS_FEATURES) <= set(example.columns)
    wrapper = StockVisionPyfunc()
    wrapper.model = pattern
    out = wrapper.predict(None, example)
    assert len(out) == 1 and np.isclose(out[["p_down", "p_sideways", "p_up"]].sum(axis=1), 1).all()
    # a panel without news is refused, naming what is missing (never silently different inputs)
    plain = load_panel(store, settings.seq_len, settings.horizon_weeks)
    with pytest.raises(ValueError, match="news_count_1w"):
        pattern.predict_proba(plain.window(plain.symbols))


def test_switch_off_has_no_news_columns(market_home: str) -> None:
    settings, snap, trained = _train(market_home)
    joined = pd.read_parquet(steps.resolve(settings, snap.path))
    assert not set(NEWS_FEATURES) & set(joined.columns)
    pattern = load_model(steps.resolve(settings, trained.models["lgbm_clf"].dir))
    assert pattern.features_ == list(FEATURES)
    assert "news_features" not in steps.training_config(settings)
    store = Store.from_settings(settings)
    panel = load_panel(store, settings.seq_len, settings.horizon_weeks)
    assert list(panel.window(panel.symbols).X.columns) == list(FEATURES)


def test_sequence_model_takes_the_news_columns_in_its_sequences(market_home: str) -> None:
    """The default pattern model (LSTM) reads the news columns as part of each week's inputs."""
    pytest.importorskip("torch")
    settings, _, trained = _train(market_home, news_features=True, pattern_model="lstm")
    model = load_model(steps.resolve(settings, trained.models["lstm"].dir))
    assert model.features_ == [*FEATURES, *NEWS_FEATURES]
    store = Store.from_settings(settings)
    panel = load_panel(store, settings.seq_len, settings.horizon_weeks, news=2.0)
    window = panel.window(panel.symbols)
    assert window.seq.shape[2] == len(FEATURES) + len(NEWS_FEATURES)
    assert np.allclose(model.predict_proba(window).sum(axis=1), 1.0)
