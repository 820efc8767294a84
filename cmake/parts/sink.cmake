# hookline-sink: the HTTP/1.1 + TLS receiver that tests and benchmarks
# deliver to (bench/sink). Its own executable, from an explicit source list
# (bench/*.c would make each file a separate benchmark program).
add_executable(hookline-sink
  ${CMAKE_SOURCE_DIR}/bench/sink/main.c
  ${CMAKE_SOURCE_DIR}/bench/sink/config.c
  ${CMAKE_SOURCE_DIR}/bench/sink/server.c
  ${CMAKE_SOURCE_DIR}/bench/sink/record.c)
target_include_directories(hookline-sink PRIVATE ${CMAKE_SOURCE_DIR}/bench/sink)
target_link_libraries(hookline-sink PRIVATE hl_core)
if(HL_MIMALLOC)
  # As for the hookline command: mimalloc replaces malloc for the whole process.
  target_link_libraries(hookline-sink PRIVATE -Wl,--no-as-needed mimalloc -Wl,--as-needed)
endif()
