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
    InvalidRequestError,
    NoModelError,
    NoSourceDataError,
    ServiceError,
    UnknownSymbolError,
)
from stockvision.serving.healing import Healer, PermanentFetchError
from stockvision.serving.schemas import (
    DISCLAIMER_EN,
    DISCLAIMER_VI,
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
    """The tail of the feature matrix (enough weeks for sequences) plus display metadata per symbol.

    ``builder`` is built once per panel, so a cache miss only slices rows and calls the models.
    """

    features: pd.DataFrame
    labels: pd.DataFrame
    weeks: pd.Series  # weeks of history per symbol
    last_week: pd.Series  # newest feature week per symbol
    data_as_of: date | None
    simulated: set[str]
    token: str
    builder: Any = None
    #: symbol -> (weeks of history, newest week) as plain Python values (the hot path's lookups)
    info: dict[str, tuple[int, date]] = field(default_factory=dict)

    @property
    def symbols(self) -> list[str]:
        return sorted(self.info)

    def stale(self, symbol: str, after_days: int) -> bool:
        """The symbol's newest week lags the market's newest week by more than ``after_days``."""
        item = self.info.get(symbol)
        if self.data_as_of is None or item is None:
            return False
        return (self.data_as_of - item[1]).days > after_days


class PredictionService:
    """Predictions, rankings, history and health on top of the store and the registry."""

    def __init__(
        self, settings: Settings | None = None, store: Any = None, registry: Any = None
    ) -> None:
        self.settings = settings or get_settings()
        if store is None:
            from stockvision.data.store import Store

            store = Store.from_settings(self.settings)
        self.store = store
        self._registry = registry
        self._owns_registry = registry is None
        self.models = LoadedModels()
        self.panel: InferencePanel | None = None
        self.cache = make_cache(self.settings.redis_url, self.settings.cache_ttl_seconds)
        self.registry_ok: bool | None = None
        self.registry_message: str | None = None
        self.registry_checked_at: datetime | None = None
        self.last_inference_ms: float | None = None
        self._stored: set[tuple] = set()  # served predictions already in the store
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
        """The model registry (built from settings on first use and after it was unreachable)."""
        if self._registry is None:
            from stockvision.registry.model_registry import ModelRegistry

            self._registry = ModelRegistry(self.settings)
        return self._registry

    def set_registry(self, registry: Any = None) -> None:
        """Use ``registry`` (None: rebuild one from ``self.settings`` on the next reload)."""
        self._registry = registry
        self._owns_registry = registry is None

    def start(self, background: bool = True) -> None:
        """Load models and data; optionally start the model watcher and the prediction writer.

        Never raises for a missing registry or an empty store: the service then answers 503 and
        ``/health`` says why, and the watcher keeps trying.
        """
        try:
            self.refresh_panel()
        except Exception as exc:
            log.error("could not load the inference panel from the store: %s", exc)
        self.reload(force=True)
        if background:
            for target, name in (
                (self._watch, "sv-model-watcher"),
                (self._writer, "sv-pred-writer"),
            ):
                t = threading.Thread(target=target, name=name, daemon=True)
                t.start()
                self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2.0)
        self._threads.clear()
        self.flush()

    def _watch(self) -> None:
        while not self._stop.wait(self.settings.reload_interval_seconds):
            try:
                self.reload()
                self.refresh_panel_if_changed()
            except Exception:  # the watcher must never die
                log.exception("model/data watcher iteration failed")

    def reload(self, force: bool = False) -> dict[str, Any]:
        """Load the current champions if they changed (or ``force``); keep serving on any failure.

        The new models are loaded next to the old ones and swapped in with one assignment, so requests in
        flight finish on the snapshot they started with and none fails during a swap.
        """
        with self._reload_lock:
            try:
                registry = self.registry
                _probe(registry)
                price_rec = registry.champion("price")
                pattern_rec = registry.champion("pattern")
            except Exception as exc:
                self._registry_down(exc)
                return self._status("registry_unreachable")
            self.registry_ok, self.registry_message = True, None
            self.registry_checked_at = datetime.now(UTC)
            current = self.models
            # A champion alias that disappears does not unload a serving model.
            new_price = price_rec.version if price_rec else current.price_version
            new_pattern = pattern_rec.version if pattern_rec else current.pattern_version
            if not force and (new_price, new_pattern) == (
                current.price_version,
                current.pattern_version,
            ):
                return self._status("unchanged")
            try:
                price, pattern = current.price, current.pattern
                if price_rec is not None and (force or new_price != current.price_version):
                    price = registry.load("price", price_rec.version)[0]
                if pattern_rec is not None and (force or new_pattern != current.pattern_version):
                    pattern = registry.load("pattern", pattern_rec.version)[0]
            except Exception as exc:  # a broken model file: keep the previous models
                self.registry_message = (
                    f"could not load the new champion, keeping the old one: {exc}"
                )
                log.error(self.registry_message)
                return self._status("load_failed")
            self.models = LoadedModels(
                price=price,
                pattern=pattern,
                price_version=new_price,
                pattern_version=new_pattern,
                price_class=price_rec.model_class if price_rec else current.price_class,
                pattern_class=pattern_rec.model_class if pattern_rec else current.pattern_class,
                price_metrics=price_rec.metrics if price_rec else current.price_metrics,
                pattern_metrics=pattern_rec.metrics if pattern_rec else current.pattern_metrics,
                loaded_at=datetime.now(UTC),
            )
            m.MODEL_INFO.clear()
            for name, version in (
                ("price_target_model", new_price),
                ("pattern_model", new_pattern),
            ):
                if version:
                    m.MODEL_INFO.labels(name, version, "champion").set(1)
            log.info("serving price v%s, pattern v%s", new_price, new_pattern)
            return self._status("reloaded")

    def _registry_down(self, exc: Exception) -> None:
        self.registry_ok = False
        self.registry_checked_at = datetime.now(UTC)
        self.registry_message = (
            f"registry unreachable, serving the last loaded models: {_one_line(exc)}"
        )
        log.warning(self.registry_message)
        if self._owns_registry:
            self._registry = None  # rebuilt (reconnected) on the next attempt

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
        from stockvision.features.dataset import DatasetBuilder

        weeks_needed = max(self.settings.seq_len, 8) + 2
        feats = self.store.read_features()
        if feats is None or len(feats) == 0:
            self.panel = None
            return None
        labels = self.store.read_labels()
        grouped = feats.groupby(level=0)
        counts = grouped.size()
        last_week = (
            pd.Series(feats.index.get_level_values(1), index=feats.index.get_level_values(0))
            .groupby(level=0)
            .max()
        )
        tail = grouped.tail(weeks_needed).sort_index()
        if labels is None or len(labels) == 0:
            raise DataUnavailableError("*", "labels are missing: run 'stockvision features build'")
        lab = labels.reindex(tail.index)
        newest = pd.Timestamp(last_week.max())
        summary = self.store.symbols_summary()
        simulated = set(summary.loc[summary["simulated"], "symbol"]) if len(summary) else set()
        token = f"{newest.date()}:{len(feats)}:{int(last_week.astype('int64').sum()) % 10**9}"
        builder = DatasetBuilder(
            tail, lab, seq_len=self.settings.seq_len, horizon=self.settings.horizon_weeks
        )
        self._meta = None
        self.panel = InferencePanel(
            features=tail,
            labels=lab,
            weeks=counts,
            last_week=last_week,
            data_as_of=newest.date(),
            simulated=simulated,
            token=token,
            builder=builder,
            info={
                str(sym): (int(counts[sym]), pd.Timestamp(week).date())
                for sym, week in last_week.items()
            },
        )
        try:
            latest = self.store.latest_trading_day()
            if latest is not None:
                m.DATA_LAST_DAY.set(pd.Timestamp(latest).timestamp())
        except Exception as exc:  # a gauge is not worth failing a refresh
            log.debug("could not read the latest trading day: %s", exc)
        return self.panel

    def refresh_panel_if_changed(self) -> None:
        """Reload the panel when the store's newest trading day moved (new data ingested)."""
        latest = self.store.latest_trading_day()
        if latest is None:
            return
        if self.panel is None or pd.Timestamp(latest).date() != self.panel.data_as_of:
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
        found += [
            s for s in difflib.get_close_matches(symbol, pool, n=n, cutoff=0.6) if s not in found
        ]
        return found[:n]

    def _check_symbol(self, symbol: str) -> str:
        """The clean symbol if it can be predicted now; else the right error (202, 404 or 422)."""
        from stockvision.market.listings import is_known

        sym = symbol.strip().upper()
        panel = self.panel
        if panel is not None and sym in panel.info:
            need = self.settings.min_predict_weeks
            have = panel.info[sym][0]
            if have < need:
                raise InsufficientHistoryError(sym, have, need)
            if panel.stale(sym, self.settings.stale_after_days):
                # Refresh in the background; answer 202 until that fetch has been tried once.
                status = self.healer.request(sym)
                if status.state in ("pending", "running"):
                    raise DataPendingError(sym, self.status_url(sym), status.state)
            return sym
        if is_known(sym):
            status = self.healer.request(sym)
            if status.state == "failed":
                if not status.retryable:
                    raise NoSourceDataError(sym, status.message or "no data")
                raise DataUnavailableError(sym, status.message or "fetch failed")
            if status.state == "done":  # fetched, but the features gave nothing usable
                raise InsufficientHistoryError(sym, 0, self.settings.min_predict_weeks)
            raise DataPendingError(sym, self.status_url(sym), status.state)
        raise UnknownSymbolError(sym, self._closest(sym))

    @staticmethod
    def status_url(symbol: str) -> str:
        return f"/api/v1/jobs/{symbol}"

    def cached_json(self, symbol: str, source: str = "api") -> bytes | None:
        """The cached answer for a predictable symbol as JSON bytes, or None (then use predict_one).

        The hot path of the API: no model call, no parsing, no re-validation. Only symbols the normal path
        would serve directly qualify (in the panel, enough history, not stale).
        """
        models, panel = self.models, self.panel
        if panel is None or not models.ready:
            return None
        sym = symbol.strip().upper()
        item = panel.info.get(sym)
        if item is None or item[0] < self.settings.min_predict_weeks:
            return None
        if (panel.data_as_of - item[1]).days > self.settings.stale_after_days:
            return None
        raw = self.cache.get(
            cache_key("pred", sym, models.price_version, models.pattern_version, panel.token)
        )
        if raw is None:
            return None
        m.CACHE_HITS.inc()
        m.PREDICTIONS_SERVED.labels("cache").inc()
        if (sym, item[1], models.price_version, models.pattern_version) not in self._stored:
            self._record([Prediction.model_validate_json(raw)], source)
        return raw

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
                        symbol=s,
                        status=exc.status,
                        error=exc.code,
                        message=exc.message,
                        message_vi=exc.message_vi,
                    )
                )
        preds = self._predict_symbols(ok, source) if ok else []
        return preds, errors

    def rankings(
        self, top: int = 10, direction: str = "up", group: str | None = None
    ) -> list[Prediction]:
        panel = self.panel
        if panel is None:
            raise NoModelError("no features in the store yet")
        symbols = [s for s in panel.symbols if panel.info[s][0] >= self.settings.min_predict_weeks]
        if group:
            from stockvision.market.listings import GROUPS, symbols_in_group

            try:
                members = set(symbols_in_group(group))
            except ValueError:
                raise InvalidRequestError(
                    f"Unknown sector group {group!r}.",
                    f"Không có nhóm ngành {group!r}.",
                    f"Use one of: {', '.join(GROUPS)}.",
                ) from None
            symbols = [s for s in symbols if s in members]
        preds = self._predict_symbols(symbols, "ranking", store=False)
        preds.sort(key=lambda p: p.expected_return, reverse=(direction == "up"))
        return preds[:top]

    def _predict_symbols(
        self, symbols: list[str], source: str, store: bool = True
    ) -> list[Prediction]:
        models = self.models  # one snapshot for the whole request (hot swaps never mix versions)
        panel = self.panel
        if not models.ready:
            raise NoModelError(self.registry_message or "no champion has been promoted yet")
        if panel is None:
            raise NoModelError("no features in the store yet")
        out: dict[str, Prediction] = {}
        missing: list[str] = []
        keys = {
            s: cache_key("pred", s, models.price_version, models.pattern_version, panel.token)
            for s in symbols
        }
        for s in symbols:
            raw = self.cache.get(keys[s])
            if raw is not None:
                out[s] = Prediction.model_validate_json(raw)
            else:
                missing.append(s)
        if missing:
            for pred in self._infer(missing, models, panel):
                out[pred.symbol] = pred
                self.cache.set(keys[pred.symbol], pred.model_dump_json().encode())
        hits = len(symbols) - len(missing)
        if hits:
            m.CACHE_HITS.inc(hits)
            m.PREDICTIONS_SERVED.labels("cache").inc(hits)
        if missing:
            m.CACHE_MISSES.inc(len(missing))
            m.PREDICTIONS_SERVED.labels("model").inc(len(missing))
        result = [out[s] for s in symbols]
        if store:
            self._record(result, source)
        return result

    def _infer(
        self, symbols: list[str], models: LoadedModels, panel: InferencePanel
    ) -> list[Prediction]:
        t0 = time.perf_counter()
        window = panel.builder.latest(symbols)
        preds = self._predict_window(window, models, simulated=panel.simulated)
        elapsed = time.perf_counter() - t0
        m.INFERENCE_SECONDS.observe(elapsed)
        self.last_inference_ms = round(elapsed * 1000, 3)
        return preds

    def _predict_window(
        self, window: Any, models: LoadedModels, simulated: set[str] | bool
    ) -> list[Prediction]:
        """Vectorised prediction for every row of an inference window (also used for backfills)."""
        price, pattern = models.price, models.pattern
        log_ret = np.asarray(price.predict(window), dtype=float)
        low, high = (np.asarray(a, dtype=float) for a in price.predict_interval(window))
        probs = np.asarray(pattern.predict_proba(window), dtype=float)
        contrib = self._contributions(price, window)
        raw_close = window.labels["raw_close"].to_numpy(dtype=float)
        x_values = window.X[FEATURES].to_numpy(dtype=float)
        idx = window.X.index
        coverage = float(getattr(price, "coverage", self.settings.interval_coverage))
        measured = models.price_metrics.get("interval_coverage")
        versions = ModelVersions(price=models.price_version, pattern=models.pattern_version)
        horizon = timedelta(weeks=self.settings.horizon_weeks)
        now = datetime.now(UTC)
        out = []
        for i, (sym, week_end) in enumerate(idx):
            day = pd.Timestamp(week_end).date()
            info = self.describe(sym)
            p = probs[i]
            k = int(np.argmax(p))
            close = float(raw_close[i])
            target = close * float(np.exp(log_ret[i]))
            lo, hi = close * float(np.exp(low[i])), close * float(np.exp(high[i]))
            is_sim = simulated if isinstance(simulated, bool) else sym in simulated
            out.append(
                Prediction(
                    symbol=sym,
                    exchange=info["exchange"],
                    company_name=info["name"],
                    prediction_date=day,
                    target_date=day + horizon,
                    data_as_of=day,
                    last_close=round(close, 2),
                    last_close_k=round(close / 1000, 2),
                    price_target=round(target, 2),
                    price_target_k=round(target / 1000, 2),
                    interval=PriceInterval(
                        low=round(min(lo, hi), 2),
                        high=round(max(lo, hi), 2),
                        coverage=coverage,
                        measured_coverage=measured,
                    ),
                    expected_return=float(np.expm1(log_ret[i])),
                    pattern=PATTERN_CLASSES[k],
                    probabilities=PatternProbabilities(
                        down=_prob(p[0]), sideways=_prob(p[1]), up=_prob(p[2])
                    ),
                    confidence=_prob(p[k]),
                    drivers=self._drivers(x_values[i], contrib[i] if contrib is not None else None),
                    model_versions=versions,
                    simulated=bool(is_sim),
                    disclaimer=DISCLAIMER_EN,
                    disclaimer_vi=DISCLAIMER_VI,
                    generated_at=now,
                )
            )
        return out

    @staticmethod
    def _contributions(price: Any, window: Any) -> np.ndarray | None:
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

    @staticmethod
    def _drivers(x: np.ndarray, contrib: np.ndarray | None, top: int = 3) -> list[Driver]:
        if contrib is None:
            return []
        order = np.argsort(-np.abs(np.nan_to_num(contrib)))[:top]
        drivers = []
        for j in order:
            if not np.isfinite(contrib[j]) or contrib[j] == 0:
                continue
            name = FEATURES[j]
            doc = FEATURE_DOCS.get(name, {})
            value = x[j]
            drivers.append(
                Driver(
                    feature=name,
                    value=None if not np.isfinite(value) else float(value),
                    contribution=float(contrib[j]),
                    description_vi=str(doc.get("description_vi", doc.get("vi", name))),
                    description_en=str(doc.get("description_en", doc.get("en", name))),
                )
            )
        return drivers

    # ------------------------------------------------------------------ storage of served predictions
    def _record(self, preds: list[Prediction], source: str) -> None:
        """Queue served predictions not yet in the store (written by the writer thread, or now)."""
        new = [p for p in preds if _stored_key(p) not in self._stored]
        if not new:
            return
        self._writes.put((new, source))
        if not self._threads:  # no writer thread (CLI, batch step, tests): write now
            self.flush()

    def _writer(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._writes.get(timeout=0.5)
            except queue.Empty:
                continue
            items = [first]
            while True:  # write everything queued in one transaction
                try:
                    items.append(self._writes.get_nowait())
                except queue.Empty:
                    break
            self._write(items)

    def flush(self) -> None:
        """Write every queued served prediction now."""
        items = []
        while True:
            try:
                items.append(self._writes.get_nowait())
            except queue.Empty:
                break
        if items:
            self._write(items)

    def _write(self, items: list[tuple[list[Prediction], str]]) -> None:
        rows: dict[tuple, dict[str, Any]] = {}
        for preds, source in items:
            for p in preds:
                key = _stored_key(p)
                if key in self._stored or key in rows:
                    continue
                rows[key] = {
                    "symbol": p.symbol,
                    "prediction_date": p.prediction_date,
                    "target_date": p.target_date,
                    "created_at": p.generated_at or datetime.now(UTC),
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
        if not rows:
            return
        try:
            self.store.save_predictions(list(rows.values()))
        except Exception:
            log.exception(
                "could not store %d served predictions; will retry on next serve", len(rows)
            )
            return
        self._stored.update(rows)
        if len(self._stored) > 200_000:  # bounded memory; the store's upsert is idempotent anyway
            self._stored.clear()

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
        token = self.panel.token if self.panel else "-"
        key = cache_key(f"hist{weeks}", sym, None, None, token)
        raw = self.cache.get(key)
        if raw is not None:
            return HistoryResponse.model_validate_json(raw)
        daily = self.store.read_daily(symbols=[sym])
        if daily is None or daily.empty:
            self._check_symbol(sym)  # raises the right 404 (unknown) or 202 (being fetched)
            raise DataUnavailableError(sym, "no prices in the store")
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
            from stockvision.market.listings import is_known

            in_panel = self.panel is not None and sym in self.panel.info
            if not in_panel and not is_known(sym):
                raise UnknownSymbolError(sym, self._closest(sym))
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
        """Models, data freshness and dependencies.

        With the watcher running, the registry state is the one of its last poll (every
        ``reload_interval_seconds``), so a slow or dead registry never slows ``/health`` down.
        """
        models = self.models
        deps: dict[str, str] = {}
        try:
            deps["database"] = "up" if self.store.healthcheck() else "down"
        except Exception:
            deps["database"] = "down"
        if self.settings.redis_url:
            deps["redis"] = "up" if self.cache.healthy() else "down"
        if not self._threads:  # no watcher: check the registry now
            try:
                _probe(self.registry)
                self.registry_ok = True
                self.registry_checked_at = datetime.now(UTC)
                if self.registry_message and self.registry_message.startswith("registry"):
                    self.registry_message = None
            except Exception as exc:
                self._registry_down(exc)
        deps["registry"] = "up" if self.registry_ok else "down"
        data_as_of = None
        age = None
        try:
            latest = self.store.latest_trading_day()
            if latest is not None:
                data_as_of = pd.Timestamp(latest).date()
                age = (datetime.now(UTC).date() - data_as_of).days
        except Exception as exc:
            log.debug("latest trading day unavailable: %s", exc)
        stale = age is not None and age > self.settings.stale_after_days
        monitoring = self._monitoring_summary()
        if not models.ready:
            status = "down"
        elif (
            deps.get("database") == "down"
            or deps.get("registry") == "down"
            or deps.get("redis") == "down"
            or stale
            or (monitoring or {}).get("degraded")
        ):
            status = "degraded"
        else:
            status = "ok"
        model_status = [
            ModelStatus(
                name=name,
                version=version,
                alias="champion",
                model_class=cls,
                loaded_at=models.loaded_at if version else None,
            )
            for name, version, cls in (
                ("price_target_model", models.price_version, models.price_class),
                ("pattern_model", models.pattern_version, models.pattern_class),
            )
        ]
        return HealthResponse(
            status=status,
            models=model_status,
            registry_reachable=bool(self.registry_ok),
            registry_message=self.registry_message,
            registry_checked_at=self.registry_checked_at,
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

                self._retrain_state = {
                    "state": "running",
                    "started_at": datetime.now(UTC).isoformat(),
                }
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
        from stockvision.data.sources.base import UnknownSymbolError as NotInSource
        from stockvision.pipeline.flow import ingest_symbols

        try:
            summary = ingest_symbols(self.settings, [symbol], store=self.store)
        except NotInSource as exc:
            raise PermanentFetchError(str(exc)) from exc
        return f"fetched {summary.get('rows', 0)} rows from {summary.get('source')}"

    def _after_heal(self, symbol: str) -> None:
        self.refresh_panel()


def _probe(registry: Any) -> None:
    """Raise when the registry cannot be reached (``champion()`` alone answers None on errors)."""
    client = getattr(registry, "client", None)
    if client is not None and hasattr(client, "search_registered_models"):
        client.search_registered_models(max_results=1)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _prob(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def _stored_key(p: Prediction) -> tuple:
    return (p.symbol, p.prediction_date, p.model_versions.price, p.model_versions.pattern)


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
