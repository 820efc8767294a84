#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build tree for a while, starting from
# its seed corpus (fuzz/<target>_corpus) and dictionary (fuzz/<target>.dict).
# New inputs go to a scratch directory, not into the repository; to keep one,
# copy it into the seed corpus. Any crash fails the run and leaves the input
# in DIR/artifacts.
#   scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
secs=$2
shift 2
[[ "$dir" = /* ]] || dir="$root/$dir"
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for src in "$root"/fuzz/*.c; do
    [[ -e "$src" ]] || continue
    t=$(basename "$src" .c)
    targets+=("$t")
  done
fi
mkdir -p "$dir/artifacts"
failed=0
for t in "${targets[@]}"; do
  bin="$dir/fuzz_$t"
  corpus="$root/fuzz/${t}_corpus"
  scratch="$dir/corpus/$t"
  mkdir -p "$scratch"
  args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0
        -artifact_prefix="$dir/artifacts/$t-")
  [[ -f "$root/fuzz/$t.dict" ]] && args+=(-dict="$root/fuzz/$t.dict")
  printf 'fuzz %-24s %ss ... ' "$t" "$secs"
  if "$bin" "${args[@]}" "$scratch" "$corpus" >"$dir/fuzz_$t.log" 2>&1; then
    echo "ok ($(grep -c . <(ls "$scratch")) new inputs)"
  else
    echo "FAILED"
    tail -n 40 "$dir/fuzz_$t.log"
    failed=1
  fi
done
exit $failed
