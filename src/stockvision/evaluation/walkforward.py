"""Walk-forward runner: refit every model per fold, keep only out-of-sample test predictions.

For each :class:`~stockvision.evaluation.splits.Fold` the models are built fresh from
``MODEL_FACTORIES``, fitted on the fold's training window (the validation window is passed along
for early stopping / calibration / conformal intervals / alpha tuning, never used as test data),
and asked for predictions on the fold's test block only. The result is one tidy frame of
out-of-sample predictions that every metric, the backtest and the report are computed from.

Calibration of the pattern models (``calibration="pooled_val"``, the default): a temperature fitted
on one 13-week validation window follows that quarter's class mix and market regime (weeks move
together, so 13 weeks are only a handful of independent observations) and made probabilities worse
out of sample. The walk-forward therefore refits each fold's temperature on the POOLED validation
predictions of this and every earlier fold (each made by its own fold's model on weeks it did not
train on, the latest fold's prediction kept where validation windows overlap). Every pooled week
lies before the fold's purge gap, so no test week is used. The model's own validation-window
temperature is kept in the ``p_*_model`` columns, the uncalibrated probabilities in ``p_*_uncal``.

Runs are deterministic: every fit is preceded by seeding Python, numpy and (if loaded) torch
with the same seed, so two runs give bit-identical predictions and ``metrics.json``.
"""

from __future__ import annotations

import contextlib
import inspect
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from stockvision.engine import Engine, Outcome, SerialEngine
from stockvision.evaluation.splits import Fold, WalkForwardSplitter

if TYPE_CHECKING:
    from stockvision.features.dataset import DatasetBuilder

__all__ = [
    "PREDICTION_COLUMNS",
    "EvaluationResult",
    "PooledTemperature",
    "ProgressEvent",
    "cross_section_start",
    "labelled_weeks",
    "rich_progress",
    "run_walk_forward",
]

PROB_COLUMNS = ["p_down", "p_sideways", "p_up"]
UNCAL_COLUMNS = ["p_down_uncal", "p_sideways_uncal", "p_up_uncal"]
MODEL_CAL_COLUMNS = ["p_down_model", "p_sideways_model", "p_up_model"]
#: fewest pooled validation rows a temperature is fitted on (below: probabilities left unscaled)
MIN_CALIBRATION_ROWS = 100
PRIOR_COLUMNS = ["prior_down", "prior_sideways", "prior_up"]
PREDICTION_COLUMNS = [
    "fold",
    "model",
    "kind",
    "symbol",
    "week_end",
    "raw_close",
    "actual_log_return",
    "actual_price",
    "actual_pattern",
    "pred_log_return",
    "low",
    "high",
    *PROB_COLUMNS,
    *UNCAL_COLUMNS,
    *MODEL_CAL_COLUMNS,
    "pred_pattern",
    *PRIOR_COLUMNS,
    "pred_scale",
    "dist_df",
    "vol_4w",
]
#: model-independent classic cross-sectional factors, each a ranking baseline (higher = buy)
FACTOR_COLUMNS = ["reversal_1m", "momentum_12_1", "momentum_6_1", "low_volatility", "illiquidity"]
#: share of each week's names, by traded value, kept as the tradable (liquid) universe
LIQUID_FRACTION = 0.7


@dataclass(frozen=True)
class ProgressEvent:
    """One step of the run, passed to the ``progress`` callback."""

    fold: int
    n_folds: int
    model: str
    stage: str  # "fit" (starting), "done" (fitted and predicted), "failed" (on_error="drop")
    seconds: float = 0.0


