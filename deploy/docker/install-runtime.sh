#!/bin/sh
# Installs model-server as the container image does, into DEST: the workspaces' npm pack tarballs
# (only what their package.json "files" publish), then their production dependencies at the versions
# of the repository's package-lock.json (npm ci --omit=dev), from the npm cache where it has them.
# The image's build stage runs it, and so does test/deploy/production-install.test.ts.
#
#   deploy/docker/install-runtime.sh DEST
#
# Run from the repository root after `npm run build`. ONNXRUNTIME_NODE_INSTALL passes through to
# onnxruntime-node's install script (skip for CPU; cuda12 for the CUDA variant, see docs/gpu.md).
set -eu
dest=${1:?usage: install-runtime.sh DEST}
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)
packs=$(mktemp -d)
trap 'rm -rf "$packs"' EXIT

# Every package under packages/: the server's own dependencies among them (errors, archiver, handler-sdk).
workspaces=$(cd packages && ls -d */ | tr -d /)
npm pack --silent $(for w in $workspaces; do printf -- '-w packages/%s ' "$w"; done) --pack-destination "$packs" >/dev/null
for workspace in $workspaces; do
  mkdir -p "$dest/packages/$workspace"
  tar -xzf "$packs/nodeserve-$workspace-"*.tgz --strip-components=1 -C "$dest/packages/$workspace"
done
# The root manifest and lockfile pin every transitive version; the example's manifest is there only
# because the lockfile names its workspace (nothing of it is installed).
cp package.json package-lock.json .npmrc "$dest/"
mkdir -p "$dest/examples/resnet50"
cp examples/resnet50/package.json "$dest/examples/resnet50/"

cd "$dest"
npm ci --omit=dev --workspace packages/server --prefer-offline --no-audit --no-fund --loglevel=error
