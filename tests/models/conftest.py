"""Fixtures of the model tests: generated windows (see ``sv_model_windows``)."""

from __future__ import annotations

import pytest
from sv_model_windows import make_windows

from stockvision.features.dataset import Window


@pytest.fixture(scope="session")
def feature_windows() -> tuple[Window, Window, Window]:
    return make_windows(signal="features", seed=1)


@pytest.fixture(scope="session")
def ar_windows() -> tuple[Window, Window, Window]:
    return make_windows(signal="ar", seed=2, n_weeks=160, val_weeks=24, test_weeks=32)


@pytest.fixture(scope="session")
def noise_windows() -> tuple[Window, Window, Window]:
    return make_windows(signal="none", seed=3)
