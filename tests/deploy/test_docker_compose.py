"""docker-compose.yml: Compose-specification schema, .env.example coverage, files it references,
health-gated start-up order, and `docker compose config` when a Compose binary is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from deploy_support import DEPLOY, REPO

COMPOSE_FILE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $VAR; $$ is a literal $.
_VAR = re.compile(r"\$(?:\$|\{(\w+)(?:(:?[-?])([^}]*))?\}|(\w+))")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|API_KEY")
LONG_RUNNING = {
    "postgres", "redis", "mlflow", "airflow-apiserver", "airflow-scheduler",
    "airflow-dag-processor", "api", "proxy", "prometheus", "grafana", "nats", "stream-worker", "qdrant",
}  # fmt: skip


def _raw() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f".env.example line without '=': {line!r}"
            values[key.strip()] = value.strip()
    return values


def interpolate(node, env: dict[str, str]):
    """Compose variable interpolation, enough for this file (raises on a missing :? variable)."""
    if isinstance(node, dict):
        return {k: interpolate(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env) for v in node]
    if not isinstance(node, str):
        return node

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        op, arg = match.group(2), match.group(3)
        value = env.get(name)
        missing = value is None or (op in (":-", ":?") and value == "")
        if op in (":?", "?") and missing:
            raise KeyError(f"{name}: {arg}")
        if op in (":-", "-") and missing:
            return arg
        return value or ""

    return _VAR.sub(replace, node)


def _used_variables() -> set[str]:
    text = "\n".join(
        line for line in COMPOSE_FILE.read_text().splitlines() if not line.lstrip().startswith("#")
    )
    return {m.group(1) or m.group(4) for m in _VAR.finditer(text) if m.group(0) != "$$"}


@pytest.fixture(scope="module")
def rendered() -> dict:
    return interpolate(_raw(), _env_example())


def test_every_variable_is_documented_in_env_example() -> None:
    missing = _used_variables() - _env_example().keys()
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_env_example_has_no_stale_entries() -> None:
    stale = _env_example().keys() - _used_variables() - {"COMPOSE_PROJECT_NAME"}
    assert not stale, f"not used by deploy/docker-compose.yml: {sorted(stale)}"


def test_env_example_holds_no_real_secrets() -> None:
    for key, value in _env_example().items():
        if SECRET_NAME.search(key) and key != "SV_LLM_API_KEY":
            assert value == "change-me", key
    assert _env_example()["SV_LLM_API_KEY"] == ""


def test_secrets_have_no_default_in_compose() -> None:
    text = COMPOSE_FILE.read_text()
    for name in _used_variables():
        if SECRET_NAME.search(name) and name != "SV_LLM_API_KEY":
            assert re.search(rf"\$\{{{name}:\?", text), f"{name} must be required (:?)"
            assert not re.search(rf"\$\{{{name}:?-", text), f"{name} must not have a default"


def test_missing_secret_stops_interpolation() -> None:
    env = _env_example()
    del env["POSTGRES_PASSWORD"]
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(_raw(), env)


def _check_schema(document: dict, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("check_jsonschema", reason="pip install check-jsonschema")
    path = tmp_path / "compose.json"
    path.write_text(json.dumps(document))
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_compose_file_matches_the_compose_specification(rendered, tmp_path) -> None:
    result = _check_schema(rendered, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_an_invalid_file(rendered, tmp_path) -> None:
    broken = json.loads(json.dumps(rendered))
    broken["services"]["api"]["depends_on"]["redis"]["condition"] = "service_ready"
    result = _check_schema(broken, tmp_path)
    assert result.returncode != 0


def test_required_services_with_health_checks(rendered) -> None:
    services = rendered["services"]
    assert LONG_RUNNING | {"airflow-init"} == services.keys()
    for name in LONG_RUNNING:
        assert services[name].get("healthcheck", {}).get("test"), f"{name} lacks a healthcheck"


def test_dependencies_wait_for_health(rendered) -> None:
    services = rendered["services"]
    for name, service in services.items():
        for dep, spec in service.get("depends_on", {}).items():
            assert dep in services, (name, dep)
            expected = (
                "service_completed_successfully" if dep == "airflow-init" else "service_healthy"
            )
            assert spec["condition"] == expected, (name, dep)
    assert {"postgres", "redis", "mlflow"} <= services["api"]["depends_on"].keys()


def test_named_volumes_are_declared_and_used(rendered) -> None:
    declared = set(rendered["volumes"])
    used = set()
    for service in rendered["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                used.add(source)
    assert used == declared


def test_referenced_files_exist(rendered) -> None:
    for name, service in rendered["services"].items():
        build = service.get("build")
        if build:
            context = (DEPLOY / build["context"]).resolve()
            assert context.is_dir(), (name, context)
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).resolve().exists(), (name, source)


def test_api_and_pipeline_settings(rendered) -> None:
    services = rendered["services"]
    for name in ("api", "airflow-scheduler"):
        env = services[name]["environment"]
        assert env["SV_DATABASE_URL"].startswith("postgresql+psycopg://stockvision:")
        assert env["SV_DATABASE_URL"].endswith("@postgres:5432/stockvision")
        assert env["SV_REDIS_URL"].endswith("@redis:6379/0")
        assert env["SV_MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    api = services["api"]
    assert api["command"][:3] == ["serve", "--host", "0.0.0.0"]
    mlflow = " ".join(services["mlflow"]["command"])
    assert "--backend-store-uri=postgresql" in mlflow
    assert "--serve-artifacts" in mlflow and "--artifacts-destination=/mlartifacts" in mlflow
    assert "./prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    assert "airflow db migrate" in services["airflow-init"]["command"][-1]


def test_settings_passed_to_containers_exist(rendered) -> None:
    """Every SV_* variable handed to a container is a real setting (catches typos)."""
    from stockvision.config import Settings

    fields = {f"SV_{name.upper()}" for name in Settings.model_fields}
    for name in ("api", "airflow-scheduler"):
        passed = {k for k in rendered["services"][name]["environment"] if k.startswith("SV_")}
        assert passed - fields == set(), (name, passed - fields)


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    ):
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


@pytest.mark.skipif(
    _compose_command() is None,
    reason="no Compose binary (Debian: apt-get install -y docker-compose); CI installs it",
)
def test_docker_compose_config_accepts_the_file(tmp_path) -> None:
    compose = _compose_command()
    assert compose is not None
    base = [*compose, "--env-file", str(ENV_EXAMPLE), "-f", str(COMPOSE_FILE)]
    result = subprocess.run(
        [*base, "config", "-q"], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    empty = tmp_path / "empty.env"
    empty.write_text("COMPOSE_PROJECT_NAME=stockvision\n")
    result = subprocess.run(
        [*compose, "--env-file", str(empty), "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode != 0 and "in .env" in result.stdout + result.stderr
