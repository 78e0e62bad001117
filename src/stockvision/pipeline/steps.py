"""The pipeline's step functions. Each takes the settings (and earlier outputs) and returns a JSON-able dict.

They are also what the CLI commands call (``ingest``, ``features build``, ``evaluate``...), so there is one
implementation of each piece of work whatever starts it.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stockvision import __version__
from stockvision.config import Settings
from stockvision.errors import StockVisionError

log = logging.getLogger(__name__)

CODE_VERSION = f"{__version__}+steps1"
Progress = Callable[[float, float | None, str], None] | None

#: Naive baselines trained next to the primary models (settings.price_model / settings.pattern_model);
#: the other models are compared in ``stockvision evaluate``.
BASELINE = {"price": "random_walk", "pattern": "majority"}


class NoDataError(StockVisionError):
    """The store has nothing to work on yet."""


def _store(settings: Settings, store: Any = None):
    if store is not None:
        return store
    from stockvision.data.store import Store

    return Store.from_settings(settings)


def training_config(settings: Settings) -> dict[str, Any]:
    """Every setting that changes what is trained (part of the train/evaluate fingerprints)."""
    primary = {"price": settings.price_model, "pattern": settings.pattern_model}
    return {
        "primary": primary,
        "baseline": BASELINE,
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
    }


def frame_digest(frame: pd.DataFrame) -> str:
    """Content digest of a frame (index and values), stable across runs."""
    if frame is None or len(frame) == 0:
        return "empty"
    hashed = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    import hashlib

    h = hashlib.sha256(hashed.tobytes())
    h.update(",".join(map(str, frame.columns)).encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------- data
def fetch(
    settings: Settings,
    progress: Progress = None,
    store: Any = None,
    paths: list[Path] | None = None,
    source: str | None = None,
    symbols: list[str] | None = None,
) -> dict[str, Any]:
    """Read the configured source, write new/changed rows to the store, recompute adjustment factors."""
    from stockvision.data.sources import get_source

    store = _store(settings, store)
    name = source or settings.source
    kwargs: dict[str, Any] = {}
    if paths:
        kwargs["paths"] = paths
    if name == "auto":
        kwargs["store_reader"] = lambda: _read_store_labelled(store)
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
    result = src.fetch(wanted, start, None, progress=cb)
    upsert = store.upsert_daily(result.frame, source=result.source, simulated=result.simulated)
    market = getattr(src, "market", None)  # the synthetic source knows its simulated listings
    if result.simulated and market is not None and hasattr(market, "listings"):
        listed = market.listings[["symbol", "exchange"]].astype(str)
        store.upsert_symbols(listed[listed["symbol"].isin(result.symbols)].assign(simulated=True))
    factors = adjust_store(settings, store=store)
    daily = store.read_daily()
    return {
        "source": result.source,
        "simulated": bool(result.simulated),
        "rows_read": result.report.rows_read,
        "rows_parsed": result.report.rows_imported,
        "parse_errors": [str(e) for e in result.report.errors[:50]],
        "n_parse_errors": len(result.report.errors),
        "inserted": upsert.inserted,
        "updated": upsert.updated,
        "unchanged": upsert.unchanged,
        "rejected": len(upsert.rejected.rejected) if upsert.rejected is not None else 0,
        "rejected_rows": [
            f"{r['symbol']} {str(r['date'])[:10]}: {r['reason']}"
            for r in upsert.rejected.rejected.head(20).to_dict("records")
        ],
        "warnings": list(upsert.rejected.warnings),
        "symbols": sorted(daily["symbol"].unique().tolist()) if len(daily) else [],
        "latest_date": str(pd.Timestamp(daily["date"].max()).date()) if len(daily) else None,
        "corporate_actions": factors["events"],
        "data_digest": frame_digest(daily),
    }


def _read_store_labelled(store: Any) -> pd.DataFrame:
    """The store's daily frame for the auto source, flagged simulated when every symbol in it is."""
    daily = store.read_daily()
    summary = store.symbols_summary()
    simulated = set(summary.loc[summary["simulated"], "symbol"]) if len(summary) else set()
    daily.attrs["simulated"] = bool(len(daily)) and set(daily["symbol"].unique()) <= simulated
    return daily