def factor_scores(test: Any) -> pd.DataFrame:
    """The classic factors of each test row (data up to the row's week only) and its liquidity.

    1-month reversal ``-ret_4w``; 12-1 and 6-1 momentum (return over 52 / 26 weeks skipping the
    last 4); low volatility ``-vol_4w``; illiquidity (Amihud). ``liquid`` marks the names whose
    weekly traded value is in the top :data:`LIQUID_FRACTION` of their week.
    """
    X = test.X

    def col(name: str) -> np.ndarray:
        if name not in X.columns:
            return np.full(len(X), np.nan)
        return X[name].to_numpy(dtype=float, na_value=np.nan)

    r4 = col("ret_4w")
    idx = X.index
    out = pd.DataFrame(
        {
            "symbol": idx.get_level_values(0).astype(str),
            "week_end": pd.DatetimeIndex(idx.get_level_values(1)),
            "actual_log_return": test.labels["future_log_return"].to_numpy(dtype=float),
            "reversal_1m": -r4,
            "momentum_12_1": (1 + col("ret_52w")) / (1 + r4) - 1,
            "momentum_6_1": (1 + col("ret_26w")) / (1 + r4) - 1,
            "low_volatility": -col("vol_4w"),
            "illiquidity": col("amihud_w"),
        }
    )
    value = pd.Series(col("turnover_w"))
    pct = value.groupby(out["week_end"].to_numpy()).rank(pct=True)
    out["liquid"] = (pct > 1 - LIQUID_FRACTION).to_numpy()
    return out


@dataclass
class EvaluationResult:
    """Out-of-sample predictions of every model plus what is needed to score them.

    ``predictions`` has the columns ``PREDICTION_COLUMNS``; ``actual_pattern`` is the class code
    (-1 where the label is not known yet), ``prior_*`` are the class frequencies of the fold's
    TRAINING window (the reference forecast of the skill scores). ``daily`` is the adjusted daily
    frame for the backtest (optional: without it the backtest figures are left out).
    """

    predictions: pd.DataFrame
    folds: list[Fold]
    model_kinds: dict[str, str]
    universe: list[str]
    horizon: int = 4
    coverage: dict[str, float] = field(default_factory=dict)
    daily: pd.DataFrame | None = None
    timings: dict[str, dict[str, float]] = field(default_factory=dict)
    splitter: dict[str, Any] | None = None
    failed: dict[str, str] = field(default_factory=dict)
    #: per pattern model, the temperature applied in each fold (pooled-validation calibration)
    temperatures: dict[str, list[float]] = field(default_factory=dict)
    calibration: str = "pooled_val"
    #: per test row (model-independent): the classic factor scores and the liquidity flag
    factors: pd.DataFrame | None = None
    #: the label bands (up, down) of the pattern, to read P(UP/SIDEWAYS/DOWN) off a distribution
    bands: tuple[float, float] = (0.01, -0.01)

    def model_predictions(self, model: str) -> pd.DataFrame:
        return self.predictions[self.predictions["model"] == model]


def labelled_weeks(builder: DatasetBuilder) -> pd.DatetimeIndex:
    """Week ends at which at least one symbol has a known future return."""
    labels = builder.labels
    known = labels["future_log_return"].notna().to_numpy()
    weeks = labels.index.get_level_values("week_end")[known]
    return pd.DatetimeIndex(weeks.unique()).sort_values()


def cross_section_start(builder: DatasetBuilder, min_fraction: float = 0.5) -> pd.Timestamp:
    """First week at which at least ``min_fraction`` of the largest weekly cross-section is labelled.

    A long index history (the VN30 index file goes back to 2009, its constituents' to 2016) would
    otherwise put the first test blocks where a single series is all there is: nothing to rank,
    a one-asset "portfolio" in the backtest. Those weeks stay in the training windows.
    """
    if not 0.0 < min_fraction <= 1.0:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction}")
    known = builder.labels["future_log_return"].notna().to_numpy()
    weeks = builder.labels.index.get_level_values("week_end")[known]
    counts = pd.Series(1, index=weeks).groupby(level=0).sum().sort_index()
    if counts.empty:
        raise ValueError("no labelled rows: build features and labels first")
    return pd.Timestamp(counts.index[counts >= min_fraction * counts.max()][0])


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)


def _supports_uncalibrated(model: Any) -> bool:
    try:
        return "calibrated" in inspect.signature(model.predict_proba).parameters
    except (TypeError, ValueError):
        return False


def _class_prior(window: Any, n_classes: int) -> np.ndarray:
    from stockvision.evaluation.metrics import class_prior
    from stockvision.features import PATTERN_CLASSES

    pattern = window.labels["pattern"]
    known = pattern.notna().to_numpy()
    codes = pd.Categorical(pattern[known], categories=PATTERN_CLASSES).codes
    return class_prior(codes[codes >= 0], n_classes=n_classes)


