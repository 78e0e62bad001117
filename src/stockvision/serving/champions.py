"""The champion holder: loads the registry's champions and hot-swaps them without failing a request.

New models are loaded next to the old ones and swapped in with one assignment, so requests in flight
finish on the :class:`~stockvision.predict.ModelSet` they started with. If the registry is unreachable
or a new champion does not load, the last loaded models keep serving and the holder says why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from stockvision.predict.model_set import ModelSet
from stockvision.registry.champions import load_champions
from stockvision.serving import metrics as m

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadStatus:
    outcome: str  # reloaded | unchanged | registry_unreachable | load_failed
    price_version: str | None
    pattern_version: str | None
    registry_ok: bool | None
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "price_version": self.price_version,
            "pattern_version": self.pattern_version,
            "registry_ok": self.registry_ok,
            "message": self.message,
        }


class ChampionHolder:
    """Holds the served :class:`ModelSet` and reloads it from a registry.

    ``registry_factory`` builds a registry client; a holder that built its registry rebuilds it after
    a failure (a reconnect). An injected ``registry`` is kept as given.
    """

    def __init__(
        self, registry_factory: Callable[[], Any] | None = None, registry: Any = None
    ) -> None:
        self._factory = registry_factory
        self._registry = registry
        self._owns_registry = registry is None
        self.models = ModelSet()
        self.registry_ok: bool | None = None
        self.registry_message: str | None = None
        self.registry_checked_at: datetime | None = None
        self._lock = threading.Lock()

    @property
    def registry(self) -> Any:
        if self._registry is None:
            if self._factory is None:
                raise RuntimeError("no registry configured")
            self._registry = self._factory()
        return self._registry

    def set_registry(self, registry: Any = None) -> None:
        """Use ``registry`` (None: rebuild one with the factory on the next reload)."""
        self._registry = registry
        self._owns_registry = registry is None

    def check(self) -> bool:
        """Ping the registry now; record and return whether it answered."""
        try:
            self.registry.ping()
        except Exception as exc:
            self._down(exc)
            return False
        self.registry_ok = True
        self.registry_checked_at = datetime.now(UTC)
        if self.registry_message and self.registry_message.startswith("registry"):
            self.registry_message = None
        return True

    def reload(self, force: bool = False) -> ReloadStatus:
        """Load the current champions if they changed (or ``force``); keep serving on any failure."""
        with self._lock:
            try:
                registry = self.registry
                registry.ping()
                versions = {
                    k: (r.version if (r := registry.champion(k)) else None)
                    for k in ("price", "pattern")
                }
            except Exception as exc:
                self._down(exc)
                return self._status("registry_unreachable")
            self.registry_ok, self.registry_message = True, None
            self.registry_checked_at = datetime.now(UTC)
            current = self.models
            wanted = (
                versions["price"] or current.price_version,
                versions["pattern"] or current.pattern_version,
            )
            if not force and wanted == (current.price_version, current.pattern_version):
                return self._status("unchanged")
            try:
                new = load_champions(registry, current, force=force)
            except Exception as exc:  # a broken model file: keep the previous models
                self.registry_message = (
                    f"could not load the new champion, keeping the old one: {_one_line(exc)}"
                )
                log.error(self.registry_message, exc_info=exc)
                return self._status("load_failed")
            self.models = new
            m.MODEL_INFO.clear()
            for name, version in (
                ("price_target_model", new.price_version),
                ("pattern_model", new.pattern_version),
            ):
                if version:
                    m.MODEL_INFO.labels(name, version, "champion").set(1)
            log.info("serving price v%s, pattern v%s", new.price_version, new.pattern_version)
            return self._status("reloaded")

    def _down(self, exc: Exception) -> None:
        self.registry_ok = False
        self.registry_checked_at = datetime.now(UTC)
        self.registry_message = (
            f"registry unreachable, serving the last loaded models: {_one_line(exc)}"
        )
        log.warning(self.registry_message)
        if self._owns_registry:
            self._registry = None  # rebuilt (reconnected) on the next attempt

    def _status(self, outcome: str) -> ReloadStatus:
        return ReloadStatus(
            outcome=outcome,
            price_version=self.models.price_version,
            pattern_version=self.models.pattern_version,
            registry_ok=self.registry_ok,
            message=self.registry_message,
        )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