def adjust_store(settings: Settings, store: Any = None) -> dict[str, Any]:
    """Detect corporate actions over the whole store and replace the stored factors."""
    from stockvision.market.corporate_actions import adjust, detect_corporate_actions

    store = _store(settings, store)
    daily = store.read_daily()
    if daily is None or daily.empty:
        return {"events": 0, "symbols": 0}
    events = detect_corporate_actions(daily, exchange_of=exchange_map(store))
    adjusted = adjust(daily, events=events)
    factors = adjusted[["symbol", "date", "factor"]]
    store.replace_factors(factors, events)
    return {"events": len(events), "symbols": int(daily["symbol"].nunique())}


def exchange_map(store: Any) -> Callable[[str], str]:
    """Exchange of a symbol for the price-band rules: the store's record (e.g. simulated listings), VN30
    members on HOSE (the basket is HOSE's), the static listings, else HOSE (the tightest band: a move
    beyond it on HNX/UPCoM would be missed, never invented)."""
    from stockvision.market.listings import exchange_of
    from stockvision.market.vn30 import VN30_SYMBOLS

    known: dict[str, str] = {}
    try:
        table = store.read_symbols()
        known = {
            r["symbol"]: str(r["exchange"]) for r in table.to_dict("records") if r.get("exchange")
        }
    except Exception:
        known = {}

    def lookup(symbol: str) -> str:
        if symbol in known:
            return known[symbol]
        if symbol in VN30_SYMBOLS:
            return "HOSE"
        try:
            return str(exchange_of(symbol))
        except Exception:
            return "HOSE"

    return lookup


def adjusted_daily(
    settings: Settings, store: Any = None, symbols: list[str] | None = None
) -> pd.DataFrame:
    """Raw daily prices from the store with the stored factors applied (the adjusted frame)."""
    from stockvision.market.corporate_actions import adjust

    store = _store(settings, store)
    daily = store.read_daily(symbols=symbols)
    if daily is None or daily.empty:
        raise NoDataError(
            "The store has no daily prices yet.",
            "Run 'stockvision ingest --source csv FILE' (or --source synthetic) first.",
        )
    events = store.read_corporate_actions(symbols=symbols)
    return adjust(daily, events=events)


# ---------------------------------------------------------------------------------------------- features
def build_features(
    settings: Settings, progress: Progress = None, store: Any = None
) -> dict[str, Any]:
    """Compute the weekly features of every symbol and write them to the store."""
    from stockvision.features import incremental_update

    store = _store(settings, store)
    adj = adjusted_daily(settings, store)
    if progress:
        progress(0, 1, "features")
    existing = store.read_features()
    # only weeks from the last stored one on are computed (identical to a full recompute, tested)
    feats = incremental_update(existing, adj)
    written = store.upsert_features(feats)
    if progress:
        progress(1, 1, "features")
    weeks = feats.index.get_level_values(1)
    return {
        "rows": len(feats),
        "written": int(written.inserted + written.updated),
        "symbols": int(feats.index.get_level_values(0).nunique()),
        "weeks": int(weeks.nunique()),
        "first_week": str(pd.Timestamp(weeks.min()).date()),
        "last_week": str(pd.Timestamp(weeks.max()).date()),
        "digest": frame_digest(feats),
    }


def build_labels(settings: Settings, store: Any = None) -> dict[str, Any]:
    from stockvision.features import compute_labels

    store = _store(settings, store)
    adj = adjusted_daily(settings, store)
    labels = compute_labels(
        adj,
        horizon=settings.horizon_weeks,
        up=settings.pattern_up,
        down=settings.pattern_down,
        vol_scaled=settings.pattern_vol_scaled,
        vol_k=settings.pattern_vol_k,
    )
    store.upsert_labels(labels)
    balance = labels["pattern"].value_counts(normalize=True).round(4).to_dict()
    return {
        "rows": len(labels),
        "labelled": int(labels["pattern"].notna().sum()),
        "balance": {str(k): float(v) for k, v in balance.items()},
        "digest": frame_digest(labels),
    }


def validate(settings: Settings, store: Any = None) -> dict[str, Any]:
    """The dataset validation report (JSON, text and HTML under reports/validation)."""
    from stockvision.features.report import render_html, render_text, validate_features

    feats, labels = load_snapshot(settings, store)
    report = validate_features(feats, labels, settings)
    out = settings.reports_dir / "validation"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    (out / "report.txt").write_text(render_text(report), encoding="utf-8")
    (out / "report.html").write_text(render_html(report), encoding="utf-8")
    return {"alerts": report.get("alerts", []), "report_dir": str(out)}


