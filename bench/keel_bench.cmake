# keel-bench: the load generator over the etcd v3 gRPC API (runs against Keel and real etcd).
# keel_bench_core holds the pure parts (histogram, flags, keys, pacing, report, watch-response
# scanner, lease-expiry arithmetic), unit-tested in tests/bench; keel_bench adds the gRPC clients and the commands.
# The executable is cmd/keel-bench (cmd/CMakeLists.txt).
find_package(nlohmann_json 3 REQUIRED)
find_package(gRPC CONFIG REQUIRED)

set(KEEL_BENCH_DIR ${CMAKE_CURRENT_LIST_DIR}/keel_bench)

add_library(keel_bench_core
  ${KEEL_BENCH_DIR}/expiry_stats.cc
  ${KEEL_BENCH_DIR}/flags.cc
  ${KEEL_BENCH_DIR}/histogram.cc
  ${KEEL_BENCH_DIR}/interrupt.cc
  ${KEEL_BENCH_DIR}/keys.cc
  ${KEEL_BENCH_DIR}/progress.cc
  ${KEEL_BENCH_DIR}/report.cc
  ${KEEL_BENCH_DIR}/token_bucket.cc
  ${KEEL_BENCH_DIR}/watch_scan.cc)
keel_target_defaults(keel_bench_core)
target_link_libraries(keel_bench_core PUBLIC
  keel_base absl::status absl::statusor absl::strings absl::str_format absl::time
  nlohmann_json::nlohmann_json protobuf::libprotobuf)

add_library(keel_bench
  ${KEEL_BENCH_DIR}/bench.cc
  ${KEEL_BENCH_DIR}/bench_common.cc
  ${KEEL_BENCH_DIR}/bench_lease.cc
  ${KEEL_BENCH_DIR}/bench_lease_expiry.cc
  ${KEEL_BENCH_DIR}/bench_watch.cc
  ${KEEL_BENCH_DIR}/conn.cc
  ${KEEL_BENCH_DIR}/cq_pool.cc
  ${KEEL_BENCH_DIR}/kv_ops.cc
  ${KEEL_BENCH_DIR}/lease_ops.cc
  ${KEEL_BENCH_DIR}/load_runner.cc
  ${KEEL_BENCH_DIR}/watch_stream.cc)
keel_target_defaults(keel_bench)
target_link_libraries(keel_bench PUBLIC
  keel_bench_core keel_etcd_proto gRPC::grpc++ absl::flat_hash_map absl::synchronization Threads::Threads)
