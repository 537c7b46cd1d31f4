# syntax=docker/dockerfile:1
# ztauthz container image. Stages: production node_modules, the demo policy
# compiled to a wasm bundle with the pinned opa, and a distroless runtime
# image (Node 24 or Bun) that runs as a non-root user, needs no shell and
# writes nothing to its root filesystem (it runs with readOnlyRootFilesystem).
#
# RUNTIME picks the runtime, node or bun. Its default is package.json's
# config.runtime, the one place the runtime is chosen (test/deploy/wiring.test.ts
# holds the two equal, and the Bun image's tag to the bun devDependency); a
# one-off image on the other runtime: --build-arg RUNTIME=bun.

ARG RUNTIME=node
ARG NODE_IMAGE=node:24-bookworm-slim
ARG OPA_IMAGE=openpolicyagent/opa:1.19.1-static
ARG NODE_RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot
ARG BUN_RUNTIME_IMAGE=oven/bun:1.4.5-distroless

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the postinstall toolchain (opa, Envoy, ghz) is for
# development and tests only; the runtime needs none of it.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# src/ compiled to plain JavaScript (scripts/build.sh): Node then carries
# neither its TypeScript stripper nor the source texts (about 28 MiB of
# resident memory); Bun runs the same files. Needs the dev dependencies
# (typescript), hence its own stage.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.sh ./scripts/
COPY src ./src
RUN bash scripts/build.sh

FROM ${OPA_IMAGE} AS opa

FROM ${NODE_IMAGE} AS policy
COPY --from=opa /opa /usr/local/bin/opa
COPY policies/demo /src/policies/demo
RUN opa build -t wasm -e envoy/authz/allow --ignore '*_test.rego' -o /bundles/demo.tar.gz /src/policies/demo

# Each runtime's distroless base and where its binary lives there (ENTRYPOINT
# takes no build arguments, hence a stage per runtime). The runtime flags are
# scripts/runtime.sh's (chosen by measurement, docs/performance.md "Memory";
# test/deploy/wiring.test.ts holds the two equal).
FROM ${NODE_RUNTIME_IMAGE} AS runtime-node
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "dist/cli.js"]

FROM ${BUN_RUNTIME_IMAGE} AS runtime-bun
ENTRYPOINT ["/usr/local/bin/bun", "dist/cli.js"]

FROM runtime-${RUNTIME}
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY proto ./proto
COPY --from=build /app/dist ./dist
COPY --from=policy /bundles /app/bundles
ENV NODE_ENV=production
# Numeric, so the kubelet can verify runAsNonRoot (a user name it cannot):
# 65532 is the distroless image's "nonroot".
USER 65532:65532
EXPOSE 9191 8181
# The runtime stage's ENTRYPOINT runs the compiled dist/ on Node 24 or Bun;
# SIGTERM drains in-flight Checks before exit.
# The baked-in demo bundle, as a flag rather than ZTAUTHZ_POLICY_PATH: the
# environment would override policy.path of a mounted --config file, while
# arguments given to the container (deploy/kubernetes: serve --config ...)
# replace this CMD as a whole.
CMD ["serve", "--policy", "/app/bundles/demo.tar.gz"]
