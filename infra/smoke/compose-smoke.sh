#!/usr/bin/env bash
# The deployment smoke test, as a newcomer meets the project (docs/deployment.md, "The smoke test"):
#   1. a fresh `git clone` of the commit under test (committed files only) into a temporary folder, no .env;
#   2. Compose: the README's command exactly as written (images built first, in parallel), then every
#      check of infra/smoke/compose-checks.mjs, the README's "Try the API" block against the HTTPS
#      gateway, `down` and the same command again (same data, same secrets), no secret in any
#      `docker inspect` or image layer, and `down -v`;
#   3. Swarm, on this single node: `docker stack deploy -c docker-compose.yml`, every service running,
#      the shop, `docker service scale`, a rolling `docker service update --force` under load, and
#      `docker stack rm` leaving nothing behind.
# Only the environment adapts the run to this machine (never the commands): its own project and stack
# names, free host ports instead of 443/80, no rate limit in the way of the load loops, logging on its
# file sink, and through COMPOSE_FILE / a second `-c` what this machine lacks (infra/smoke/*.yml).
# Whatever happens, everything it made is removed (trap), after printing the logs when something failed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
started=$(date +%s)
log() { printf '\n== smoke: %s (%ss)\n' "$*" "$(($(date +%s) - started))"; }
parts=()
part_started=$started
part_done() { # name: records how long the part since the last call took
  local now; now=$(date +%s)
  parts+=("$(printf '%-44s %4s s' "$1" "$((now - part_started))")")
  part_started=$now
}

standins=${DOCKER_STANDINS:-$repo/../shared/tools/docker-standins}
export SMOKE_HTTPS_PORT=${SMOKE_HTTPS_PORT:-18443} SMOKE_HTTP_PORT=${SMOKE_HTTP_PORT:-18080}
export SMOKE_STACK=${SMOKE_STACK:-msa-smoke-swarm}
export COMPOSE_PROJECT_NAME=${SMOKE_PROJECT:-msa-smoke}
export COMPOSE_FILE=docker-compose.yml:docker-compose.override.yml:infra/smoke/compose.yml
# Host ports 443/80 may be taken (or need privileges): the gateway publishes the smoke's own through the
# variables the Compose file reads; the rate limit would get in the way of the load loops; Elasticsearch
# cannot run here, so logging keeps its NDJSON file.
export GATEWAY_HTTPS_PORT=$SMOKE_HTTPS_PORT GATEWAY_HTTP_PORT=$SMOKE_HTTP_PORT RATE_LIMIT_POINTS=0 ELASTICSEARCH_URL=
for port in "$SMOKE_HTTPS_PORT" "$SMOKE_HTTP_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "smoke: port $port is taken; choose others with SMOKE_HTTPS_PORT / SMOKE_HTTP_PORT" >&2
    exit 1
  fi
done

work=$(mktemp -d)
export SMOKE_STATE=$work/state.json
clone=$work/msa
dc() { docker-compose "$@"; }
# `docker compose` (v2) where it is installed, else docker-compose 1.29 under the same words, so the
# README's command runs as written on either.
docker() {
  if [ "${1:-}" = compose ] && ! command docker compose version >/dev/null 2>&1; then
    shift
    command docker-compose "$@"
  else
    command docker "$@"
  fi
}
stack_volumes() { command docker volume ls -q --filter "label=com.docker.stack.namespace=$SMOKE_STACK"; }
stack_gone() {
  [ -z "$(command docker ps -aq --filter "label=com.docker.stack.namespace=$SMOKE_STACK")" ] &&
    [ -z "$(command docker network ls -q --filter "label=com.docker.stack.namespace=$SMOKE_STACK")" ]
}
remove_stack() {
  command docker stack rm "$SMOKE_STACK" >/dev/null 2>&1 || true
  for _ in $(seq 90); do stack_gone && break; sleep 1; done
  stack_volumes | xargs -r docker volume rm >/dev/null 2>&1 || true
}

status=1
swarm_inited=0
finish() {
  if [ "$status" != 0 ]; then
    log "FAILED: logs"
    if [ -d "$clone" ]; then (cd "$clone" && dc ps && dc logs --no-color --tail=150) || true; fi
    for s in $(command docker service ls -q --filter "label=com.docker.stack.namespace=$SMOKE_STACK" 2>/dev/null); do
      command docker service ps --no-trunc "$s" | head -8 || true
      command docker service logs --no-task-ids --tail=60 "$s" 2>&1 | tail -60 || true
    done
  fi
  log "cleaning up"
  if [ -d "$clone" ]; then (cd "$clone" && dc down -v --remove-orphans >/dev/null 2>&1) || true; fi
  remove_stack
  if [ "$swarm_inited" = 1 ]; then
    command docker swarm leave --force >/dev/null 2>&1 || true
    # `swarm init` made this bridge for the tasks' way out; `leave` keeps it.
    command docker network rm docker_gwbridge >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  if [ "$status" = 0 ]; then
    part_done "cleanup"
    printf '\n== smoke: durations\n'
    printf '%s\n' "${parts[@]}"
  fi
  log "wall time $(($(date +%s) - started)) s"
}
trap finish EXIT

log "stand-in base images"
[ "$standins" = true ] || "$standins" --from-compose "$repo/docker-compose.yml" --skip-unknown
part_done "stand-in base images"

