# ops_seed: writes delivery-log rows (attempts, payloads, retries, dead
# letters, breaker state) through the store API, for the operator command
# tests (tests/ops_cli_test.py) and the engine's end-to-end tests.
add_executable(ops_seed ${CMAKE_SOURCE_DIR}/tests/ops_seed.c)
target_link_libraries(ops_seed PRIVATE hl_core)
