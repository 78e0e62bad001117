"""The pipeline's step functions. Each takes the settings and typed outputs of earlier steps and returns a
typed output (:mod:`stockvision.pipeline.outputs`).

They are also what the CLI commands call (``ingest``, ``features build``, ``evaluate``...), so there is one
implementation of each piece of work whatever starts it. Paths in outputs are relative to the data
directory, so a data directory copied elsewhere still points at its own files.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stockvision import __version__
from stockvision.config import Settings
from stockvision.data.ingest import adjusted_daily, frame_digest, ingest, read_store_labelled
from stockvision.errors import NoDataError
from stockvision.features.labels import LabelSpec
from stockvision.models.registry_names import (
    FALLBACK,
    REFERENCE,
    ModelContext,
    check_model_names,
    make_model,
)
from stockvision.pipeline.outputs import (
    BatchPredictOutput,
    EvaluateOutput,
    FeaturesOutput,
    FetchOutput,
    LabelsOutput,
    MonitorOutput,
    PromoteOutput,
    PromotionOutcome,
    RegisteredVersion,
    RegisterOutput,
    ShortHistory,
    SnapshotOutput,
    TrainedModel,
    TrainOutput,
    ValidateOutput,
)
from stockvision.pipeline.runner import digest

log = logging.getLogger(__name__)

CODE_VERSION = f"{__version__}+steps1"
Progress = Callable[[float, float | None, str], None] | None
#: Naive baselines trained next to the primary models (settings.price_model / settings.pattern_model);
#: the other models are compared in ``stockvision evaluate``.
BASELINE = FALLBACK


def _store(settings: Settings, store: Any = None):
    if store is not None:
        return store
    from stockvision.data.store import Store

    return Store.from_settings(settings)


def rel(settings: Settings, path: Path | str) -> str:
    """``path`` relative to the data directory when it lies under it (else as given)."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(settings.home))
    except ValueError:
        return str(p)


def resolve(settings: Settings, path: str) -> Path:
    """A path recorded by a step: relative ones are rooted at the data directory."""
    p = Path(path)
    return p if p.is_absolute() else settings.home / p


def training_config(settings: Settings) -> dict[str, Any]:
    """Every setting that changes what is trained (part of the train/evaluate fingerprints)."""
    primary = {"price": settings.price_model, "pattern": settings.pattern_model}
    return {
        "primary": primary,
        "baseline": dict(BASELINE),
        "seed": settings.seed,
        "seq_len": settings.seq_len,
        "horizon": settings.horizon_weeks,
        "coverage": settings.interval_coverage,
        "labels": {
            "up": settings.pattern_up,
            "down": settings.pattern_down,
            "vol_scaled": settings.pattern_vol_scaled,
            "vol_k": settings.pattern_vol_k,
        },
        "val_weeks": settings.val_weeks,
        "eval_max_folds": settings.eval_max_folds,
        # only when on, so that fingerprints of runs without news stay what they were
        **({"news_features": settings.news_half_life_weeks} if settings.news_features else {}),
    }


# ---------------------------------------------------------------------------------------------- data
def fetch(
    settings: Settings,
    progress: Progress = None,
    store: Any = None,
    paths: list[Path] | None = None,
    source: str | None = None,
    symbols: list[str] | None = None,
    replace_simulated: bool | None = None,
    exchange: str | None = None,
    price_unit: str | None = None,
) -> FetchOutput:
    """Read the configured source, write new/changed rows to the store, recompute adjustment factors.

    ``exchange`` (HOSE/HNX/UPCOM) says where the fetched symbols trade; ``price_unit`` ("vnd" or
    "thousand") the unit of CSV prices (default: guessed per file, ``data.convert``).
    """
    from stockvision.data.sources import get_source

    store = _store(settings, store)
    name = source or settings.source
    kwargs: dict[str, Any] = {}
    if paths:
        kwargs["paths"] = paths
    if price_unit and name == "csv":
        kwargs["price_unit"] = price_unit
    if name == "auto":
        kwargs["store_reader"] = lambda: read_store_labelled(store)
    engine = None
    if name == "csv" and (settings.engine or "serial").lower() != "serial":
        # files are read on the engine; vnstock stays serial under its 20 requests/minute limit
        from stockvision.engine import engine_from_settings

        engine = kwargs["engine"] = engine_from_settings(settings)
    src = get_source(name, settings, **kwargs)
    wanted = symbols or (settings.universe or None)
    if name == "synthetic" and symbols is None:
        wanted = None  # simulated tickers are never real ones: the universe names real symbols
    if name in ("vnstock", "auto") and wanted is None:
        wanted = settings.symbols()
    cb = (
        (lambda done, total, label="fetch": progress(done, total, f"fetch: {label}"))
        if progress
        else None
    )
    # history_start bounds what is downloaded; files named explicitly are imported whole
    start = None if paths else settings.history_start
    replace = settings.replace_simulated if replace_simulated is None else replace_simulated
    try:
        return ingest(
            store, src, wanted, start, progress=cb, replace_simulated=replace, exchange=exchange
        )
    finally:
        if engine is not None:
            engine.close()


def adjust_store(settings: Settings, store: Any = None) -> dict[str, Any]:
    """Detect corporate actions over the whole store and replace the stored factors."""
    from stockvision.data.ingest import adjust_store as adjust

    store = _store(settings, store)
    events = adjust(store)
    daily_symbols = store.symbols_summary()
    return {"events": events, "symbols": len(daily_symbols)}


