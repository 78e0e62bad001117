"""CNN -> BiLSTM -> additive attention pattern classifier.

The convolution picks up short local shapes (2-3 week moves) across all features, the bidirectional
LSTM relates them over the window, and attention pooling lets the head weigh the informative weeks
instead of only the last hidden state.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from stockvision.features.labels import PATTERN_CLASSES
from stockvision.models.torch_training import TorchPatternModel


class CnnBiLstmAttentionNet(nn.Module):
    def __init__(
        self,
        n_features: int,
        conv_channels: int,
        kernel_size: int,
        lstm_hidden: int,
        attention_dim: int,
        dropout: float,
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(
                f"kernel_size must be odd to keep the sequence length, got {kernel_size}"
            )
        self.conv = nn.Conv1d(n_features, conv_channels, kernel_size, padding=kernel_size // 2)
        self.bilstm = nn.LSTM(conv_channels, lstm_hidden, batch_first=True, bidirectional=True)
        self.attn_proj = nn.Linear(2 * lstm_hidden, attention_dim)
        self.attn_score = nn.Linear(attention_dim, 1, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * lstm_hidden, len(PATTERN_CLASSES))

    @property
    def first_layer(self) -> nn.Module:
        return self.conv

    def attention(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(context vectors (batch, 2h), attention weights (batch, seq_len))."""
        z = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        h, _ = self.bilstm(self.dropout(z))
        weights = torch.softmax(self.attn_score(torch.tanh(self.attn_proj(h))).squeeze(-1), dim=1)
        return (weights.unsqueeze(-1) * h).sum(dim=1), weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context, _ = self.attention(x)
        return self.head(self.dropout(context))


class CnnBiLstmAttentionModel(TorchPatternModel):
    """Conv1d over time -> BiLSTM -> additive attention pooling -> linear head (3 classes)."""

    name = "cnn_bilstm_attn"

    def __init__(
        self,
        conv_channels: int = 32,
        kernel_size: int = 3,
        lstm_hidden: int = 32,
        attention_dim: int = 32,
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
        self.conv_channels = conv_channels
        self.kernel_size = kernel_size
        self.lstm_hidden = lstm_hidden
        self.attention_dim = attention_dim
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

    def _build_module(self, n_features: int) -> nn.Module:
        return CnnBiLstmAttentionNet(
            n_features,
            int(self.conv_channels),
            int(self.kernel_size),
            int(self.lstm_hidden),
            int(self.attention_dim),
            float(self.dropout),
        )
