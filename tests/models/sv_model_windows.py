"""Small generated ``Window``s with a known signal for the model tests (helpers of conftest).

``make_windows`` builds a panel of ``n_symbols`` x ``n_weeks`` weekly rows and splits it by date into
train / val / test windows separated by a ``horizon``-week purge gap. Signals:
- ``"features"``: the 4-week log return is a linear + interaction function of three features;
- ``"ar"``: weekly log returns follow a per-symbol AR(1) (momentum), ``ret_1w``/``ret_4w`` are the
  realised returns and the label is the sum of the next four weeks;
- ``"none"``: labels are independent noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stockvision.features.dataset import Window
from stockvision.features.feature_docs import FEATURES
from stockvision.features.labels import PATTERN_CLASSES

HORIZON = 4
SEQ_LEN = 8
UP, DOWN = 0.02, -0.02
SIGNAL_FEATURES = ("ma_cross_10_40_w", "price_vs_ma20_w", "rsi_speed")


@dataclass
class Panel:
    X: pd.DataFrame
    labels: pd.DataFrame
    seq: np.ndarray
    weeks: pd.DatetimeIndex


def make_panel(
    n_symbols: int = 20,
    n_weeks: int = 120,
    signal: str = "features",
    seed: int = 0,
    noise: float = 0.03,
    phi: float = 0.6,
) -> Panel:
    rng = np.random.default_rng(seed)
    n_f = len(FEATURES)
    symbols = [f"S{i:02d}" for i in range(n_symbols)]
    weeks = pd.date_range("2017-01-06", periods=n_weeks, freq="W-FRI")
    feats = rng.normal(size=(n_symbols, n_weeks, n_f))
    if signal == "ar":
        mu = rng.normal(0.0, 0.004, size=(n_symbols, 1))
        eps = rng.normal(0.0, noise, size=(n_symbols, n_weeks + HORIZON))
        dev = np.zeros_like(eps)
        for t in range(1, n_weeks + HORIZON):
            dev[:, t] = phi * dev[:, t - 1] + eps[:, t]
        r = mu + dev
        fut = np.stack([r[:, t + 1 : t + 1 + HORIZON].sum(axis=1) for t in range(n_weeks)], axis=1)
    else:
        r = rng.normal(0.0, noise, size=(n_symbols, n_weeks))
        if signal == "features":
            a, b, c = (FEATURES.index(f) for f in SIGNAL_FEATURES)
            fut = (
                0.04 * feats[:, :, a]
                + 0.03 * feats[:, :, b] * feats[:, :, c]
                + rng.normal(0.0, noise, size=(n_symbols, n_weeks))
            )
        elif signal == "none":
            fut = rng.normal(0.0, 0.05, size=(n_symbols, n_weeks))
        else:
            raise ValueError(signal)
    r = r[:, :n_weeks]
    feats[:, :, FEATURES.index("ret_1w")] = np.expm1(r)
    cum = np.cumsum(r, axis=1)
    r4 = cum - np.concatenate([np.full((n_symbols, 4), np.nan), cum[:, :-4]], axis=1)
    r4[:, 3] = cum[:, 3]
    feats[:, :, FEATURES.index("ret_4w")] = np.expm1(r4)
    holes = rng.random(feats.shape) < 0.02  # a few missing values to exercise imputation
    holes[:, :, FEATURES.index("ret_1w")] = False
    feats[holes] = np.nan
    fut[:, n_weeks - HORIZON :] = np.nan  # last horizon weeks of every symbol: unknown labels

    close = 10_000.0 * np.exp(cum)
    idx = pd.MultiIndex.from_product([symbols, weeks], names=["symbol", "week_end"])
    X = pd.DataFrame(feats.reshape(-1, n_f), index=idx, columns=list(FEATURES))
    fr = np.expm1(fut).reshape(-1)
    pattern = np.where(fr > UP, "UP", np.where(fr < DOWN, "DOWN", "SIDEWAYS")).astype(object)
    pattern[~np.isfinite(fr)] = None
    labels = pd.DataFrame(
        {
            "close": close.reshape(-1),
            "raw_close": close.reshape(-1),
            "future_return": fr,
            "future_log_return": fut.reshape(-1),
            "price_target_true": close.reshape(-1) * (1 + fr),
            "pattern": pd.Series(pattern, index=idx, dtype="str"),
        },
        index=idx,
    )
    seq = np.full((n_symbols, n_weeks, SEQ_LEN, n_f), np.nan, dtype=np.float32)
    for k in range(SEQ_LEN):  # seq[:, t, SEQ_LEN-1-k] = feats[:, t-k]
        seq[:, k:, SEQ_LEN - 1 - k] = feats[:, : n_weeks - k]
    return Panel(X, labels, seq.reshape(-1, SEQ_LEN, n_f), weeks)


def window_of(panel: Panel, start: int, stop: int) -> Window:
    """Rows of weeks ``[start, stop)`` of the panel as a Window."""
    we = panel.X.index.get_level_values("week_end")
    mask = np.asarray(
        (we >= panel.weeks[start])
        & (we < panel.weeks[min(stop, len(panel.weeks)) - 1] + pd.Timedelta(days=1))
    )
    return Window(X=panel.X.loc[mask], labels=panel.labels.loc[mask], seq=panel.seq[mask])


def make_windows(
    n_symbols: int = 20,
    n_weeks: int = 120,
    signal: str = "features",
    seed: int = 0,
    val_weeks: int = 18,
    test_weeks: int = 24,
    **kw: float,
) -> tuple[Window, Window, Window]:
    panel = make_panel(n_symbols, n_weeks, signal, seed, **kw)
    test_start = n_weeks - test_weeks
    val_start = test_start - HORIZON - val_weeks
    train_stop = val_start - HORIZON
    return (
        window_of(panel, 0, train_stop),
        window_of(panel, val_start, test_start - HORIZON),
        window_of(panel, test_start, n_weeks),
    )


def ece(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top-label probability."""
    try:
        from stockvision.evaluation.metrics import ece as _ece

        return float(_ece(probs, y, n_bins=bins))
    except ImportError:
        conf = probs.max(axis=1)
        correct = probs.argmax(axis=1) == y
        edges = np.linspace(0, 1, bins + 1)
        b = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
        return float(
            sum(
                abs(correct[b == k].mean() - conf[b == k].mean()) * (b == k).mean()
                for k in range(bins)
                if (b == k).any()
            )
        )


