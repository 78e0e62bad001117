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
    alias that disappeared keeps the previously served model. A champion that fails to load while
    something of its kind is served raises (the caller keeps serving what it has); with nothing
    served yet (a restart), the newest version that does load is served instead and ``notes`` says
    so, so one corrupt file does not take predictions down.
    """
    previous = previous or ModelSet()
    records = {k: registry.champion(k) for k in KINDS}
    loaded: dict[str, Any] = {}
    notes: dict[str, str] = {}
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
            loaded[kind] = (current_model, rec.version, rec.model_class, rec.metrics)
            continue
        try:
            model = registry.load(kind, rec.version)[0]
        except Exception as exc:
            if current_model is not None:
                raise
            fallback = _newest_loadable(registry, kind, exclude=rec.version)
            if fallback is None:
                raise
            model, rec = fallback
            notes[kind] = (
                f"champion v{records[kind].version} failed to load ({_one_line(exc)}); "
                f"serving v{rec.version}, the newest version that loads"
            )
            log.error("%s: %s", kind, notes[kind])
        loaded[kind] = (model, rec.version, rec.model_class, rec.metrics)
    baseline, baseline_version, baseline_metrics = _baseline(registry, previous, force)
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
        notes=notes,
        baseline=baseline,
        baseline_version=baseline_version,
        baseline_metrics=baseline_metrics,
    )


def _baseline(registry: Any, previous: ModelSet, force: bool) -> tuple[Any, str | None, dict]:
    """The served price baseline (for symbols with a short history), or (None, None, {}).

    Optional: a registry without one (older data dirs, a short history whose champion is itself
    the baseline) serves as before, and a baseline that fails to load never blocks the champions.
    """
    try:
        rec = registry.champion("price_baseline")
    except Exception as exc:
        log.warning("price baseline unavailable: %s", _one_line(exc))
        rec = None
    if rec is None:
        return previous.baseline, previous.baseline_version, dict(previous.baseline_metrics)
    if not force and rec.version == previous.baseline_version and previous.baseline is not None:
        return previous.baseline, rec.version, dict(rec.metrics)
    try:
        model = registry.load("price_baseline", rec.version)[0]
    except Exception as exc:
        log.warning("price baseline v%s does not load: %s", rec.version, _one_line(exc))
        return previous.baseline, previous.baseline_version, dict(previous.baseline_metrics)
    return model, rec.version, dict(rec.metrics)


def load_challengers(
    registry: Any, champions: ModelSet, previous: ModelSet | None = None
) -> ModelSet | None:
    """The set a challenger answers with (shadow scoring), or None when no kind has a challenger.

    Each kind with a ``challenger`` alias other than its champion uses that version; the other kind
    keeps the champion's model, so the pair differs only where a challenger exists and the
    comparison measures it alone. Models whose version equals ``previous``'s are reused.
    """
    from stockvision.registry.model_registry import CHALLENGER

    records = {k: registry.by_alias(k, CHALLENGER) for k in KINDS}
    live = {
        k: r
        for k, r in records.items()
        if r is not None and r.version != getattr(champions, f"{k}_version")
    }
    if not live:
        return None
    parts: dict[str, tuple[Any, Any, Any, Any]] = {}
    for kind in KINDS:
        rec = live.get(kind)
        if rec is None:
            parts[kind] = tuple(
                getattr(champions, f"{kind}{suffix}")
                for suffix in ("", "_version", "_class", "_metrics")
            )
            continue
        same = previous is not None and getattr(previous, f"{kind}_version") == rec.version
        model = getattr(previous, kind) if same else registry.load(kind, rec.version)[0]
        parts[kind] = (model, rec.version, rec.model_class, rec.metrics)
    return ModelSet(
        price=parts["price"][0],
        pattern=parts["pattern"][0],
        price_version=parts["price"][1],
        pattern_version=parts["pattern"][1],
        price_class=parts["price"][2],
        pattern_class=parts["pattern"][2],
        price_metrics=dict(parts["price"][3] or {}),
        pattern_metrics=dict(parts["pattern"][3] or {}),
        loaded_at=datetime.now(UTC),
    )


def _newest_loadable(registry: Any, kind: str, exclude: str) -> tuple[Any, Any] | None:
    """(model, record) of the newest complete version of ``kind`` that loads, other than
    ``exclude``."""
    versions = sorted(registry.versions(kind), key=lambda r: int(r.version), reverse=True)
    for record in versions:
        if record.version == exclude or "run_id" not in record.tags:
            continue
        try:
            return registry.load(kind, record.version)[0], record
        except Exception as exc:
            log.warning("%s v%s does not load either: %s", kind, record.version, _one_line(exc))
    return None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
