# syntax=docker/dockerfile:1
#
# model-server container image (docs/deploy.md).
#
#   docker build -t nodeserve:cpu .                                  # CPU (default)
#   docker build --build-arg VARIANT=cuda -t nodeserve:cuda .        # CUDA 12 + cuDNN 9 (NVIDIA GPUs)
#
# Ports 8080 (inference), 8081 (management), 8082 (metrics), 9000 (gRPC inference). Archives come from a mounted model store
# (/home/model-server/model-store by default), configuration from a mounted config.properties
# (MODEL_SERVER_CONFIG or --config) and from TS_<KEY> environment variables, which the image's own
# config enables. The server runs as PID 1 in the foreground, as a non-root user, and drains on SIGTERM.
# Nothing is fetched at run time: the CUDA variant downloads ONNX Runtime's CUDA provider at build time.

ARG NODE_VERSION=20.20.2
# cpu | cuda
ARG VARIANT=cpu
# CUDA 12 runtime with cuDNN 9: what onnxruntime-node 1.30's CUDA provider is built against (docs/gpu.md).
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# ---- build: compile the workspaces, then install them as a user would, production dependencies only
FROM node:${NODE_VERSION}-bookworm-slim AS build
ARG VARIANT
WORKDIR /src
# Manifests first: the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json .npmrc ./
COPY packages/errors/package.json packages/errors/
COPY packages/archiver/package.json packages/archiver/
COPY packages/handler-sdk/package.json packages/handler-sdk/
COPY packages/server/package.json packages/server/
COPY examples/resnet50/package.json examples/resnet50/
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY packages packages
COPY deploy/docker deploy/docker
RUN npm run build
# The same script test/deploy/production-install.test.ts runs: npm pack of each workspace, then
# npm ci --omit=dev at the lockfile's versions, from the cache the npm ci above filled.
RUN if [ "$VARIANT" = cuda ]; then export ONNXRUNTIME_NODE_INSTALL=cuda12; else export ONNXRUNTIME_NODE_INSTALL=skip; fi \
 && deploy/docker/install-runtime.sh /opt/nodeserve \
 && mkdir -p /opt/nodeserve/config \
 && cp deploy/docker/config.properties /opt/nodeserve/config/config.properties

# ---- runtime bases: only Node.js itself comes along, no npm, no compiler
# libjpeg-turbo's TurboJPEG library decodes JPEGs at 2.5x less CPU than libvips, the same pixels
# (docs/handlers.md#jpeg-decoding); Debian names its package libturbojpeg0, Ubuntu libturbojpeg.
FROM node:${NODE_VERSION}-bookworm-slim AS runtime-cpu
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
    /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
 && apt-get update && apt-get install -y --no-install-recommends libturbojpeg0 && rm -rf /var/lib/apt/lists/*

FROM ${CUDA_IMAGE} AS runtime-cuda
COPY --from=build /usr/local/bin/node /usr/local/bin/node
RUN apt-get update && apt-get install -y --no-install-recommends libturbojpeg && rm -rf /var/lib/apt/lists/*

# ---- the image
FROM runtime-${VARIANT}
# uid 1000 exists in both bases (node, ubuntu); a fixed number lets Kubernetes check runAsNonRoot.
ARG UID=1000
ENV NODE_ENV=production \
    HOME=/home/model-server \
    MODEL_SERVER_CONFIG=/opt/nodeserve/config/config.properties \
    LOG_LOCATION=/home/model-server/logs \
    PATH=/opt/nodeserve/node_modules/.bin:$PATH
COPY --from=build /opt/nodeserve /opt/nodeserve
# Logs go where containers' logs go: the access log to stdout, the server log to stderr only (a
# foreground server writes it there), so no file grows inside the container.
RUN mkdir -p /home/model-server/model-store /home/model-server/logs \
 && ln -s /dev/stdout /home/model-server/logs/access.log \
 && ln -s /dev/null /home/model-server/logs/model-server.log \
 && chown -R ${UID}:${UID} /home/model-server
USER ${UID}:${UID}
WORKDIR /home/model-server
EXPOSE 8080 8081 8082 9000
# Readiness as the orchestrators see it: 200 once every model has its live workers, not while draining.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/ping').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# PID 1 is model-server itself: it handles SIGTERM (drain) and SIGINT, and reaps its own workers.
# The old generation `--start` gives the server it launches (lifecycle/daemon.ts); a foreground server
# started by node directly needs it on node's own command line (NODE_OPTIONS does not take it).
ENTRYPOINT ["node", "--initial-old-space-size=128", "/opt/nodeserve/packages/server/dist/cli.js", "--start", "--foreground"]
