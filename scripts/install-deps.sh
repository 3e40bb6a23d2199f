#!/usr/bin/env bash
# Installs the Debian packages Keel builds and tests with, only those that are missing.
# Called by `make`; safe to run again. Needs root (or sudo) and Debian's apt.
set -euo pipefail

build_pkgs=(
  cmake g++ make pkg-config ninja-build
  libasio-dev libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  librocksdb-dev libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev
  libgoogle-perftools-dev
)
test_pkgs=(etcd-client etcd-server python3-etcd3)

want=("${build_pkgs[@]}")
if [ "${KEEL_DEPS:-all}" != "build" ]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts etcd as a service on install; tests start their own instances on free ports.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now etcd >/dev/null 2>&1 || true; fi
