"""A small trained Stock Vision built once per test session on the real VN30 data.

The pipeline runs for real (ingest -> features -> train -> walk-forward -> MLflow register/promote ->
batch predict -> monitor) on a few symbols with fast models, so serving, chat and monitoring tests exercise
the real code path. Tests get a private copy of the data directory so they cannot disturb each other.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from stockvision.config import Settings

UNIVERSE = "VNM,FPT,HPG,VCB,MWG,PNJ,SSI,GAS"
FAST_ENV = {
    "SV_SOURCE": "csv",
    "SV_UNIVERSE": UNIVERSE,
    "SV_PATTERN_MODEL": "lgbm_clf",
    "SV_EVAL_MAX_FOLDS": "3",
}


def fast_env(data_dir: Path, csv_path: Path) -> dict[str, str]:
    return {**FAST_ENV, "SV_DATA_DIR": str(data_dir), "SV_CSV_PATHS": str(csv_path)}


@contextmanager
def sv_environment(env: dict[str, str], extra_keys: Iterable[str] = ()) -> Iterator[None]:
    """Set ``env`` for the block (settings cache and MLflow set-up cleared on entry and exit) and
    restore every key of ``env`` and ``extra_keys`` afterwards (for session/module fixtures, where
    pytest's monkeypatch is not available)."""
    from stockvision.config import get_settings
    from stockvision.registry import tracking

    saved = {k: os.environ.get(k) for k in [*env, *extra_keys]}
    os.environ.update(env)
    get_settings.cache_clear()
    tracking.reset()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()
        tracking.reset()


def build_trained_home(root: Path, csv_path: Path) -> Path:
    """Run the whole pipeline once into ``root`` and return it."""
    from stockvision.pipeline.flow import run_pipeline

    with sv_environment(fast_env(root, csv_path)):
        run_pipeline(Settings())
    return root


def copy_home(src: Path, dst: Path) -> Path:
    """A private copy of a trained data directory (the MLflow store's artifact paths still point at the
    original artifacts, which tests only read)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.tmp"))
    return dst
