"""Prometheus metrics the API exports (names are a contract with deploy/prometheus and Grafana)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PREDICTIONS_SERVED = Counter(
    "sv_predictions_served", "Predictions returned to clients", ["source"]
)
CACHE_HITS = Counter("sv_cache_hits", "Prediction cache hits")
CACHE_MISSES = Counter("sv_cache_misses", "Prediction cache misses")
ERRORS = Counter("sv_errors", "Error responses by HTTP status code", ["code"])
MODEL_INFO = Gauge("sv_model_info", "Loaded model versions (value 1)", ["model", "version", "alias"])
INFERENCE_SECONDS = Histogram(
    "sv_inference_seconds",
    "Model inference time per prediction call",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
DATA_LAST_DAY = Gauge(
    "sv_data_last_trading_day_timestamp_seconds", "Unix time of the newest trading day in the store"
)
DRIFT_PSI = Gauge("sv_drift_psi", "Population stability index per feature", ["feature"])
DRIFT_DETECTED = Gauge("sv_drift_detected", "1 when the latest monitoring run detected drift")
LIVE_PATTERN_ACCURACY = Gauge(
    "sv_live_pattern_accuracy", "Rolling live pattern accuracy (fraction)", ["model_version"]
)
PROMOTION_PATTERN_ACCURACY = Gauge(
    "sv_promotion_pattern_accuracy",
    "Walk-forward pattern accuracy the model was promoted with (fraction)",
    ["model_version"],
)
LIVE_PRICE_MAE = Gauge("sv_live_price_mae_pct", "Rolling live price MAE in % of price", ["model_version"])
LIVE_COVERAGE = Gauge(
    "sv_live_interval_coverage", "Rolling live coverage of the price interval (fraction)", ["model_version"]
)
MODEL_DEGRADED = Gauge("sv_model_degraded", "1 when monitoring marked the champion as degraded")

#: Base names of every metric the API exports (the instrumentator's plus ours), for dashboard checks.
EXPORTED_METRICS: set[str] = {
    "http_request_duration_seconds",
    "http_request_duration_highr_seconds",
    "http_requests_total",
    "http_request_size_bytes",
    "http_response_size_bytes",
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
    "sv_model_degraded",
    "up",
}
