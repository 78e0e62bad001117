"""Features layer: weekly indicators, monthly labels, transformer and date-based datasets.

Input is the adjusted daily frame (``stockvision.market.corporate_actions.adjust``); outputs are
indexed by (symbol, week_end). See ``FEATURE_DOCS`` for the exact definition of every feature.
"""

from __future__ import annotations

from stockvision.features.dataset import DatasetBuilder, Split, Window
from stockvision.features.feature_docs import FEATURE_DOCS, FEATURES
from stockvision.features.labels import (
    LABEL_COLUMNS,
    PATTERN_CLASSES,
    compute_labels,
    pattern_to_codes,
)
from stockvision.features.pipeline import build_features_and_labels, incremental_update
from stockvision.features.report import render_html, render_text, validate_features
from stockvision.features.transformers import FeatureTransformer
from stockvision.features.weekly import (
    FeatureInputError,
    compute_features,
    weekly_bars,
)

__all__ = [
    "FEATURES",
    "FEATURE_DOCS",
    "LABEL_COLUMNS",
    "PATTERN_CLASSES",
    "DatasetBuilder",
    "FeatureInputError",
    "FeatureTransformer",
    "Split",
    "Window",
    "build_features_and_labels",
    "compute_features",
    "compute_labels",
    "incremental_update",
    "pattern_to_codes",
    "render_html",
    "render_text",
    "validate_features",
    "weekly_bars",
]
