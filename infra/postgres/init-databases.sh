#!/usr/bin/env bash
# Runs once, on the first start of the Postgres container (/docker-entrypoint-initdb.d): one database and
# one login role per service named in SERVICE_DATABASES (e.g. "member product purchase"), the role owning
# its database (so the service's migrations may create tables) and nobody else allowed to connect to it.
# Each password is read from /run/secrets/<service>-db-password (SECRETS_DIR; the `secrets` one-shot of
# docker-compose.yml writes them, Kubernetes mounts them from msa-secrets).
# Sourced or executed by the image's entrypoint, so: no `exit`, no shell options left behind.

msa_create_service_database() {
  local name=$1 file="${SECRETS_DIR:-/run/secrets}/$1-db-password" password
  if ! password=$(cat "$file" 2>/dev/null) || [ -z "$password" ]; then
    echo "init-databases: ${name}: no password in ${file}" >&2
    return 1
  fi
  echo "init-databases: database and role ${name}"
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
}

msa_create_service_databases() {
  local name
  if [ -z "${SERVICE_DATABASES:-}" ]; then
    echo "init-databases: SERVICE_DATABASES is empty: no service database made" >&2
    return 1
  fi
  for name in $SERVICE_DATABASES; do
    msa_create_service_database "$name" || return 1
  done
}

msa_create_service_databases