def labelled(window: Window) -> tuple[np.ndarray, np.ndarray]:
    """(pattern codes, mask of labelled rows)."""
    pat = window.labels["pattern"]
    codes = np.full(len(pat), -1)
    for i, c in enumerate(PATTERN_CLASSES):
        codes[(pat == c).to_numpy(dtype=bool, na_value=False)] = i
    return codes, codes >= 0


def windows_from_arrays(
    feats: np.ndarray,
    fut: np.ndarray,
    weeks: pd.DatetimeIndex,
    bounds: list[tuple[int, int]],
    close: float | np.ndarray = 20_000.0,
) -> tuple[Window, ...]:
    """Windows cut by week index from a (symbols x weeks x features) panel and its 4-week log returns.

    The distribution-model tests plant their own volatility or factor structure in ``feats`` and
    ``fut``; this turns the arrays into labels (±1 % pattern bands), 8-week sequences and one
    ``Window`` per ``(first, end)`` week bound, so each test writes only its signal.
    """
    n_symbols, n_weeks, n_f = feats.shape
    idx = pd.MultiIndex.from_product(
        [[f"S{i:02d}" for i in range(n_symbols)], weeks], names=["symbol", "week_end"]
    )
    X = pd.DataFrame(feats.reshape(-1, n_f), index=idx, columns=FEATURES)
    fr = np.expm1(fut).reshape(-1)
    pattern = np.where(fr > 0.01, "UP", np.where(fr < -0.01, "DOWN", "SIDEWAYS")).astype(object)
    pattern[~np.isfinite(fr)] = None
    c = np.broadcast_to(np.asarray(close, dtype=np.float64), fut.shape).reshape(-1)
    labels = pd.DataFrame(
        {
            "close": c,
            "raw_close": c,
            "future_return": fr,
            "future_log_return": fut.reshape(-1),
            "price_target_true": c * (1 + fr),
            "pattern": pattern,
        },
        index=idx,
    )
    seq = np.full((n_symbols, n_weeks, 8, n_f), np.nan, dtype=np.float32)
    for k in range(8):
        seq[:, k:, 7 - k] = feats[:, : n_weeks - k]
    seq = seq.reshape(-1, 8, n_f)
    we = idx.get_level_values("week_end")

    def part(a: int, b: int) -> Window:
        m = np.asarray((we >= weeks[a]) & (we <= weeks[b - 1]))
        return Window(X=X.loc[m], labels=labels.loc[m], seq=seq[m])

    return tuple(part(a, b) for a, b in bounds)
