"""Stacked LSTM / GRU pattern classifier over the last ``seq_len`` weeks of features."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from stockvision.features.labels import PATTERN_CLASSES
from stockvision.models.torch_training import TorchPatternModel


class StackedRecurrentNet(nn.Module):
    """Recurrent layers of sizes ``hidden`` (dropout between them) and a linear head on the last step."""

    def __init__(
        self, n_features: int, arch: Literal["lstm", "gru"], hidden: Sequence[int], dropout: float
    ) -> None:
        super().__init__()
        if arch not in ("lstm", "gru"):
            raise ValueError(f"arch must be 'lstm' or 'gru', got {arch!r}")
        if not hidden:
            raise ValueError("hidden must list at least one layer size, e.g. (64, 32)")
        cell = nn.LSTM if arch == "lstm" else nn.GRU
        sizes = [n_features, *[int(h) for h in hidden]]
        self.layers = nn.ModuleList(
            cell(sizes[i], sizes[i + 1], batch_first=True) for i in range(len(sizes) - 1)
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(sizes[-1], len(PATTERN_CLASSES))

    @property
    def first_layer(self) -> nn.Module:
        return self.layers[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x, _ = layer(x)
            x = self.dropout(x)
        return self.head(x[:, -1, :])


class SequencePatternModel(TorchPatternModel):
    """LSTM/GRU classifier: (8 weeks x features) -> 2 recurrent layers (64, 32) -> 3 classes.

    Trained with Adam on cross-entropy, early stopping on validation loss and temperature scaling
    on the validation window (see :mod:`stockvision.models.torch_training`).
    """

    def __init__(
        self,
        arch: Literal["lstm", "gru"] = "lstm",
        hidden: Sequence[int] = (64, 32),
        dropout: float = 0.2,
        lr: float = 1e-3,
        max_epochs: int = 60,
        patience: int = 6,
        batch_size: int = 256,
        seed: int = 42,
        class_weight: Literal["balanced"] | None = None,
        weight_decay: float = 0.0,
        val_fraction: float = 0.15,
        num_threads: int = 2,
        horizon: int = 4,
    ) -> None:
        self.horizon = horizon
        self.arch = arch
        self.hidden = hidden
        self.dropout = dropout
        self.lr = lr
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.seed = seed
        self.class_weight = class_weight
        self.weight_decay = weight_decay
        self.val_fraction = val_fraction
        self.num_threads = num_threads

    @property
    def name(self) -> str:  # type: ignore[override]
        return str(self.arch)

    def _build_module(self, n_features: int) -> nn.Module:
        return StackedRecurrentNet(n_features, self.arch, self.hidden, float(self.dropout))
