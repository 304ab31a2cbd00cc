#!/usr/bin/env bash
# Development secrets for infra/k8s: writes infra/k8s/secrets.env (git-ignored), from which kustomize
# generates msa-secrets. One random value per secret, under the names every pod reads from /run/secrets
# (the same names as Compose's secrets one-shot, infra/secrets/make-secrets.mjs). An existing file is
# kept: Postgres keeps the passwords it was initialised with. Real clusters: fill it from your secret store.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)/secrets.env
if [ -e "$out" ]; then
  echo "make-secrets: $out exists; kept" >&2
  exit 0
fi
random() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
redis_password=$(random 16)
umask 077
{
  echo "internal-token-secret=$(random 32)"
  for name in postgres-password member-db-password product-db-password purchase-db-password admin-password; do
    echo "$name=$(random 16)"
  done
  echo "redis-password=$redis_password"
  # Redis reads its password only from its config file.
  echo "redis.conf=requirepass $redis_password"
} >"$out"
echo "make-secrets: wrote $out" >&2
