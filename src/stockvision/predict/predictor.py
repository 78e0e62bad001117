"""The pure predictor: models + a feature window -> predictions, with the features that drove them.

API, batch step, chat, CLI, CSV upload and the stream workers all come here, so a number means the same
thing wherever it is shown. Nothing in it knows about HTTP, threads, caches or MLflow: it gets the
models (a :class:`~stockvision.predict.model_set.ModelSet`), the window and a way to describe a symbol.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from stockvision.data.directory import SymbolDescription
from stockvision.evaluation.scale_coverage import ScaleBin, ScaleCoverage
from stockvision.evaluation.splits import ShortHistory
from stockvision.features import FEATURES
from stockvision.features.feature_docs import FEATURE_DOCS
from stockvision.features.labels import PATTERN_CLASSES
from stockvision.features.weekly import LONGEST_WEEKLY_LOOKBACK
from stockvision.models.distribution import ReturnDistribution, scale_for_coverage
from stockvision.models.registry_names import BASELINES, PLAIN_NAMES
from stockvision.predict.model_set import ModelSet
from stockvision.predict.types import (
    DISCLAIMER_EN,
    DISCLAIMER_VI,
    Caveat,
    Driver,
    ModelVersions,
    PatternProbabilities,
    Prediction,
    PriceInterval,
    ReturnDistributionInfo,
    ServingModel,
)

log = logging.getLogger(__name__)

Describe = Callable[[str], SymbolDescription]
#: Weeks of data the champion's features read in full (ret_52w needs the bar 52 weeks back); a
#: symbol with fewer (a new listing) is forecast by the baseline, which reads the last 8 weeks.
FULL_HISTORY_WEEKS = LONGEST_WEEKLY_LOOKBACK + 1


def _anonymous(symbol: str) -> SymbolDescription:
    return SymbolDescription(symbol, "HOSE", symbol)


class Predictor:
    """Turns model outputs for a window into :class:`Prediction` objects.

    ``horizon_weeks`` dates the target; ``interval_coverage`` is the nominal coverage reported when
    a model does not carry its own; ``describe`` names the symbol (exchange, company); ``bands``
    are the pattern label thresholds (up, down) of the simple return.

    Everything shown is read off ONE predictive distribution of the price model
    (:meth:`~stockvision.models.base.PriceModel.predict_distribution`): the target is its median,
    the 50/80/95 % ranges its quantiles, P(UP/SIDEWAYS/DOWN) its masses over the label bands. So an
    "up" arrow can never sit next to a falling target. The arrow itself is only set
    (``direction_supported``) when the served model's measured rank IC interval lies above 0 and
    the row's UP/DOWN edge over the base rate exceeds the measured calibration noise.
    """

    def __init__(
        self,
        horizon_weeks: int = 4,
        interval_coverage: float = 0.8,
        describe: Describe | None = None,
        top_drivers: int = 3,
        bands: tuple[float, float] = (0.01, -0.01),
    ) -> None:
        self.horizon_weeks = horizon_weeks
        self.interval_coverage = interval_coverage
        self.describe = describe or _anonymous
        self.top_drivers = top_drivers
        self.bands = bands

    def predict(
        self,
        window: Any,
        models: ModelSet,
        simulated: set[str] | bool = False,
        now: datetime | None = None,
        history_weeks: Mapping[str, int] | None = None,
        live_by_width: Mapping[tuple[float, float], ScaleBin] | None = None,
    ) -> list[Prediction]:
        """One prediction per row of ``window`` (vectorised model calls, then one object per row).

        ``live_by_width``: the champion's width bins (``(q_low, q_high)`` of its walk-forward
        ``coverage_80_by_scale``) whose LIVE coverage left the walk-forward figure, with the live
        figures (monitoring's ``live.coverage_by_width``); an answer in such a bin says so
        (:func:`live_caveat`). Only the champion's own rows use it, never a stand-in baseline.

        ``history_weeks`` (weeks of data per symbol): a symbol with fewer weeks than the
        champion's features read (``FULL_HISTORY_WEEKS``, e.g. a new listing) is forecast by the
        served price baseline instead, with the reason in its ``serving_model`` (never dropped,
        never given a model whose inputs it lacks).
        """
        now = now or datetime.now(UTC)
        short = self._short_rows(window, models, history_weeks)
        if not short.any():
            return self._predict_rows(
                window,
                models.price,
                models.price_metrics,
                models,
                simulated,
                now,
                live=live_by_width,
            )
        assert history_weeks is not None
        if getattr(models.price, "name", None) in BASELINES:
            # the champion is a baseline (reads the last weeks only): it serves them, with the note
            stand_in = (models.price, models.price_metrics, models.price_version)
        else:
            stand_in = (models.baseline, models.baseline_metrics, models.baseline_version)
        out: list[Prediction | None] = [None] * len(window)
        parts = [
            (~short, (models.price, models.price_metrics, None), None, live_by_width),
            (short, stand_in, history_weeks, None),
        ]
        for mask, (price, metrics, version), weeks, live in parts:
            rows = np.flatnonzero(mask)
            if not len(rows):
                continue
            preds = self._predict_rows(
                _subset(window, rows), price, metrics, models, simulated, now, weeks, version, live
            )
            for i, pred in zip(rows, preds, strict=True):
                out[i] = pred
        return [p for p in out if p is not None]

    def _short_rows(
        self, window: Any, models: ModelSet, history_weeks: Mapping[str, int] | None
    ) -> np.ndarray:
        """Rows whose symbol has less history than the champion's features read (a new listing in
        a market whose champion was validated walk-forward). In a store whose history is short
        everywhere the champion is the baseline and its answers already say why: no row here."""
        n = len(window)
        if not history_weeks or n == 0 or not baseline_can_serve(models):
            return np.zeros(n, dtype=bool)
        if ShortHistory.from_metrics(dict(models.price_metrics)) is not None:
            return np.zeros(n, dtype=bool)
        syms = window.X.index.get_level_values(0)
        return np.array(
            [history_weeks.get(str(s), FULL_HISTORY_WEEKS) < FULL_HISTORY_WEEKS for s in syms]
        )

    def _predict_rows(
        self,
        window: Any,
        price: Any,
        metrics: dict,
        models: ModelSet,
        simulated: set[str] | bool,
        now: datetime,
        short_weeks: Mapping[str, int] | None = None,
        version: str | None = None,
        live: Mapping[tuple[float, float], ScaleBin] | None = None,
    ) -> list[Prediction]:
        """Predictions of ``window``'s rows by ``price`` (``short_weeks``: the baseline standing in
        for symbols with a short history, whose weeks the answer quotes; ``live``: see
        :meth:`predict`)."""
        coverage = float(getattr(price, "coverage", self.interval_coverage))
        dist = distribution_of(price, window, coverage)
        log_ret = dist.median()
        low, high = dist.interval(coverage)
        low50, high50 = dist.interval(0.5)
        low95, high95 = dist.interval(0.95)
        probs = dist.pattern_probabilities(*self.bands)
        prior = getattr(price, "class_prior_", None)
        base = (
            PatternProbabilities(down=_prob(prior[0]), sideways=_prob(prior[1]), up=_prob(prior[2]))
            if prior is not None
            else None
        )
        supported = direction_supported(probs, prior, metrics)
        speaker = serving_model(price, metrics)
        contrib = contributions(price, window)
        raw_close = window.labels["raw_close"].to_numpy(dtype=float)
        x_values = window.X[FEATURES].to_numpy(dtype=float)
        measured, measured_on = measured_coverage(metrics)
        # the coverage measured on forecasts of a similar predicted scale (80 % ranges only)
        by_scale = ScaleCoverage.from_metrics(metrics) if abs(coverage - 0.8) < 1e-9 else None
        scale_bin = by_scale.bin_of(dist.scale) if by_scale is not None else None
        versions = ModelVersions(
            price=version or models.price_version, pattern=models.pattern_version
        )
        horizon = timedelta(weeks=self.horizon_weeks)
        out = []
        for i, (sym, week_end) in enumerate(window.X.index):
            row_speaker = speaker
            if short_weeks is not None:
                row_speaker = _short_symbol_speaker(speaker, str(sym), short_weeks.get(str(sym)))
            day = pd.Timestamp(week_end).date()
            info = self.describe(sym)
            # an index is shown in points; prices in thousand VND like Vietnamese boards
            unit = getattr(info, "unit", "VND")
            scale = 1.0 if unit == "points" else 1000.0
            p = probs[i]
            k = int(np.argmax(p))
            close = float(raw_close[i])
            target = close * float(np.exp(log_ret[i]))
            lo, hi = close * float(np.exp(low[i])), close * float(np.exp(high[i]))
            is_sim = simulated if isinstance(simulated, bool) else sym in simulated
            similar: dict[str, Any] = {}
            caveats: list[Caveat] = []
            if by_scale is not None and scale_bin is not None:
                b = by_scale.bins[int(scale_bin[i])]
                similar = {
                    "measured_coverage_similar": b.coverage_80 if b.rows else None,
                    "similar_scale_quantiles": (b.q_low, b.q_high),
                    "similar_rows": b.rows,
                }
                if by_scale.quotable(int(scale_bin[i])):
                    caveats.append(scale_caveat(b))
                live_bin = (live or {}).get((b.q_low, b.q_high))
                if live_bin is not None:
                    caveats.append(live_caveat(b, live_bin))

            def band(lo_r: float, hi_r: float, cov: float, close: float = close) -> PriceInterval:
                return PriceInterval(
                    low=round(close * float(np.exp(lo_r)), 2),
                    high=round(close * float(np.exp(hi_r)), 2),
                    coverage=cov,
                )

            out.append(
                Prediction(
                    symbol=sym,
                    exchange=info.exchange,
                    company_name=info.name,
                    prediction_date=day,
                    target_date=day + horizon,
                    data_as_of=day,
                    last_close=round(close, 2),
                    last_close_k=round(close / scale, 2),
                    price_target=round(target, 2),
                    price_target_k=round(target / scale, 2),
                    unit=unit,
                    interval=PriceInterval(
                        low=round(min(lo, hi), 2),
                        high=round(max(lo, hi), 2),
                        coverage=coverage,
                        measured_coverage=measured,
                        measured_on=measured_on,
                        **similar,
                    ),
                    interval_50=band(low50[i], high50[i], 0.5),
                    interval_95=band(low95[i], high95[i], 0.95),
                    expected_return=float(np.expm1(log_ret[i])),
                    pattern=PATTERN_CLASSES[k],
                    probabilities=PatternProbabilities(
                        down=_prob(p[0]), sideways=_prob(p[1]), up=_prob(p[2])
                    ),
                    confidence=_prob(p[k]),
                    base_rates=base,
                    direction_supported=bool(supported[i]),
                    distribution=ReturnDistributionInfo(
                        loc=float(dist.loc[i]),
                        scale=float(dist.scale[i]),
                        df=float(dist.df) if np.isfinite(dist.df) else None,
                    ),
                    serving_model=row_speaker,
                    drivers=drivers(
                        x_values[i], contrib[i] if contrib is not None else None, self.top_drivers
                    ),
                    caveats=caveats,
                    model_versions=versions,
                    simulated=bool(is_sim),
                    disclaimer=DISCLAIMER_EN,
                    disclaimer_vi=DISCLAIMER_VI,
                    generated_at=now,
                )
            )
        return out


def distribution_of(price: Any, window: Any, coverage: float) -> ReturnDistribution:
    """The price model's predictive distribution (a model without one: normal tails fitted to
    its interval)."""
    if hasattr(price, "predict_distribution"):
        return price.predict_distribution(window)
    pred = np.asarray(price.predict(window), dtype=float)
    low, high = (np.asarray(a, dtype=float) for a in price.predict_interval(window))
    half = np.maximum((high - low) / 2.0, 1e-6)
    return ReturnDistribution(pred, scale_for_coverage(half, coverage, np.inf))


#: smallest probability edge over the base rate that may carry an arrow, whatever the metrics say
MIN_EDGE = 0.05


def direction_supported(probs: np.ndarray, prior: Any, metrics: dict) -> np.ndarray:
    """Per row: may an UP/DOWN arrow be shown? Only if the model ranks stocks measurably (the
    lower end of its rank IC 95 % interval above 0) and the row's UP or DOWN probability beats
    the base rate by more than the measured calibration error of those probabilities."""
    n = len(probs)
    ci_low = metrics.get("ranking_rank_ic_ci95_low")
    if prior is None or ci_low is None or not np.isfinite(ci_low) or ci_low <= 0:
        return np.zeros(n, dtype=bool)
    noise = max(MIN_EDGE, float(metrics.get("distribution_pattern_ece", 0.0) or 0.0))
    prior = np.asarray(prior, dtype=float)
    edge = np.maximum(probs[:, 2] - prior[2], probs[:, 0] - prior[0])
    return (edge > noise) & (probs.argmax(axis=1) != 1)


def baseline_can_serve(models: ModelSet) -> bool:
    """Whether a symbol with a short history can be forecast: the price baseline is loaded, or
    the champion is a baseline itself (a short-history store)."""
    return models.baseline is not None or getattr(models.price, "name", None) in BASELINES


def min_weeks(settings: Any, models: ModelSet) -> int:
    """Weeks of data a symbol needs to be forecast with ``models``: ``min_baseline_weeks`` when
    the baseline can stand in for a short history, else ``min_predict_weeks``."""
    if baseline_can_serve(models):
        return int(settings.min_baseline_weeks)
    return int(settings.min_predict_weeks)


def _subset(window: Any, rows: np.ndarray) -> Any:
    return dataclasses.replace(
        window, X=window.X.iloc[rows], labels=window.labels.iloc[rows], seq=window.seq[rows]
    )


def measured_coverage(metrics: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """(coverage of the 80 % range measured out of sample, where): walk-forward, else the holdout
    of a short history, else (None, None): not measured, and no answer may claim it was."""
    for key, where in (
        ("distribution_coverage_80", "walk_forward"),
        ("interval_coverage", "walk_forward"),
        ("holdout_coverage_80", "holdout"),
    ):
        value = metrics.get(key)
        if value is not None and np.isfinite(value):
            return float(value), where
    return None, None


def _scale_position(q_low: float, q_high: float) -> tuple[str, str, bool]:
    """(vi, en, narrow side?) naming a predicted-scale bin in words: "the narrowest 1-5%"."""

    def span(a: float, b: float) -> str:
        return f"{b * 100:.0f}%" if a <= 0.0 else f"{a * 100:.0f}-{b * 100:.0f}%"

    if q_high <= 0.5:
        return f"{span(q_low, q_high)} hẹp nhất", f"the narrowest {span(q_low, q_high)}", True
    return (
        f"{span(1 - q_high, 1 - q_low)} rộng nhất",
        f"the widest {span(1 - q_high, 1 - q_low)}",
        False,
    )


def _count(n: int) -> tuple[str, str]:
    """``n`` with thousands separators as English (1,234) and Vietnamese (1.234) readers write it."""
    en = f"{n:,}"
    return en, en.replace(",", ".")


def scale_caveat(b: ScaleBin) -> Caveat:
    """The sentence quoting the coverage measured on forecasts of this one's width (a quotable bin
    of :class:`~stockvision.evaluation.scale_coverage.ScaleCoverage`).

    It says only what is measured or true by construction: the scale is small (large) because the
    price moved less (more) than usual lately. Why is not claimed: on the whole market 58 % of the
    narrowest 1 % had an exact-zero 4-week return (frozen prices), on VN30 they are liquid large
    caps in a calm month.
    """
    pos_vi, pos_en, narrow = _scale_position(b.q_low, b.q_high)
    pct = f"{b.coverage_80 * 100:.0f}"
    rows_en, rows_vi = _count(b.rows)
    if narrow:
        vi = f"Khoảng 80% này thuộc nhóm {pos_vi} trong mọi dự báo: gần đây giá biến động ít hơn thường lệ."
        en = f"This 80% range is among {pos_en} of all forecasts: the price has moved less than usual lately."
    else:
        vi = f"Khoảng 80% này thuộc nhóm {pos_vi} trong mọi dự báo: gần đây giá biến động mạnh hơn thường lệ."
        en = f"This 80% range is among {pos_en} of all forecasts: the price has moved more than usual lately."
    if b.coverage_80 < 0.8:
        vi += (
            f" Khi kiểm định walk-forward, các khoảng cỡ này chỉ chứa giá thực tế {pct}% số lần "
            f"({rows_vi} dự báo), không phải 80%: rủi ro thực có thể lớn hơn khoảng này."
        )
        en += (
            f" In the walk-forward test, ranges this size held the outcome only {pct}% of the time "
            f"({rows_en} forecasts), not 80%: the real risk may be wider than this range."
        )
        code = "narrow_range_undercovers" if narrow else "range_undercovers"
    else:
        vi += (
            f" Khi kiểm định walk-forward, các khoảng cỡ này chứa giá thực tế {pct}% số lần "
            f"({rows_vi} dự báo), nhiều hơn 80%: khoảng này thận trọng, có thể rộng hơn cần thiết."
        )
        en += (
            f" In the walk-forward test, ranges this size held the outcome {pct}% of the time "
            f"({rows_en} forecasts), more than 80%: a cautious range, possibly wider than needed."
        )
        code = "wide_range_overcovers" if not narrow else "range_overcovers"
    return Caveat(code=code, message_vi=vi, message_en=en, measured=float(b.coverage_80))


def live_caveat(walk_forward: ScaleBin, live: ScaleBin) -> Caveat:
    """The sentence for an answer whose width bin's LIVE coverage left the walk-forward figure
    (monitoring flagged it: ``evaluation.scale_coverage.departs_from_measured``): both figures,
    with their counts, and which way the risk lies."""
    wf, lv = f"{walk_forward.coverage_80 * 100:.0f}", f"{live.coverage_80 * 100:.0f}"
    n_en, n_vi = _count(live.rows)
    vi = (
        f"Từ khi mô hình này được đưa vào sử dụng, các khoảng 80% cỡ này chứa giá thực tế {lv}% "
        f"số lần ({n_vi} dự báo đã có kết quả), so với {wf}% khi kiểm định walk-forward"
    )
    en = (
        f"Since this model went live, 80% ranges this size held the outcome {lv}% of the time "
        f"({n_en} resolved forecasts), against {wf}% in the walk-forward test"
    )
    if live.coverage_80 < walk_forward.coverage_80:
        vi += ": rủi ro thực gần đây lớn hơn mức đã đo."
        en += ": lately the real risk has been larger than measured."
    else:
        vi += ": gần đây khoảng này thận trọng hơn mức đã đo."
        en += ": lately this range has been more cautious than measured."
    return Caveat(
        code="live_coverage_departed", message_vi=vi, message_en=en, measured=live.coverage_80
    )


def _short_symbol_speaker(speaker: ServingModel, symbol: str, weeks: int | None) -> ServingModel:
    """The baseline's label for one symbol whose history is shorter than the champion needs."""
    have = weeks if weeks is not None else 0
    vi = (
        f"{symbol} mới có {have} tuần dữ liệu, ít hơn {FULL_HISTORY_WEEKS} tuần mà đặc trưng của "
        "mô hình chính cần, nên dự báo này dùng mốc cơ sở"
    )
    en = (
        f"{symbol} has only {have} weeks of data, fewer than the {FULL_HISTORY_WEEKS} the main "
        "model's features need, so this forecast comes from the baseline"
    )
    if speaker.walk_forward:
        vi += " (kết quả kiểm định của mốc cơ sở đo trên các mã có lịch sử dài hơn)."
        en += " (the baseline's test results were measured on stocks with longer histories)."
    else:
        vi, en = vi + ".", en + "."
    return speaker.model_copy(
        update={
            "limits_vi": " ".join(x for x in (vi, speaker.limits_vi) if x),
            "limits_en": " ".join(x for x in (en, speaker.limits_en) if x),
        }
    )


