#!/usr/bin/env bash
# Build a local stand-in for the official Python slim image, for machines that cannot pull
# from a container registry: Debian bookworm (debootstrap, minbase) with Debian's python3
# and python3-venv, imported into podman. Cached: does nothing if the image already exists.
# Usage: scripts/build-base-image.sh [IMAGE]   (default: localhost/kubeblog-base:bookworm)
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${1:-${BASE_IMAGE:-localhost/kubeblog-base:bookworm}}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/deploy/local/containers.conf}"

# One build at a time: parallel test workers or make targets wait for the first one.
exec 9>"${TMPDIR:-/tmp}/kubeblog-base-image.lock"
flock 9

if podman image exists "$IMAGE"; then
  exit 0
fi

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
root="$(mktemp -d "${TMPDIR:-/tmp}/kubeblog-base.XXXXXX")"
trap '$SUDO rm -rf "$root"' EXIT

echo "building the stand-in base image $IMAGE (debootstrap, about 30 s)"
$SUDO debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,tzdata \
  bookworm "$root/rootfs" "$MIRROR" >"$root/debootstrap.log" 2>&1 \
  || { tail -n 20 "$root/debootstrap.log" >&2; exit 1; }

# What the official slim images leave out too: package caches, lists, docs and man pages.
$SUDO rm -rf "$root"/rootfs/var/cache/apt/*.bin "$root"/rootfs/var/cache/apt/archives/*.deb \
  "$root"/rootfs/var/lib/apt/lists/* "$root"/rootfs/usr/share/doc/* "$root"/rootfs/usr/share/man/* \
  "$root"/rootfs/var/log/*.log "$root"/rootfs/var/log/apt/*

$SUDO tar -C "$root/rootfs" -c . | podman import -q \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["python3"]' \
  --message "stand-in for python:3.11-slim: debootstrap bookworm + python3" \
  - "$IMAGE" >/dev/null
echo "built $IMAGE"
