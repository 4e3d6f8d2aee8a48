#!/usr/bin/env bash
# Build the production image, tagged kubeblog:VERSION and kubeblog:dev.
# Usage: scripts/build-image.sh VERSION
#
# Uses docker when a Docker engine answers, else podman (CONTAINER_ENGINE=podman|docker forces
# one). The base image is $BASE_IMAGE if set, else the official python:3.12-slim; with podman,
# when no registry can be reached, a local stand-in built by scripts/build-base-image.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="${1:?usage: $0 VERSION}"
IMAGE="${IMAGE_NAME:-kubeblog}"
OFFICIAL_BASE="docker.io/library/python:3.12-slim"
STANDIN_BASE="localhost/kubeblog-base:bookworm"
HOST_CA="${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/local/containers.conf}"

engine="${CONTAINER_ENGINE:-}"
if [ -z "$engine" ]; then
  if command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; then
    engine=docker
  else
    engine=podman
  fi
fi

args=(--build-arg "APP_VERSION=$VERSION")
if git rev-parse --git-dir >/dev/null 2>&1; then
  revision="$(git rev-parse HEAD)"
  git diff --quiet HEAD -- . 2>/dev/null || revision="$revision-dirty"
  args+=(--build-arg "VCS_REF=$revision"
         --build-arg "CREATED=$(git log -1 --format=%cI)")
  origin="$(git remote get-url origin 2>/dev/null || true)"
  [ -n "$origin" ] && args+=(--build-arg "SOURCE=$origin")
fi

base="${BASE_IMAGE:-}"
if [ "$engine" = podman ]; then
  # HEALTHCHECK only survives in the docker image format.
  args+=(--format docker)
  if [ -z "$base" ]; then
    if podman image exists "$OFFICIAL_BASE" \
       || timeout 120 podman pull -q "$OFFICIAL_BASE" >/dev/null 2>&1; then
      base="$OFFICIAL_BASE"
    else
      echo "no registry reachable for $OFFICIAL_BASE: using the local stand-in $STANDIN_BASE"
      scripts/build-base-image.sh "$STANDIN_BASE"
      base="$STANDIN_BASE"
    fi
  fi
  # HTTPS from inside the build may go through a proxy whose CA only the host trusts: lend
  # the host's bundle to pip for this build only; it is mounted, never copied into a layer.
  if [ -r "$HOST_CA" ]; then
    args+=(-v "$HOST_CA:/run/host-ca.crt:ro" --build-arg "PIP_CERT=/run/host-ca.crt")
  fi
fi
[ -n "$base" ] && args+=(--build-arg "BASE_IMAGE=$base")

# One build at a time on this machine (parallel test workers, make image in another shell).
exec 9>"${TMPDIR:-/tmp}/kubeblog-image-build.lock"
flock 9

"$engine" build "${args[@]}" -t "$IMAGE:$VERSION" -t "$IMAGE:dev" -f Dockerfile .
echo "built $IMAGE:$VERSION and $IMAGE:dev with $engine (base ${base:-python:3.12-slim})"
