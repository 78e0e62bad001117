#!/usr/bin/env bash
# Creates one login role and one database per component (Stock Vision store, MLflow tracking,
# Airflow metadata), each role owning only its database. Run by the postgres image on the
# first start of an empty data volume (/docker-entrypoint-initdb.d); safe to rerun by hand:
#   docker compose -f deploy/docker-compose.yml exec postgres \
#     bash /docker-entrypoint-initdb.d/10-create-databases.sh
# Passwords come from the environment (see .env.example); names may be overridden too.
set -euo pipefail

: "${POSTGRES_USER:=postgres}"

create_role_and_db() {
    local role="$1" password="$2" db="$3"
    if [[ -z "$password" ]]; then
        echo "create-databases: no password given for role '$role'; set it in .env" >&2
        exit 1
    fi
    # psql variables (:'name') are quoted by psql itself and format() quotes identifiers and
    # literals, so passwords containing quotes cannot break the SQL.
    psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v role="$role" -v password="$password" -v db="$db" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'role', :'password')
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role')
\gexec
SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', :'role', :'password')
\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db')
\gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db')
\gexec
SQL
    echo "create-databases: database '$db' owned by role '$role' is ready"
}

create_role_and_db "${SV_DB_USER:-stockvision}" "${SV_DB_PASSWORD:-}" "${SV_DB_NAME:-stockvision}"
create_role_and_db "${MLFLOW_DB_USER:-mlflow}" "${MLFLOW_DB_PASSWORD:-}" "${MLFLOW_DB_NAME:-mlflow}"
create_role_and_db "${AIRFLOW_DB_USER:-airflow}" "${AIRFLOW_DB_PASSWORD:-}" "${AIRFLOW_DB_NAME:-airflow}"
