# libhookline: the producer library applications link (include/hookline/
# hookline.h), shared (libhookline.so.1) and static (libhookline.a), plus the
# Python binding and the ring test peer.
#
# The source list is explicit: the ring producer, the message codec, the
# JSON validator and the base files they need. Nothing here may pull in
# BoringSSL, SQLite, c-ares, liburing or cJSON: applications that use
# OpenSSL load this library, and the two TLS stacks must never meet.
# tests/libhookline_test.sh checks the result's dependencies and exports.

set(HL_LIBHOOKLINE_SOVERSION 1) # = HL_ABI_VERSION in hookline.h
set(HL_LIBHOOKLINE_SOURCES
  ${CMAKE_SOURCE_DIR}/engine/ring/api.c
  ${CMAKE_SOURCE_DIR}/engine/ring/producer.c
  ${CMAKE_SOURCE_DIR}/engine/ring/ring_layout.c
  ${CMAKE_SOURCE_DIR}/engine/ring/message.c
  ${CMAKE_SOURCE_DIR}/engine/ring/crc32c.c
  ${CMAKE_SOURCE_DIR}/engine/text/json_scan.c
  ${CMAKE_SOURCE_DIR}/engine/text/utf8.c
  ${CMAKE_SOURCE_DIR}/engine/base/span.c
  ${CMAKE_SOURCE_DIR}/engine/base/buf.c
  ${CMAKE_SOURCE_DIR}/engine/base/err.c
  ${CMAKE_SOURCE_DIR}/engine/base/cpu.c)

function(hl_libhookline_target name kind)
  add_library(${name} ${kind} ${HL_LIBHOOKLINE_SOURCES})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/engine
                                     PUBLIC ${CMAKE_SOURCE_DIR}/include)
  # Only the HL_PUBLIC functions of hookline.h are exported. The library is
  # loaded into foreign processes (Python, apps): no sanitizer runtime.
  target_compile_options(${name} PRIVATE -fvisibility=hidden -fno-sanitize=all)
  target_link_options(${name} PRIVATE -fno-sanitize=all)
  target_link_libraries(${name} PRIVATE Threads::Threads)
  set_target_properties(${name} PROPERTIES OUTPUT_NAME hookline C_VISIBILITY_PRESET hidden)
endfunction()

hl_libhookline_target(hookline_shared SHARED)
set_target_properties(hookline_shared PROPERTIES
  VERSION ${HL_LIBHOOKLINE_SOVERSION}.0.0 SOVERSION ${HL_LIBHOOKLINE_SOVERSION})
target_link_options(hookline_shared PRIVATE -Wl,-z,defs -Wl,--as-needed)
hl_libhookline_target(hookline_static STATIC)

# The pkg-config file locates everything relative to itself (${pcfiledir}),
# so it stays right under any --prefix or DESTDIR.
file(RELATIVE_PATH HL_PC_PREFIX_REL "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig"
     "${CMAKE_INSTALL_PREFIX}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/hookline.pc.in ${CMAKE_BINARY_DIR}/hookline.pc @ONLY)

# Python: the package installs under HL_PYTHON_SITEDIR (relative to the
# prefix), with a generated _paths.py recording where the library went (the
# binding's third place to look, after $HOOKLINE_LIB and its own directory).
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND)
  set(HL_PYTHON_DEFAULT_SITEDIR "lib/python${Python3_VERSION_MAJOR}.${Python3_VERSION_MINOR}/site-packages")
else()
  set(HL_PYTHON_DEFAULT_SITEDIR "lib/python3/site-packages")
endif()
set(HL_PYTHON_SITEDIR "${HL_PYTHON_DEFAULT_SITEDIR}" CACHE STRING
    "Where `install` puts the hookline Python package, relative to the prefix (Debian's system Python: lib/python3/dist-packages)")

install(TARGETS hookline_shared hookline_static
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_SOURCE_DIR}/include/hookline/hookline.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/hookline)
install(FILES ${CMAKE_BINARY_DIR}/hookline.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES ${CMAKE_SOURCE_DIR}/python/hookline/__init__.py
        DESTINATION ${HL_PYTHON_SITEDIR}/hookline)
# Written at install time, so that `cmake --install --prefix P` records P.
install(CODE "
  set(lib \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/libhookline.so.${HL_LIBHOOKLINE_SOVERSION}\")
  file(WRITE \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${HL_PYTHON_SITEDIR}/hookline/_paths.py\"
       \"# Written by cmake --install: where libhookline was installed.\\nINSTALLED_LIBRARY = '\${lib}'\\n\")
")

# The test peer: creates a ring and consumes it on behalf of script tests.
add_executable(ring_peer ${CMAKE_SOURCE_DIR}/tests/ring_peer.c)
target_link_libraries(ring_peer PRIVATE hl_core)