def load_snapshot(settings: Settings, store: Any = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    store = _store(settings, store)
    feats = store.read_features()
    labels = store.read_labels()
    if feats is None or feats.empty:
        raise NoDataError(
            "No weekly features in the store.", "Run 'stockvision features build' first."
        )
    universe = set(settings.universe) if settings.universe else None
    if universe:
        feats = feats.loc[feats.index.get_level_values(0).isin(universe)]
        labels = labels.loc[labels.index.get_level_values(0).isin(universe)]
    return feats.sort_index(), labels.sort_index()


def snapshot(settings: Settings, store: Any = None) -> dict[str, Any]:
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
    return {
        "digest": dig,
        "path": str(path),
        "start": str(pd.Timestamp(weeks.min()).date()),
        "end": str(pd.Timestamp(weeks.max()).date()),
        "symbols": sorted(joined.index.get_level_values(0).unique().tolist()),
        "rows": len(joined),
        "simulated": _simulated(settings, store),
    }


def _simulated(settings: Settings, store: Any = None) -> bool:
    summary = _store(settings, store).symbols_summary()
    return bool(len(summary) and summary["simulated"].any())


def _builder_from_snapshot(settings: Settings, snap: dict[str, Any]):
    from stockvision.features import FEATURES
    from stockvision.features.dataset import DatasetBuilder

    joined = pd.read_parquet(snap["path"])
    feats = joined[FEATURES]
    labels = joined.drop(columns=FEATURES)
    return DatasetBuilder(feats, labels, seq_len=settings.seq_len, horizon=settings.horizon_weeks)


# ---------------------------------------------------------------------------------------------- training
def final_split(settings: Settings, builder) -> tuple[Any, Any]:
    """Train on every labelled week except the last ``val_weeks``, which (after a purge gap) validate."""
    labelled = builder.window()
    weeks = np.unique(labelled.X.index.get_level_values(1))
    gap = settings.horizon_weeks + 1
    if len(weeks) < settings.val_weeks + gap + 26:
        raise NoDataError(
            f"Only {len(weeks)} labelled weeks: too few to train and validate.",
            "Import more history (at least a year of weekly data).",
        )
    train_end = weeks[-(settings.val_weeks + gap)]
    split = builder.split(train_end, settings.val_weeks, 0)
    return split.train, split.val


def check_model_names(names: list[str]) -> None:
    """Fail fast (no retries) on a model name that is not in ``MODEL_FACTORIES``."""
    from stockvision.models.registry_names import MODEL_FACTORIES

    unknown = [n for n in names if n not in MODEL_FACTORIES]
    if unknown:
        raise StockVisionError(
            f"Unknown model {', '.join(map(repr, unknown))} (settings SV_PRICE_MODEL / SV_PATTERN_MODEL).",
            f"Use one of: {', '.join(MODEL_FACTORIES)}.",
        )


def _fit(name: str, settings: Settings, train, val):
    from stockvision.models.registry_names import MODEL_FACTORIES

    model = MODEL_FACTORIES[name](**_model_params(name, settings))
    model.fit(train, val)
    return model


def _model_params(name: str, settings: Settings) -> dict[str, Any]:
    """Constructor arguments taken from settings (seed, interval coverage, sequence length) when accepted."""
    from stockvision.models.registry_names import MODEL_FACTORIES

    accepted = set(MODEL_FACTORIES[name]().get_params())
    wanted = {
        "seed": settings.seed,
        "coverage": settings.interval_coverage,
        "seq_len": settings.seq_len,
        "num_threads": 1,  # 2 threads were up to 40x slower on a busy 2-core machine (measured)
    }
    return {k: v for k, v in wanted.items() if k in accepted}


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


def train(settings: Settings, snap: dict[str, Any], progress: Progress = None) -> dict[str, Any]:
    """Fit the primary models and their baselines on the final split; save them under the data dir."""
    cfg = training_config(settings)
    check_model_names([*cfg["primary"].values(), *cfg["baseline"].values()])
    builder = _builder_from_snapshot(settings, snap)
    train_w, val_w = final_split(settings, builder)
    out_dir = settings.subdir("models") / snap["digest"][:16]
    out_dir.mkdir(parents=True, exist_ok=True)
    models: dict[str, Any] = {}
    names = [(k, cfg["primary"][k]) for k in ("price", "pattern")] + [
        (k, cfg["baseline"][k]) for k in ("price", "pattern")
    ]
    for i, (kind, name) in enumerate(names):
        if progress:
            progress(i, len(names), "train")
        t0 = datetime.now(UTC)
        model = _fit(name, settings, train_w, val_w)
        path = out_dir / name
        if path.exists():
            shutil.rmtree(path)
        model.save(path)
        models[name] = {
            "kind": kind,
            "dir": str(path),
            "val_metric": val_metric(kind, model, val_w),
            "val_metric_name": "mae_pct" if kind == "price" else "log_loss",
            "seconds": (datetime.now(UTC) - t0).total_seconds(),
            "params": {k: _jsonable(v) for k, v in model.get_params().items()},
        }
    if progress:
        progress(len(names), len(names), "train")
    weeks = train_w.X.index.get_level_values(1)
    return {
        "models": models,
        "primary": cfg["primary"],
        "baseline": cfg["baseline"],
        "train_window": [
            str(pd.Timestamp(weeks.min()).date()),
            str(pd.Timestamp(weeks.max()).date()),
        ],
        "val_window": [
            str(pd.Timestamp(val_w.X.index.get_level_values(1).min()).date()),
            str(pd.Timestamp(val_w.X.index.get_level_values(1).max()).date()),
        ],
    }


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple):
        return list(v)
    return v


