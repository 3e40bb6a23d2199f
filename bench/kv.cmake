# kv_bench: Google Benchmark micro-benchmarks of the MVCC store (kv/): apply throughput,
# single-key reads, and start-up with a million keys. Figures are recorded in docs/kv.md.
add_executable(kv_bench ${CMAKE_CURRENT_LIST_DIR}/kv_bench.cc)
keel_target_defaults(kv_bench)
target_link_libraries(kv_bench PRIVATE keel_kv benchmark::benchmark)