# ---------------------------------------------------------------------------------------------- features
def build_features(
    settings: Settings, progress: Progress = None, store: Any = None, engine: Any = None
) -> FeaturesOutput:
    """Compute the weekly features of every symbol and write them to the store.

    With ``SV_ENGINE=dask`` (or an ``engine``) the per-symbol work runs in symbol chunks on the
    distributed engine (same features, tested); the serial default is the one vectorised pass.
    """
    from stockvision.engine import engine_from_settings
    from stockvision.features.refresh import build_features as refresh

    own = engine is None and (settings.engine or "serial").lower() != "serial"
    if own:
        engine = engine_from_settings(settings)
    try:
        return refresh(_store(settings, store), progress, engine=engine)
    finally:
        if own:
            engine.close()


def build_labels(settings: Settings, store: Any = None) -> LabelsOutput:
    from stockvision.features.refresh import build_labels as refresh

    return refresh(_store(settings, store), LabelSpec.from_settings(settings))


def validate(settings: Settings, store: Any = None) -> ValidateOutput:
    """The dataset validation report (JSON, text and HTML under reports/validation)."""
    from stockvision.features.report import render_html, render_text, validate_features

    feats, labels = load_snapshot(settings, store)
    report = validate_features(feats, labels, settings.min_history_weeks)
    out = settings.reports_dir / "validation"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    (out / "report.txt").write_text(render_text(report), encoding="utf-8")
    (out / "report.html").write_text(render_html(report), encoding="utf-8")
    return ValidateOutput(alerts=report.get("alerts", []), report_dir=rel(settings, out))