# ---------------------------------------------------------------------------------------------- evaluation
def evaluate(
    settings: Settings,
    snap: dict[str, Any],
    progress: Progress = None,
    models: list[str] | None = None,
    out_dir: Path | None = None,
    store: Any = None,
    on_error: str = "raise",
) -> dict[str, Any]:
    """Walk-forward evaluation of the candidates and baselines; writes report.html and metrics.json.

    The pipeline evaluates its candidates with ``on_error="raise"`` (a broken candidate must stop the run);
    ``stockvision evaluate`` compares every model with ``on_error="drop"`` (a failing model is listed).
    """
    from stockvision.evaluation.evaluate import evaluate_dataset
    from stockvision.evaluation.splits import WalkForwardSplitter

    builder = _builder_from_snapshot(settings, snap)
    cfg = training_config(settings)
    names = models or list(dict.fromkeys([*cfg["primary"].values(), *cfg["baseline"].values()]))
    check_model_names(names)
    splitter = WalkForwardSplitter(
        horizon=settings.horizon_weeks,
        val_weeks=settings.val_weeks,
        max_folds=settings.eval_max_folds,
    )
    daily = adjusted_daily(settings, store, symbols=snap.get("symbols"))
    cb = None
    if progress:

        def cb(event):  # ProgressEvent -> one bar per model, advancing by fold
            done = event.fold + (1 if event.stage == "done" else 0)
            progress(done, event.n_folds, f"walk-forward {event.model}")

    out_dir = (
        Path(out_dir) if out_dir else settings.reports_dir / "evaluation" / snap["digest"][:16]
    )
    _, _, result = evaluate_dataset(
        builder,
        daily,
        out_dir,
        names,
        splitter,
        settings,
        show_progress=False,
        progress=cb,
        on_error=on_error,  # type: ignore[arg-type]
        model_params={n: _model_params(n, settings) for n in names},
    )
    metrics = json.loads((out_dir / "metrics.json").read_text())
    return {
        "digest": frame_digest(result.predictions),
        "report_dir": str(out_dir),
        "metrics": {name: flat_metrics(block) for name, block in metrics["models"].items()},
        "window": metrics.get("evaluation_window"),
        "failed": sorted(getattr(result, "failed", {}) or {}),
        # the last fold's pooled temperature: fitted on the validation predictions of every fold
        "temperatures": {
            name: float(ts[-1])
            for name, ts in (getattr(result, "temperatures", {}) or {}).items()
            if ts
        },
    }


def flat_metrics(block: dict[str, Any]) -> dict[str, float]:
    """``{"price": {"mae_pct": ..}, "pattern": {...}}`` -> ``{"mae_pct": .., "accuracy": ..}``."""
    flat: dict[str, float] = {}
    for group in ("price", "pattern", "ranking", "backtest"):
        for key, value in (block.get(group) or {}).items():
            if isinstance(value, int | float) and value is not None and np.isfinite(value):
                flat[key if group in ("price", "pattern") else f"{group}_{key}"] = float(value)
    return flat


