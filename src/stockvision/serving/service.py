"""The one prediction service used by the API, the batch step, the chat and the CLI.

It keeps the champion models and an in-memory *inference panel* (the last weeks of features for every symbol
in the store) so a prediction is a cache lookup or one small vectorised model call. Models are swapped
atomically: a request takes a reference to the current ``LoadedModels`` and finishes with it, so a hot swap
never fails a request. If the registry is unreachable the last loaded models keep serving.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from stockvision.config import Settings, get_settings
from stockvision.features import FEATURES
from stockvision.features.feature_docs import FEATURE_DOCS
from stockvision.features.labels import PATTERN_CLASSES
from stockvision.serving import metrics as m
from stockvision.serving.api_schemas import (
    Bar,
    HealthResponse,
    HistoryResponse,
    ModelStatus,
    PastPrediction,
    PastPredictionsResponse,
    PredictionErrorItem,
    SymbolInfo,
)
from stockvision.serving.cache import cache_key, make_cache
from stockvision.serving.errors import (
    DataPendingError,
    DataUnavailableError,
    InsufficientHistoryError,
    NoModelError,
    ServiceError,
    UnknownSymbolError,
)
from stockvision.serving.healing import Healer
from stockvision.serving.schemas import (
    DISCLAIMER_EN,
    Driver,
    ModelVersions,
    PatternProbabilities,
    Prediction,
    PriceInterval,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModels:
    """An immutable snapshot of the served models (swapped as a whole)."""

    price: Any = None
    pattern: Any = None
    price_version: str | None = None
    pattern_version: str | None = None
    price_class: str | None = None
    pattern_class: str | None = None
    price_metrics: dict = field(default_factory=dict)
    pattern_metrics: dict = field(default_factory=dict)
    loaded_at: datetime | None = None

    @property
    def ready(self) -> bool:
        return self.price is not None and self.pattern is not None


@dataclass(frozen=True)
class InferencePanel:
    """The tail of the feature matrix (enough weeks for sequences) plus display metadata per symbol."""

    features: pd.DataFrame
    labels: pd.DataFrame
    weeks: pd.Series  # weeks of history per symbol
    data_as_of: date | None
    simulated: set[str]
    token: str

    @property
    def symbols(self) -> list[str]:
        return sorted(self.weeks.index)


class PredictionService:
    """Predictions, rankings, history and health on top of the store and the registry."""

    def __init__(self, settings: Settings | None = None, store: Any = None, registry: Any = None) -> None:
        self.settings = settings or get_settings()
        if store is None:
            from stockvision.data.store import Store

            store = Store.from_settings(self.settings)
        self.store = store
        self._registry = registry
        self.models = LoadedModels()
        self.panel: InferencePanel | None = None
        self.cache = make_cache(self.settings.redis_url, self.settings.cache_ttl_seconds)
        self.registry_ok: bool | None = None
        self.registry_message: str | None = None
        self.last_inference_ms: float | None = None
        self.healer = Healer(self._heal_symbol, on_done=self._after_heal)
        self._reload_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._writes: queue.Queue = queue.Queue()
        self._retrain_lock = threading.Lock()
        self._retrain_state: dict[str, Any] = {"state": "idle"}
        self._meta: dict[str, dict[str, Any]] | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def registry(self):
        if self._registry is None:
            from stockvision.registry.model_registry import ModelRegistry

            self._registry = ModelRegistry(self.settings)
        return self._registry

    def start(self, background: bool = True) -> None:
        """Load models and data; optionally start the model watcher and the prediction writer."""
        self.refresh_panel()
        self.reload(force=True)
        if background:
            for target, name in ((self._watch, "sv-model-watcher"), (self._writer, "sv-pred-writer")):
                t = threading.Thread(target=target, name=name, daemon=True)
                t.start()
                self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        self.flush()

    def _watch(self) -> None:
        while not self._stop.wait(self.settings.reload_interval_seconds):
            try:
                self.reload()
                self.refresh_panel_if_changed()
            except Exception:  # the watcher must never die
                log.exception("model/data watcher iteration failed")

    def reload(self, force: bool = False) -> dict[str, Any]:
        """Load the current champions if they changed (or ``force``); keep serving on any failure."""
        with self._reload_lock:
            try:
                registry = self.registry
                price_rec = registry.champion("price")
                pattern_rec = registry.champion("pattern")
                self.registry_ok, self.registry_message = True, None
            except Exception as exc:
                self.registry_ok = False
                self.registry_message = f"registry unreachable, serving last loaded models: {exc}"
                log.warning(self.registry_message)
                return self._status("registry_unreachable")
            current = self.models
            new_price = price_rec.version if price_rec else None
            new_pattern = pattern_rec.version if pattern_rec else None
            if not force and (new_price, new_pattern) == (current.price_version, current.pattern_version):
                return self._status("unchanged")
            try:
                price = pattern = None
                if price_rec is not None:
                    price = (
                        current.price
                        if (not force and new_price == current.price_version)
                        else registry.load("price", price_rec.version)[0]
                    )
                if pattern_rec is not None:
                    pattern = (
                        current.pattern
                        if (not force and new_pattern == current.pattern_version)
                        else registry.load("pattern", pattern_rec.version)[0]
                    )
            except Exception as exc:  # a broken model file: keep the previous models
                self.registry_message = f"could not load the new champion, keeping the old one: {exc}"
                log.error(self.registry_message)
                return self._status("load_failed")
            self.models = LoadedModels(
                price=price,
                pattern=pattern,
                price_version=new_price,
                pattern_version=new_pattern,
                price_class=price_rec.model_class if price_rec else None,
                pattern_class=pattern_rec.model_class if pattern_rec else None,
                price_metrics=price_rec.metrics if price_rec else {},
                pattern_metrics=pattern_rec.metrics if pattern_rec else {},
                loaded_at=datetime.now(UTC),
            )
            m.MODEL_INFO.clear()
            for name, version in (("price_target_model", new_price), ("pattern_model", new_pattern)):
                if version:
                    m.MODEL_INFO.labels(name, version, "champion").set(1)
            return self._status("reloaded")

    def _status(self, outcome: str) -> dict[str, Any]:
        return {
            "outcome": outcome,
            "price_version": self.models.price_version,
            "pattern_version": self.models.pattern_version,
            "registry_ok": self.registry_ok,
            "message": self.registry_message,
        }

    # ------------------------------------------------------------------ data panel
    def refresh_panel(self) -> InferencePanel | None:
        """Reload the tail of features and labels from the store (called at start and on new data)."""
        weeks_needed = max(self.settings.seq_len, 8) + 2
        feats = self.store.read_features()
        labels = self.store.read_labels()
        if feats is None or len(feats) == 0:
            self.panel = None
            return None
        counts = feats.groupby(level=0).size()
        tail = feats.groupby(level=0, group_keys=False).tail(weeks_needed)
        lab = labels.reindex(tail.index) if labels is not None and len(labels) else None
        if lab is None:
            raise DataUnavailableError("*", "labels are missing: run 'stockvision features build'")
        last_week = tail.index.get_level_values(1).max()
        summary = self.store.symbols_summary()
        simulated = set(summary.loc[summary["simulated"], "symbol"]) if len(summary) else set()
        token = f"{pd.Timestamp(last_week).date()}:{len(feats)}"
        self._meta = None
        self.panel = InferencePanel(
            features=tail,
            labels=lab,
            weeks=counts,
            data_as_of=pd.Timestamp(last_week).date(),
            simulated=simulated,
            token=token,
        )
        try:
            m.DATA_LAST_DAY.set(pd.Timestamp(self.store.latest_trading_day()).timestamp())
        except Exception:
            pass
        return self.panel

    def refresh_panel_if_changed(self) -> None:
        latest = self.store.latest_trading_day()
        if self.panel is None or latest is None or pd.Timestamp(latest).date() != self.panel.data_as_of:
            self.refresh_panel()

    # ------------------------------------------------------------------ predictions
    def describe(self, symbol: str) -> dict[str, Any]:
        """Exchange, company name and group of a symbol: listings first, then the store's record."""
        from stockvision.market.listings import LISTINGS

        listing = LISTINGS.get(symbol)
        if listing is not None:
            return {"exchange": str(listing.exchange), "name": listing.name, "group": listing.group}
        meta = self._symbol_meta().get(symbol, {})
        simulated = bool(meta.get("simulated"))
        name = meta.get("name") or (f"Simulated company {symbol}" if simulated else symbol)
        return {"exchange": str(meta.get("exchange") or "HOSE"), "name": name, "group": None}

    def _symbol_meta(self) -> dict[str, dict[str, Any]]:
        if self._meta is None:
            try:
                table = self.store.read_symbols()
                self._meta = {r["symbol"]: r for r in table.to_dict("records")}
            except Exception:
                self._meta = {}
        return self._meta

    def _closest(self, symbol: str, n: int = 3) -> list[str]:
        import difflib

        from stockvision.market.listings import closest_symbols

        found = closest_symbols(symbol, n=n)
        pool = self.panel.symbols if self.panel is not None else []
        found += [s for s in difflib.get_close_matches(symbol, pool, n=n, cutoff=0.6) if s not in found]
        return found[:n]

    def _check_symbol(self, symbol: str) -> str:
        from stockvision.market.listings import is_known

        sym = symbol.strip().upper()
        panel = self.panel
        if panel is not None and sym in panel.weeks.index:
            need = self.settings.min_predict_weeks
            have = int(panel.weeks[sym])
            if have < need:
                raise InsufficientHistoryError(sym, have, need)
            return sym
        known = is_known(sym)
        if known:
            status = self.healer.request(sym)
            if status.state == "failed":
                raise DataUnavailableError(sym, status.message or "fetch failed")
            if status.state == "done":  # fetched, but the features gave nothing usable
                raise InsufficientHistoryError(sym, 0, self.settings.min_predict_weeks)
            raise DataPendingError(sym, f"/api/v1/jobs/{sym}", status.state)
        raise UnknownSymbolError(sym, self._closest(sym))

    def predict_one(self, symbol: str, source: str = "api") -> Prediction:
        sym = self._check_symbol(symbol)
        return self._predict_symbols([sym], source)[0]

    def predict_many(
        self, symbols: list[str] | None = None, source: str = "api"
    ) -> tuple[list[Prediction], list[PredictionErrorItem]]:
        """Predict many symbols in one vectorised call; per-symbol problems are returned, not raised."""
        wanted = symbols or self.settings.symbols()
        ok: list[str] = []
        errors: list[PredictionErrorItem] = []
        for s in dict.fromkeys(x.strip().upper() for x in wanted):
            try:
                ok.append(self._check_symbol(s))
            except ServiceError as exc:
                errors.append(
                    PredictionErrorItem(
                        symbol=s, status=exc.status, error=exc.code, message=exc.message, message_vi=exc.message_vi
                    )
                )
        preds = self._predict_symbols(ok, source) if ok else []
        return preds, errors

    def rankings(self, top: int = 10, direction: str = "up", group: str | None = None) -> list[Prediction]:
        panel = self.panel
        if panel is None:
            raise NoModelError("no features in the store yet")
        symbols = [s for s in panel.symbols if int(panel.weeks[s]) >= self.settings.min_predict_weeks]
        if group:
            from stockvision.market.listings import symbols_in_group

            members = set(symbols_in_group(group))
            symbols = [s for s in symbols if s in members]
        preds = self._predict_symbols(symbols, "ranking", store=False)
        preds.sort(key=lambda p: p.expected_return, reverse=(direction == "up"))
        return preds[:top]

    def _predict_symbols(self, symbols: list[str], source: str, store: bool = True) -> list[Prediction]:
        models = self.models
        panel = self.panel
        if not models.ready:
            raise NoModelError(self.registry_message or "no champion has been promoted yet")
        if panel is None:
            raise NoModelError("no features in the store yet")
        out: dict[str, Prediction] = {}
        missing: list[str] = []
        keys = {
            s: cache_key("pred", s, models.price_version, models.pattern_version, panel.token) for s in symbols
        }
        for s in symbols:
            raw = self.cache.get(keys[s])
            if raw is not None:
                m.CACHE_HITS.inc()
                out[s] = Prediction.model_validate_json(raw)
            else:
                m.CACHE_MISSES.inc()
                missing.append(s)
        if missing:
            for pred in self._infer(missing, models, panel):
                out[pred.symbol] = pred
                self.cache.set(keys[pred.symbol], pred.model_dump_json().encode())
        m.PREDICTIONS_SERVED.labels("model").inc(len(missing))
        m.PREDICTIONS_SERVED.labels("cache").inc(len(symbols) - len(missing))
        result = [out[s] for s in symbols]
        if store and result:
            self._writes.put((result, source))
            if not self._threads:  # no writer thread (CLI, tests): write now
                self.flush()
        return result

    def _infer(self, symbols: list[str], models: LoadedModels, panel: InferencePanel) -> list[Prediction]:
        from stockvision.features.dataset import DatasetBuilder

        t0 = time.perf_counter()
        rows = panel.features.loc[panel.features.index.get_level_values(0).isin(symbols)]
        builder = DatasetBuilder(rows, panel.labels.loc[rows.index], seq_len=self.settings.seq_len,
                                 horizon=self.settings.horizon_weeks)
        window = builder.latest(symbols)
        preds = self._predict_window(window, models, simulated=panel.simulated)
        elapsed = time.perf_counter() - t0
        m.INFERENCE_SECONDS.observe(elapsed)
        self.last_inference_ms = elapsed * 1000
        return preds

    def _predict_window(self, window: Any, models: LoadedModels, simulated: set[str] | bool) -> list[Prediction]:
        """Vectorised prediction for every row of an inference window (shared with CSV uploads)."""
        price, pattern = models.price, models.pattern
        log_ret = np.asarray(price.predict(window), dtype=float)
        low, high = (np.asarray(a, dtype=float) for a in price.predict_interval(window))
        probs = np.asarray(pattern.predict_proba(window), dtype=float)
        contrib = None
        if hasattr(price, "contributions"):
            try:
                contrib = np.asarray(price.contributions(window), dtype=float)
            except Exception:
                contrib = None
        raw_close = window.labels["raw_close"].to_numpy(dtype=float)
        idx = window.X.index
        coverage = float(getattr(price, "coverage", self.settings.interval_coverage))
        measured = models.price_metrics.get("interval_coverage")
        now = datetime.now(UTC)
        out = []
        for i, (sym, week_end) in enumerate(idx):
            week_end = pd.Timestamp(week_end)
            info = self.describe(sym)
            p = probs[i]
            k = int(np.argmax(p))
            target = raw_close[i] * np.exp(log_ret[i])
            drivers = self._drivers(window.X.iloc[i], contrib[i] if contrib is not None else None)
            is_sim = simulated if isinstance(simulated, bool) else sym in simulated
            out.append(
                Prediction(
                    symbol=sym,
                    exchange=info["exchange"],
                    company_name=info["name"],
                    prediction_date=week_end.date(),
                    target_date=(week_end + timedelta(weeks=self.settings.horizon_weeks)).date(),
                    data_as_of=week_end.date(),
                    last_close=round(float(raw_close[i]), 2),
                    last_close_k=round(float(raw_close[i]) / 1000, 2),
                    price_target=round(float(target), 2),
                    price_target_k=round(float(target) / 1000, 2),
                    interval=PriceInterval(
                        low=round(float(raw_close[i] * np.exp(low[i])), 2),
                        high=round(float(raw_close[i] * np.exp(high[i])), 2),
                        coverage=coverage,
                        measured_coverage=measured,
                    ),
                    expected_return=float(np.expm1(log_ret[i])),
                    pattern=PATTERN_CLASSES[k],
                    probabilities=PatternProbabilities(
                        down=float(p[0]), sideways=float(p[1]), up=float(p[2])
                    ),
                    confidence=float(p[k]),
                    drivers=drivers,
                    model_versions=ModelVersions(price=models.price_version, pattern=models.pattern_version),
                    simulated=bool(is_sim),
                    disclaimer=DISCLAIMER_EN,
                    generated_at=now,
                )
            )
        return out

    @staticmethod
    def _drivers(x: pd.Series, contrib: np.ndarray | None, top: int = 3) -> list[Driver]:
        if contrib is None:
            return []
        order = np.argsort(-np.abs(np.nan_to_num(contrib)))[:top]
        drivers = []
        for j in order:
            name = FEATURES[j]
            doc = FEATURE_DOCS.get(name, {})
            value = x.get(name)
            drivers.append(
                Driver(
                    feature=name,
                    value=None if value is None or pd.isna(value) else float(value),
                    contribution=float(contrib[j]),
                    description_vi=str(doc.get("description_vi", doc.get("vi", name))),
                    description_en=str(doc.get("description_en", doc.get("en", name))),
                )
            )
        return drivers

    # ------------------------------------------------------------------ storage of served predictions
    def _writer(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._writes.get(timeout=0.5)
            except queue.Empty:
                continue
            self._write([item])

    def flush(self) -> None:
        items = []
        while True:
            try:
                items.append(self._writes.get_nowait())
            except queue.Empty:
                break
        if items:
            self._write(items)

    def _write(self, items: list[tuple[list[Prediction], str]]) -> None:
        rows = []
        for preds, source in items:
            for p in preds:
                rows.append(
                    {
                        "symbol": p.symbol,
                        "prediction_date": p.prediction_date,
                        "target_date": p.target_date,
                        "created_at": datetime.now(UTC),
                        "last_close": p.last_close,
                        "price_target": p.price_target,
                        "interval_low": p.interval.low,
                        "interval_high": p.interval.high,
                        "expected_return": p.expected_return,
                        "pattern": p.pattern,
                        "p_up": p.probabilities.up,
                        "p_down": p.probabilities.down,
                        "p_sideways": p.probabilities.sideways,
                        "confidence": p.confidence,
                        "price_model_version": p.model_versions.price,
                        "pattern_model_version": p.model_versions.pattern,
                        "simulated": p.simulated,
                        "source": source,
                    }
                )
        try:
            self.store.save_predictions(rows)
        except Exception:
            log.exception("could not store %d served predictions", len(rows))

    # ------------------------------------------------------------------ data endpoints
    def symbols(self) -> list[SymbolInfo]:
        from stockvision.market.listings import LISTINGS

        summary = self.store.symbols_summary()
        by_symbol = {r["symbol"]: r for r in summary.to_dict("records")} if len(summary) else {}
        out = []
        for sym in sorted(set(LISTINGS) | set(by_symbol)):
            info = self.describe(sym)
            row = by_symbol.get(sym, {})
            out.append(
                SymbolInfo(
                    symbol=sym,
                    exchange=info["exchange"],
                    name=info["name"],
                    group=info.get("group"),
                    in_store=sym in by_symbol,
                    first_date=_as_date(row.get("first_date")),
                    last_date=_as_date(row.get("last_date")),
                    rows=int(row.get("rows", 0) or 0),
                )
            )
        return out

    def history(self, symbol: str, weeks: int = 52) -> HistoryResponse:
        from stockvision.market.calendar import to_weekly
        from stockvision.market.corporate_actions import adjust

        sym = symbol.strip().upper()
        key = f"sv:hist:{sym}:{weeks}:{self.panel.token if self.panel else '-'}"
        raw = self.cache.get(key)
        if raw is not None:
            return HistoryResponse.model_validate_json(raw)
        start = (pd.Timestamp.today() - pd.Timedelta(weeks=weeks + 60)).date()
        daily = self.store.read_daily(symbols=[sym])
        if daily is None or daily.empty:
            self._check_symbol(sym)  # raises the right 404/202
            raise DataUnavailableError(sym, "no prices in the store")
        del start
        adjusted = adjust(daily, events=self.store.read_corporate_actions(symbols=[sym]))
        bars = to_weekly(adjusted).tail(weeks).reset_index()
        resp = HistoryResponse(
            symbol=sym,
            weeks=len(bars),
            simulated=bool(self.panel and sym in self.panel.simulated),
            bars=[
                Bar(
                    week_end=pd.Timestamp(r["week_end"]).date(),
                    open=float(r["open"]),
                    high=float(r["high"]),
                    low=float(r["low"]),
                    close=float(r["close"]),
                    volume=float(r["volume"]),
                )
                for r in bars.to_dict("records")
            ],
        )
        self.cache.set(key, resp.model_dump_json().encode())
        return resp

    def past_predictions(self, symbol: str) -> PastPredictionsResponse:
        from stockvision.monitoring.outcomes import join_outcomes

        sym = symbol.strip().upper()
        preds = self.store.read_predictions(symbol=sym)
        if preds is None or preds.empty:
            if self.panel is None or sym not in self.panel.weeks.index:
                self._check_symbol(sym)
            return PastPredictionsResponse(symbol=sym, items=[])
        labels = self.store.read_labels(symbols=[sym])
        joined = join_outcomes(preds, labels).sort_values("prediction_date")
        joined = joined.drop_duplicates(
            ["prediction_date", "price_model_version", "pattern_model_version"], keep="last"
        )
        items = []
        for r in joined.to_dict("records"):
            resolved = bool(r["resolved"])
            items.append(
                PastPrediction(
                    prediction_date=pd.Timestamp(r["prediction_date"]).date(),
                    target_date=_as_date(r.get("target_date")),
                    last_close=float(r["last_close"]),
                    price_target=float(r["price_target"]),
                    interval_low=_f(r.get("interval_low")),
                    interval_high=_f(r.get("interval_high")),
                    pattern=str(r["pattern"]),
                    confidence=_f(r.get("confidence")),
                    price_model_version=_s(r.get("price_model_version")),
                    pattern_model_version=_s(r.get("pattern_model_version")),
                    resolved=resolved,
                    actual_price=_f(r.get("price_target_true")) if resolved else None,
                    actual_pattern=_s(r.get("actual_pattern")) if resolved else None,
                    abs_error_pct=_f(r.get("abs_error_pct")) if resolved else None,
                    in_interval=bool(r["in_interval"]) if resolved else None,
                )
            )
        return PastPredictionsResponse(symbol=sym, items=items)

    # ------------------------------------------------------------------ health and admin
    def health(self) -> HealthResponse:
        models = self.models
        deps: dict[str, str] = {}
        try:
            deps["database"] = "up" if self.store.healthcheck() else "down"
        except Exception:
            deps["database"] = "down"
        if self.settings.redis_url:
            deps["redis"] = "up" if self.cache.healthy() else "down"
        try:
            self.registry.champion("price")
            self.registry_ok = True
            deps["registry"] = "up"
        except Exception as exc:
            self.registry_ok = False
            self.registry_message = f"registry unreachable, serving last loaded models: {exc}"
            deps["registry"] = "down"
        data_as_of = None
        age = None
        try:
            latest = self.store.latest_trading_day()
            if latest is not None:
                data_as_of = pd.Timestamp(latest).date()
                age = (datetime.now(UTC).date() - data_as_of).days
        except Exception:
            pass
        stale = age is not None and age > self.settings.stale_after_days
        monitoring = self._monitoring_summary()
        status = "ok"
        if not models.ready or deps.get("database") == "down":
            status = "down" if not models.ready else "degraded"
        elif deps.get("registry") == "down" or deps.get("redis") == "down" or stale:
            status = "degraded"
        if monitoring and monitoring.get("degraded"):
            status = "degraded"
        return HealthResponse(
            status=status,
            models=[
                ModelStatus(
                    name="price_target_model",
                    version=models.price_version,
                    alias="champion",
                    model_class=models.price_class,
                    loaded_at=models.loaded_at,
                ),
                ModelStatus(
                    name="pattern_model",
                    version=models.pattern_version,
                    alias="champion",
                    model_class=models.pattern_class,
                    loaded_at=models.loaded_at,
                ),
            ],
            registry_reachable=bool(self.registry_ok),
            registry_message=self.registry_message,
            data_as_of=data_as_of,
            data_age_days=age,
            data_stale=stale,
            dependencies=deps,
            last_inference_ms=self.last_inference_ms,
            cache_backend=self.cache.backend,
            monitoring=monitoring,
        )

    def _monitoring_summary(self) -> dict | None:
        path = self.settings.subdir("monitoring") / "latest.json"
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        summary = data.get("summary", {})
        try:
            from stockvision.monitoring.report import export_gauges

            export_gauges(data)
        except Exception:
            pass
        return summary

    def start_retrain(self) -> dict[str, Any]:
        """Run the pipeline in a background thread (one at a time)."""
        if not self._retrain_lock.acquire(blocking=False):
            return {"status": "already_running", **self._retrain_state}

        def run() -> None:
            try:
                from stockvision.pipeline.flow import run_pipeline

                self._retrain_state = {"state": "running", "started_at": datetime.now(UTC).isoformat()}
                result = run_pipeline(self.settings)
                self._retrain_state = {"state": "done", "run": result.to_dict()}
                self.refresh_panel()
                self.reload()
            except Exception as exc:
                self._retrain_state = {"state": "failed", "error": str(exc)}
            finally:
                self._retrain_lock.release()

        threading.Thread(target=run, name="sv-retrain", daemon=True).start()
        return {"status": "started"}

    # ------------------------------------------------------------------ auto-healing
    def _heal_symbol(self, symbol: str) -> str:
        from stockvision.pipeline.flow import ingest_symbols

        summary = ingest_symbols(self.settings, [symbol], store=self.store)
        return f"fetched {summary.get('rows', 0)} rows from {summary.get('source')}"

    def _after_heal(self, symbol: str) -> None:
        self.refresh_panel()


def _as_date(value: Any) -> date | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError):
        return None


def _f(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(f) else f


def _s(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)
