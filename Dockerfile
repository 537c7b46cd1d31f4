# syntax=docker/dockerfile:1
# ztauthz container image. Stages: production node_modules, the sources
# compiled to JavaScript (npm run build), and a distroless runtime
# image (Node 24 or Bun) that runs as a non-root user, needs no shell and
# writes nothing to its root filesystem (it runs with readOnlyRootFilesystem).
#
# RUNTIME picks the runtime, node or bun. Its default is package.json's
# config.runtime, the one place the runtime is chosen (test/deploy/wiring.test.ts
# holds the two equal, and the Bun image's tag to the bun devDependency); a
# one-off image on the other runtime: --build-arg RUNTIME=bun.

ARG RUNTIME=bun
ARG NODE_IMAGE=node:24-bookworm-slim
ARG NODE_RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot
ARG BUN_RUNTIME_IMAGE=oven/bun:1.4.5-distroless
ARG BUN_BUILD_IMAGE=oven/bun:1.4.5

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the postinstall toolchain (opa, Envoy, ghz) is for
# development and tests only; the runtime needs none of it.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# tsc is a devDependency: a stage of its own, so that only dist/ reaches the image.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN node_modules/.bin/tsc -p tsconfig.build.json

# Bun runs one minified file per entry (scripts/build.sh says why), built by
# the Bun it runs on; unused by the Node image.
FROM ${BUN_BUILD_IMAGE} AS bundle
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
RUN bun build src/cli.ts --target=bun --minify --outfile dist/bun/cli.js \
 && bun build src/policy/httpsend/evalWorker.ts --target=bun --minify --outfile dist/bun/evalWorker.js

# Each runtime's distroless base and where its binary lives there (ENTRYPOINT
# takes no build arguments, hence a stage per runtime). The runtime flags are
# scripts/runtime.sh's, chosen by measurement (docs/performance.md "Memory";
# test/deploy/wiring.test.ts holds the two equal).
FROM ${NODE_RUNTIME_IMAGE} AS runtime-node
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "dist/cli.js"]

FROM ${BUN_RUNTIME_IMAGE} AS runtime-bun
ENTRYPOINT ["/usr/local/bin/bun", "dist/bun/cli.js"]

FROM runtime-${RUNTIME}
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY proto ./proto
COPY --from=build /app/dist ./dist
COPY --from=bundle /app/dist/bun ./dist/bun
# The demo policy, prebuilt (scripts/demo-bundle.ts): what serve runs without a policy.path.
COPY policies/demo.tar.gz ./policies/demo.tar.gz
ENV NODE_ENV=production
# Numeric, so the kubelet can verify runAsNonRoot (a user name it cannot):
# 65532 is the distroless image's "nonroot".
USER 65532:65532
EXPOSE 9191 8181
# The runtime stage's ENTRYPOINT runs the built JavaScript (dist/), as the
# installed package does; SIGTERM drains in-flight Checks before exit.
# No policy.path: the shipped demo bundle. Arguments given to the container
# (deploy/kubernetes: serve --config ...) replace this CMD as a whole.
CMD ["serve"]