# ---------------------------------------------------------------------------------------------- registry
def _dataset_info(snap: dict[str, Any]):
    from stockvision.registry.model_registry import DatasetInfo

    return DatasetInfo(
        digest=snap["digest"],
        start=snap["start"],
        end=snap["end"],
        symbols=snap["symbols"],
        rows=snap["rows"],
        simulated=bool(snap.get("simulated")),
    )


def _input_example(settings: Settings, snap: dict[str, Any]) -> pd.DataFrame:
    """The last ``seq_len`` weeks of one symbol: what the pyfunc wrapper takes (logged with the model)."""
    from stockvision.features import FEATURES

    joined = pd.read_parquet(snap["path"])
    first = joined.index.get_level_values(0)[0]
    rows = joined.loc[[first]].tail(settings.seq_len).reset_index()
    example = rows[["symbol", "week_end", *FEATURES, "raw_close"]].copy()
    example["week_end"] = example["week_end"].dt.strftime("%Y-%m-%d")
    return example.astype({c: "float64" for c in [*FEATURES, "raw_close"]})


def register(settings: Settings, trained: dict, evaluated: dict, snap: dict) -> dict[str, Any]:
    """Log the primary models to MLflow as new versions (no alias yet)."""
    from stockvision.models.base import load_model
    from stockvision.registry.model_registry import ModelRegistry

    registry = ModelRegistry(settings)
    versions: dict[str, Any] = {}
    artifacts = [Path(evaluated["report_dir"])] if evaluated.get("report_dir") else []
    example = _input_example(settings, snap)
    for kind in ("price", "pattern"):
        name = trained["primary"][kind]
        info = trained["models"][name]
        model = load_model(info["dir"])
        metrics = dict(evaluated["metrics"].get(name, {}))
        metrics[f"val_{info['val_metric_name']}"] = info["val_metric"]
        extra: dict[str, Any] = {}
        pooled_t = (evaluated.get("temperatures") or {}).get(name)
        if kind == "pattern" and pooled_t is not None and hasattr(model, "temperature_"):
            # Serve with the temperature whose calibration the walk-forward measured (pooled over
            # every fold's validation window) rather than one fitted on the last 13 weeks alone,
            # which measured worse out of sample; the validation metric is recorded for that model.
            extra = {
                "temperature_own_val": float(model.temperature_),
                "temperature_served": pooled_t,
            }
            model.temperature_ = pooled_t
            _, val_w = final_split(settings, _builder_from_snapshot(settings, snap))
            metrics[f"val_{info['val_metric_name']}"] = val_metric(kind, model, val_w)
        record = registry.log_model(
            kind,
            model,
            metrics=metrics,
            params={
                "model": name,
                **info["params"],
                "train_window": trained["train_window"],
                "val_window": trained["val_window"],
                **extra,
            },
            dataset=_dataset_info(snap),
            artifacts=artifacts,
            input_example=example,
        )
        versions[kind] = {"version": record.version, "model": name}
    return versions


def _verify(
    registry, kind: str, version: str, settings: Settings, snap: dict, recorded: float
) -> str | None:
    """Reload a registered version and re-check its validation metric; None when it reproduces."""
    try:
        model, _ = registry.load(kind, version)
    except Exception as exc:
        return f"version {version} failed to load: {exc}"
    builder = _builder_from_snapshot(settings, snap)
    _, val_w = final_split(settings, builder)
    again = val_metric(kind, model, val_w)
    if not np.isclose(again, recorded, rtol=1e-6, atol=1e-9):
        return f"version {version} does not reproduce its validation metric ({again:.6f} vs {recorded:.6f})"
    return None


