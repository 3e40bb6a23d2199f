# raft_storage_bench: RocksDbLogStore::Save with sync=true next to the disk's raw
# append+fdatasync rate, in one run (see docs/storage.md for figures).
add_executable(raft_storage_bench ${CMAKE_CURRENT_SOURCE_DIR}/raft_storage_bench.cc)
keel_target_defaults(raft_storage_bench)
target_link_libraries(raft_storage_bench PRIVATE keel_raft_rocksdb benchmark::benchmark)