def short_history_limits(metrics: Mapping[str, Any]) -> tuple[str, str] | None:
    """(vi, en) sentences on a model that was not validated walk-forward: why, and what the
    holdout measured (or that nothing could be measured). None when walk-forward ran."""
    short = ShortHistory.from_metrics(dict(metrics))
    if short is None:
        return None
    vi = short.reason_vi[0].upper() + short.reason_vi[1:] + "."
    en = short.reason_en[0].upper() + short.reason_en[1:] + "."
    cov = metrics.get("holdout_coverage_80")
    if cov is None or not np.isfinite(cov):
        vi += (
            " Độ phủ của khoảng dự báo chưa đo được ngoài mẫu (không đủ tuần để giữ lại kiểm tra)."
        )
        en += " The coverage of its range could not be measured out of sample (too few weeks to hold out)."
        return vi, en
    weeks = short.holdout_weeks
    pct = f"{cov * 100:.0f}"
    vi += (
        f" Trên {weeks} tuần cuối giữ lại để kiểm tra, khoảng 80% chứa giá thực tế {pct}% số lần "
        "(chỉ một giai đoạn, con số này còn nhiều sai số)."
    )
    en += (
        f" On the last {weeks} weeks held out, its 80% range held the outcome {pct}% of the time "
        "(one period only, so this figure is rough)."
    )
    return vi, en


