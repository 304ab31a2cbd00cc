#!/usr/bin/env bash
# Runs once, on the first start of the Postgres container (/docker-entrypoint-initdb.d): one database and
# one login role per service, the role owning its database (so the service's migrations may create tables)
# and nobody else allowed to connect to it. Passwords come from the container's environment
# (<SERVICE>_DB_PASSWORD, set from .env; infra/dev-secrets.sh generates them).
# Sourced or executed by the image's entrypoint, so: no `exit`, no shell options left behind.

msa_create_service_database() {
  local name=$1 password=$2
  if [ -z "$password" ]; then
    echo "init-databases: ${name}: no password given (${name^^}_DB_PASSWORD); skipped" >&2
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

msa_create_service_database member "${MEMBER_DB_PASSWORD:-}" &&
  msa_create_service_database product "${PRODUCT_DB_PASSWORD:-}" &&
  msa_create_service_database purchase "${PURCHASE_DB_PASSWORD:-}"
