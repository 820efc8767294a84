# FindBoringSSL: Debian's android-libboringssl-dev keeps its headers in
# <include>/android/openssl and its libraries in <multiarch lib>/android, and
# ships no pkg-config file. This module finds both and defines the imported
# targets BoringSSL::crypto and BoringSSL::ssl, plus BoringSSL_LIBRARY_DIR for
# the rpath of every binary that links them (the directory is not on the
# loader's default path).

find_path(BoringSSL_INCLUDE_DIR
  NAMES openssl/base.h
  PATH_SUFFIXES android
  DOC "BoringSSL include directory (contains openssl/base.h)")

set(_hl_boringssl_hints)
if(CMAKE_LIBRARY_ARCHITECTURE)
  list(APPEND _hl_boringssl_hints /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/android)
endif()

# The -dev package's unversioned symlinks point at the runtime's .so.0.
find_library(BoringSSL_CRYPTO_LIBRARY NAMES crypto HINTS ${_hl_boringssl_hints}
  PATH_SUFFIXES android NO_DEFAULT_PATH)
find_library(BoringSSL_SSL_LIBRARY NAMES ssl HINTS ${_hl_boringssl_hints}
  PATH_SUFFIXES android NO_DEFAULT_PATH)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(BoringSSL
  REQUIRED_VARS BoringSSL_INCLUDE_DIR BoringSSL_CRYPTO_LIBRARY BoringSSL_SSL_LIBRARY)

if(BoringSSL_FOUND)
  # Refuse OpenSSL's headers masquerading as BoringSSL: the two must never mix.
  if(NOT EXISTS "${BoringSSL_INCLUDE_DIR}/openssl/is_boringssl.h")
    message(FATAL_ERROR "${BoringSSL_INCLUDE_DIR} is not BoringSSL (no openssl/is_boringssl.h)")
  endif()
  get_filename_component(BoringSSL_LIBRARY_DIR "${BoringSSL_CRYPTO_LIBRARY}" DIRECTORY)
  if(NOT TARGET BoringSSL::crypto)
    add_library(BoringSSL::crypto SHARED IMPORTED)
    set_target_properties(BoringSSL::crypto PROPERTIES
      IMPORTED_LOCATION "${BoringSSL_CRYPTO_LIBRARY}"
      IMPORTED_NO_SONAME FALSE
      INTERFACE_INCLUDE_DIRECTORIES "${BoringSSL_INCLUDE_DIR}")
    add_library(BoringSSL::ssl SHARED IMPORTED)
    set_target_properties(BoringSSL::ssl PROPERTIES
      IMPORTED_LOCATION "${BoringSSL_SSL_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${BoringSSL_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES BoringSSL::crypto)
  endif()
endif()
mark_as_advanced(BoringSSL_INCLUDE_DIR BoringSSL_CRYPTO_LIBRARY BoringSSL_SSL_LIBRARY)
