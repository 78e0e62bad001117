"""Shared training loop, calibration and persistence of the PyTorch pattern classifiers.

Reproducibility: every fit seeds torch (weights init, dropout, batch order via its own generator),
turns on deterministic algorithms and caps intra-op threads at ``num_threads`` (default 2; the
global torch settings are restored afterwards). CPU only. Results are reproducible for a given
thread count; on a busy machine ``num_threads=1`` avoids oversubscription and is often faster for
these small networks.

Loss: plain (unweighted) cross-entropy by default, because the product is calibrated probabilities:
class weights would shift the predicted class priors, a bias a single temperature cannot undo.
``class_weight="balanced"`` is available when recall of the rare class matters more.
"""

from __future__ import annotations

import contextlib
import copy
import os
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from stockvision.features.feature_docs import FEATURES
from stockvision.features.labels import PATTERN_CLASSES
from stockvision.features.transformers import FeatureTransformer
from stockvision.models._windows import (
    WindowLike,
    check_window,
    split_calibration_tail,
    window_features,
)
from stockvision.models.base import ModelLoadError, PatternModel
from stockvision.models.calibration import apply_temperature, fit_temperature

WEIGHTS_FILE = "weights.pt"
_N_CLASSES = len(PATTERN_CLASSES)


@contextlib.contextmanager
def deterministic_torch(seed: int | None, num_threads: int = 2) -> Iterator[None]:
    """Seed torch and numpy (unless ``seed`` is None), force deterministic kernels, cap threads.

    The global deterministic flag and thread count are restored afterwards.
    """
    prev_det = torch.are_deterministic_algorithms_enabled()
    prev_threads = torch.get_num_threads()
    if seed is not None:
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(max(1, min(int(num_threads), os.cpu_count() or 1)))
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev_det)
        torch.set_num_threads(prev_threads)


@dataclass
class TrainResult:
    best_epoch: int
    epochs_run: int
    best_val_loss: float
    history: list[dict[str, float]] = field(default_factory=list)


