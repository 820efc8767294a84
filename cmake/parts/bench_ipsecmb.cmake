# intel-ipsec-mb's multi-buffer HMAC-SHA256, as a benchmark peer only
# (bench/peers/hmac_ipsecmb.c -> bench_hmac_ipsecmb). Built when the library
# is installed (scripts/deps.sh --bench installs libipsec-mb-dev); skipped
# quietly otherwise. Never linked into hl_core or the hookline command.
find_path(IPSECMB_INCLUDE_DIR intel-ipsec-mb.h)
find_library(IPSECMB_LIBRARY NAMES IPSec_MB)
if(IPSECMB_INCLUDE_DIR AND IPSECMB_LIBRARY AND CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  add_executable(bench_hmac_ipsecmb ${CMAKE_SOURCE_DIR}/bench/peers/hmac_ipsecmb.c)
  target_include_directories(bench_hmac_ipsecmb PRIVATE ${CMAKE_SOURCE_DIR}/bench
                             ${IPSECMB_INCLUDE_DIR})
  target_link_libraries(bench_hmac_ipsecmb PRIVATE hl_core ${IPSECMB_LIBRARY})
elseif(HL_BENCH_PEERS)
  message(WARNING "intel-ipsec-mb not found: bench_hmac_ipsecmb is not built "
                  "(scripts/deps.sh --bench installs libipsec-mb-dev)")
endif()
