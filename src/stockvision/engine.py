"""Where the heavy, independent pieces of work run: in this process, or fanned out on Dask.

The walk-forward fits (one model on one fold), the symbol chunks of a feature build and the file
reads of a CSV import are independent tasks whose results are combined in a fixed order afterwards
(vnstock fetches stay serial under the provider's rate limit; docs/deployment.md). :class:`Engine.map` runs
``fn(shared, item)`` for every item and returns the outcomes **in item order**, whatever order they
finished in, so a caller that reduces them in that order gets the same result from every engine:
the serial run and the Dask run write a byte-identical ``metrics.json`` (tests/evaluation).

* :class:`SerialEngine` (``SV_ENGINE=serial``, the default): a plain loop, no dependency.
* :class:`DaskEngine` (``SV_ENGINE=dask``): ``dask.distributed``. Without ``SV_DASK_ADDRESS`` it
  starts a ``LocalCluster`` of single-threaded worker processes on this machine (``SV_DASK_WORKERS``,
  default one per core); with it, it connects to an existing scheduler (``tcp://host:8786``), e.g.
  the Kubernetes Deployments of deploy/k8s/components/dask. ``shared`` (the dataset) is sent to every
  worker once (``scatter(broadcast=True)``), not once per task.

Why processes of one thread: the models are numpy / LightGBM / torch code that holds the GIL or
spins its own OpenMP threads; one thread per process keeps fits from fighting for cores, and the
fitted numbers equal the serial run's (which the walk-forward also runs with one thread).

A task that raises does not stop the others: its :class:`Outcome` carries the exception and the
caller decides (the walk-forward's ``on_error``).
"""

from __future__ import annotations

import logging
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from stockvision.errors import ConfigError, EngineUnavailableError

if TYPE_CHECKING:
    from stockvision.config import Settings

__all__ = ["DaskEngine", "Engine", "Outcome", "SerialEngine", "engine_from_settings"]

log = logging.getLogger(__name__)

EngineName = Literal["serial", "dask"]


@dataclass(frozen=True)
class Outcome:
    """The result of one task: ``value``, or the ``error`` it raised."""

    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def get(self) -> Any:
        """The value, or the task's exception raised here."""
        if self.error is not None:
            raise self.error
        return self.value


def _run_task(fn: Callable[[Any, Any], Any], shared: Any, item: Any) -> Outcome:
    """Runs on the worker: the task's exception travels back as data, never as a worker failure."""
    try:
        return Outcome(value=fn(shared, item))
    except Exception as exc:
        return Outcome(error=exc)


