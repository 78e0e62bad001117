"""The MLflow model registry, governed with aliases (``champion``, ``challenger``), never stages.

Every logged version carries its parameters, the flat evaluation metrics it was promoted on, the dataset it was
trained on (digest, date range, symbols) and the fitted preprocessing (inside the model directory). Every
promotion decision is written twice: as tags on the version and as a line of the promotion log.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from stockvision.config import Settings
from stockvision.errors import RegistryError
from stockvision.faults import crash_point
from stockvision.registry import tracking
from stockvision.registry.promotion import Decision

log = logging.getLogger(__name__)

Kind = Literal["price", "pattern", "sentiment", "price_baseline"]
REGISTERED_NAMES: dict[str, str] = {"price": "price_target_model", "pattern": "pattern_model"}
#: Registered models beside the two forecast models (same logging, aliases and loading; left out
#: of the forecast summary and promotion flow). ``sentiment``: the news headline tone model;
#: ``price_baseline``: the price fallback trained with every champion, served for the symbols whose
#: history is shorter than the champion's features read (new listings).
AUX_NAMES: dict[str, str] = {
    "sentiment": "news_sentiment_model",
    "price_baseline": "price_baseline_model",
}
_ALL_NAMES: dict[str, str] = {**REGISTERED_NAMES, **AUX_NAMES}
CHAMPION = "champion"
CHALLENGER = "challenger"
PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")
PYFUNC_CODES: dict[str, Path] = {"sentiment": Path(__file__).with_name("sentiment_pyfunc.py")}


@dataclass
class DatasetInfo:
    """What a model was trained on, so any version can be traced back to its data."""

    digest: str
    start: str
    end: str
    symbols: list[str]
    rows: int
    simulated: bool = False

    def as_tags(self) -> dict[str, str]:
        return {
            "dataset.digest": self.digest,
            "dataset.start": self.start,
            "dataset.end": self.end,
            "dataset.rows": str(self.rows),
            "dataset.n_symbols": str(len(self.symbols)),
            "dataset.simulated": str(self.simulated).lower(),
        }


@dataclass
class ModelRecord:
    """One registered version as the CLI and the API show it."""

    kind: str
    name: str
    version: str
    aliases: list[str]
    run_id: str | None
    created_at: str
    model_class: str
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def registered_name(kind: str) -> str:
    try:
        return _ALL_NAMES[kind]
    except KeyError as exc:
        raise RegistryError(f"Unknown model kind {kind!r}.", "Use 'price' or 'pattern'.") from exc


def _kind_of(name_or_kind: str) -> str:
    for kind, name in _ALL_NAMES.items():
        if name_or_kind in (kind, name):
            return kind
    raise RegistryError(
        f"Unknown model {name_or_kind!r}.",
        f"Use one of: {', '.join(list(REGISTERED_NAMES) + list(REGISTERED_NAMES.values()))}.",
    )


class ModelRegistry:
    """Log, register, promote, roll back and load the two served models."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        try:
            self.client = tracking.configure(self.settings)
        except Exception as exc:  # server down, bad URI: the caller decides whether to keep serving
            raise RegistryError(
                f"MLflow registry at {self.settings.tracking_uri} is unreachable: {exc}",
                "Check SV_MLFLOW_TRACKING_URI or start the MLflow server.",
            ) from exc
        self.log_path = self.settings.subdir("registry") / "promotion_log.jsonl"

    def ping(self) -> None:
        """Raise :class:`RegistryError` when the registry cannot be reached right now.

        ``champion()`` answers None on errors (a missing alias is not a failure), so callers that
        must tell "no champion" from "registry down" ask this first.
        """
        try:
            self.client.search_registered_models(max_results=1)
        except Exception as exc:
            raise RegistryError(
                f"MLflow registry is unreachable: {_first_line(exc)}",
                "Check SV_MLFLOW_TRACKING_URI or start the MLflow server.",
                message_vi="Không kết nối được kho mô hình MLflow.",
            ) from exc

    # ------------------------------------------------------------------ logging and registering
    def log_model(
        self,
        kind: Kind,
        model: Any,
        *,
        metrics: dict[str, float],
        params: dict[str, Any],
        dataset: DatasetInfo,
        artifacts: list[Path] | None = None,
        input_example: Any = None,
        run_name: str | None = None,
        key: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ModelRecord:
        """Log a fitted model as a new version of its registered model (no alias yet).

        ``key`` makes the call idempotent: a complete version logged with the same key is returned
        instead of a new one (a pipeline step re-run after a crash does not register twice). A
        version counts as complete once its last tag (``sv.complete``) is written. ``tags`` are
        extra version tags (e.g. ``evaluation.walk_forward``: why a version was not validated).
        """
        import mlflow
        import pandas as pd

        name = registered_name(kind)
        extra_tags = {k: str(v)[:4900] for k, v in (tags or {}).items()}
        if key is not None and (done := self.find_by_key(kind, key)) is not None:
            return done
        tmp = Path(tempfile.mkdtemp(prefix="sv-model-", dir=self.tmp_dir))
        try:
            model_dir = tmp / "model"
            model.save(model_dir)
            with mlflow.start_run(run_name=run_name or f"{kind}-{model.name}") as run:
                mlflow.set_tags({"sv.kind": kind, **({"sv.key": key} if key else {})})
                crash_point("register:run_started")
                mlflow.log_params({k: _param(v) for k, v in params.items()})
                clean = {k: float(v) for k, v in metrics.items() if _finite(v)}
                if clean:
                    mlflow.log_metrics(clean)
                mlflow.set_tags({**dataset.as_tags(), "kind": kind, "model_class": model.name})
                ds = mlflow.data.from_pandas(
                    pd.DataFrame({"symbol": dataset.symbols}),
                    name=f"features-{dataset.digest[:12]}",
                    digest=dataset.digest[:36],
                )
                mlflow.log_input(ds, context="training")
                mlflow.log_dict(asdict(dataset), "dataset.json")
                for path in artifacts or []:
                    if Path(path).is_dir():
                        mlflow.log_artifacts(str(path), artifact_path=Path(path).name)
                    elif Path(path).exists():
                        mlflow.log_artifact(str(path))
                # MLflow prints registration chatter to stderr; the CLI reports versions itself
                with contextlib.redirect_stderr(io.StringIO()):
                    info = mlflow.pyfunc.log_model(
                        name="model",
                        python_model=str(PYFUNC_CODES.get(kind, PYFUNC_CODE)),
                        artifacts={"model_dir": str(model_dir)},
                        input_example=input_example,
                        registered_model_name=name,
                        pip_requirements=["stockvision"],
                    )
                version = str(info.registered_model_version)
                run_id = run.info.run_id
                crash_point("register:version_created")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        # full precision: promotion re-checks the validation metric against this tag
        tags = {f"metric.{k}": repr(v) for k, v in clean.items()}
        tags.update(
            {
                "model_class": model.name,
                "model_name": str(params.get("model", model.name)),
                "dataset.digest": dataset.digest,
                "run_id": run_id,
                **({"sv.key": key} if key else {}),
                **extra_tags,
            }
        )
        for tag, value in tags.items():
            self.client.set_model_version_tag(name, version, tag, value)
        crash_point("register:tags_written")
        self.client.set_model_version_tag(name, version, "sv.complete", "true")
        return self.get(kind, version)

    @property
    def tmp_dir(self) -> Path:
        return self.settings.subdir("tmp")

    def find_by_key(self, kind: str, key: str) -> ModelRecord | None:
        """The complete version logged with idempotency ``key`` (None when there is none)."""
        for record in self.versions(kind):
            if record.tags.get("sv.key") == key and _complete(record):
                if record.tags.get("sv.complete") != "true":  # killed after its other tags
                    self.client.set_model_version_tag(
                        record.name, record.version, "sv.complete", "true"
                    )
                    record = self.get(kind, record.version)
                return record
        return None

    def recover(self) -> dict[str, int]:
        """Clean what a killed registration left: incomplete versions, runs stuck in RUNNING and
        temporary model directories. Call it only while holding the pipeline lock (no other
        registration can be in progress then)."""
        from mlflow.entities import RunStatus

        removed = 0
        for kind in _ALL_NAMES:
            name = registered_name(kind)
            for record in self.versions(kind):
                if _complete(record) or record.aliases:
                    continue
                log.warning("removing incomplete %s v%s left by an interrupted run", name,
                            record.version)  # fmt: skip
                self.client.delete_model_version(name, record.version)
                removed += 1
        stuck = 0
        experiment = self.client.get_experiment_by_name(tracking.EXPERIMENT)
        if experiment is not None:
            runs = self.client.search_runs(
                [experiment.experiment_id], filter_string="attributes.status = 'RUNNING'"
            )
            for run in runs:
                self.client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FAILED))
                stuck += 1
        cleaned = 0
        for path in self.tmp_dir.glob("sv-model-*"):
            shutil.rmtree(path, ignore_errors=True)
            cleaned += 1
        return {"incomplete_versions": removed, "stuck_runs": stuck, "temp_dirs": cleaned}

    # ------------------------------------------------------------------ reading
    def versions(self, kind: str) -> list[ModelRecord]:
        kind = _kind_of(kind)
        name = registered_name(kind)
        try:
            found = self.client.search_model_versions(f"name='{name}'")
            # search results do not carry aliases: take them from the registered model
            aliases = dict(self.client.get_registered_model(name).aliases or {}) if found else {}
        except Exception:
            return []
        records = [self._record(kind, mv) for mv in found]
        for record in records:
            record.aliases = sorted(a for a, v in aliases.items() if str(v) == record.version)
        return sorted(records, key=lambda r: int(r.version))

    def get(self, kind: str, version: str | int) -> ModelRecord:
        kind = _kind_of(kind)
        try:
            mv = self.client.get_model_version(registered_name(kind), str(version))
        except Exception as exc:
            raise RegistryError(
                f"{registered_name(kind)} has no version {version}.",
                "Run 'stockvision models list' to see the versions.",
            ) from exc
        return self._record(kind, mv)

    def by_alias(self, kind: str, alias: str) -> ModelRecord | None:
        kind = _kind_of(kind)
        try:
            mv = self.client.get_model_version_by_alias(registered_name(kind), alias)
        except Exception:
            return None
        return self._record(kind, mv)

    def champion(self, kind: str) -> ModelRecord | None:
        return self.by_alias(kind, CHAMPION)

    def _record(self, kind: str, mv: Any) -> ModelRecord:
        tags = dict(mv.tags or {})
        metrics = {
            k[len("metric.") :]: float(v) for k, v in tags.items() if k.startswith("metric.")
        }
        created = datetime.fromtimestamp((mv.creation_timestamp or 0) / 1000, tz=UTC).isoformat()
        return ModelRecord(
            kind=kind,
            name=mv.name,
            version=str(mv.version),
            aliases=sorted(mv.aliases or []),
            run_id=mv.run_id,
            created_at=created,
            model_class=tags.get("model_class", "?"),
            metrics=metrics,
            tags={k: v for k, v in tags.items() if not k.startswith("metric.")},
        )

    def download(self, kind: str, version: str | int, dst: Path | None = None) -> Path:
        """Download a version's model directory (the stockvision-native files) and return its path."""
        import mlflow

        name = registered_name(_kind_of(kind))
        dst = dst or Path(tempfile.mkdtemp(prefix="sv-dl-"))
        try:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=str(dst)
            )
        except Exception as exc:
            raise RegistryError(f"Cannot download {name} v{version}: {exc}") from exc
        model_dir = Path(local) / "artifacts" / "model_dir"
        if not model_dir.exists():
            candidates = list(Path(local).rglob("model.json"))
            if not candidates:
                raise RegistryError(
                    f"{name} v{version} has no stockvision model files.", "Retrain it."
                )
            model_dir = candidates[0].parent
        return model_dir

    def load(self, kind: str, version: str | int | None = None, alias: str = CHAMPION):
        """Load a version (or the version behind ``alias``) as a stockvision model object."""
        from stockvision.models.base import load_model

        kind = _kind_of(kind)
        record = self.get(kind, version) if version is not None else self.by_alias(kind, alias)
        if record is None:
            raise RegistryError(
                f"No {alias} for {registered_name(kind)} yet.",
                "Run 'stockvision pipeline run' to train and promote one.",
            )
        model_dir = self.download(kind, record.version)
        try:
            if kind == "sentiment":
                from stockvision.news.sentiment import load_sentiment_model

                return load_sentiment_model(model_dir), record
            return load_model(model_dir), record
        finally:
            shutil.rmtree(model_dir.parents[1], ignore_errors=True)

    # ------------------------------------------------------------------ governance
    def record_decision(self, kind: str, version: str, decision: Decision, *, action: str) -> None:
        """Write a decision as version tags and as a line of the promotion log."""
        kind = _kind_of(kind)
        name = registered_name(kind)
        now = datetime.now(UTC).isoformat()
        tags = {
            "promotion.decision": action,
            "promotion.reason": decision.reason[:4900],
            "promotion.compared": json.dumps(decision.compared, default=str)[:4900],
            "promotion.at": now,
        }
        for key, value in tags.items():
            self.client.set_model_version_tag(name, version, key, value)
        entry = {
            "at": now,
            "model": name,
            "version": version,
            "action": action,
            **decision.to_dict(),
        }
        with self.log_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, default=str) + "\n")

    def check_loads(self, kind: str, version: str | int) -> None:
        """Raise :class:`RegistryError` unless the stored files of ``version`` load as a model."""
        try:
            self.load(kind, version)
        except RegistryError:
            raise
        except Exception as exc:
            raise RegistryError(
                f"{registered_name(_kind_of(kind))} v{version} cannot be served: its files fail to "
                f"load ({type(exc).__name__}: {exc}).",
                "Promote another version or retrain with 'stockvision pipeline run --force'.",
            ) from exc

    def promote(
        self,
        kind: str,
        version: str | int,
        decision: Decision | None = None,
        *,
        verify: bool = True,
    ) -> ModelRecord:
        """Make ``version`` the champion; the previous champion keeps its history in the log.

        ``verify``: load the version first, so a broken model never becomes champion (the pipeline
        passes False after its own, stricter check).
        """
        kind = _kind_of(kind)
        name = registered_name(kind)
        version = str(version)
        self.get(kind, version)  # raises a clear error for an unknown version
        if verify:
            self.check_loads(kind, version)
        previous = self.champion(kind)
        self.client.set_registered_model_alias(name, CHAMPION, version)
        challenger = self.by_alias(kind, CHALLENGER)
        if challenger is not None and challenger.version == version:
            self.client.delete_registered_model_alias(name, CHALLENGER)
        if previous is not None and previous.version != version:
            self.client.set_model_version_tag(name, previous.version, "replaced_by", version)
        decision = decision or Decision(True, "manual promotion", {})
        decision.compared.setdefault("previous_champion", previous.version if previous else None)
        self.record_decision(kind, version, decision, action="promoted")
        return self.get(kind, version)

    def serve_aux(self, kind: str, version: str | int) -> ModelRecord:
        """Point an auxiliary model's champion alias at ``version`` (no promotion rules: e.g. the
        price baseline of the champion just trained; the forecast models go through
        :meth:`promote`)."""
        kind = _kind_of(kind)
        if kind not in AUX_NAMES:
            raise RegistryError(f"{kind!r} is a forecast model.", "Use promote() for it.")
        self.client.set_registered_model_alias(registered_name(kind), CHAMPION, str(version))
        return self.get(kind, version)

    def mark_challenger(self, kind: str, version: str | int, decision: Decision) -> ModelRecord:
        kind = _kind_of(kind)
        self.client.set_registered_model_alias(registered_name(kind), CHALLENGER, str(version))
        self.record_decision(kind, str(version), decision, action="kept_challenger")
        return self.get(kind, version)

    def rollback(self, kind: str, version: str | int | None = None) -> ModelRecord:
        """Point the champion back to ``version`` (default: the champion before the current one)."""
        kind = _kind_of(kind)
        current = self.champion(kind)
        if version is None:
            promoted = [
                e for e in self.promotion_log(kind) if e["action"] in ("promoted", "rolled_back")
            ]
            older = [
                e["version"] for e in promoted if current is None or e["version"] != current.version
            ]
            if not older:
                raise RegistryError(
                    f"No earlier champion of {registered_name(kind)} to roll back to.",
                    "Pass a VERSION explicitly.",
                )
            version = older[-1]
        version = str(version)
        self.get(kind, version)
        self.check_loads(kind, version)
        self.client.set_registered_model_alias(registered_name(kind), CHAMPION, version)
        decision = Decision(
            True, "manual rollback", {"from_version": current.version if current else None}
        )
        self.record_decision(kind, version, decision, action="rolled_back")
        return self.get(kind, version)

    def promotion_log(self, kind: str | None = None) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        name = registered_name(_kind_of(kind)) if kind else None
        entries = []
        for line in self.log_path.read_text(encoding="utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a killed process: not a decision
                continue
        return [e for e in entries if name is None or e["model"] == name]

    def summary(self) -> dict[str, Any]:
        """Every registered model's versions with aliases and metrics (for ``models list``).

        The two forecast models always appear (an empty list before the first run); the auxiliary
        ones (the new-listing price baseline, the news tone model) only once they have a version,
        so an operator sees everything that can be served.
        """
        out = {
            registered_name(k): [r.to_dict() for r in self.versions(k)] for k in REGISTERED_NAMES
        }
        for kind in AUX_NAMES:
            versions = [r.to_dict() for r in self.versions(kind)]
            if versions:
                out[registered_name(kind)] = versions
        return out


def _complete(record: ModelRecord) -> bool:
    """Whether a version's registration finished (``sv.complete``; older versions: ``run_id``)."""
    return record.tags.get("sv.complete") == "true" or "run_id" in record.tags


def _finite(value: Any) -> bool:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return False
    return f == f and f not in (float("inf"), float("-inf"))


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:6000]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
