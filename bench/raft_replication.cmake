# Replication throughput of the real raft core (RawNode + MemoryLogStore) through the
# simulator's network, on one core.
add_executable(raft_replication_bench ${CMAKE_CURRENT_LIST_DIR}/raft_replication_bench.cc)
keel_target_defaults(raft_replication_bench)
target_link_libraries(raft_replication_bench PRIVATE keel_raft_sim benchmark::benchmark)