def promote(settings: Settings, registered: dict, evaluated: dict, snap: dict) -> dict[str, Any]:
    """Apply the promotion rules to each newly registered version and record every decision."""
    from stockvision.models.base import load_model
    from stockvision.registry.model_registry import ModelRegistry
    from stockvision.registry.promotion import Decision, decide

    registry = ModelRegistry(settings)
    decisions: dict[str, Any] = {}
    metrics = evaluated["metrics"]
    for kind in ("price", "pattern"):
        entry = registered[kind]
        version = entry["version"]
        record = registry.get(kind, version)
        challenger = metrics.get(entry["model"], {})
        champion_rec = registry.champion(kind)
        champion_metrics = None
        if champion_rec is not None:
            # same walk-forward window: the champion's model spec was scored in this evaluation too
            champion_metrics = metrics.get(_spec_name(champion_rec)) or champion_rec.metrics
        baseline = metrics.get(BASELINE[kind])
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
        result = {
            "version": version,
            "action": action,
            "reason": decision.reason,
            "compared": decision.compared,
        }
        # no champion at all (first model lost to its baseline): serve the baseline, and say so
        if registry.champion(kind) is None:
            base_name = BASELINE[kind]
            base_dir = Path(settings.subdir("models") / snap["digest"][:16] / base_name)
            if base_dir.exists():
                base_model = load_model(base_dir)
                base_metrics = dict(metrics.get(base_name, {}))
                base_rec = registry.log_model(
                    kind,
                    base_model,
                    metrics=base_metrics,
                    params={"model": base_name},
                    dataset=_dataset_info(snap),
                    run_name=f"{kind}-{base_name}-fallback",
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
                result["fallback_champion"] = {"version": base_rec.version, "model": base_name}
        decisions[kind] = result
    return decisions


def _spec_name(record) -> str:
    """The MODEL_FACTORIES name of a registered version (logged as the ``model`` parameter)."""
    return record.tags.get("model_name") or record.model_class


def champion_versions(settings: Settings) -> dict[str, str | None]:
    try:
        from stockvision.registry.model_registry import ModelRegistry

        registry = ModelRegistry(settings)
        return {
            k: (r.version if (r := registry.champion(k)) else None) for k in ("price", "pattern")
        }
    except Exception:
        return {"price": None, "pattern": None}


# ---------------------------------------------------------------------------------------------- serving
def batch_predict(settings: Settings, store: Any = None) -> dict[str, Any]:
    """Champion predictions for the whole universe, written to the store (same service as the API)."""
    from stockvision.serving.service import PredictionService

    store = _store(settings, store)
    service = PredictionService(settings, store=store)
    service.start(background=False)
    universe = settings.universe or (service.panel.symbols if service.panel else [])
    preds, errors = service.predict_many(universe, source="batch")
    service.flush()
    return {
        "predicted": len(preds),
        "errors": [e.model_dump() for e in errors],
        "versions": {
            "price": service.models.price_version,
            "pattern": service.models.pattern_version,
        },
    }


def monitor(settings: Settings, store: Any = None, retrained: bool = False) -> dict[str, Any]:
    """Live outcomes and drift of the champions; may mark them degraded (``degraded.json``).

    ``retrained``: the models were retrained on the current data earlier in this run. A degradation
    flagged now is then already answered (a retrain on the same data would fit the same models), so its
    token is acknowledged and does not force another retrain; a later, new token does.
    """
    from stockvision.monitoring.report import run_monitoring

    result = run_monitoring(settings, store=_store(settings, store))
    token = _degraded_token(settings)
    if retrained and token is not None:
        _ack_path(settings).write_text(
            json.dumps({"token": token, "at": datetime.now(UTC).isoformat()})
        )
    return result


def _ack_path(settings: Settings) -> Path:
    return settings.subdir("pipeline") / "retrain_ack.json"


def _degraded_token(settings: Settings) -> str | None:
    path = settings.subdir("monitoring") / "degraded.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text()).get("token")
    except (OSError, json.JSONDecodeError):
        return None


def retrain_token(settings: Settings) -> str | None:
    """The token of a degradation not yet answered by a retrain (part of the train fingerprint).

    Monitoring writes a new token into ``monitoring/degraded.json`` when it marks the champion degraded;
    the next run then retrains even on unchanged data. A token issued right after a retrain on the same
    data is acknowledged by :func:`monitor` and returns None here.
    """
    token = _degraded_token(settings)
    if token is None:
        return None
    try:
        acked = json.loads(_ack_path(settings).read_text()).get("token")
    except (OSError, json.JSONDecodeError):
        acked = None
    return None if token == acked else token


def ingest_and_featurize(
    settings: Settings, symbols: list[str], store: Any = None
) -> dict[str, Any]:
    """Fetch ``symbols`` from the configured source and rebuild features/labels (auto-healing)."""
    store = _store(settings, store)
    fetched = fetch(settings, store=store, symbols=symbols)
    if not set(symbols) & set(fetched["symbols"]):
        raise StockVisionError(
            f"the {fetched['source']} source returned no data for {', '.join(symbols)}",
            "Check the ticker or import a CSV export for it.",
        )
    build_features(settings, store=store)
    build_labels(settings, store=store)
    return {"rows": fetched["inserted"] + fetched["updated"], "source": fetched["source"]}
