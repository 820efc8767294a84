#!/usr/bin/env bash
# Configures and builds one build tree.
#   scripts/build.sh [DIR] [cmake -D options...]     (default DIR: build/release)
# CC picks the compiler (gcc by default; the sanitizer and fuzz trees use clang).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-build/release}
shift || true
[[ "$dir" = /* ]] || dir="$root/$dir"
cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j "$(nproc)"
