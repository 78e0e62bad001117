"""The prediction service: a thin facade over the parts that serve predictions in a long-lived process.

- :class:`~stockvision.serving.champions.ChampionHolder` loads and hot-swaps the champions;
- :func:`~stockvision.predict.load_panel` keeps the last weeks of features of every symbol in memory;
- :class:`~stockvision.predict.Predictor` turns models + window into predictions (the prediction core);
- :class:`~stockvision.serving.writer.PredictionWriter` stores what was served, off the request path;
- :class:`~stockvision.serving.healing.Healer` fetches a valid symbol the store lacks, in the background;
- :class:`~stockvision.serving.queries.DataQueries` answers the data endpoints.

The API, the chat and the CLI use this facade; the batch step and the stream call the prediction core
directly. Retraining is injected (``retrain``): serving never imports the pipeline.
"""

from __future__ import annotations

import difflib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stockvision.config import Settings
from stockvision.data.directory import SymbolDescription, SymbolDirectory
from stockvision.errors import (
    DataPendingError,
    DataUnavailableError,
    InsufficientHistoryError,
    InvalidRequestError,
    ModelUnavailableError,
    NoSourceDataError,
    NotInDemoError,
    PipelineBusyError,
    StockVisionError,
    UnknownSymbolError,
)
from stockvision.features.labels import LabelSpec
from stockvision.monitoring.live_width import LiveBins, LiveWidthReader
from stockvision.monitoring.state import MonitoringState
from stockvision.predict import (
    InferencePanel,
    ModelSet,
    Prediction,
    Predictor,
    load_panel,
    min_weeks,
)
from stockvision.serving import metrics as m
from stockvision.serving.api_schemas import HealthResponse, PredictionErrorItem
from stockvision.serving.cache import cache_key, make_cache
from stockvision.serving.champions import ChampionHolder, ReloadStatus
from stockvision.serving.errors import http_status
from stockvision.serving.healing import Healer
from stockvision.serving.health import build_health
from stockvision.serving.queries import DataQueries
from stockvision.serving.writer import PredictionWriter

log = logging.getLogger(__name__)

Retrain = Callable[[], Any]
#: unknown symbols of one batch that get "did you mean" suggestions (a fuzzy search each)
MAX_SUGGESTED = 5