def _base_frame(test: Any, fold: Fold, name: str, kind: str, prior: np.ndarray) -> pd.DataFrame:
    from stockvision.features import PATTERN_CLASSES

    labels = test.labels
    idx = labels.index
    codes = pd.Categorical(labels["pattern"], categories=PATTERN_CLASSES).codes.astype(np.int64)
    n = len(labels)
    frame = pd.DataFrame(
        {
            "fold": np.full(n, fold.index, dtype=np.int64),
            "model": name,
            "kind": kind,
            "symbol": idx.get_level_values("symbol").astype(str),
            "week_end": pd.DatetimeIndex(idx.get_level_values("week_end")),
            "raw_close": labels["raw_close"].to_numpy(dtype=float),
            "actual_log_return": labels["future_log_return"].to_numpy(dtype=float),
            "actual_price": labels["price_target_true"].to_numpy(dtype=float),
            "actual_pattern": codes,
        }
    )
    for col in [
        "pred_log_return",
        "low",
        "high",
        *PROB_COLUMNS,
        *UNCAL_COLUMNS,
        *MODEL_CAL_COLUMNS,
    ]:
        frame[col] = np.nan
    frame["pred_pattern"] = np.int64(-1)
    for col, value in zip(PRIOR_COLUMNS, prior, strict=True):
        frame[col] = float(value)
    frame["pred_scale"] = np.nan
    frame["dist_df"] = np.nan
    vol = test.X["vol_4w"] if "vol_4w" in test.X.columns else pd.Series(np.nan, index=idx)
    frame["vol_4w"] = vol.to_numpy(dtype=float, na_value=np.nan)
    return frame


def _predict(
    model: Any, test: Any, frame: pd.DataFrame, bands: tuple[float, float] = (0.01, -0.01)
) -> pd.DataFrame:
    n = len(frame)
    if model.kind == "price":
        pred = np.asarray(model.predict(test), dtype=float).reshape(-1)
        low, high = (np.asarray(a, dtype=float).reshape(-1) for a in model.predict_interval(test))
        if not (len(pred) == len(low) == len(high) == n):
            raise RuntimeError(
                f"model {model.name!r} returned {len(pred)} predictions for {n} rows"
            )
        frame["pred_log_return"], frame["low"], frame["high"] = pred, low, high
        if hasattr(model, "predict_distribution"):
            # the served distribution: its location is the prediction, its 80 % interval the
            # conformal one, and P(UP/SIDEWAYS/DOWN) are its masses over the label bands
            dist = model.predict_distribution(test)
            frame["pred_scale"], frame["dist_df"] = dist.scale, dist.df
            probs = dist.pattern_probabilities(*bands)
            frame[PROB_COLUMNS] = probs
            frame["pred_pattern"] = probs.argmax(axis=1).astype(np.int64)
    elif model.kind == "pattern":
        probs = np.asarray(model.predict_proba(test), dtype=float)
        if probs.shape != (n, len(PROB_COLUMNS)):
            raise RuntimeError(
                f"model {model.name!r} returned probabilities of shape {probs.shape}"
            )
        frame[PROB_COLUMNS] = probs
        frame["pred_pattern"] = probs.argmax(axis=1).astype(np.int64)
        if _supports_uncalibrated(model):
            frame[MODEL_CAL_COLUMNS] = probs
            frame[UNCAL_COLUMNS] = np.asarray(model.predict_proba(test, calibrated=False), float)
    else:
        raise RuntimeError(f"model {model.name!r} has unknown kind {model.kind!r}")
    return frame


def _build(factory: Callable[..., Any], params: dict[str, Any], num_threads: int | None) -> Any:
    model = factory(**params)
    wants = num_threads is not None and "num_threads" not in params
    if wants and "num_threads" in model.get_params():
        model.set_params(num_threads=int(num_threads))
    return model


