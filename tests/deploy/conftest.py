"""Fixtures for the deployment tests; the helpers live in deploy_support.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from deploy_support import exported_metrics, promql_metric_names, unknown_metrics


@pytest.fixture(scope="session")
def exported() -> frozenset[str]:
    return exported_metrics()[0]


@pytest.fixture(scope="session")
def metric_names() -> Callable[[str], set[str]]:
    return promql_metric_names


@pytest.fixture(scope="session")
def find_unknown() -> Callable[[set[str], frozenset[str]], set[str]]:
    return unknown_metrics