class Engine(ABC):
    """Runs independent tasks; see the module docstring."""

    name: str = "engine"

    @abstractmethod
    def map(
        self,
        fn: Callable[[Any, Any], Any],
        items: Sequence[Any],
        *,
        shared: Any = None,
        on_result: Callable[[int, Outcome], None] | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> list[Outcome]:
        """``[fn(shared, item) for item in items]`` as outcomes, in item order.

        ``fn`` must be a module-level function (it is pickled by reference for remote workers).
        ``on_result(index, outcome)`` is called in this process as each task finishes, in
        completion order (progress); ``on_start(index)`` before a task starts, where the engine
        knows it (the serial engine; a cluster schedules tasks itself).
        """

    def close(self) -> None:  # noqa: B027  (optional hook: the serial engine holds nothing)
        """Release workers and connections (no-op for the serial engine)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        """What ran the work (recorded next to timings, never in metrics.json)."""
        return {"engine": self.name}


class SerialEngine(Engine):
    """Every task in this process, one after the other, in item order."""

    name = "serial"

    def map(self, fn, items, *, shared=None, on_result=None, on_start=None):
        outcomes = []
        for i, item in enumerate(items):
            if on_start is not None:
                on_start(i)
            outcome = _run_task(fn, shared, item)
            if on_result is not None:
                on_result(i, outcome)
            outcomes.append(outcome)
        return outcomes


class DaskEngine(Engine):
    """Tasks on a ``dask.distributed`` cluster: a local one, or the scheduler at ``address``.

    The cluster is started (or connected to) on first use and kept until :meth:`close`, so one
    engine serves every ``map`` of a run; starting a local cluster costs a few seconds.
    """

    name = "dask"

    def __init__(
        self, address: str | None = None, n_workers: int | None = None, timeout: float = 30.0
    ) -> None:
        if n_workers is not None and n_workers < 1:
            raise ConfigError(f"SV_DASK_WORKERS must be at least 1, got {n_workers}.")
        self.address = address
        self.n_workers = n_workers
        self.timeout = timeout
        self._client: Any = None
        self._cluster: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise EngineUnavailableError(
                "SV_ENGINE=dask needs dask.distributed, which is not installed.",
                "pip install 'stockvision[distributed]', or set SV_ENGINE=serial.",
                message_vi="Chưa cài dask.distributed cho SV_ENGINE=dask.",
            ) from exc
        if self.address:
            try:
                return Client(self.address, timeout=self.timeout)
            except (OSError, TimeoutError) as exc:
                raise EngineUnavailableError(
                    f"No Dask scheduler answered at {self.address} within {self.timeout:.0f} s.",
                    "Check SV_DASK_ADDRESS (tcp://host:8786) and that the scheduler runs, or unset "
                    "it to start a local cluster.",
                    message_vi=f"Không kết nối được Dask scheduler tại {self.address}.",
                    details={"address": self.address},
                ) from exc
        workers = self.n_workers or os.cpu_count() or 1
        try:
            self._cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.WARNING,
            )
        except RuntimeError as exc:  # "Nanny failed to start": worker processes did not come up
            raise EngineUnavailableError(
                f"Could not start a local Dask cluster of {workers} worker processes: {exc}",
                "Run from a script or the stockvision command (worker processes re-import the "
                "main module), lower SV_DASK_WORKERS, or set SV_ENGINE=serial.",
                message_vi="Không khởi động được cụm Dask cục bộ.",
            ) from exc
        return Client(self._cluster)

    def map(self, fn, items, *, shared=None, on_result=None, on_start=None):
        from distributed import as_completed

        if not items:
            return []
        client = self.client
        run = uuid.uuid4().hex[:8]
        shared_ref = (
            client.scatter(shared, broadcast=True, hash=False) if shared is not None else None
        )
        # items go to the workers directly (scatter), not inside the task graph through the
        # scheduler: a feature chunk or a batch of CSV cells is megabytes
        item_refs = client.scatter(list(items), hash=False)
        futures = [
            client.submit(_run_task, fn, shared_ref, ref, key=f"sv-{run}-{i}", pure=False)
            for i, ref in enumerate(item_refs)
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        outcomes: list[Outcome | None] = [None] * len(futures)
        try:
            for future in as_completed(futures):
                i = index[future.key]
                try:
                    outcome = future.result()
                except Exception as exc:  # the worker died or the result did not unpickle
                    outcome = Outcome(error=exc)
                outcomes[i] = outcome
                if on_result is not None:
                    on_result(i, outcome)
        finally:
            client.cancel(futures)
            client.cancel(item_refs)
            if shared_ref is not None:
                client.cancel([shared_ref])
        return [o for o in outcomes if o is not None]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"engine": self.name, "address": self.address or "local"}
        if self._client is not None:
            info["workers"] = len(self._client.scheduler_info().get("workers", {}))
        return info


def engine_from_settings(settings: Settings) -> Engine:
    """The engine ``SV_ENGINE`` names (``serial`` or ``dask``), configured from the settings."""
    name = (settings.engine or "serial").lower()
    if name == "serial":
        return SerialEngine()
    if name == "dask":
        return DaskEngine(settings.dask_address, settings.dask_workers)
    raise ConfigError(
        f"Unknown SV_ENGINE {settings.engine!r}.",
        "Use SV_ENGINE=serial (default) or SV_ENGINE=dask.",
        message_vi=f"SV_ENGINE không hợp lệ: {settings.engine!r}.",
    )