class PooledTemperature:
    """Out-of-fold validation predictions of one pattern model, pooled across folds.

    ``add`` stores a fold's uncalibrated validation probabilities (labelled rows only; a later
    fold's prediction replaces an earlier one for the same symbol and week); ``temperature`` fits
    one temperature on everything stored so far.
    """

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def add(self, fold: int, labels: pd.DataFrame, uncal: np.ndarray) -> None:
        from stockvision.features import PATTERN_CLASSES

        codes = pd.Categorical(labels["pattern"], categories=PATTERN_CLASSES).codes
        keep = codes >= 0
        idx = labels.index[keep]
        part = pd.DataFrame(
            np.log(np.clip(np.asarray(uncal, dtype=np.float64)[keep], 1e-12, 1.0)),
            columns=PROB_COLUMNS,
        )
        part["symbol"] = idx.get_level_values("symbol").astype(str)
        part["week_end"] = pd.DatetimeIndex(idx.get_level_values("week_end"))
        part["code"] = codes[keep].astype(np.int64)
        part["fold"] = fold
        self._parts.append(part)

    @property
    def n_rows(self) -> int:
        return len(self._pooled())

    def _pooled(self) -> pd.DataFrame:
        if not self._parts:
            return pd.DataFrame(columns=[*PROB_COLUMNS, "symbol", "week_end", "code", "fold"])
        pooled = pd.concat(self._parts, ignore_index=True)
        return pooled.drop_duplicates(["symbol", "week_end"], keep="last")

    def temperature(self) -> float:
        from stockvision.models.calibration import fit_temperature

        pooled = self._pooled()
        return fit_temperature(pooled[PROB_COLUMNS].to_numpy(), pooled["code"].to_numpy())


def _recalibrate(
    val_labels: pd.DataFrame,
    val_uncal: np.ndarray,
    frame: pd.DataFrame,
    pool: PooledTemperature,
    fold: int,
) -> float:
    """Replace the fold's calibrated probabilities by the pooled-validation temperature's."""
    from stockvision.models.calibration import apply_temperature

    pool.add(fold, val_labels, val_uncal)
    # too few rows (e.g. a validation window holding one index series) fit noise: leave T = 1
    t = pool.temperature() if pool.n_rows >= MIN_CALIBRATION_ROWS else 1.0
    logp = np.log(np.clip(frame[UNCAL_COLUMNS].to_numpy(dtype=np.float64), 1e-12, 1.0))
    frame[PROB_COLUMNS] = apply_temperature(logp, t)
    return t


@dataclass(frozen=True)
class _FitTask:
    """One (fold, model) fit: everything a worker needs besides the shared dataset."""

    fold: Fold
    name: str
    params: dict[str, Any]
    seed: int
    num_threads: int | None
    pooled: bool  # keep the uncalibrated validation probabilities for pooled calibration
    bands: tuple[float, float] = (0.01, -0.01)  # pattern label thresholds (up, down)


@dataclass
class _FitResult:
    kind: str
    frame: pd.DataFrame
    coverage: float
    fit_seconds: float
    predict_seconds: float
    val_labels: pd.DataFrame | None = None
    val_uncal: np.ndarray | None = None


def _fit_fold(builder: DatasetBuilder, task: _FitTask) -> _FitResult | None:
    """Fit one model on one fold and predict its test block (runs on any engine's worker).

    Pure given (builder, task): seeded, thread-limited, no shared state, so the serial and the
    distributed engines compute the same numbers. ``None`` when the fold has no test rows.
    """
    from stockvision.models.registry_names import MODEL_FACTORIES

    fold = task.fold
    test = builder.window(fold.test_start, fold.test_end)
    if len(test) == 0:
        return None
    train = builder.window(fold.train_start, fold.train_end)
    val = builder.window(fold.val_start, fold.val_end) if fold.val_start is not None else None
    prior = _class_prior(train, len(PROB_COLUMNS))
    limits = (
        contextlib.nullcontext()
        if task.num_threads is None
        else threadpool_limits(task.num_threads)
    )
    with limits:
        _seed_everything(task.seed)
        t0 = time.perf_counter()
        model = _build(MODEL_FACTORIES[task.name], task.params, task.num_threads)
        model.fit(train, val)
        t1 = time.perf_counter()
        frame = _predict(
            model, test, _base_frame(test, fold, task.name, model.kind, prior), task.bands
        )
        result = _FitResult(
            kind=model.kind,
            frame=frame,
            coverage=float(getattr(model, "coverage", float("nan"))),
            fit_seconds=t1 - t0,
            predict_seconds=0.0,
        )
        if (
            task.pooled
            and model.kind == "pattern"
            and val is not None
            and len(val) > 0
            and _supports_uncalibrated(model)
        ):
            result.val_labels = val.labels
            result.val_uncal = np.asarray(model.predict_proba(val, calibrated=False))
        result.predict_seconds = time.perf_counter() - t1
    return result


