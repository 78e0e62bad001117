"""Walk-forward ablation: do news features improve the proper score of the return forecast?

Two otherwise identical models are refitted at every fold (expanding window, an embargo of
``horizon`` weeks so that no training label overlaps the test weeks): ridge regression on the
base features, and on base + news features. Each gives a Gaussian predictive distribution (mean
from the ridge, spread from its training residuals), scored by CRPS on the test weeks, a proper
score. Scalers are fitted on each training window only.

News features are adopted only when the mean CRPS improves AND the improvement is clear: the
t-statistic of the per-week mean CRPS differences exceeds ``t_threshold`` (weeks, not rows, are
the independent units: rows of one week share the market's move).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from stockvision.news.features import NEWS_FEATURES


def gaussian_crps(mu: np.ndarray, sigma: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CRPS of N(mu, sigma^2) at y (closed form, Gneiting & Raftery 2007)."""
    z = (y - mu) / sigma
    return sigma * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / np.sqrt(np.pi))


@dataclass
class AblationResult:
    """Per-fold and overall CRPS with and without news features, and the decision."""

    folds: int
    test_weeks: int
    crps_base: float
    crps_news: float
    improvement_pct: float
    t_stat: float
    adopt: bool
    reason: str
    per_fold: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fit_predict(X_tr, y_tr, X_te, alpha):
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(X_tr)
    model = Ridge(alpha=alpha).fit(scaler.transform(X_tr), y_tr)
    resid = y_tr - model.predict(scaler.transform(X_tr))
    sigma = max(float(np.std(resid, ddof=1)), 1e-6)
    return model.predict(scaler.transform(X_te)), sigma


def news_ablation(
    frame: pd.DataFrame,
    base_features: list[str],
    target: str = "future_log_return",
    *,
    news_features: list[str] | None = None,
    horizon: int = 4,
    min_train_weeks: int = 52,
    test_weeks: int = 13,
    alpha: float = 10.0,
    t_threshold: float = 2.0,
) -> AblationResult:
    """Ablation on ``frame`` indexed by (symbol, week_end) holding features, news and target."""
    news_features = news_features or NEWS_FEATURES
    data = frame.dropna(subset=[*base_features, *news_features, target])
    weeks = np.sort(data.index.get_level_values("week_end").unique())
    week_of = data.index.get_level_values("week_end")
    losses_base: list[np.ndarray] = []
    losses_news: list[np.ndarray] = []
    test_week_ids: list[np.ndarray] = []
    per_fold = []
    start = min_train_weeks + horizon
    while start < len(weeks):
        test = weeks[start : start + test_weeks]
        train_end = weeks[start - horizon]  # embargo: train labels end before the test starts
        tr = week_of < train_end
        te = week_of.isin(test)
        y_tr = data.loc[tr, target].to_numpy()
        y_te = data.loc[te, target].to_numpy()
        scores = {}
        for name, cols in (("base", base_features), ("news", [*base_features, *news_features])):
            mu, sigma = _fit_predict(
                data.loc[tr, cols].to_numpy(), y_tr, data.loc[te, cols].to_numpy(), alpha
            )
            scores[name] = gaussian_crps(mu, np.full_like(mu, sigma), y_te)
        losses_base.append(scores["base"])
        losses_news.append(scores["news"])
        test_week_ids.append(np.asarray(week_of[te]))
        per_fold.append(
            {
                "test_start": str(pd.Timestamp(test[0]).date()),
                "crps_base": float(scores["base"].mean()),
                "crps_news": float(scores["news"].mean()),
            }
        )
        start += test_weeks
    if not per_fold:
        return AblationResult(0, 0, np.nan, np.nan, 0.0, 0.0, False,
                              f"too little history: need more than {min_train_weeks + horizon} weeks")  # fmt: skip
    base = np.concatenate(losses_base)
    news = np.concatenate(losses_news)
    wk = np.concatenate(test_week_ids)
    diff = pd.Series(base - news).groupby(wk).mean()  # > 0: news better, per week
    t = float(diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff)))) if len(diff) > 1 else 0.0
    improvement = float((base.mean() - news.mean()) / base.mean() * 100)
    adopt = bool(improvement > 0 and t > t_threshold)
    reason = (
        f"news features lower CRPS by {improvement:.2f}% (t = {t:.2f} over {len(diff)} weeks)"
        if adopt
        else f"no clear gain: CRPS change {improvement:+.2f}% (t = {t:.2f}, need > {t_threshold})"
    )
    return AblationResult(
        folds=len(per_fold), test_weeks=len(diff), crps_base=float(base.mean()),
        crps_news=float(news.mean()), improvement_pct=improvement, t_stat=t, adopt=adopt,
        reason=reason, per_fold=per_fold,
    )  # fmt: skip


def overlap_weeks(labels: pd.DataFrame, news: pd.DataFrame) -> dict[str, Any]:
    """Where store prices (labels) and news overlap: the precondition of a real-data ablation."""
    if len(labels) == 0 or len(news) == 0:
        return {"overlap_weeks": 0, "reason": "no labels or no news in the store"}
    weeks = labels.index.get_level_values("week_end")
    first, last = news["published_at"].min(), news["published_at"].max()
    inside = weeks[(weeks >= first.normalize()) & (weeks <= last.normalize())].unique()
    return {
        "prices": f"{weeks.min().date()} .. {weeks.max().date()}",
        "news": f"{first.date()} .. {last.date()}",
        "overlap_weeks": len(inside),
        "reason": "" if len(inside) else "prices and news do not overlap in time",
    }


#: Base features of the store-level ablation: a few of the weekly set (a small ridge per fold).
STORE_BASE_FEATURES = ["ret_1w", "ret_4w", "ret_12w", "vol_4w", "rsi_14w", "turnover_w"]


def ablation_on_store(
    store: Any,
    *,
    half_life_weeks: float = 2.0,
    horizon: int = 4,
    min_overlap_weeks: int = 60,
    base_features: list[str] | None = None,
) -> dict[str, Any]:
    """The ablation on a store's own features, labels and news, where they overlap in time.

    Returns the overlap report, and the ablation result when at least ``min_overlap_weeks`` weeks
    have both prices and news (otherwise ``result`` is None and ``reason`` says why).
    """
    from stockvision.news.features import add_news_features
    from stockvision.news.repository import NewsRepository

    labels = store.read_labels()
    news = NewsRepository(store).symbol_frame()
    info = overlap_weeks(labels, news)
    info["result"] = None
    if info["overlap_weeks"] < min_overlap_weeks:
        info["reason"] = info["reason"] or (
            f"only {info['overlap_weeks']} weeks have both prices and news; the ablation needs "
            f"{min_overlap_weeks}"
        )
        return info
    first = news["published_at"].min().normalize()
    features = store.read_features(start=first)
    base = base_features or STORE_BASE_FEATURES
    frame = add_news_features(features[base], news, enabled=True, half_life_weeks=half_life_weeks)
    frame = frame.join(labels[["future_log_return"]], how="inner")
    result = news_ablation(frame, base, "future_log_return", horizon=horizon)
    info["result"] = result.to_dict()
    info["reason"] = result.reason
    return info