class PredictionService:
    """Predictions, rankings, history and health on top of the store and the registry."""

    def __init__(
        self,
        settings: Settings,
        store: Any = None,
        registry: Any = None,
        *,
        retrain: Retrain | None = None,
        heal_source: Callable[[Settings], Any] | None = None,
    ) -> None:
        self.settings = settings
        if store is None:
            from stockvision.data.store import Store

            store = Store.from_settings(settings)
        self.store = store
        self.directory = SymbolDirectory(store)
        self.champions = ChampionHolder(self._make_registry, registry)
        self.predictor = Predictor(
            settings.horizon_weeks,
            settings.interval_coverage,
            self.directory.describe,
            bands=(settings.pattern_up, settings.pattern_down),
        )
        self.cache = make_cache(settings.redis_url, settings.cache_ttl_seconds)
        self.writer = PredictionWriter(store)
        self.healer = Healer(self._heal_symbol, on_done=self._after_heal)
        self.monitoring = MonitoringState(settings.subdir("monitoring"))
        self.live_width = LiveWidthReader(self.monitoring)
        self.queries = DataQueries(
            store, self.directory, self.cache, lambda: self.panel, self.check_symbol, self.closest
        )
        self.panel: InferencePanel | None = None
        self.last_inference_ms: float | None = None
        self._retrain = retrain
        self._heal_source = heal_source
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._retrain_lock = threading.Lock()
        self._retrain_state: dict[str, Any] = {"state": "idle"}

    # ------------------------------------------------------------------ lifecycle
    def _make_registry(self) -> Any:
        import os

        from stockvision.registry.model_registry import ModelRegistry

        # a registry server that does not answer must cost seconds, not MLflow's default minutes
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
        os.environ.setdefault(
            "MLFLOW_HTTP_REQUEST_TIMEOUT", str(self.settings.registry_timeout_seconds)
        )
        return ModelRegistry(self.settings)

    @property
    def models(self) -> ModelSet:
        return self.champions.models

    @property
    def registry(self) -> Any:
        return self.champions.registry

    @property
    def registry_ok(self) -> bool | None:
        return self.champions.registry_ok

    @property
    def registry_message(self) -> str | None:
        return self.champions.registry_message

    @property
    def background(self) -> bool:
        """Whether the watcher runs (then health reports its last registry poll)."""
        return bool(self._threads)

    def set_registry(self, registry: Any = None) -> None:
        """Use ``registry`` (None: rebuild one from the settings on the next reload)."""
        self.champions.set_registry(registry)

    def start(self, background: bool = True) -> None:
        """Load models and data; optionally start the model watcher and the prediction writer.

        Never raises for a missing registry or an empty store: the service then answers 503 and
        ``/health`` says why, and the watcher keeps trying.
        """
        try:
            self.refresh_panel()
        except Exception as exc:
            log.error("could not load the inference panel from the store: %s", exc)
        if not background:
            self.reload(force=True)
            return
        self.writer.start()
        first = threading.Thread(
            target=self.reload, args=(True,), name="sv-first-load", daemon=True
        )
        first.start()
        # serve as soon as the models are in, or after a bounded wait when the registry is slow
        # or down (the watcher keeps trying; /health says why nothing is loaded yet)
        first.join(timeout=self.settings.startup_wait_seconds)
        t = threading.Thread(target=self._watch, name="sv-model-watcher", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2.0)
        self._threads.clear()
        self.writer.stop()

    def flush(self) -> None:
        """Write every queued served prediction now."""
        self.writer.flush()

    def _watch(self) -> None:
        while not self._stop.wait(self.settings.reload_interval_seconds):
            try:
                self.reload()
                self.refresh_panel_if_changed()
            except Exception:  # the watcher must never die
                log.exception("model/data watcher iteration failed")

    def reload(self, force: bool = False) -> dict[str, Any]:
        """Load the current champions if they changed (or ``force``); keep serving on failure."""
        status: ReloadStatus = self.champions.reload(force)
        return status.to_dict()

    # ------------------------------------------------------------------ data panel
    def refresh_panel(self) -> InferencePanel | None:
        """Reload the tail of features and labels from the store (at start and on new data)."""
        self.directory.invalidate()
        news = self.settings.news_half_life_weeks if self.settings.news_features else None
        self.panel = load_panel(
            self.store, self.settings.seq_len, self.settings.horizon_weeks, news=news
        )
        try:
            latest = self.store.latest_trading_day()
            if latest is not None:
                import pandas as pd

                m.DATA_LAST_DAY.set(pd.Timestamp(latest).timestamp())
        except Exception as exc:  # a gauge is not worth failing a refresh
            log.debug("could not read the latest trading day: %s", exc)
        return self.panel

    def refresh_panel_if_changed(self) -> None:
        """Reload the panel when the store's newest trading day moved (new data ingested)."""
        import pandas as pd

        latest = self.store.latest_trading_day()
        if latest is None:
            return
        if self.panel is None or pd.Timestamp(latest).date() != self.panel.data_as_of:
            self.refresh_panel()

    # ------------------------------------------------------------------ symbols
    def describe(self, symbol: str) -> SymbolDescription:
        """Exchange, company name and group of a symbol: listings first, then the store's record."""
        return self.directory.describe(symbol)

    def closest(self, symbol: str, n: int = 3) -> list[str]:
        from stockvision.market.listings import closest_symbols

        found = closest_symbols(symbol, n=n)
        pool = self.panel.symbols if self.panel is not None else []
        found += [
            s for s in difflib.get_close_matches(symbol, pool, n=n, cutoff=0.6) if s not in found
        ]
        return found[:n]

    def check_symbol(self, symbol: str, suggest: bool = True) -> str:
        """The clean symbol if it can be predicted now; else the right error (202, 404 or 422).

        ``suggest=False`` skips the (fuzzy, costly) search for the closest symbols of an unknown one.
        """
        from stockvision.market.listings import is_known

        sym = symbol.strip().upper()
        panel = self.panel
        if panel is not None and sym in panel.info:
            need = self.min_weeks()
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
            if panel is not None and panel.simulated:
                # a simulated store never takes real prices: fetching cannot help, say so now
                raise NotInDemoError(sym, sorted(panel.info))
            status = self.healer.request(sym)
            if status.state == "failed":
                if not status.retryable:
                    raise NoSourceDataError(sym, status.message or "no data")
                raise DataUnavailableError(
                    sym, status.message or "fetch failed", status.message_vi, status.error_code
                )
            if status.state == "done":  # fetched, but the features gave nothing usable
                raise InsufficientHistoryError(sym, 0, self.min_weeks())
            raise DataPendingError(sym, self.status_url(sym), status.state)
        raise UnknownSymbolError(sym, self.closest(sym) if suggest else [])

    def min_weeks(self, models: ModelSet | None = None) -> int:
        """Weeks of data a symbol needs to be forecast now: few when the price baseline can stand
        in for a short history (a new listing), else what the champion's features need."""
        return min_weeks(self.settings, models or self.models)

    @staticmethod
    def status_url(symbol: str) -> str:
        return f"/api/v1/jobs/{symbol}"

    # ------------------------------------------------------------------ predictions
    def cached_json(self, symbol: str, source: str = "api") -> bytes | None:
        """The cached answer for a predictable symbol as JSON bytes, or None (then ``predict_one``).

        The hot path of the API: no model call, no parsing, no re-validation. Only symbols the
        normal path would serve directly qualify (in the panel, enough history, not stale).
        """
        models, panel = self.models, self.panel
        if panel is None or not models.ready:
            return None
        sym = symbol.strip().upper()
        item = panel.info.get(sym)
        if item is None or item[0] < self.min_weeks(models):
            return None
        if (panel.data_as_of - item[1]).days > self.settings.stale_after_days:
            return None
        live_token, _ = self.live_width.read(models.price_version)
        raw = self.cache.get(self._answer_key(sym, models, panel, live_token))
        if raw is None:
            return None
        m.CACHE_HITS.inc()
        m.PREDICTIONS_SERVED.labels("cache").inc()
        # a cached answer may carry other caveats than the one stored (a monitoring report came
        # or went since): recorded again when it is another answer than the last one recorded
        key = (sym, item[1], models.price_version, models.pattern_version)
        self.writer.record_json(key, raw, source)
        return raw

    def predict_one(self, symbol: str, source: str = "api") -> Prediction:
        sym = self.check_symbol(symbol)
        return self._predict_symbols([sym], source)[0]

    def predict_many(
        self, symbols: list[str] | None = None, source: str = "api"
    ) -> tuple[list[Prediction], list[PredictionErrorItem]]:
        """Predict many symbols in one vectorised call; per-symbol problems are returned, not raised.

        Unknown symbols are told apart with set lookups; suggestions are searched for the first
        few only, so a batch of garbage costs microseconds per symbol, not a fuzzy search each.
        """
        wanted = symbols or self.settings.symbols()
        ok: list[str] = []
        errors: list[PredictionErrorItem] = []
        suggested = 0
        for s in dict.fromkeys(x.strip().upper() for x in wanted):
            try:
                ok.append(self.check_symbol(s, suggest=suggested < MAX_SUGGESTED))
            except StockVisionError as exc:
                if exc.code == "unknown_symbol":
                    suggested += 1
                errors.append(
                    PredictionErrorItem(
                        symbol=s,
                        status=http_status(exc),
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
            raise ModelUnavailableError("no features in the store yet", "kho chưa có dữ liệu tuần")
        need = self.min_weeks()
        symbols = [s for s in panel.symbols if panel.info[s][0] >= need]
        if group:
            from stockvision.market.listings import GROUPS, symbols_in_group

            try:
                members = set(symbols_in_group(group))
            except ValueError:
                raise InvalidRequestError(
                    f"Unknown sector group {group!r}.",
                    f"Use one of: {', '.join(GROUPS)}.",
                    message_vi=f"Không có nhóm ngành {group!r}.",
                    code="unknown_group",
                    details={"groups": list(GROUPS)},
                ) from None
            symbols = [s for s in symbols if s in members]
        preds = self._predict_symbols(symbols, "ranking", store=False)
        return rank_predictions(preds, panel, direction)[:top]

    def _predict_symbols(
        self, symbols: list[str], source: str, store: bool = True
    ) -> list[Prediction]:
        models = self.models  # one snapshot for the whole request (hot swaps never mix versions)
        panel = self.panel
        if not models.ready:
            raise ModelUnavailableError(
                self.registry_message or "no champion has been promoted yet",
                "chưa có mô hình nào được chọn làm champion",
            )
        if panel is None:
            raise ModelUnavailableError("no features in the store yet", "kho chưa có dữ liệu tuần")
        # One read of the live width report per request: the keys and the caveats come from the
        # same report, so an answer written while a new report lands is never filed under the
        # other report's key.
        live_token, live_bins = self.live_width.read(models.price_version)
        out: dict[str, Prediction] = {}
        missing: list[str] = []
        keys = {s: self._answer_key(s, models, panel, live_token) for s in symbols}
        for s in symbols:
            raw = self.cache.get(keys[s])
            if raw is not None:
                out[s] = Prediction.model_validate_json(raw)
            else:
                missing.append(s)
        if missing:
            for pred in self._infer(missing, models, panel, live_bins):
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
            self.writer.record(result, source)
        return result

    def _infer(
        self,
        symbols: list[str],
        models: ModelSet,
        panel: InferencePanel,
        live_bins: LiveBins | None,
    ) -> list[Prediction]:
        t0 = time.perf_counter()
        preds = self.predictor.predict(
            panel.window(symbols),
            models,
            simulated=panel.simulated,
            history_weeks=panel.history_weeks,
            live_by_width=live_bins,
        )
        elapsed = time.perf_counter() - t0
        m.INFERENCE_SECONDS.observe(elapsed)
        self.last_inference_ms = round(elapsed * 1000, 3)
        return preds

    @staticmethod
    def _answer_key(symbol: str, models: ModelSet, panel: InferencePanel, live_token: str) -> str:
        """The cache key of one answer: the models, the data, and the live coverage by width the
        latest monitoring report found (a new report may add or drop a caveat)."""
        return cache_key(
            "pred", symbol, models.price_version, models.pattern_version, panel.token + live_token
        )

    def predict_upload(self, data: bytes, name: str) -> Any:
        """Predictions from an uploaded CSV (bytes, parsed in memory; nothing is stored)."""
        from stockvision.predict.upload import predict_uploaded

        return predict_uploaded(
            data,
            name,
            self.models,
            self.predictor,
            LabelSpec.from_settings(self.settings),
            self.settings.seq_len,
            self.settings.min_predict_weeks,
        )

    # ------------------------------------------------------------------ data endpoints
    def symbols(self):
        return self.queries.symbols()

    def history(self, symbol: str, weeks: int = 52):
        return self.queries.history(symbol, weeks)

    def past_predictions(self, symbol: str):
        return self.queries.past_predictions(symbol)

    # ------------------------------------------------------------------ health and admin
    def health(self) -> HealthResponse:
        """Models, data freshness and dependencies (see :func:`build_health`)."""
        return build_health(self)

    def monitoring_summary(self) -> dict | None:
        """The latest monitoring summary; also refreshes the Prometheus gauges from it."""
        data = self.monitoring.latest()
        if data is None:
            return None
        try:
            m.export_monitoring(data)
        except Exception as exc:  # a gauge is not worth failing /health
            log.debug("monitoring gauges not exported: %s", exc)
        return dict(data.get("summary") or {})

    def start_retrain(self) -> dict[str, Any]:
        """Run the injected retrain callable in a background thread (one at a time)."""
        if self._retrain is None:
            return {"status": "unavailable", "reason": "retraining is not configured"}
        if not self._retrain_lock.acquire(blocking=False):
            return {"status": "already_running", **self._retrain_state}
        lock = self.store.lock("pipeline")
        if lock.is_held():  # a pipeline run elsewhere (CLI, Airflow): say so now, do not queue
            self._retrain_lock.release()
            who = lock.holder()
            raise PipelineBusyError(
                "Another pipeline run is in progress" + (f" ({who})." if who else "."),
                "The new champion is picked up when it finishes; retry later if needed.",
                message_vi="Một lượt chạy pipeline khác đang diễn ra.",
            )

        def run() -> None:
            try:
                self._retrain_state = {
                    "state": "running",
                    "started_at": datetime.now(UTC).isoformat(),
                }
                result = self._retrain()
                summary = result.to_dict() if hasattr(result, "to_dict") else result
                self._retrain_state = {"state": "done", "run": summary}
                self.refresh_panel()
                self.reload()
            except Exception as exc:
                log.exception("retrain failed")
                self._retrain_state = {"state": "failed", "error": str(exc)}
            finally:
                self._retrain_lock.release()

        threading.Thread(target=run, name="sv-retrain", daemon=True).start()
        return {"status": "started"}

    # ------------------------------------------------------------------ auto-healing
    def _heal_symbol(self, symbol: str) -> str:
        from stockvision.features.refresh import ingest_and_featurize

        if self._heal_source is None:
            raise DataUnavailableError(
                symbol, "no data source is configured for fetching", "chưa cấu hình nguồn dữ liệu"
            )
        result = ingest_and_featurize(
            self.store,
            self._heal_source(self.settings),
            [symbol],
            LabelSpec.from_settings(self.settings),
            start=self.settings.history_start,
        )
        return f"fetched {result.written} rows from {result.source}"

    def _after_heal(self, symbol: str) -> None:
        self.refresh_panel()


def rank_predictions(preds: list[Prediction], panel: Any, direction: str) -> list[Prediction]:
    """Order predictions for a ranking and say by what (``rank_basis``, ``rank_score``).

    By the served model's median return when it differs across stocks. When the model gives every
    stock the same return (the volatility random walk: no claim about direction), it does not rank
    at all: the list is then ordered by 12-1 month momentum (``(1 + ret_52w) / (1 + ret_4w) - 1``,
    data up to the week of the prediction), the best single factor of the walk-forward evaluation
    (docs/evaluation.md), and labelled so. Equal scores keep equal ranks (see ``ties_of``).
    """
    returns = [p.expected_return for p in preds]
    basis = "model"
    scores = returns
    if preds and max(returns) - min(returns) <= 1e-12:
        basis = "momentum_12_1"
        feats = panel.features
        last = feats.groupby(level=0).tail(1).droplevel(1)
        mom = (1 + last["ret_52w"]) / (1 + last["ret_4w"]) - 1
        scores = [
            float(mom.get(p.symbol)) if p.symbol in mom.index and mom.get(p.symbol) == mom.get(p.symbol)
            else float("nan")
            for p in preds
        ]  # fmt: skip
    ranked = [
        p.model_copy(update={"rank_score": None if s != s else round(float(s), 10),
                             "rank_basis": basis})
        for p, s in zip(preds, scores, strict=True)
    ]  # fmt: skip
    sign = -1.0 if direction == "up" else 1.0
    # unknown scores last; equal scores in symbol order (reported as ties, never as a ranking)
    ranked.sort(key=lambda p: (p.rank_score is None, sign * (p.rank_score or 0.0), p.symbol))
    return ranked


def ties_of(preds: list[Prediction]) -> list[list[str]]:
    """Groups (2 or more symbols) of a ranking whose scores are equal."""
    groups: dict[float | None, list[str]] = {}
    for p in preds:
        groups.setdefault(p.rank_score, []).append(p.symbol)
    return [syms for syms in groups.values() if len(syms) > 1]