def run_walk_forward(
    builder: DatasetBuilder,
    model_names: Sequence[str],
    folds: Sequence[Fold] | WalkForwardSplitter | None = None,
    progress: Callable[[ProgressEvent], None] | None = None,
    *,
    daily: pd.DataFrame | None = None,
    seed: int = 42,
    model_params: dict[str, dict[str, Any]] | None = None,
    on_error: Literal["raise", "drop"] = "raise",
    calibration: Literal["pooled_val", "model"] = "pooled_val",
    num_threads: int | None = 1,
    engine: Engine | None = None,
    bands: tuple[float, float] = (0.01, -0.01),
) -> EvaluationResult:
    """Fit every model on every fold and collect its out-of-sample test predictions.

    ``folds``: explicit folds, a splitter (applied to the builder's labelled weeks) or ``None``
    for ``WalkForwardSplitter(horizon=builder.horizon)``. ``model_params`` passes constructor
    arguments per model name. ``daily`` (adjusted daily frame) is stored for the backtest.
    ``on_error="drop"`` keeps a long run going when a model fails on some fold: that model is
    removed from the result entirely (partial-fold metrics would not be comparable) and its
    error (the first failing fold's) is recorded in ``result.failed``; the default re-raises.
    ``calibration``: "pooled_val" refits each pattern model's temperature on the pooled
    out-of-fold validation predictions (see the module docstring), "model" keeps each fold
    model's own validation-window temperature.
    ``num_threads`` is given to every model that takes that parameter unless ``model_params`` sets
    it: hundreds of small fits gain nothing from threads, and on a shared machine OpenMP / torch
    threads spinning against other processes made fits up to 40x slower. ``None`` keeps the
    models' defaults. Results are reproducible for a given thread count.
    ``engine`` runs the (fold, model) fits (:mod:`stockvision.engine`; default: this process). The
    fits are independent; everything order-dependent (the pooled temperatures, the failure
    record, the concatenation) happens afterwards, here, in (fold, model) order, so every engine
    gives the same result.
    ``bands`` are the pattern label thresholds (up, down) used to read the price models' class
    probabilities off their distributions.
    """
    from stockvision.models.registry_names import MODEL_FACTORIES

    unknown = [m for m in model_names if m not in MODEL_FACTORIES]
    if unknown or not model_names:
        raise ValueError(
            f"unknown model names {unknown or '(none given)'}; choose from {sorted(MODEL_FACTORIES)}"
        )
    if len(set(model_names)) != len(model_names):
        raise ValueError(f"model names repeat: {list(model_names)}")
    horizon = int(getattr(builder, "horizon", 4))
    splitter_params: dict[str, Any] | None = None
    if folds is None:
        folds = WalkForwardSplitter(horizon=horizon)
    if isinstance(folds, WalkForwardSplitter):
        splitter_params = {
            "min_train_weeks": folds.min_train_weeks,
            "step_weeks": folds.step_weeks,
            "test_weeks": folds.block,
            "horizon": folds.horizon,
            "embargo": folds.embargo,
            "val_weeks": folds.val_weeks,
            "first_test_week": folds.first_test_week,
        }
        folds = list(folds.split(labelled_weeks(builder)))
    folds = list(folds)
    if not folds:
        raise ValueError("no folds to evaluate; lower min_train_weeks or load more history")
    if on_error not in ("raise", "drop"):
        raise ValueError(f"on_error must be 'raise' or 'drop', got {on_error!r}")
    if calibration not in ("pooled_val", "model"):
        raise ValueError(f"calibration must be 'pooled_val' or 'model', got {calibration!r}")
    params = model_params or {}
    tasks = [
        _FitTask(
            fold,
            name,
            params.get(name, {}),
            seed,
            num_threads,
            calibration == "pooled_val",
            (float(bands[0]), float(bands[1])),
        )
        for fold in folds
        for name in model_names
    ]

    reported_failed: set[str] = set()

    def on_start(i: int) -> None:
        if progress:
            progress(ProgressEvent(tasks[i].fold.index, len(folds), tasks[i].name, "fit"))

    def on_result(i: int, outcome: Outcome) -> None:
        task = tasks[i]
        if (
            progress is None
            or task.name in reported_failed
            or (outcome.ok and outcome.value is None)
        ):
            return
        if outcome.ok:
            seconds = outcome.value.fit_seconds + outcome.value.predict_seconds
            progress(ProgressEvent(task.fold.index, len(folds), task.name, "done", seconds))
        elif on_error == "drop":
            reported_failed.add(task.name)
            progress(ProgressEvent(task.fold.index, len(folds), task.name, "failed"))

    engine = engine or SerialEngine()
    outcomes = engine.map(_fit_fold, tasks, shared=builder, on_result=on_result, on_start=on_start)

    pools: dict[str, PooledTemperature] = {}
    temperatures: dict[str, list[float]] = {}
    failed: dict[str, str] = {}
    frames: list[pd.DataFrame] = []
    # the classic factors' scores on each fold's test block (model-free, so computed here once)
    factor_parts: list[pd.DataFrame] = []
    for fold in folds:
        test = builder.window(fold.test_start, fold.test_end)
        if len(test) > 0:
            factor_parts.append(factor_scores(test))
    kinds: dict[str, str] = {}
    coverage: dict[str, float] = {}
    timings: dict[str, dict[str, float]] = {
        m: {"fit_seconds": 0.0, "predict_seconds": 0.0} for m in model_names
    }
    for task, outcome in zip(tasks, outcomes, strict=True):
        name, fold = task.name, task.fold
        if name in failed:
            continue
        try:
            fit = outcome.get()
            if fit is None:
                continue
            if fit.val_uncal is not None:
                pool = pools.setdefault(name, PooledTemperature())
                t = _recalibrate(fit.val_labels, fit.val_uncal, fit.frame, pool, fold.index)
                temperatures.setdefault(name, []).append(t)
        except Exception as exc:
            if on_error == "raise":
                raise
            failed[name] = (
                f"fold {fold.index} ({fold.test_start.date()}): {type(exc).__name__}: {exc}"
            )
            continue
        kinds[name] = fit.kind
        if fit.kind == "price":
            coverage[name] = fit.coverage
        frames.append(fit.frame)
        timings[name]["fit_seconds"] += fit.fit_seconds
        timings[name]["predict_seconds"] += fit.predict_seconds

    frames = [f for f in frames if f["model"].iat[0] not in failed] if failed else frames
    if not frames:
        raise RuntimeError(f"every model failed: {failed}")
    predictions = pd.concat(frames, ignore_index=True)[PREDICTION_COLUMNS]
    universe = sorted(predictions["symbol"].unique().tolist())
    return EvaluationResult(
        predictions=predictions,
        folds=folds,
        model_kinds={m: kinds[m] for m in model_names if m in kinds and m not in failed},
        universe=universe,
        horizon=horizon,
        coverage=coverage,
        daily=daily,
        timings=timings,
        splitter=splitter_params,
        failed=failed,
        temperatures={m: t for m, t in temperatures.items() if m not in failed},
        calibration=calibration,
        factors=pd.concat(factor_parts, ignore_index=True) if factor_parts else None,
        bands=(float(bands[0]), float(bands[1])),
    )


@contextmanager
def rich_progress(
    n_folds: int, model_names: Sequence[str]
) -> Iterator[Callable[[ProgressEvent], None]]:
    """A ``progress`` callback drawing a rich progress bar over fold x model fits."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]walk-forward[/] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    ) as bar:
        task = bar.add_task("", total=n_folds * len(model_names))

        def callback(event: ProgressEvent) -> None:
            label = f"fold {event.fold + 1}/{event.n_folds} {event.model}"
            if event.stage == "failed":
                bar.console.print(f"[red]{label} failed; dropped from the evaluation[/]")
                bar.update(task, advance=event.n_folds - event.fold)
            elif event.stage == "done":
                bar.update(task, advance=1, description=f"{label} ({event.seconds:.1f}s)")
            else:
                bar.update(task, description=f"{label} fitting")

        yield callback
