# Benchmark peers that link foreign stacks (bench/peers/), built only with
# -DHL_BENCH_PEERS=ON (scripts/deps.sh --bench installs what they need).
#
# curl_multi links Debian's libcurl-openssl and OpenSSL's libcrypto (for its
# HMAC), so it is its own program: it never links hl_core, whose BoringSSL
# must not meet OpenSSL in one process. From the engine it takes only
# engine/base/hist.c and err.c (libc only) for its latency histogram. It
# gets no rpath, so the loader cannot pick BoringSSL's libraries for it.
if(NOT HL_BENCH_PEERS OR HL_FUZZ)
  return()
endif()
pkg_check_modules(HL_PEER_CURL IMPORTED_TARGET libcurl)
pkg_check_modules(HL_PEER_OPENSSL IMPORTED_TARGET libcrypto)
if(NOT HL_PEER_CURL_FOUND OR NOT HL_PEER_OPENSSL_FOUND)
  message(WARNING "libcurl or OpenSSL's libcrypto not found: the curl_multi peer is not built "
                  "(scripts/deps.sh --bench installs libcurl4-openssl-dev)")
  return()
endif()
add_executable(curl_multi ${CMAKE_SOURCE_DIR}/bench/peers/curl_multi.c
                          ${CMAKE_SOURCE_DIR}/engine/base/hist.c
                          ${CMAKE_SOURCE_DIR}/engine/base/err.c)
target_include_directories(curl_multi PRIVATE ${CMAKE_SOURCE_DIR}/engine)
target_link_libraries(curl_multi PRIVATE PkgConfig::HL_PEER_CURL PkgConfig::HL_PEER_OPENSSL)
set_target_properties(curl_multi PROPERTIES SKIP_BUILD_RPATH ON)