def predict_logits(module: nn.Module, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Logits of ``module`` in eval mode, as float64 numpy (n, n_classes)."""
    module.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(x[start : start + batch_size]))
            out.append(module(xb).double().numpy())
    return np.concatenate(out) if out else np.zeros((0, _N_CLASSES))


def train_classifier(
    module: nn.Module,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    *,
    lr: float,
    max_epochs: int,
    patience: int,
    batch_size: int,
    seed: int,
    class_weight: np.ndarray | None = None,
    weight_decay: float = 0.0,
) -> TrainResult:
    """Adam + cross-entropy with early stopping on validation loss; restores the best weights.

    Call inside :func:`deterministic_torch`. Only parameters with ``requires_grad`` are updated
    (frozen layers stay as they are).
    """
    if len(x_train) == 0 or len(x_val) == 0:
        raise ValueError("train_classifier needs non-empty training and validation sets")
    gen = torch.Generator().manual_seed(seed)
    xt = torch.from_numpy(np.ascontiguousarray(x_train, dtype=np.float32))
    yt = torch.from_numpy(np.asarray(y_train, dtype=np.int64))
    yv = np.asarray(y_val, dtype=np.int64)
    weight = None if class_weight is None else torch.as_tensor(class_weight, dtype=torch.float32)
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    best_loss, best_epoch, wait = float("inf"), 0, 0
    best_state = copy.deepcopy(module.state_dict())
    history: list[dict[str, float]] = []
    epoch = 0
    for epoch in range(1, int(max_epochs) + 1):
        module.train()
        perm = torch.randperm(len(xt), generator=gen)
        total = 0.0
        for start in range(0, len(xt), batch_size):
            idx = perm[start : start + batch_size]
            opt.zero_grad()
            loss = F.cross_entropy(module(xt[idx]), yt[idx], weight=weight)
            loss.backward()
            nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            total += float(loss.detach()) * len(idx)
        val_loss = _ce(predict_logits(module, x_val), yv)
        history.append({"epoch": epoch, "train_loss": total / len(xt), "val_loss": val_loss})
        if val_loss < best_loss - 1e-6:
            best_loss, best_epoch, wait = val_loss, epoch, 0
            best_state = copy.deepcopy(module.state_dict())
        else:
            wait += 1
            if wait >= patience:
                break
    module.load_state_dict(best_state)
    module.eval()
    return TrainResult(best_epoch, epoch, best_loss, history)


def _ce(logits: np.ndarray, y: np.ndarray) -> float:
    return float(F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y)))


def balanced_class_weight(y: np.ndarray) -> np.ndarray:
    counts = np.bincount(y, minlength=_N_CLASSES).astype(np.float64)
    counts[counts == 0] = 1.0
    return len(y) / (_N_CLASSES * counts)


class TorchPatternModel(PatternModel):
    """Base of the sequence classifiers: fit with early stopping, temperature scaling, state_dict I/O.

    Input: ``Window.seq`` (n, seq_len, features) transformed by a FeatureTransformer fitted on the
    training rows. Without a validation window, the latest ``val_fraction`` of the training weeks
    (after a horizon-week purge gap) is held out for early stopping and the temperature.
    """

    lr: float
    max_epochs: int
    patience: int
    batch_size: int
    seed: int
    class_weight: Literal["balanced"] | None
    weight_decay: float
    val_fraction: float
    num_threads: int

    @abstractmethod
    def _build_module(self, n_features: int) -> nn.Module:
        """A fresh network mapping (batch, seq_len, n_features) to (batch, 3) logits."""

    @staticmethod
    def _first_layer(module: nn.Module) -> nn.Module:
        return module.first_layer  # type: ignore[return-value]

    def warm_start_from(
        self, parent: TorchPatternModel, freeze_first_layer: bool = False
    ) -> TorchPatternModel:
        """Start the next ``fit`` from ``parent``'s weights and feature scaling (fine-tuning).

        The parent's transformer is reused so inputs keep the scale the weights were learned on.
        """
        parent._check_fitted()
        self._warm_start = (copy.deepcopy(parent.module_.state_dict()), parent.transformer_)
        self._freeze_first = bool(freeze_first_layer)
        self.warm_started_from_ = parent.name
        return self

    def _seq(self, window: WindowLike) -> np.ndarray:
        self._check_fitted()
        check_window(window, self.features_)
        if window.seq.shape[2] != len(self.features_):
            raise ValueError(
                f"window.seq has {window.seq.shape[2]} features per week, expected "
                f"{len(self.features_)} ({', '.join(self.features_[len(FEATURES) :]) or 'no extras'})"
            )
        assert self.transformer_ is not None
        return np.ascontiguousarray(self.transformer_.transform_seq(window.seq), dtype=np.float32)

    def fit(self, train: WindowLike, val: WindowLike | None = None) -> TorchPatternModel:
        check_window(train, require="pattern")
        if val is not None:
            check_window(val, require="pattern")
            fit_w, val_w = train, val
        else:
            fit_w, val_w = split_calibration_tail(
                train, float(self.val_fraction), int(self.horizon)
            )
        warm = getattr(self, "_warm_start", None)
        self.features_ = window_features(fit_w)
        if warm is not None:
            self.transformer_ = warm[1]
        else:
            self.transformer_ = FeatureTransformer().fit(fit_w.X[self.features_])
        y_tr, m_tr = self._labelled(fit_w)
        y_va, m_va = self._labelled(val_w)
        if not m_va.any():
            raise ValueError("the validation window has no labelled rows; use an earlier window")
        x_tr, x_va = self._seq(fit_w)[m_tr], self._seq(val_w)[m_va]
        y_tr, y_va = y_tr[m_tr], y_va[m_va]
        cw = balanced_class_weight(y_tr) if self.class_weight == "balanced" else None
        with deterministic_torch(int(self.seed), int(self.num_threads)):
            module = self._build_module(len(self.features_))
            if warm is not None:
                module.load_state_dict(warm[0])
                if self._freeze_first:
                    for p in self._first_layer(module).parameters():
                        p.requires_grad_(False)
            result = train_classifier(
                module, x_tr, y_tr, x_va, y_va,
                lr=float(self.lr), max_epochs=int(self.max_epochs), patience=int(self.patience),
                batch_size=int(self.batch_size), seed=int(self.seed), class_weight=cw,
                weight_decay=float(self.weight_decay),
            )  # fmt: skip
            for p in module.parameters():
                p.requires_grad_(True)
            self.module_ = module.eval()
            self.temperature_ = fit_temperature(predict_logits(module, x_va), y_va)
        self.train_result_ = result
        self.n_train_ = len(y_tr)
        return self

    def predict_logits(self, window: WindowLike) -> np.ndarray:
        """Uncalibrated logits (n, 3)."""
        x = self._seq(window)
        with deterministic_torch(None, int(self.num_threads)):  # eval mode: nothing random
            return predict_logits(self.module_, x)

    def predict_proba(self, window: WindowLike, calibrated: bool = True) -> np.ndarray:
        """Class probabilities (n, 3); temperature-scaled unless ``calibrated=False``."""
        t = self.temperature_ if calibrated else 1.0
        return apply_temperature(self.predict_logits(window), t)

    # --- persistence ---------------------------------------------------------------------------
    def _get_state(self) -> dict[str, Any]:
        r = self.train_result_
        return {
            "temperature": self.temperature_,
            "n_train": self.n_train_,
            "best_epoch": r.best_epoch,
            "epochs_run": r.epochs_run,
            "best_val_loss": r.best_val_loss,
            "history": r.history,
            "warm_started_from": getattr(self, "warm_started_from_", None),
            "weights_file": WEIGHTS_FILE,
        }

    def _save_weights(self, path: Path) -> None:
        torch.save(self.module_.state_dict(), path / WEIGHTS_FILE)

    def _set_state(self, state: dict[str, Any], path: Path) -> None:
        self.temperature_ = float(state["temperature"])
        self.n_train_ = int(state["n_train"])
        self.train_result_ = TrainResult(
            int(state["best_epoch"]),
            int(state["epochs_run"]),
            float(state["best_val_loss"]),
            list(state["history"]),
        )
        if state.get("warm_started_from"):
            self.warm_started_from_ = state["warm_started_from"]
        file = path / state["weights_file"]
        if not file.is_file():
            raise ModelLoadError(file, "weight file not found")
        try:
            sd = torch.load(file, map_location="cpu", weights_only=True)
            with deterministic_torch(None, int(self.num_threads)):
                module = self._build_module(len(self.features_))
            module.load_state_dict(sd)
        except Exception as exc:
            raise ModelLoadError(file, f"unreadable weights ({type(exc).__name__}: {exc})") from exc
        self.module_ = module.eval()
