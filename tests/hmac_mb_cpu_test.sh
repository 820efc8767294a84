#!/usr/bin/env bash
# crypto/hmac_mb under masked CPU features: hmac_mb_test again with
# HL_CPU_DISABLE set, so that hl_hmac_batch's other choices run on a machine
# that has everything: AVX-512 lanes costed against BoringSSL without SHA-NI
# ("sha"), AVX2 lanes with the single-stream finish ("avx512,sha"), and the
# single stream alone ("avx512", "avx2"). Each run must pass; the tests of
# masked implementations skip.
set -euo pipefail
bin="$HL_BIN_DIR/hmac_mb_test"
fail() { echo "FAIL: $*" >&2; exit 1; }
for mask in sha avx512,sha avx512 avx2; do
  out=$(HL_CPU_DISABLE=$mask "$bin" 2>&1) || { echo "$out" | tail -20; fail "HL_CPU_DISABLE=$mask"; }
  echo "HL_CPU_DISABLE=$mask: $(echo "$out" | tail -1)"
done