commit=$(git -C "$repo" rev-parse HEAD)
log "a fresh clone of $commit"
[ -z "$(git -C "$repo" status --porcelain)" ] || echo "smoke: note: uncommitted changes are not part of the test"
git clone --quiet "$repo" "$clone"
git -C "$clone" checkout --quiet --detach "$commit"
cd "$clone"
[ ! -e .env ] || { echo "smoke: the clone has a .env" >&2; exit 1; }
# The README's compose command: the first `docker compose up` line of its "Docker Compose" section.
readme_cmd=$(awk '/^## /{s=($0=="## Docker Compose")} s&&/^```/{b=!b;next} s&&b&&/^docker compose up/{sub(/ +#.*/,"");print;exit}' README.md)
[ -n "$readme_cmd" ] || { echo "smoke: no 'docker compose up' command in the README's Docker Compose section" >&2; exit 1; }
part_done "clone"

# Built first, all at once: docker-compose 1.29's `up` would build one image after the other. The README's
# command then finds them (Compose v2's `up` builds in parallel itself).
mapfile -t built < <(dc config | awk '/^  [a-z0-9-]+:$/{svc=$1; sub(":","",svc)} /^    build:/{print svc}' | grep -vx secrets)
log "build ${built[*]}"
parallel=--parallel
case "$(docker-compose version --short 2>/dev/null)" in v2* | 2*) parallel= ;; esac
dc build $parallel "${built[@]}" >"$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
command docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^msa/' | sort || true
part_done "images built"

log "Compose: $readme_cmd"
dc down -v --remove-orphans >/dev/null 2>&1 || true
SMOKE_UP_AT=$(node -e 'console.log(Date.now())') && export SMOKE_UP_AT
eval "$readme_cmd"
part_done "compose: up"
node infra/smoke/compose-checks.mjs first
part_done "compose: checks (healthy, exposure, shop, replicas, faults)"

log "Compose: the README's \"Try the API\" block against https://localhost:$SMOKE_HTTPS_PORT"
# As written, but for its address line; curl reads `insecure` from its own config (development certificate).
awk '/^## /{s=($0=="## Try the API")} s&&/^```/{b=!b;next} s&&b' README.md | grep -v '^GW=' >"$work/try-api.sh"
printf 'insecure\n' >"$work/.curlrc"
api_out=$(cd "$work" && CURL_HOME=$work GW=https://localhost:$SMOKE_HTTPS_PORT bash -e try-api.sh)
tail -c 600 <<<"$api_out"
echo
grep -q '"productId"' <<<"$(tail -1 <<<"$api_out")" || { echo "smoke: FAILED: the README's API block did not list a purchase" >&2; exit 1; }
part_done "compose: README API block"

log "Compose: down, then the same command again"
dc down >/dev/null 2>&1
SMOKE_UP_AT=$(node -e 'console.log(Date.now())') && export SMOKE_UP_AT
eval "$readme_cmd"
node infra/smoke/compose-checks.mjs again
part_done "compose: down, up again, same data and secrets"

log "Compose: secrets in docker inspect and image layers"
node infra/smoke/compose-checks.mjs leaks
part_done "compose: no secret in inspect or layers"

log "Compose: down -v"
dc down -v --remove-orphans >/dev/null 2>&1
left=$(command docker volume ls -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")
[ -z "$left" ] || { echo "smoke: FAILED: volumes left after down -v: $left" >&2; exit 1; }
part_done "compose: down -v"

log "Swarm: a single-node swarm"
case "$(command docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}')" in
  "inactive "*)
    command docker swarm init --advertise-addr 127.0.0.1 >/dev/null
    swarm_inited=1
    ;;
  "active true") echo "smoke: using the swarm this engine manages already" ;;
  *) echo "smoke: this engine is in a swarm it does not manage: cannot deploy" >&2; exit 1 ;;
esac
remove_stack
SMOKE_DEPLOYED_AT=$(node -e 'console.log(Date.now())')
export SMOKE_DEPLOYED_AT
log "Swarm: docker stack deploy -c docker-compose.yml -c infra/smoke/swarm.yml $SMOKE_STACK"
command docker stack deploy -c docker-compose.yml -c infra/smoke/swarm.yml "$SMOKE_STACK"
node infra/smoke/swarm-checks.mjs
part_done "swarm: deploy, healthy, shop, scale, rolling update"

log "Swarm: docker stack rm"
command docker stack rm "$SMOKE_STACK"
for _ in $(seq 90); do stack_gone && break; sleep 1; done
stack_gone || { echo "smoke: FAILED: containers or networks of $SMOKE_STACK left after docker stack rm" >&2; exit 1; }
# Like `down` without -v, `stack rm` keeps the volumes: they go here.
stack_volumes | xargs -r docker volume rm >/dev/null
[ -z "$(stack_volumes)" ] || { echo "smoke: FAILED: volumes of $SMOKE_STACK left" >&2; exit 1; }
part_done "swarm: stack rm"

node -e '
  const s = JSON.parse(require("fs").readFileSync(process.env.SMOKE_STATE, "utf8"));
  const sec = (ms) => (ms / 1000).toFixed(1) + " s";
  console.log("\n== smoke: figures");
  console.log(`compose: healthy ${sec(s.timeToHealthyMs)} after up (again: ${sec(s.timeToHealthyAgainMs)})`);
  console.log(`swarm: healthy ${sec(s.swarm.timeToHealthyMs)} after stack deploy; scale to 3 registered in ${sec(s.swarm.scaleToRegisteredMs)}; rolling update ${sec(s.swarm.rollMs)}, ${s.swarm.rollFailed} failed of ${s.swarm.rollReads + s.swarm.rollFailed} reads`);
'
status=0
