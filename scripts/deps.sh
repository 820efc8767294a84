#!/usr/bin/env bash
# Installs the Debian packages hookline needs. Idempotent: packages already
# present are skipped, so a warm machine pays one dpkg query and no apt run.
#
#   scripts/deps.sh            build + test dependencies
#   scripts/deps.sh --bench    also the benchmark peers (nginx, wrk, libcurl, ...)
set -euo pipefail

pkgs=(
  build-essential cmake ninja-build pkg-config
  liburing-dev android-libboringssl-dev libmimalloc-dev libsqlite3-dev
  libcjson-dev libc-ares-dev
  clang libclang-rt-14-dev
  nginx-light curl openssl python3
  ruby golang-go  # the receiver's guide's Ruby and Go verifiers are tested
)
if [[ "${1:-}" == "--bench" ]]; then
  pkgs+=(wrk libcurl4-openssl-dev libipsec-mb-dev)
  # Node.js may come from elsewhere (NodeSource); Debian's only if none is there.
  command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=()
[[ $(id -u) -ne 0 ]] && sudo=(sudo)
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# nginx must not start a system service: tests start their
# own instances on loopback in temporary directories.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
  "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
  trap '"${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
fi
"${sudo[@]}" apt-get update -q >/dev/null || true
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
