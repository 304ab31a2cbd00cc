# One image recipe for every Node service; the service is a build argument:
#   docker build --build-arg SERVICE=purchase -t msa/purchase .
# Stages: prune (turbo prune: only the service's workspaces and lockfile) → deps (npm ci on the pruned
# lockfile: cached until a dependency of this service changes) → build (tsc; keeps each workspace's
# runtime files: dist, migrations, static assets) → prod-deps (production dependencies only) → runtime
# (node:24-bookworm-slim, non-root, read-only friendly, Node as PID 1). Every image also carries the
# one-shot that makes the deployment's secrets (infra/secrets/make-secrets.mjs, run by docker-compose.yml).
# Every FROM names a literal tag, so that a machine without a registry can pre-build stand-ins under those
# tags (docs/deployment.md, "The smoke test").

FROM node:24-bookworm-slim AS base
WORKDIR /app
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false \
    TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

FROM base AS prune
# turbo's version follows the root package.json's devDependency; this layer is shared by every service.
RUN npm install -g turbo@2.11.11 --loglevel=error
COPY . .
ARG SERVICE
RUN test -n "$SERVICE" || { echo "build with --build-arg SERVICE=<folder under services/>" >&2; exit 1; } \
 && turbo prune "@msa/${SERVICE}" --docker --out-dir=/out \
 && cp tsconfig.base.json /out/full/

FROM base AS deps
# Only package.json files and the pruned lockfile: this layer is rebuilt only when they change.
COPY --from=prune /out/json/ ./
RUN npm ci --ignore-scripts --loglevel=error

FROM deps AS build
COPY --from=prune /out/full/ ./
ARG SERVICE
RUN npx turbo run build --filter="@msa/${SERVICE}" --output-logs=errors-only \
 && for d in packages/* services/*; do \
      [ -d "$d/dist" ] || continue; mkdir -p "/runtime/$d"; \
      tar -C "$d" -c --exclude=./src --exclude=./test --exclude=./node_modules --exclude=./.turbo \
        --exclude='./tsconfig*.json' --exclude=./jest.config.js --exclude='*.map' --exclude='*.d.ts' \
        --exclude='*.tsbuildinfo' --exclude='*.md' . | tar -C "/runtime/$d" -x; \
    done

FROM deps AS prod-deps
# The same tree less the development dependencies (no second download).
RUN npm prune --omit=dev --ignore-scripts --loglevel=error

FROM node:24-bookworm-slim AS runtime
ARG SERVICE
# HOST 0.0.0.0: reachable from the other containers; the kit then advertises the container's own
# hostname (unique per replica) to the registry unless ADVERTISE_URL says otherwise.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 DATA_DIR=/data MSA_SERVICE=${SERVICE}
WORKDIR /app
COPY --from=prod-deps /app ./
COPY --from=build /runtime ./
COPY infra/secrets/make-secrets.mjs /app/infra/secrets/make-secrets.mjs
# The gateway serves it at /docs (services/gateway/src/docs/page.ts reads /app/docs/openapi.json).
COPY docs/openapi.json /app/docs/openapi.json
RUN mkdir -p /data && chown node:node /data
USER node
WORKDIR /app/services/${SERVICE}
EXPOSE 8080
# node only, no curl/wget in the image: ready means registered and dependencies present.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself (the kit drains and deregisters, then exits 0).
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