def load_snapshot(settings: Settings, store: Any = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    store = _store(settings, store)
    feats = store.read_features()
    labels = store.read_labels()
    if feats is None or feats.empty:
        raise NoDataError(
            "No weekly features in the store.",
            "Run 'stockvision features build' first.",
            message_vi="Kho dữ liệu chưa có đặc trưng tuần nào.",
        )
    universe = set(settings.universe) if settings.universe else None
    if universe:
        feats = feats.loc[feats.index.get_level_values(0).isin(universe)]
        labels = labels.loc[labels.index.get_level_values(0).isin(universe)]
    if settings.news_features:
        from stockvision.news.features import store_news_features

        feats = store_news_features(store, feats, half_life_weeks=settings.news_half_life_weeks)
    return feats.sort_index(), labels.sort_index()


def snapshot(settings: Settings, store: Any = None) -> SnapshotOutput:
    """Freeze the feature/label matrix the models train on (Parquet, named by its content digest)."""
    feats, labels = load_snapshot(settings, store)
    joined = feats.join(labels, how="left")
    dig = frame_digest(joined)
    path = settings.subdir("snapshots") / f"{dig[:16]}.parquet"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        joined.to_parquet(tmp)
        tmp.replace(path)
    weeks = joined.index.get_level_values(1)
    return SnapshotOutput(
        digest=dig,
        path=rel(settings, path),
        start=str(pd.Timestamp(weeks.min()).date()),
        end=str(pd.Timestamp(weeks.max()).date()),
        symbols=sorted(joined.index.get_level_values(0).unique().tolist()),
        rows=len(joined),
        simulated=_simulated(settings, store),
    )


def _simulated(settings: Settings, store: Any = None) -> bool:
    summary = _store(settings, store).symbols_summary()
    return bool(len(summary) and summary["simulated"].any())


def _builder_from_snapshot(settings: Settings, snap: SnapshotOutput):
    from stockvision.features import FEATURES
    from stockvision.features.dataset import DatasetBuilder

    joined = pd.read_parquet(resolve(settings, snap.path))
    cols = [*FEATURES, *_news_columns(joined)]
    feats = joined[cols]
    labels = joined.drop(columns=cols)
    return DatasetBuilder(
        feats,
        labels,
        seq_len=settings.seq_len,
        horizon=settings.horizon_weeks,
        extra_features=cols[len(FEATURES) :],
    )


def _news_columns(frame: pd.DataFrame) -> list[str]:
    """The news feature columns a snapshot holds (none unless built with SV_NEWS_FEATURES=true)."""
    from stockvision.news.features import NEWS_FEATURES

    return [c for c in NEWS_FEATURES if c in frame.columns]


# ---------------------------------------------------------------------------------------------- training
#: Fewest labelled weeks the baselines are fitted on when the history is short: their conformal
#: factor is calibrated on the latest 15 % of the weeks after a purge gap of ``horizon`` weeks, and
#: fewer than a quarter of weeks leaves one or two weeks of calibration rows.
SHORT_MIN_FIT_WEEKS = 13


def walk_forward_splitter(settings: Settings):
    """The splitter of the pipeline's walk-forward evaluation (also what decides a short history)."""
    from stockvision.evaluation.splits import WalkForwardSplitter

    return WalkForwardSplitter(
        horizon=settings.horizon_weeks,
        val_weeks=settings.val_weeks,
        max_folds=settings.eval_max_folds,
    )


def short_history(settings: Settings, builder) -> ShortHistory | None:
    """None when the walk-forward evaluation has at least one fold; else why not (a short history:
    one year of vnstock guest data, a young market), with the holdout the baselines can be measured
    on (the last ``val_weeks`` labelled weeks after a purge gap, when enough weeks remain to fit)."""
    weeks = builder.labelled_weeks()
    splitter = walk_forward_splitter(settings)
    if splitter.n_splits(weeks) > 0:
        return None
    need = splitter.min_train_weeks + splitter.gap + 1
    gap = settings.horizon_weeks + 1
    enough = len(weeks) >= SHORT_MIN_FIT_WEEKS + gap + settings.val_weeks
    return ShortHistory(
        labelled_weeks=len(weeks),
        need_weeks=need,
        holdout_weeks=settings.val_weeks if enough else 0,
        history_weeks=len(builder.calendar),
        horizon=settings.horizon_weeks,
    )


def short_split(settings: Settings, builder, plan: ShortHistory) -> tuple[Any, Any | None]:
    """(fit window, holdout window or None) of a short history.

    The baselines calibrate their interval on the tail of the fit window (never on the holdout),
    so the holdout measures them out of sample. Fewer than ``SHORT_MIN_FIT_WEEKS`` labelled weeks
    leave nothing to calibrate on: a clear error says how much history is needed.
    """
    weeks = builder.labelled_weeks()
    if len(weeks) < SHORT_MIN_FIT_WEEKS:
        first_usable = settings.horizon_weeks + SHORT_MIN_FIT_WEEKS
        raise NoDataError(
            f"Only {len(weeks)} labelled weeks: too few to calibrate even the baselines' ranges; "
            f"at least {SHORT_MIN_FIT_WEEKS} are needed (about {first_usable} weeks of prices, "
            f"since the last {settings.horizon_weeks} weeks have no 4-week outcome yet).",
            "Import more history (stockvision ingest --source csv FILE).",
            message_vi=(
                f"Chỉ có {len(weeks)} tuần có nhãn: quá ít để hiệu chỉnh cả khoảng dự báo của mô "
                f"hình cơ sở (cần ít nhất {SHORT_MIN_FIT_WEEKS} tuần, tức khoảng {first_usable} "
                "tuần dữ liệu giá)."
            ),
            details={"labelled_weeks": len(weeks), "need_weeks": SHORT_MIN_FIT_WEEKS},
        )
    if not plan.holdout_weeks:
        return builder.window(), None
    gap = settings.horizon_weeks + 1
    train_end = weeks[-(plan.holdout_weeks + gap)]
    split = builder.split(train_end, plan.holdout_weeks, 0)
    return split.train, split.val


def training_split(settings: Settings, builder) -> tuple[Any, Any | None, ShortHistory | None]:
    """The split the train step fits on and promotion re-checks: (train, val, short history)."""
    plan = short_history(settings, builder)
    if plan is None:
        train_w, val_w = final_split(settings, builder)
        return train_w, val_w, None
    train_w, val_w = short_split(settings, builder, plan)
    return train_w, val_w, plan


def short_history_models() -> list[tuple[str, str]]:
    """What a short history trains: the served fallbacks and the price reference (for its skill)."""
    return [
        ("price", FALLBACK["price"]),
        ("price", REFERENCE["price"]),
        ("pattern", FALLBACK["pattern"]),
    ]


def final_split(settings: Settings, builder) -> tuple[Any, Any]:
    """Train on every labelled week except the last ``val_weeks``, which (after a purge gap) validate."""
    labelled = builder.window()
    weeks = np.unique(labelled.X.index.get_level_values(1))
    gap = settings.horizon_weeks + 1
    if len(weeks) < settings.val_weeks + gap + 26:
        need = settings.val_weeks + gap + 26
        raise NoDataError(
            f"Only {len(weeks)} labelled weeks: too few to train and validate; at least {need} "
            "are needed, and the features read 52 weeks of history before a week is usable, so "
            "about two years of prices are the minimum.",
            "Import more history (stockvision ingest --source csv FILE with two years or more).",
            message_vi=(
                f"Chỉ có {len(weeks)} tuần có nhãn: quá ít để huấn luyện và kiểm định (cần ít nhất "
                f"{need}); đặc trưng cần 52 tuần lịch sử trước mỗi tuần dùng được, nên cần khoảng "
                "hai năm dữ liệu giá."
            ),
            details={"labelled_weeks": len(weeks), "need_weeks": need},
        )
    train_end = weeks[-(settings.val_weeks + gap)]
    split = builder.split(train_end, settings.val_weeks, 0)
    return split.train, split.val


def model_params(name: str, settings: Settings) -> dict[str, Any]:
    """Constructor arguments of model ``name`` from the run's shared context (those it accepts)."""
    from stockvision.models.registry_names import model_params as params_of

    return params_of(name, ModelContext.from_settings(settings))


def _fit(name: str, settings: Settings, train, val):
    """Fit ``name``; ``val`` None (a short history) lets a price model hold out its own calibration
    tail of ``train``."""
    model = make_model(name, ModelContext.from_settings(settings))
    model.fit(train, val)
    return model


def val_metric(kind: str, model: Any, window: Any) -> float:
    """The validation metric recorded at training and re-checked before promotion."""
    from stockvision.evaluation import metrics as em
    from stockvision.features.labels import pattern_to_codes

    if kind == "price":
        y = window.labels["future_log_return"].to_numpy(dtype=float)
        raw = window.labels["raw_close"].to_numpy(dtype=float)
        ok = np.isfinite(y)
        pred = np.asarray(model.predict(window), dtype=float)
        return float(em.mae_pct(raw[ok] * np.exp(pred[ok]), raw[ok] * np.exp(y[ok])))
    codes = pattern_to_codes(window.labels["pattern"])
    ok = codes >= 0
    probs = np.asarray(model.predict_proba(window), dtype=float)
    return float(em.log_loss(probs[ok], codes[ok]))


def train(settings: Settings, snap: SnapshotOutput, progress: Progress = None) -> TrainOutput:
    """Fit the primary models and their baselines on the final split; save them under the data dir."""
    from stockvision.jsonutil import jsonable

    cfg = training_config(settings)
    check_model_names([*cfg["primary"].values(), *cfg["baseline"].values()])
    builder = _builder_from_snapshot(settings, snap)
    train_w, val_w, short = training_split(settings, builder)
    out_dir = settings.subdir("models") / snap.digest[:16]
    out_dir.mkdir(parents=True, exist_ok=True)
    models: dict[str, TrainedModel] = {}
    primary = dict(cfg["primary"])
    if short is None:
        names = [(k, cfg["primary"][k]) for k in ("price", "pattern")] + [
            (k, cfg["baseline"][k]) for k in ("price", "pattern")
        ]
    else:
        # no walk-forward fold: a learned model could not be validated, so only the baselines are
        # trained and served (labelled); they read at most the last seq_len weeks of a stock
        names = short_history_models()
        primary = dict(FALLBACK)
        log.warning("short history: %s; training the baselines only", short.reason_en)
    for i, (kind, name) in enumerate(names):
        if progress:
            progress(i, len(names), "train")
        t0 = datetime.now(UTC)
        model = _fit(name, settings, train_w, val_w if short is None else None)
        path = out_dir / name
        if path.exists():
            shutil.rmtree(path)
        model.save(path)
        check_w = val_w if val_w is not None else train_w
        models[name] = TrainedModel(
            kind=kind,
            dir=rel(settings, path),
            val_metric=val_metric(kind, model, check_w),
            val_metric_name="mae_pct" if kind == "price" else "log_loss",
            seconds=(datetime.now(UTC) - t0).total_seconds(),
            params=jsonable(model.get_params()),
        )
    if progress:
        progress(len(names), len(names), "train")
    return TrainOutput(
        models=models,
        primary=primary,
        baseline=cfg["baseline"],
        train_window=_date_range(train_w),
        val_window=_date_range(val_w) if val_w is not None else [],
        run_id=uuid.uuid4().hex,
        short_history=short,
    )


def _date_range(window) -> list[str]:
    weeks = window.X.index.get_level_values(1)
    return [str(pd.Timestamp(weeks.min()).date()), str(pd.Timestamp(weeks.max()).date())]


# ---------------------------------------------------------------------------------------------- evaluation
def evaluate(
    settings: Settings,
    snap: SnapshotOutput,
    progress: Progress = None,
    models: list[str] | None = None,
    out_dir: Path | None = None,
    store: Any = None,
    on_error: str = "raise",
) -> EvaluateOutput:
    """Walk-forward evaluation of the candidates and baselines; writes report.html and metrics.json.

    The pipeline evaluates its candidates with ``on_error="raise"`` (a broken candidate must stop the run);
    ``stockvision evaluate`` compares every model with ``on_error="drop"`` (a failing model is listed).
    """
    from stockvision.evaluation.evaluate import evaluate_dataset

    builder = _builder_from_snapshot(settings, snap)
    out_dir = Path(out_dir) if out_dir else settings.reports_dir / "evaluation" / snap.digest[:16]
    short = short_history(settings, builder)
    if short is not None:
        return evaluate_short(settings, builder, short, out_dir)
    cfg = training_config(settings)
    names = models or list(
        dict.fromkeys([*cfg["primary"].values(), *cfg["baseline"].values(), *REFERENCE.values()])
    )
    check_model_names(names)
    splitter = walk_forward_splitter(settings)
    daily = adjusted_daily(_store(settings, store), symbols=snap.symbols)
    cb = None
    if progress:

        def cb(event):  # ProgressEvent -> one bar per model, advancing by fold
            done = event.fold + (1 if event.stage == "done" else 0)
            progress(done, event.n_folds, f"walk-forward {event.model}")

    _, _, result = evaluate_dataset(
        builder,
        daily,
        out_dir,
        names,
        splitter,
        settings=settings,
        show_progress=False,
        progress=cb,
        on_error=on_error,  # type: ignore[arg-type]
        model_params={n: model_params(n, settings) for n in names},
    )
    metrics = json.loads((out_dir / "metrics.json").read_text())
    return EvaluateOutput(
        digest=frame_digest(result.predictions),
        report_dir=rel(settings, out_dir),
        metrics={name: flat_metrics(block) for name, block in metrics["models"].items()},
        window=metrics.get("evaluation_window"),
        failed=sorted(getattr(result, "failed", {}) or {}),
        # the last fold's pooled temperature: fitted on the validation predictions of every fold
        temperatures={
            name: float(ts[-1])
            for name, ts in (getattr(result, "temperatures", {}) or {}).items()
            if ts
        },
    )


def evaluate_short(
    settings: Settings, builder, short: ShortHistory, out_dir: Path
) -> EvaluateOutput:
    """The evaluation of a history too short for walk-forward: skipped, with the reason recorded,
    and the baselines measured on the holdout weeks when there are enough of them.

    The baselines are refitted exactly as the train step fits them (deterministic, no seed), so
    what is measured here is the model that is served. ``metrics.json`` says
    ``walk_forward.skipped`` with the reason in both languages; each model's block holds its
    ``holdout`` figures (coverage of the 80 % range, CRPS and its skill against the constant-width
    random walk, log loss for the class frequencies), or none when nothing could be measured.
    """
    from stockvision.evaluation import metrics as em
    from stockvision.features.labels import pattern_to_codes

    train_w, hold = short_split(settings, builder, short)
    base = short.metrics()
    flat: dict[str, dict[str, float]] = {}
    blocks: dict[str, dict[str, Any]] = {}
    crps: dict[str, float] = {}
    for kind, name in short_history_models():
        holdout: dict[str, float] = {}
        if hold is not None:
            model = _fit(name, settings, train_w, None)
            if kind == "price":
                y = hold.y_return
                ok = np.isfinite(y)
                dist = model.predict_distribution(hold)
                low, high = dist.interval(float(settings.interval_coverage))
                crps[name] = float(np.mean(dist.take(ok).crps(y[ok])))
                holdout = {
                    "holdout_coverage_80": float(np.mean((y[ok] >= low[ok]) & (y[ok] <= high[ok]))),
                    "holdout_crps": crps[name],
                    "holdout_mean_width_80_pct": float(
                        np.mean(np.expm1(high[ok]) - np.expm1(low[ok])) * 100
                    ),
                    "holdout_rows": float(ok.sum()),
                }
            else:
                codes = pattern_to_codes(hold.labels["pattern"])
                ok = codes >= 0
                probs = np.asarray(model.predict_proba(hold), dtype=float)
                holdout = {
                    "holdout_log_loss": float(em.log_loss(probs[ok], codes[ok])),
                    "holdout_rows": float(ok.sum()),
                }
        flat[name] = {**base, **holdout}
        blocks[name] = {"kind": kind, "holdout": holdout}
    ref = REFERENCE["price"]
    for name, value in crps.items():
        if name != ref and crps.get(ref):
            flat[name]["holdout_crps_skill"] = 1.0 - value / crps[ref]
            blocks[name]["holdout"]["holdout_crps_skill"] = flat[name]["holdout_crps_skill"]
    window = None
    if hold is not None:
        window = {"holdout": _date_range(hold), "train": _date_range(train_w)}
    document = {
        "walk_forward": {
            "skipped": True,
            **short.to_dict(),
            "reason_en": short.reason_en,
            "reason_vi": short.reason_vi,
        },
        "evaluation_window": window,
        "models": blocks,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    from stockvision.jsonutil import jsonable

    text = json.dumps(jsonable(document), indent=1, sort_keys=True)
    tmp = out_dir / "metrics.json.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out_dir / "metrics.json")
    return EvaluateOutput(
        digest=digest("short", text),
        report_dir=rel(settings, out_dir),
        metrics=flat,
        window=window,
        skipped=short,
    )


def flat_metrics(block: dict[str, Any]) -> dict[str, float]:
    """``{"price": {"mae_pct": ..}, "pattern": {...}}`` -> ``{"mae_pct": .., "accuracy": ..}``.

    Other groups are prefixed (``distribution_crps``, ``ranking_rank_ic_mean``); a 2-value
    interval such as ``rank_ic_ci95`` becomes ``..._low`` / ``..._high``; the coverage by
    predicted scale becomes ``distribution_cov80_scale_bin{i}_*`` (read back by
    :meth:`~stockvision.evaluation.scale_coverage.ScaleCoverage.from_metrics`).
    """
    from stockvision.evaluation.scale_coverage import BLOCK_KEY, ScaleCoverage

    flat: dict[str, float] = {}
    for group in ("price", "pattern", "distribution", "ranking", "backtest"):
        for key, value in (block.get(group) or {}).items():
            name = key if group in ("price", "pattern") else f"{group}_{key}"
            if group == "distribution" and key == BLOCK_KEY:
                by_scale = ScaleCoverage.from_block(value or [])
                if by_scale is not None:
                    flat.update(by_scale.flat())
            elif isinstance(value, list) and len(value) == 2 and key.endswith("ci95"):
                for end, v in zip(("low", "high"), value, strict=True):
                    if isinstance(v, int | float) and np.isfinite(v):
                        flat[f"{name}_{end}"] = float(v)
            elif isinstance(value, int | float) and value is not None and np.isfinite(value):
                flat[name] = float(value)
    return flat


# ---------------------------------------------------------------------------------------------- registry
def _dataset_info(snap: SnapshotOutput):
    from stockvision.registry.model_registry import DatasetInfo

    return DatasetInfo(
        digest=snap.digest,
        start=snap.start,
        end=snap.end,
        symbols=snap.symbols,
        rows=snap.rows,
        simulated=bool(snap.simulated),
    )


def _input_example(settings: Settings, snap: SnapshotOutput) -> pd.DataFrame:
    """The last ``seq_len`` weeks of one symbol: what the pyfunc wrapper takes (logged with the model)."""
    from stockvision.features import FEATURES

    joined = pd.read_parquet(resolve(settings, snap.path))
    first = joined.index.get_level_values(0)[0]
    rows = joined.loc[[first]].tail(settings.seq_len).reset_index()
    cols = [*FEATURES, *_news_columns(joined)]
    example = rows[["symbol", "week_end", *cols, "raw_close"]].copy()
    example["week_end"] = example["week_end"].dt.strftime("%Y-%m-%d")
    return example.astype({c: "float64" for c in [*cols, "raw_close"]})


def register(
    settings: Settings, trained: TrainOutput, evaluated: EvaluateOutput, snap: SnapshotOutput
) -> RegisterOutput:
    """Log the primary models to MLflow as new versions (no alias yet)."""
    from stockvision.models.base import load_model
    from stockvision.registry.model_registry import ModelRegistry

    registry = ModelRegistry(settings)
    registry.recover()  # what a killed earlier attempt left (the pipeline lock is held)
    versions: dict[str, RegisteredVersion] = {}
    artifacts = [resolve(settings, evaluated.report_dir)] if evaluated.report_dir else []
    example = _input_example(settings, snap)
    for kind in ("price", "pattern"):
        name = trained.primary[kind]
        info = trained.models[name]
        model = load_model(resolve(settings, info.dir))
        metrics = dict(evaluated.metrics.get(name, {}))
        metrics[f"val_{info.val_metric_name}"] = info.val_metric
        extra: dict[str, Any] = {}
        pooled_t = evaluated.temperatures.get(name)
        if kind == "pattern" and pooled_t is not None and hasattr(model, "temperature_"):
            # Serve with the temperature whose calibration the walk-forward measured (pooled over
            # every fold's validation window) rather than one fitted on the last 13 weeks alone,
            # which measured worse out of sample; the validation metric is recorded for that model.
            extra = {
                "temperature_own_val": float(model.temperature_),
                "temperature_served": pooled_t,
            }
            model.temperature_ = pooled_t
            train_w, val_w, _ = training_split(settings, _builder_from_snapshot(settings, snap))
            check_w = val_w if val_w is not None else train_w
            metrics[f"val_{info.val_metric_name}"] = val_metric(kind, model, check_w)
        record = registry.log_model(
            kind,
            model,
            metrics=metrics,
            params={
                "model": name,
                **info.params,
                "train_window": trained.train_window,
                "val_window": trained.val_window,
                **extra,
            },
            dataset=_dataset_info(snap),
            artifacts=artifacts,
            input_example=example,
            tags=evaluation_tags(evaluated),
            # a re-run of this step with the same inputs finds the version instead of adding one
            key=digest(
                kind,
                name,
                info.params,
                info.val_metric,
                evaluated.digest,
                snap.digest,
                trained.run_id,
            ),
        )
        versions[kind] = RegisteredVersion(version=record.version, model=name)
    baseline = None
    if trained.short_history is None:
        baseline = _register_baseline(registry, settings, trained, evaluated, snap, example)
    return RegisterOutput(versions=versions, baseline=baseline)


def _register_baseline(
    registry, settings: Settings, trained: TrainOutput, evaluated: EvaluateOutput, snap, example
) -> RegisteredVersion | None:
    """Register the price fallback trained with the candidates as the served ``price_baseline``.

    Symbols whose history is shorter than the champion's features read (new listings in a
    long-history market) are forecast by it, with its walk-forward metrics, instead of being
    dropped. Not a forecast-model version: no promotion rules, the alias follows each training.
    """
    from stockvision.models.base import load_model

    name = BASELINE["price"]
    info = trained.models.get(name)
    if info is None:
        return None
    model = load_model(resolve(settings, info.dir))
    record = registry.log_model(
        "price_baseline",
        model,
        metrics=dict(evaluated.metrics.get(name, {})),
        params={"model": name, **info.params},
        dataset=_dataset_info(snap),
        input_example=example,
        run_name=f"price-baseline-{name}",
        tags=evaluation_tags(evaluated),
        key=digest(
            "price_baseline", name, info.params, evaluated.digest, snap.digest, trained.run_id
        ),
    )
    registry.serve_aux("price_baseline", record.version)
    return RegisteredVersion(version=record.version, model=name)


def evaluation_tags(evaluated: EvaluateOutput) -> dict[str, str]:
    """Version tags saying how a model was evaluated (``walk_forward`` or why it was skipped)."""
    if evaluated.skipped is None:
        return {"evaluation.walk_forward": "done"}
    short = evaluated.skipped
    return {
        "evaluation.walk_forward": "skipped",
        "evaluation.reason": short.reason_en,
        "evaluation.reason_vi": short.reason_vi,
        "evaluation.labelled_weeks": str(short.labelled_weeks),
        "evaluation.need_weeks": str(short.need_weeks),
        "evaluation.holdout_weeks": str(short.holdout_weeks),
    }


def _verify(
    registry, kind: str, version: str, settings: Settings, snap: SnapshotOutput, recorded: float
) -> str | None:
    """Reload a registered version and re-check its validation metric; None when it reproduces."""
    try:
        model, _ = registry.load(kind, version)
    except Exception as exc:
        return f"version {version} failed to load: {exc}"
    builder = _builder_from_snapshot(settings, snap)
    train_w, val_w, _ = training_split(settings, builder)
    again = val_metric(kind, model, val_w if val_w is not None else train_w)
    if not np.isclose(again, recorded, rtol=1e-6, atol=1e-9):
        return f"version {version} does not reproduce its validation metric ({again:.6f} vs {recorded:.6f})"
    return None


def promote(
    settings: Settings,
    registered: RegisterOutput,
    evaluated: EvaluateOutput,
    snap: SnapshotOutput,
) -> PromoteOutput:
    """Apply the promotion rules to each newly registered version and record every decision."""
    from stockvision.models.base import load_model
    from stockvision.registry.model_registry import ModelRegistry
    from stockvision.registry.promotion import Decision, decide

    registry = ModelRegistry(settings)
    decisions: dict[str, PromotionOutcome] = {}
    metrics = evaluated.metrics
    for kind in ("price", "pattern"):
        entry = registered.versions[kind]
        version = entry.version
        record = registry.get(kind, version)
        done = _recorded_outcome(registry, kind, record)
        if done is not None:  # decided by an attempt that was killed before the step finished
            decisions[kind] = done
            continue
        if evaluated.skipped is not None:
            decisions[kind] = _promote_short(
                registry, kind, version, entry.model, evaluated, settings, snap
            )
            continue
        challenger = metrics.get(entry.model, {})
        champion_rec = registry.champion(kind)
        champion_metrics = None
        if champion_rec is not None:
            # same walk-forward window: the champion's model spec was scored in this evaluation too
            champion_metrics = metrics.get(_spec_name(champion_rec)) or champion_rec.metrics
        # the fallback baseline (its CRPS is the bar); the constant-width reference has the same
        # point forecast, so its MAE stands in when the fallback was not scored
        baseline = metrics.get(BASELINE[kind]) or metrics.get(REFERENCE[kind])
        decision = decide(kind, challenger, champion_metrics, baseline, settings)
        recorded = record.metrics.get("val_mae_pct" if kind == "price" else "val_log_loss")
        if decision.promote:
            problem = (
                _verify(registry, kind, version, settings, snap, recorded)
                if recorded is not None
                else ("no recorded validation metric")
            )
            if problem:
                decision = Decision(False, f"not promoted: {problem}", decision.compared)
        if decision.promote:
            registry.promote(kind, version, decision, verify=False)  # _verify loaded it
            action = "promoted"
        else:
            registry.mark_challenger(kind, version, decision)
            action = "kept_challenger"
        fallback = None
        # no champion at all (first model lost to its baseline): serve the baseline, and say so
        if registry.champion(kind) is None:
            base_name = BASELINE[kind]
            base_dir = Path(settings.subdir("models") / snap.digest[:16] / base_name)
            if base_dir.exists():
                base_model = load_model(base_dir)
                base_rec = registry.log_model(
                    kind,
                    base_model,
                    metrics=dict(metrics.get(base_name, {})),
                    params={"model": base_name},
                    dataset=_dataset_info(snap),
                    run_name=f"{kind}-{base_name}-fallback",
                    key=digest("fallback", kind, base_name, snap.digest, version),
                )
                registry.promote(
                    kind,
                    base_rec.version,
                    Decision(
                        True,
                        f"no model beat the naive baseline yet: serving the {base_name} baseline "
                        f"(v{version} stays challenger: {decision.reason})",
                        {"challenger_version": version},
                    ),
                )
                fallback = RegisteredVersion(version=base_rec.version, model=base_name)
        decisions[kind] = PromotionOutcome(
            version=version,
            action=action,
            reason=decision.reason,
            compared=decision.compared,
            fallback_champion=fallback,
        )
    return PromoteOutput(decisions=decisions)


def _promote_short(
    registry,
    kind: str,
    version: str,
    model: str,
    evaluated: EvaluateOutput,
    settings: Settings,
    snap: SnapshotOutput,
) -> PromotionOutcome:
    """Promotion when the walk-forward evaluation was skipped (a short history).

    The registered version is a baseline, served labelled as one with the reason. A champion that
    was validated walk-forward is never replaced by an unvalidated model; an earlier unvalidated
    champion is (newer data). The version must still load and reproduce its recorded metric.
    """
    from stockvision.registry.promotion import Decision

    short = evaluated.skipped
    assert short is not None
    champion = registry.champion(kind)
    measured = evaluated.metrics.get(model, {})
    compared = {
        "walk_forward": "skipped",
        "labelled_weeks": short.labelled_weeks,
        "need_weeks": short.need_weeks,
        **{k: v for k, v in measured.items() if k.startswith("holdout_")},
    }
    validated_champion = (
        champion is not None
        and champion.version != version
        and champion.tags.get("evaluation.walk_forward") != "skipped"
    )
    if validated_champion:
        decision = Decision(
            False,
            f"not promoted: {short.reason_en}, and champion v{champion.version} was validated "
            "walk-forward",
            compared,
        )
    else:
        decision = Decision(
            True,
            f"serving the {model} baseline: {short.reason_en}",
            compared,
        )
        record = registry.get(kind, version)
        recorded = record.metrics.get("val_mae_pct" if kind == "price" else "val_log_loss")
        problem = (
            _verify(registry, kind, version, settings, snap, recorded)
            if recorded is not None
            else "no recorded validation metric"
        )
        if problem:
            decision = Decision(False, f"not promoted: {problem}", compared)
    if decision.promote:
        registry.promote(kind, version, decision, verify=False)
        action = "promoted"
    else:
        registry.mark_challenger(kind, version, decision)
        action = "kept_challenger"
    return PromotionOutcome(
        version=version, action=action, reason=decision.reason, compared=decision.compared
    )


def _recorded_outcome(registry, kind: str, record) -> PromotionOutcome | None:
    """The decision already taken for ``record`` (a resumed step must not decide twice).

    A version that became champion but lost its decision tags to a kill is completed as promoted.
    """
    action = record.tags.get("promotion.decision")
    if action is None and "champion" in record.aliases:
        from stockvision.registry.promotion import Decision

        registry.record_decision(
            kind, record.version, Decision(True, "promotion completed after an interruption", {}),
            action="promoted",
        )  # fmt: skip
        record = registry.get(kind, record.version)
        action = "promoted"
    if action is None:
        return None
    try:
        compared = json.loads(record.tags.get("promotion.compared") or "{}")
    except json.JSONDecodeError:
        compared = {}
    fallback = None
    champion = registry.champion(kind)
    baseline_serves = (
        champion is not None
        and champion.version != record.version
        and champion.tags.get("model_name") == BASELINE[kind]
    )
    if baseline_serves and action != "promoted":
        fallback = RegisteredVersion(version=champion.version, model=BASELINE[kind])
    return PromotionOutcome(
        version=record.version,
        action=action,
        reason=record.tags.get("promotion.reason", ""),
        compared=compared,
        fallback_champion=fallback,
    )


def _spec_name(record) -> str:
    """The MODEL_FACTORIES name of a registered version (logged as the ``model`` parameter)."""
    return record.tags.get("model_name") or record.model_class


def champion_versions(settings: Settings) -> dict[str, str | None]:
    try:
        from stockvision.registry.champions import champion_versions as versions
        from stockvision.registry.model_registry import ModelRegistry

        return versions(ModelRegistry(settings))
    except Exception:
        return {"price": None, "pattern": None}


# ---------------------------------------------------------------------------------------------- serving
def batch_predict(settings: Settings, store: Any = None) -> BatchPredictOutput:
    """Champion predictions for the whole universe, written to the store, through the prediction core
    (the same predictor the API serves with)."""
    from stockvision.data.directory import SymbolDirectory
    from stockvision.errors import StockVisionError
    from stockvision.predict import Predictor, load_panel, min_weeks
    from stockvision.registry.champions import load_champions
    from stockvision.registry.model_registry import ModelRegistry

    store = _store(settings, store)
    models = load_champions(ModelRegistry(settings))
    versions = {"price": models.price_version, "pattern": models.pattern_version}
    panel = load_panel(store, settings.seq_len, settings.horizon_weeks, news=_panel_news(settings))
    if panel is None or not models.ready:
        reason = "no champion models" if not models.ready else "no features in the store"
        return BatchPredictOutput(predicted=0, errors=[{"error": reason}], versions=versions)
    universe = settings.universe or panel.symbols
    errors: list[dict[str, Any]] = []
    ok: list[str] = []
    need = min_weeks(settings, models)
    for sym in dict.fromkeys(s.strip().upper() for s in universe):
        try:
            ok.append(_predictable(sym, panel, settings, need))
        except StockVisionError as exc:
            errors.append({"symbol": sym, "error": exc.code, "message": exc.message})
    predictor = Predictor(
        settings.horizon_weeks,
        settings.interval_coverage,
        SymbolDirectory(store).describe,
        bands=(settings.pattern_up, settings.pattern_down),
    )
    preds = (
        predictor.predict(
            panel.window(ok), models, simulated=panel.simulated, history_weeks=panel.history_weeks
        )
        if ok
        else []
    )
    if preds:
        store.save_predictions([p.to_record("batch") for p in preds])
    return BatchPredictOutput(predicted=len(preds), errors=errors, versions=versions)


def _panel_news(settings: Settings) -> float | None:
    """The news half-life the serving panel joins news with (None: no news columns)."""
    return settings.news_half_life_weeks if settings.news_features else None


def _predictable(symbol: str, panel: Any, settings: Settings, need: int) -> str:
    """``symbol`` if the batch can predict it from the panel (``need`` weeks of data at least);
    else the reason as an error."""
    from stockvision.errors import (
        DataUnavailableError,
        InsufficientHistoryError,
        UnknownSymbolError,
    )

    if symbol not in panel.info:
        raise UnknownSymbolError(symbol)
    have = panel.info[symbol][0]
    if have < need:
        raise InsufficientHistoryError(symbol, have, need)
    if panel.stale(symbol, settings.stale_after_days):
        raise DataUnavailableError(
            symbol,
            f"its newest week ({panel.info[symbol][1]}) lags the market ({panel.data_as_of})",
            f"tuần mới nhất ({panel.info[symbol][1]}) chậm hơn thị trường ({panel.data_as_of})",
        )
    return symbol


def monitor(settings: Settings, store: Any = None, retrained: bool = False) -> MonitorOutput:
    """Live outcomes and drift of the champions; may mark them degraded (``MonitoringState``).

    ``retrained``: the models were retrained on the current data earlier in this run. A degradation
    flagged now is then already answered (a retrain on the same data would fit the same models), so its
    token is acknowledged and does not force another retrain; a later, new token does.
    """
    from stockvision.monitoring.report import run_monitoring

    result = run_monitoring(settings, store=_store(settings, store))
    state = monitoring_state(settings)
    flag = state.degraded()
    if retrained and flag is not None:
        state.acknowledge(flag.token)
    return MonitorOutput(summary=result["summary"], report_dir=rel(settings, result["report_dir"]))


def monitoring_state(settings: Settings):
    from stockvision.monitoring.state import MonitoringState

    return MonitoringState(settings.subdir("monitoring"))


def retrain_token(settings: Settings) -> str | None:
    """The token of a degradation not yet answered by a retrain (part of the train fingerprint)."""
    return monitoring_state(settings).retrain_token()
