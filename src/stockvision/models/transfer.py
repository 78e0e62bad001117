"""Parent-child transfer learning for the sequence pattern classifier.

The parent is trained once on the whole market (all symbols pooled, optionally with the VN30 index
as one more "symbol"); each child starts from the parent's weights and feature scaling and is
fine-tuned on its own symbol with a lower learning rate and few epochs (optionally with the first
recurrent layer frozen). :func:`run_transfer_experiment` compares that with training every child
from scratch on its symbol alone: per-child fit time, accuracy and log loss on the symbol's test
rows, and the total training time saved.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from stockvision.models._windows import (
    WindowLike,
    concat_windows,
    pattern_codes,
    subset_window,
    symbols_of,
)
from stockvision.models.sequence import SequencePatternModel

_EPS = 1e-15


def _scores(model: SequencePatternModel, window: WindowLike) -> dict[str, float]:
    codes, mask = pattern_codes(window)
    if not mask.any():
        return {"accuracy": float("nan"), "log_loss": float("nan"), "n_test": 0}
    proba = model.predict_proba(window)[mask]
    y = codes[mask]
    p_true = np.clip(proba[np.arange(len(y)), y], _EPS, 1.0)
    return {
        "accuracy": float((proba.argmax(axis=1) == y).mean()),
        "log_loss": float(-np.log(p_true).mean()),
        "n_test": int(mask.sum()),
    }


def _for_symbol(window: WindowLike, symbol: str) -> WindowLike:
    return subset_window(window, symbols_of(window) == symbol)


def fine_tune(
    parent: SequencePatternModel,
    train: WindowLike,
    val: WindowLike | None = None,
    *,
    lr: float = 3e-4,
    max_epochs: int = 10,
    patience: int = 3,
    freeze_first_layer: bool = True,
) -> SequencePatternModel:
    """A child with the parent's architecture, started from its weights, fitted on ``train``."""
    params = {**parent.get_params(), "lr": lr, "max_epochs": max_epochs, "patience": patience}
    child = SequencePatternModel(**params)
    child.warm_start_from(parent, freeze_first_layer=freeze_first_layer)
    return child.fit(train, val)


def run_transfer_experiment(
    train: WindowLike,
    val: WindowLike,
    test: WindowLike,
    symbols: Sequence[str],
    *,
    arch: Literal["lstm", "gru"] = "lstm",
    index_train: WindowLike | None = None,
    index_val: WindowLike | None = None,
    parent_params: dict[str, Any] | None = None,
    scratch_params: dict[str, Any] | None = None,
    child_lr: float = 3e-4,
    child_epochs: int = 10,
    child_patience: int = 3,
    freeze_first_layer: bool = True,
    seed: int = 42,
) -> dict[str, Any]:
    """Train a market parent, then fine-tuned vs from-scratch children for ``symbols``.

    ``index_train`` / ``index_val`` (windows of the VN30 index built like a symbol's) are pooled
    into the parent's data when given. Returns ``{"parent": {...}, "children": {symbol: {"fine_tuned":
    {...}, "scratch": {...}, "parent_only": {...}}}, "summary": {...}}`` with fit seconds, epochs,
    accuracy and log loss on each symbol's test rows. The parent's own fit time is reported
    separately: it is paid once for all children.
    """
    base = {"arch": arch, "seed": seed}
    parent_train = concat_windows([train, index_train]) if index_train is not None else train
    parent_val = concat_windows([val, index_val]) if index_val is not None else val
    t0 = time.perf_counter()
    parent = SequencePatternModel(**{**base, **(parent_params or {})}).fit(parent_train, parent_val)
    parent_seconds = time.perf_counter() - t0

    children: dict[str, Any] = {}
    for symbol in symbols:
        tr, va, te = (_for_symbol(w, symbol) for w in (train, val, test))
        if len(tr) == 0 or len(va) == 0 or len(te) == 0:
            raise ValueError(f"symbol {symbol!r} has no rows in the train, val or test window")
        t0 = time.perf_counter()
        child = fine_tune(
            parent, tr, va, lr=child_lr, max_epochs=child_epochs, patience=child_patience,
            freeze_first_layer=freeze_first_layer,
        )  # fmt: skip
        ft_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        scratch = SequencePatternModel(**{**base, **(scratch_params or {})}).fit(tr, va)
        sc_seconds = time.perf_counter() - t0
        children[symbol] = {
            "fine_tuned": {
                "seconds": ft_seconds, "epochs": child.train_result_.epochs_run, **_scores(child, te)
            },
            "scratch": {
                "seconds": sc_seconds, "epochs": scratch.train_result_.epochs_run, **_scores(scratch, te)
            },
            "parent_only": _scores(parent, te),
        }  # fmt: skip

    def mean(kind: str, key: str) -> float:
        vals = [c[kind][key] for c in children.values() if np.isfinite(c[kind][key])]
        return float(np.mean(vals)) if vals else float("nan")

    ft_total = sum(c["fine_tuned"]["seconds"] for c in children.values())
    sc_total = sum(c["scratch"]["seconds"] for c in children.values())
    summary = {
        "n_children": len(children),
        "fine_tuned_seconds_total": ft_total,
        "scratch_seconds_total": sc_total,
        "time_saved_seconds": sc_total - ft_total,
        "time_saved_pct": 100.0 * (sc_total - ft_total) / sc_total
        if sc_total > 0
        else float("nan"),
        "time_saved_incl_parent_seconds": sc_total - ft_total - parent_seconds,
        **{
            f"{kind}_{key}_mean": mean(kind, key)
            for kind in ("fine_tuned", "scratch", "parent_only")
            for key in ("accuracy", "log_loss")
        },
    }
    return {
        "parent": {
            "seconds": parent_seconds,
            "epochs": parent.train_result_.epochs_run,
            **_scores(parent, test),
        },
        "children": children,
        "summary": summary,
    }