def serving_model(price: Any, metrics: dict) -> ServingModel:
    """Plain-words name of the served price model with its one-line measured skill, or, when it
    was not validated walk-forward (a short history), why not and what was measured instead."""
    name = str(getattr(price, "name", type(price).__name__))
    vi, en = PLAIN_NAMES.get(name, (name, name))
    limits = short_history_limits(metrics)
    if limits is not None:
        return ServingModel(
            name=name,
            label_vi=vi,
            label_en=en,
            baseline=name in BASELINES,
            walk_forward=False,
            limits_vi=limits[0],
            limits_en=limits[1],
        )
    skill = metrics.get("distribution_crps_skill")
    dm = metrics.get("distribution_dm_pvalue")
    cov = metrics.get("distribution_coverage_80")
    skill_vi = skill_en = None
    if skill is not None:
        sig = dm is not None and dm < 0.01
        pct = f"{abs(skill) * 100:.1f}"
        word_en = "better" if skill > 0 else "worse"
        skill_en = (
            f"Walk-forward test: CRPS {pct}% {word_en} than the constant-width random walk "
            f"({'' if sig else 'not '}statistically significant)"
            + (f"; its 80% range held the outcome {cov * 100:.0f}% of the time." if cov else ".")
        )
        skill_vi = (
            f"Kiểm định walk-forward: điểm CRPS {'tốt' if skill > 0 else 'kém'} hơn bước ngẫu "
            f"nhiên biên độ cố định {pct.replace('.', ',')}% ({'có' if sig else 'chưa có'} ý nghĩa "
            "thống kê)"
            + (f"; khoảng 80% chứa giá thực tế {cov * 100:.0f}% số lần." if cov else ".")
        )
    return ServingModel(
        name=name,
        label_vi=vi,
        label_en=en,
        baseline=name in BASELINES,
        walk_forward=True if skill is not None else None,
        crps_skill=None if skill is None else float(skill),
        crps_dm_pvalue=None if dm is None else float(dm),
        skill_vi=skill_vi,
        skill_en=skill_en,
    )


