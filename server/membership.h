// Membership: who is in the cluster, as etcd's MemberList shows it, kept in the member's own
// column family so a data dir remembers its cluster across restarts.
//
// Changes arrive only through the apply thread (committed conf changes and published member
// attributes), in log order, so every member's table goes through the same states. Readers
// (the Cluster service, the transport's peer list) may call from any thread.
//
// Ids. A member's id is a stable hash of its sorted peer URLs and the cluster token, and the
// cluster id a hash of the sorted initial member ids and the token (etcd hashes the same
// inputs with SHA-1, plus a timestamp for members added later). Every member of a new cluster
// derives the same ids from the same --initial-cluster, with no exchange.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "etcd/rpc.pb.h"
#include "raft/types.h"
#include "server/member_storage.h"

namespace keel::server {

uint64_t MemberIdFor(std::vector<std::string> peer_urls, const std::string& cluster_token);
uint64_t ClusterIdFor(std::vector<uint64_t> member_ids, const std::string& cluster_token);

// --initial-cluster "a=http://h1:2380,b=http://h2:2380,a=http://h1:2381": members by name
// (a name may repeat to give several URLs), ids computed, no client URLs yet. Errors name
// the bad part as etcd's flag checks do.
absl::StatusOr<std::vector<etcdserverpb::Member>> ParseInitialCluster(
    const std::string& initial_cluster, const std::string& cluster_token);

class Membership {
 public:
  explicit Membership(MemberStorage* storage) : storage_(storage) {}

  // Reads the table kept in the data dir (empty for a new one).
  absl::Status Load();
  // Writes the initial members (synced). Only for a data dir with no members.
  absl::Status Bootstrap(const std::vector<etcdserverpb::Member>& members);

  // ---- Apply thread ----
  // A committed conf change. Add/learner carry the new etcdserverpb::Member in the context;
  // promotion turns a learner into a voter; removal remembers the id as removed.
  absl::Status ApplyConfChange(const raft::ConfChange& cc);
  // A member's published name and client URLs (etcd's "publish" at start-up).
  absl::Status SetAttributes(uint64_t id, const std::string& name,
                             const std::vector<std::string>& client_urls);
  // A member's new peer URLs (MemberUpdate).
  absl::Status SetPeerUrls(uint64_t id, const std::vector<std::string>& peer_urls);

  // Replaces the whole table (a snapshot restore; apply thread).
  absl::Status Restore(const std::vector<etcdserverpb::Member>& members,
                       const std::vector<uint64_t>& removed);
  std::vector<uint64_t> Removed() const;

  // ---- Any thread ----
  std::vector<etcdserverpb::Member> List() const;  // by id
  std::optional<etcdserverpb::Member> Get(uint64_t id) const;
  bool IsRemoved(uint64_t id) const;
  // Asked on every client request (learners refuse most): no record copy.
  bool IsLearner(uint64_t id) const;
  size_t VoterCount() const;

  // Called (on the apply thread, after the change is stored) whenever the table changes.
  void set_on_change(std::function<void()> on_change) { on_change_ = std::move(on_change); }

 private:
  absl::Status Store(const etcdserverpb::Member& m);
  void Changed();

  MemberStorage* storage_;
  mutable std::mutex mu_;
  absl::btree_map<uint64_t, etcdserverpb::Member> members_;  // guarded by mu_
  std::set<uint64_t> removed_;                              // guarded by mu_
  std::function<void()> on_change_;
};

}  // namespace keel::server
