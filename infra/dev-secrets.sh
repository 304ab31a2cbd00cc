#!/usr/bin/env bash
# Development secrets for Docker Compose: writes .env (or the file given) from .env.example, filling every
# empty secret with a fresh random value. An existing file is left alone, so secrets stay stable across
# restarts (the Postgres volume keeps the passwords it was initialised with). Never commit the result.
#   infra/dev-secrets.sh            → .env at the repository root
#   infra/dev-secrets.sh path/.env  → another file (the compose smoke test uses a temporary one)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.env}
if [ -e "$out" ]; then
  echo "dev-secrets: $out exists; kept (delete it to generate new secrets, then docker compose down -v)" >&2
  exit 0
fi
secret() { node -e "process.stdout.write(require('node:crypto').randomBytes($1).toString('hex'))"; }
umask 077
while IFS= read -r line; do
  case "$line" in
    INTERNAL_TOKEN_SECRET=) echo "INTERNAL_TOKEN_SECRET=$(secret 32)" ;;
    ADMIN_PASSWORD=) echo "ADMIN_PASSWORD=Adm1n-$(secret 12)" ;;
    *_PASSWORD=) echo "${line}$(secret 16)" ;;
    *) echo "$line" ;;
  esac
done <"$root/.env.example" >"$out"
echo "dev-secrets: wrote $out" >&2
