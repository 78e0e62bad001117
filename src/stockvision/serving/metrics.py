"""Prometheus metrics the API exports (names are a contract with deploy/prometheus and Grafana).

The ``sv_*`` collectors are process-wide (the service, the monitoring job and the app share them). Each app
gets its own :class:`CollectorRegistry` holding these plus its own HTTP metrics from
prometheus-fastapi-instrumentator (:func:`app_registry`), so ``/metrics`` exposes exactly
:data:`EXPORTED_METRICS` and several apps in one process (tests) never clash over duplicate series.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

# No ``*_created`` series: Prometheus does not need them and they would double the exposed families.
disable_created_metrics()

#: Where the ``sv_*`` collectors are created (never exposed directly).
SV_REGISTRY = CollectorRegistry(auto_describe=True)

PREDICTIONS_SERVED = Counter(
    "sv_predictions_served",
    "Predictions returned to clients, by where the answer came from",
    ["source"],
    registry=SV_REGISTRY,
)
CACHE_HITS = Counter("sv_cache_hits", "Prediction cache hits", registry=SV_REGISTRY)
CACHE_MISSES = Counter("sv_cache_misses", "Prediction cache misses", registry=SV_REGISTRY)
ERRORS = Counter("sv_errors", "Error responses by HTTP status code", ["code"], registry=SV_REGISTRY)
MODEL_INFO = Gauge(
    "sv_model_info",
    "Loaded model versions (value 1)",
    ["model", "version", "alias"],
    registry=SV_REGISTRY,
)
INFERENCE_SECONDS = Histogram(
    "sv_inference_seconds",
    "Model inference time per prediction call (cache misses only)",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=SV_REGISTRY,
)
DATA_LAST_DAY = Gauge(
    "sv_data_last_trading_day_timestamp_seconds",
    "Unix time of the newest trading day in the store",
    registry=SV_REGISTRY,
)
DRIFT_PSI = Gauge(
    "sv_drift_psi", "Population stability index per feature", ["feature"], registry=SV_REGISTRY
)
DRIFT_DETECTED = Gauge(
    "sv_drift_detected", "1 when the latest monitoring run detected drift", registry=SV_REGISTRY
)
LIVE_PATTERN_ACCURACY = Gauge(
    "sv_live_pattern_accuracy",
    "Rolling live pattern accuracy (fraction)",
    ["model_version"],
    registry=SV_REGISTRY,
)
PROMOTION_PATTERN_ACCURACY = Gauge(
    "sv_promotion_pattern_accuracy",
    "Walk-forward pattern accuracy the model was promoted with (fraction)",
    ["model_version"],
    registry=SV_REGISTRY,
)
LIVE_PRICE_MAE = Gauge(
    "sv_live_price_mae_pct",
    "Rolling live price MAE in % of price",
    ["model_version"],
    registry=SV_REGISTRY,
)
LIVE_COVERAGE = Gauge(
    "sv_live_interval_coverage",
    "Rolling live coverage of the price interval (fraction)",
    ["model_version"],
    registry=SV_REGISTRY,
)
LIVE_COVERAGE_BY_WIDTH = Gauge(
    "sv_live_interval_coverage_by_width",
    "Live coverage of the 80 % range per bin of the champion's predicted width (fraction)",
    ["bin"],
    registry=SV_REGISTRY,
)
WALK_FORWARD_COVERAGE_BY_WIDTH = Gauge(
    "sv_walk_forward_interval_coverage_by_width",
    "Walk-forward coverage of the 80 % range per predicted-width bin (what answers quote)",
    ["bin"],
    registry=SV_REGISTRY,
)
WIDTH_BIN_DEPARTED = Gauge(
    "sv_interval_width_bin_departed",
    "1 when the bin's live coverage left its walk-forward figure beyond noise",
    ["bin"],
    registry=SV_REGISTRY,
)
MODEL_DEGRADED = Gauge(
    "sv_model_degraded", "1 when monitoring marked the champion as degraded", registry=SV_REGISTRY
)
STREAM_WS_CLIENTS = Gauge(
    "sv_stream_ws_clients", "WebSocket clients connected to /ws", registry=SV_REGISTRY
)
STREAM_RECEIVED = Gauge(
    "sv_stream_messages_received",
    "Messages the WebSocket hub has received from the bus since start",
    registry=SV_REGISTRY,
)
STREAM_DROPPED = Gauge(
    "sv_stream_ws_dropped",
    "Messages dropped for slow WebSocket clients (oldest first) among connected clients",
    registry=SV_REGISTRY,
)
STREAM_LAG = Gauge(
    "sv_stream_lag_seconds",
    "Age of the newest message the hub received (publish to hub)",
    registry=SV_REGISTRY,
)
STREAM_CONSUMER_LAG = Gauge(
    "sv_stream_consumer_lag_messages",
    "Messages the stream worker's consumer group has not acknowledged yet",
    ["stream"],
    registry=SV_REGISTRY,
)

SV_COLLECTORS = (
    PREDICTIONS_SERVED,
    CACHE_HITS,
    CACHE_MISSES,
    ERRORS,
    MODEL_INFO,
    INFERENCE_SECONDS,
    DATA_LAST_DAY,
    DRIFT_PSI,
    DRIFT_DETECTED,
    LIVE_PATTERN_ACCURACY,
    PROMOTION_PATTERN_ACCURACY,
    LIVE_PRICE_MAE,
    LIVE_COVERAGE,
    LIVE_COVERAGE_BY_WIDTH,
    WALK_FORWARD_COVERAGE_BY_WIDTH,
    WIDTH_BIN_DEPARTED,
    MODEL_DEGRADED,
    STREAM_WS_CLIENTS,
    STREAM_RECEIVED,
    STREAM_DROPPED,
    STREAM_LAG,
    STREAM_CONSUMER_LAG,
)

#: Buckets of ``http_request_duration_seconds`` (per route): fine enough around the 20 ms / 100 ms SLAs.
HTTP_LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5)

#: Every metric family ``/metrics`` exposes, as named in the exposition's ``# TYPE`` lines (dashboards and
#: alerts are checked against it; ``up`` is Prometheus' own and therefore not listed).
EXPORTED_METRICS: frozenset[str] = frozenset(
    {
        # prometheus-fastapi-instrumentator's default set
        "http_requests_total",
        "http_request_size_bytes",
        "http_response_size_bytes",
        "http_request_duration_highr_seconds",
        "http_request_duration_seconds",
        # ours
        "sv_predictions_served_total",
        "sv_cache_hits_total",
        "sv_cache_misses_total",
        "sv_errors_total",
        "sv_model_info",
        "sv_inference_seconds",
        "sv_data_last_trading_day_timestamp_seconds",
        "sv_drift_psi",
        "sv_drift_detected",
        "sv_live_pattern_accuracy",
        "sv_promotion_pattern_accuracy",
        "sv_live_price_mae_pct",
        "sv_live_interval_coverage",
        "sv_live_interval_coverage_by_width",
        "sv_walk_forward_interval_coverage_by_width",
        "sv_interval_width_bin_departed",
        "sv_model_degraded",
        "sv_stream_ws_clients",
        "sv_stream_messages_received",
        "sv_stream_ws_dropped",
        "sv_stream_lag_seconds",
        "sv_stream_consumer_lag_messages",
    }
)


def app_registry() -> CollectorRegistry:
    """A fresh registry for one app: the shared ``sv_*`` collectors (HTTP metrics are added by the app)."""
    registry = CollectorRegistry(auto_describe=True)
    for collector in SV_COLLECTORS:
        registry.register(collector)
    return registry


def export_monitoring(data: dict) -> None:
    """Publish the latest monitoring report's figures as Prometheus gauges (in the API process)."""
    summary = data.get("summary") or {}
    DRIFT_DETECTED.set(1 if summary.get("drift_detected") else 0)
    MODEL_DEGRADED.set(1 if summary.get("degraded") else 0)
    for f in (data.get("drift") or {}).get("features", []):
        if f.get("psi") is not None:
            DRIFT_PSI.labels(f["feature"]).set(f["psi"])
    version = str(summary.get("pattern_version") or "none")
    for gauge, key in (
        (LIVE_PATTERN_ACCURACY, "live_pattern_accuracy"),
        (PROMOTION_PATTERN_ACCURACY, "promotion_pattern_accuracy"),
        (LIVE_PRICE_MAE, "live_price_mae_pct"),
        (LIVE_COVERAGE, "live_interval_coverage"),
    ):
        value = summary.get(key)
        if value is not None:
            gauge.labels(version).set(float(value))
    for gauge in (LIVE_COVERAGE_BY_WIDTH, WALK_FORWARD_COVERAGE_BY_WIDTH, WIDTH_BIN_DEPARTED):
        gauge.clear()  # bins of an earlier champion must not linger
    for b in (data.get("live") or {}).get("coverage_by_width", []):
        label = str(b.get("label"))
        if b.get("live_coverage") is not None:
            LIVE_COVERAGE_BY_WIDTH.labels(label).set(float(b["live_coverage"]))
        if b.get("walk_forward_coverage") is not None:
            WALK_FORWARD_COVERAGE_BY_WIDTH.labels(label).set(float(b["walk_forward_coverage"]))
        WIDTH_BIN_DEPARTED.labels(label).set(1 if b.get("departs") else 0)
