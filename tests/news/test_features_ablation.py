"""Point-in-time news features, and the ablation machinery on generated data with and without a
planted news effect (the shared news, 2025-26, has no prices beside it: prices end 2019)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stockvision.evaluation.news_ablation import gaussian_crps, news_ablation, overlap_weeks
from stockvision.news.features import NEWS_FEATURES, add_news_features, weekly_news_features


def _index(symbols: list[str], weeks: pd.DatetimeIndex) -> pd.MultiIndex:
    return pd.MultiIndex.from_product([symbols, weeks], names=["symbol", "week_end"])


def test_only_news_before_the_weeks_close_counts() -> None:
    weeks = pd.DatetimeIndex(["2025-10-03", "2025-10-10", "2025-10-17"])  # Fridays
    news = pd.DataFrame(
        {
            "symbol": ["HPG", "HPG", "HPG", "VNM"],
            # 07:59 UTC Friday: before the 15:00 ICT close; 08:01 UTC: after it -> next week
            "published_at": pd.to_datetime(
                ["2025-10-03 07:59", "2025-10-03 08:01", "2025-10-16 12:00", "2025-10-09 00:00"]
            ),
            "p_positive": [0.9, 0.1, np.nan, 0.5],
            "p_negative": [0.05, 0.8, np.nan, 0.1],
        }
    )
    out = weekly_news_features(news, _index(["HPG", "VNM"], weeks), half_life_weeks=1.0)
    hpg = out.loc["HPG"]
    assert hpg["news_count_1w"].tolist() == [1.0, 1.0, 1.0]
    assert hpg["news_tone_1w"].round(2).tolist() == [0.85, -0.7, 0.0]  # unscored item: no tone
    assert hpg["news_count_4w"].tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(hpg["news_tone_decay"], [0.85, 0.425 - 0.7, (0.425 - 0.7) / 2])
    assert out.loc["VNM", "news_count_1w"].tolist() == [0.0, 1.0, 0.0]


def test_features_do_not_change_when_later_news_arrives() -> None:
    weeks = pd.bdate_range("2025-09-05", periods=10, freq="W-FRI")
    rng = np.random.default_rng(0)
    times = pd.Timestamp("2025-09-01") + pd.to_timedelta(rng.uniform(0, 70, 200), unit="D")
    news = pd.DataFrame({"symbol": "HPG", "published_at": times,
                         "p_positive": rng.uniform(0, 1, 200), "p_negative": rng.uniform(0, 1, 200)})  # fmt: skip
    idx = _index(["HPG"], weeks)
    full = weekly_news_features(news, idx)
    cut = weeks[5] + pd.Timedelta(hours=8)
    past = weekly_news_features(news[news["published_at"] < cut], idx)
    pd.testing.assert_frame_equal(full.iloc[:6], past.iloc[:6])


def test_switch_adds_columns_only_when_enabled() -> None:
    idx = _index(["HPG"], pd.DatetimeIndex(["2025-10-03"]))
    base = pd.DataFrame({"ret_1w": [0.01]}, index=idx)
    empty = pd.DataFrame(columns=["symbol", "published_at", "p_positive", "p_negative"])
    assert add_news_features(base, empty, enabled=False) is base
    assert list(add_news_features(base, empty, enabled=True).columns) == ["ret_1w", *NEWS_FEATURES]


def test_gaussian_crps_matches_numeric_integral() -> None:
    xs = np.linspace(-10, 10, 200_001)
    from scipy.stats import norm

    numeric = np.trapezoid((norm.cdf(xs, 0.3, 1.5) - (xs >= 1.0)) ** 2, xs)
    assert gaussian_crps(np.array([0.3]), np.array([1.5]), np.array([1.0]))[0] == pytest.approx(
        numeric, rel=1e-4
    )


def _panel(effect: float, seed: int) -> pd.DataFrame:
    """Generated market: 20 symbols x 160 weeks; returns follow momentum, plus ``effect`` x tone."""
    rng = np.random.default_rng(seed)
    weeks = pd.bdate_range("2020-01-03", periods=160, freq="W-FRI")
    idx = _index([f"S{i:02d}" for i in range(20)], weeks)
    n = len(idx)
    frame = pd.DataFrame(index=idx)
    frame["ret_4w"] = rng.normal(0, 0.05, n)
    frame["vol_4w"] = rng.uniform(0.01, 0.05, n)
    counts = rng.poisson(1.5, n).astype(float)
    tone = np.where(counts > 0, rng.uniform(-1, 1, n), 0.0)
    frame["news_count_1w"] = counts
    frame["news_count_4w"] = counts + rng.poisson(4.5, n)
    frame["news_tone_1w"] = tone
    frame["news_tone_decay"] = tone + rng.normal(0, 0.3, n)
    market = np.repeat(rng.normal(0, 0.02, len(weeks))[None, :], 20, axis=0).ravel()
    frame["future_log_return"] = (
        0.1 * frame["ret_4w"] + effect * tone + market + rng.normal(0, 0.05, n)
    )
    return frame


def test_ablation_finds_a_planted_news_effect() -> None:
    result = news_ablation(_panel(effect=0.03, seed=1), ["ret_4w", "vol_4w"])
    assert result.adopt, result.reason
    assert result.crps_news < result.crps_base and result.folds >= 5


def test_ablation_adopts_nothing_without_an_effect() -> None:
    for seed in (2, 3, 4):
        result = news_ablation(_panel(effect=0.0, seed=seed), ["ret_4w", "vol_4w"])
        assert not result.adopt, result.reason


def test_overlap_reports_disjoint_periods() -> None:
    labels = pd.DataFrame(index=_index(["HPG"], pd.DatetimeIndex(["2019-12-27"])))
    news = pd.DataFrame({"published_at": pd.to_datetime(["2025-09-01", "2026-01-20"])})
    info = overlap_weeks(labels, news)
    assert info["overlap_weeks"] == 0 and "do not overlap" in info["reason"]


def test_ablation_on_a_store_with_news_and_prices(tmp_path) -> None:
    """End to end on a store: generated features/labels and news whose tone moves the returns."""
    from stockvision.data.store import Store
    from stockvision.data.store.tables import FEATURE_COLUMNS, LABEL_FLOAT_COLUMNS
    from stockvision.evaluation.news_ablation import ablation_on_store
    from stockvision.news.items import make_item
    from stockvision.news.repository import NewsRepository

    rng = np.random.default_rng(5)
    symbols = [f"S{i:02d}" for i in range(12)]
    weeks = pd.bdate_range("2024-01-05", periods=120, freq="W-FRI")
    idx = _index(symbols, weeks)
    feats = pd.DataFrame(rng.normal(0, 0.05, (len(idx), len(FEATURE_COLUMNS))), index=idx,
                         columns=FEATURE_COLUMNS)  # fmt: skip
    tone = rng.choice([-0.8, 0.0, 0.8], len(idx))
    items, tones = [], {}
    for (sym, week), t in zip(idx, tone, strict=True):
        if t == 0.0:
            continue
        item = make_item(title=f"{sym} tin {week.date()}", link=f"https://n.vn/{sym}/{week.date()}",
                         published=week - pd.Timedelta(days=2), source="gen")  # fmt: skip
        item.symbols = [sym]
        items.append(item)
        tones[item.title] = t
    labels = pd.DataFrame(index=idx, columns=LABEL_FLOAT_COLUMNS, dtype=float)
    labels[:] = 1.0
    labels["future_log_return"] = 0.04 * tone + rng.normal(0, 0.04, len(idx))
    labels["pattern"] = "SIDEWAYS"
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.upsert_features(feats)
    store.upsert_labels(labels)

    def scorer(titles):
        probs = [[max(0, -tones[t]), 1 - abs(tones[t]), max(0, tones[t])] for t in titles]
        return ["neutral"] * len(titles), probs, "gen"

    NewsRepository(store).add(items, source="gen", scorer=scorer)
    info = ablation_on_store(store)
    assert info["overlap_weeks"] >= 100
    assert info["result"]["adopt"], info["reason"]
    assert ablation_on_store(store, min_overlap_weeks=1000)["result"] is None
