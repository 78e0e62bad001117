"""One typed settings object for every knob (env prefix ``SV_``, optional ``.env``).

All state lives under ``data_dir`` so a run can be isolated by pointing ``SV_DATA_DIR`` elsewhere.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SourceName = Literal["auto", "vnstock", "csv", "synthetic"]


class Settings(BaseSettings):
    """Every setting of Stock Vision. Read from ``SV_*`` environment variables or ``.env``."""

    model_config = SettingsConfigDict(
        env_prefix="SV_", env_file=".env", extra="ignore", env_ignore_empty=True
    )

    # --- paths and stores -------------------------------------------------------------------
    data_dir: Path = Field(default=Path("~/.stockvision"), description="Root of all state.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/stockvision.db"
    )
    mlflow_tracking_uri: str | None = Field(
        default=None, description="MLflow tracking URI; default sqlite:///<data_dir>/mlflow.db"
    )
    redis_url: str | None = Field(default=None, description="Redis for cache and rate limits.")

    # --- data -------------------------------------------------------------------------------
    source: SourceName = "auto"
    csv_paths: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Files or folders read by the csv source."
    )
    universe: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Symbols to work on; empty means the VN30 basket."
    )
    history_start: str = "2016-01-01"
    replace_simulated: bool = Field(
        default=False,
        description="Let real prices replace a store that holds the simulated demo market.",
    )
    synthetic_symbols: int = 30
    synthetic_years: int = 4
    synthetic_seed: int = 7
    vnstock_source: str = "VCI"
    vnstock_rate_limit_per_min: int = 30
    vnstock_retries: int = 3

    # --- features / labels ------------------------------------------------------------------
    horizon_weeks: int = 4
    seq_len: int = 8
    pattern_up: float = 0.01
    pattern_down: float = -0.01
    pattern_vol_scaled: bool = False
    pattern_vol_k: float = 0.5
    min_history_weeks: int = 50

    # --- models / evaluation ----------------------------------------------------------------
    seed: int = 42
    interval_coverage: float = 0.8
    price_model: str = Field(
        default="har_vol",
        description=(
            "Primary price model (MODEL_FACTORIES name). har_vol (learned volatility, random-walk "
            "location) is the one with positive CRPS skill on both VN30 and the whole market "
            "(docs/evaluation.md); ridge_har adds a ranking location (best on the whole market)."
        ),
    )
    pattern_model: str = Field(
        default="lstm", description="Primary pattern model: lstm, gru, cnn_bilstm_attn, lgbm_clf..."
    )
    backtest_top_k: int = 5
    val_weeks: int = 13
    eval_max_folds: int | None = None
    fee_rate: float = 0.0015
    sell_tax_rate: float = 0.001

    # --- registry / promotion ---------------------------------------------------------------
    promote_price_mae_delta_pp: float = 0.2
    promote_pattern_acc_delta_pp: float = 1.0
    promote_pattern_ece_tolerance: float = 0.01
    # proper scores decide (issue 14): relative CRPS gain of a price challenger over the champion,
    # and the absolute log-loss gain of a pattern challenger
    promote_price_crps_delta_pct: float = 0.5
    promote_pattern_log_loss_delta: float = 0.002

    # --- serving ----------------------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_key: str | None = None
    cache_ttl_seconds: int = 3600
    rate_limit_per_minute: int = Field(
        default=120, description="Work units per client per minute (a batch: 1 per 10 symbols)."
    )
    ui_rate_limit_per_minute: int = Field(
        default=1200, description="Chat page assets and polling per client per minute."
    )
    ops_rate_limit_per_minute: int = Field(
        default=600, description="Health probes, metrics and docs per client per minute."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Proxies (IPs or CIDRs) whose X-Forwarded-For is believed, e.g. 10.0.0.0/8.",
    )
    stale_after_days: int = 7
    reload_interval_seconds: float = 30.0
    registry_timeout_seconds: float = Field(
        default=5.0, description="Time-out of one request to a registry server (serving)."
    )
    startup_wait_seconds: float = Field(
        default=15.0, description="How long serving waits for the models before it opens."
    )
    min_predict_weeks: int = 26
    min_baseline_weeks: int = Field(
        default=6,
        description=(
            "Fewest weeks of data a symbol needs when the price baseline can forecast it (a new "
            "listing, or a short-history store): the baseline's volatility reads 20 trading days."
        ),
    )

    # --- monitoring -------------------------------------------------------------------------
    psi_threshold: float = 0.2
    drift_false_alarm_rate: float = Field(
        default=0.05,
        gt=0,
        lt=0.5,
        description="Share of past windows the calibrated feature-drift alarm may fire on.",
    )
    ks_pvalue_threshold: float = 0.01
    live_accuracy_drop_pp: float = 5.0

    # --- news -------------------------------------------------------------------------------
    news_features: bool = Field(
        default=False,
        description=(
            "Add the weekly news features to the training, evaluation and serving inputs "
            "(docs/news.md; off: the 21 price features only)."
        ),
    )
    news_half_life_weeks: float = Field(default=2.0, description="Half-life of news tone decay.")

    # --- real-time stream -------------------------------------------------------------------
    stream_enabled: bool = Field(
        default=False, description="Run the live stream and WebSocket push in the API process."
    )
    stream_bus: str = Field(
        default="memory://",
        description="Bus URL: memory:// (in-process), nats://host:4222 or kafka://host:9092.",
    )
    stream_prefix: str = Field(default="sv", description="Namespace of the bus's streams/topics.")
    stream_source: Literal["replay", "simulated", "vnstock", "vnstock_board"] = "replay"
    stream_speed: float = Field(
        default=60.0, description="Replay/simulation: market seconds per wall second (0 = max)."
    )
    stream_replay_days: int = Field(default=5, description="Stored trading days a replay plays.")
    stream_move_threshold: float = Field(
        default=0.005,
        description="Price move since a symbol's last live forecast that re-predicts.",
    )
    stream_ack_wait_seconds: float = 10.0
    ws_max_connections: int = Field(default=1000, description="WebSocket clients per API process.")
    ws_queue_size: int = Field(
        default=256, description="Messages buffered per WebSocket client (oldest dropped first)."
    )

    # --- chat -------------------------------------------------------------------------------
    memory_url: str | None = Field(
        default=None,
        description="Qdrant server for the agent's memory; default: local mode under data_dir/memory.",
    )
    agent_memory: bool = Field(default=True, description="Let the agent remember users (Qdrant).")
    agent_news_index_max: int = Field(
        default=2000,
        ge=0,
        description="Newest stored news items embedded into the agent's shared documents "
        "(e5: ~15 headlines/s on 2 cores, in the background); 0 = none.",
    )
    agent_news_poll_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often the API checks the store for newly imported news (0 = start-up only).",
    )
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str = "gpt-4o-mini"

    # --- distributed engine (stockvision.engine) ------------------------------------------------
    engine: Literal["serial", "dask"] = Field(
        default="serial",
        description="Where walk-forward fits, feature chunks and CSV reads run: serial or dask.",
    )
    dask_address: str | None = Field(
        default=None, description="Dask scheduler (tcp://host:8786); empty: a LocalCluster."
    )
    dask_workers: int | None = Field(
        default=None, description="LocalCluster worker processes (default: one per core)."
    )

    @field_validator("universe", mode="before")
    @classmethod
    def _split_symbols(cls, v: object) -> object:
        if isinstance(v, str):
            return [s.strip().upper() for s in v.replace(";", ",").split(",") if s.strip()]
        return v

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, v: object) -> object:
        if isinstance(v, str):
            return [p.strip() for p in v.replace(";", ",").split(",") if p.strip()]
        return v

    @field_validator("csv_paths", mode="before")
    @classmethod
    def _split_paths(cls, v: object) -> object:
        if isinstance(v, str):
            return [Path(p.strip()) for p in v.replace(";", ",").split(",") if p.strip()]
        return v

    # --- derived ----------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        """The data directory, expanded and created."""
        path = self.data_dir.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'stockvision.db'}"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.home / 'mlflow.db'}"

    @property
    def artifact_dir(self) -> Path:
        return self.subdir("mlartifacts")

    @property
    def cache_dir(self) -> Path:
        return self.subdir("cache")

    @property
    def reports_dir(self) -> Path:
        return self.subdir("reports")

    def subdir(self, name: str) -> Path:
        path = self.home / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def symbols(self) -> list[str]:
        """The configured universe, or the VN30 basket when none is set."""
        if self.universe:
            return list(self.universe)
        from stockvision.market.vn30 import VN30_SYMBOLS

        return list(VN30_SYMBOLS)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; call ``get_settings.cache_clear()`` after changing the environment."""
    return Settings()
