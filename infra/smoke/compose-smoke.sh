#!/usr/bin/env bash
# The Compose smoke test, for real: stand-in base images (../shared/tools/docker-standins), build every
# service image once (one Dockerfile, shared layers), start everything but Elasticsearch and Kibana with
# three purchase replicas, run the checks (infra/smoke/compose-smoke.mjs), and always tear the project down
# (docker-compose down -v) — printing every container's logs first when something failed.
# Own compose project (SMOKE_PROJECT, default msa-smoke), own secrets (a temporary env file), free host ports.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
log() { printf '\n== compose smoke: %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }

standins=${DOCKER_STANDINS:-../shared/tools/docker-standins}
export SMOKE_PROJECT=${SMOKE_PROJECT:-msa-smoke}
export SMOKE_HTTPS_PORT=${SMOKE_HTTPS_PORT:-18443} SMOKE_HTTP_PORT=${SMOKE_HTTP_PORT:-18080}
export SMOKE_ENV_FILE
SMOKE_ENV_FILE=$(mktemp -d)/smoke.env
infra/dev-secrets.sh "$SMOKE_ENV_FILE"
# The shell environment wins over the env file: the smoke's own host ports, no rate limit in the way
# of the load loops, and logging on its NDJSON file sink (Elasticsearch cannot run here).
export GATEWAY_HTTPS_PORT=$SMOKE_HTTPS_PORT GATEWAY_HTTP_PORT=$SMOKE_HTTP_PORT RATE_LIMIT_POINTS=0 ELASTICSEARCH_URL=
dc() { docker-compose -p "$SMOKE_PROJECT" --env-file "$SMOKE_ENV_FILE" "$@"; }

status=1
finish() {
  if [ "$status" != 0 ]; then
    log "FAILED: logs of every container"
    dc ps || true
    dc logs --no-color --tail=150 || true
  fi
  log "down -v"
  dc down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$(dirname "$SMOKE_ENV_FILE")"
  log "wall time $(($(date +%s) - started)) s"
}
trap finish EXIT

log "stand-in base images"
"$standins" --from-compose docker-compose.yml --skip-unknown

# Everything but Elasticsearch and Kibana (not buildable here; nothing depends on them).
mapfile -t services < <(dc config --services | grep -vxE 'elasticsearch|kibana')
log "build and start: ${services[*]}"
dc down -v --remove-orphans >/dev/null 2>&1 || true
parallel=--parallel # docker-compose 1.29 builds one after the other without it; Compose v2 always in parallel
case "$(docker-compose version --short 2>/dev/null)" in v2* | 2*) parallel= ;; esac
dc build $parallel "${services[@]}" >/tmp/compose-smoke-build.log 2>&1 || { tail -40 /tmp/compose-smoke-build.log; exit 1; }
log "images built"
# Built just above, once and in parallel: `up --build` would build them again, one after the other.
dc up -d --no-build --scale purchase=3 "${services[@]}"
docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^msa/' | sort || true

log "checks"
node infra/smoke/compose-smoke.mjs
status=0