def contributions(price: Any, window: Any) -> np.ndarray | None:
    """Per-feature contributions in ``FEATURES`` order (None when the model has none)."""
    if not hasattr(price, "contributions"):
        return None
    try:
        frame = price.contributions(window)
    except Exception as exc:  # explanations are optional, the prediction is not
        log.warning("contributions failed: %s", exc)
        return None
    if isinstance(frame, pd.DataFrame):
        return frame.reindex(columns=FEATURES).to_numpy(dtype=float)
    arr = np.asarray(frame, dtype=float)
    return arr if arr.ndim == 2 and arr.shape[1] == len(FEATURES) else None


def drivers(x: np.ndarray, contrib: np.ndarray | None, top: int = 3) -> list[Driver]:
    """The ``top`` features with the largest absolute contribution, described in vi and en."""
    if contrib is None:
        return []
    order = np.argsort(-np.abs(np.nan_to_num(contrib)))[:top]
    out = []
    for j in order:
        if not np.isfinite(contrib[j]) or contrib[j] == 0:
            continue
        name = FEATURES[j]
        doc = FEATURE_DOCS.get(name, {})
        value = x[j]
        out.append(
            Driver(
                feature=name,
                value=None if not np.isfinite(value) else float(value),
                contribution=float(contrib[j]),
                description_vi=str(doc.get("description_vi", doc.get("vi", name))),
                description_en=str(doc.get("description_en", doc.get("en", name))),
            )
        )
    return out


def _prob(value: float) -> float:
    return float(min(1.0, max(0.0, value)))
