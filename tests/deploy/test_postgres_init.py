"""The PostgreSQL init script, run for real against the local test server: it creates one role
and one database per component, is idempotent, and quotes hostile passwords safely."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid

import pytest
from deploy_support import DEPLOY

pytestmark = pytest.mark.integration

SCRIPT = DEPLOY / "postgres" / "init" / "10-create-databases.sh"
PGHOST = os.environ.get("SV_TEST_PGHOST", "127.0.0.1")
PGUSER = os.environ.get("SV_TEST_PGUSER", "postgres")


def _psql(sql: str) -> str:
    result = subprocess.run(
        ["psql", "-h", PGHOST, "-U", PGUSER, "-d", "postgres", "-Atc", sql],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return result.stdout.strip()


@pytest.fixture
def pg_names():
    if shutil.which("psql") is None or shutil.which("bash") is None:
        pytest.skip("psql client not installed (Debian: postgresql-client)")
    try:
        _psql("SELECT 1")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"local PostgreSQL at {PGHOST} not reachable as {PGUSER}: {exc}")
    suffix = uuid.uuid4().hex[:8]
    names = {c: f"svtest_{c}_{suffix}" for c in ("sv", "mlflow", "airflow")}
    yield names
    for name in names.values():
        _psql(f'DROP DATABASE IF EXISTS "{name}"')
        _psql(f'DROP ROLE IF EXISTS "{name}"')


def _run(names: dict[str, str], passwords: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PGHOST": PGHOST,
        "POSTGRES_USER": PGUSER,
        "SV_DB_USER": names["sv"], "SV_DB_NAME": names["sv"],
        "MLFLOW_DB_USER": names["mlflow"], "MLFLOW_DB_NAME": names["mlflow"],
        "AIRFLOW_DB_USER": names["airflow"], "AIRFLOW_DB_NAME": names["airflow"],
        "SV_DB_PASSWORD": passwords["sv"],
        "MLFLOW_DB_PASSWORD": passwords["mlflow"],
        "AIRFLOW_DB_PASSWORD": passwords["airflow"],
    }  # fmt: skip
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_creates_owned_databases_idempotently(pg_names) -> None:
    passwords = {"sv": "it's; DROP ROLE x; --", "mlflow": 'q"uote', "airflow": "plain"}
    for _ in range(2):
        result = _run(pg_names, passwords)
        assert result.returncode == 0, result.stderr
    for name in pg_names.values():
        owner = _psql(f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{name}'")
        assert owner == name
        assert _psql(f"SELECT rolcanlogin FROM pg_roles WHERE rolname = '{name}'") == "t"
        public_connect = _psql(f"SELECT has_database_privilege('public', '{name}', 'CONNECT')")
        assert public_connect == "f"


def test_refuses_a_missing_password(pg_names) -> None:
    result = _run(pg_names, {"sv": "x", "mlflow": "", "airflow": "y"})
    assert result.returncode != 0
    assert "no password given for role" in result.stderr
