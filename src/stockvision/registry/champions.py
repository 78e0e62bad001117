"""Load the champions of the registry as the prediction core's :class:`ModelSet`.

Used by the serving layer's hot-swapping holder and by the pipeline's batch step, so both serve the
same versions the same way.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from stockvision.predict.model_set import ModelSet

log = logging.getLogger(__name__)

KINDS = ("price", "pattern")


def champion_versions(registry: Any) -> dict[str, str | None]:
    """The champion version of each kind (None where no champion is set)."""
    return {k: (r.version if (r := registry.champion(k)) else None) for k in KINDS}


def load_champions(
    registry: Any, previous: ModelSet | None = None, force: bool = False
) -> ModelSet:
    """The current champions as a ``ModelSet``.

    Models whose version equals ``previous``'s are reused (no reload) unless ``force``; a champion
    alias that disappeared keeps the previously served model. Raises what the registry raises (a
    version that does not load, an unreachable registry): the caller decides to keep serving.
    """
    previous = previous or ModelSet()
    records = {k: registry.champion(k) for k in KINDS}
    loaded: dict[str, Any] = {}
    for kind in KINDS:
        rec = records[kind]
        current_version = getattr(previous, f"{kind}_version")
        current_model = getattr(previous, kind)
        if rec is None:
            loaded[kind] = (
                current_model,
                current_version,
                getattr(previous, f"{kind}_class"),
                getattr(previous, f"{kind}_metrics"),
            )
            continue
        if not force and rec.version == current_version and current_model is not None:
            model = current_model
        else:
            model = registry.load(kind, rec.version)[0]
        loaded[kind] = (model, rec.version, rec.model_class, rec.metrics)
    return ModelSet(
        price=loaded["price"][0],
        pattern=loaded["pattern"][0],
        price_version=loaded["price"][1],
        pattern_version=loaded["pattern"][1],
        price_class=loaded["price"][2],
        pattern_class=loaded["pattern"][2],
        price_metrics=dict(loaded["price"][3] or {}),
        pattern_metrics=dict(loaded["pattern"][3] or {}),
        loaded_at=datetime.now(UTC),
    )
