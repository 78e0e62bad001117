"""Fixtures of the features tests (helpers live in feature_frames.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from feature_frames import make_adjusted


@pytest.fixture(scope="session")
def small_adjusted() -> pd.DataFrame:
    """3 symbols x 400 business days, one stock dividend, a suspension, some zero-volume days."""
    return make_adjusted(
        n_symbols=3,
        n_days=400,
        seed=1,
        dividends=[(1, 250, 0.3)],
        gaps=[(2, 100, 8)],
        zero_volume_share=0.02,
    )
