#!/usr/bin/env bash
# Install the Debian packages a make target needs, only those that are missing.
# Usage: scripts/system-deps.sh test|image|drill|bench
set -euo pipefail

declare -A NEED=(
  [test]="redis-server chromium podman buildah runc debootstrap docker-compose haproxy patroni etcd-server pgbouncer prometheus"
  [image]="podman buildah runc debootstrap"
  [drill]="redis-server podman buildah runc debootstrap haproxy patroni etcd-server pgbouncer"
  [bench]="redis-server nginx wrk nghttp2-client"
)
packages="${NEED[${1:?usage: $0 test|image|drill|bench}]}"
[ -x /usr/lib/postgresql/15/bin/initdb ] || packages="$packages postgresql-15"

missing=()
for pkg in $packages; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing Debian packages: ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
