// Alarms: the cluster's active alarms (etcd's NOSPACE, CORRUPT), changed only by applying
// replicated AlarmRequests so every member agrees, and persisted in the member column family.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "etcd/rpc.pb.h"
#include "server/member_storage.h"

namespace keel::server {

class Alarms {
 public:
  // Loads the persisted alarms.
  explicit Alarms(MemberStorage* storage);

  // Applies an AlarmRequest (the apply thread): GET lists, ACTIVATE/DEACTIVATE change and
  // persist. Returns etcd's AlarmResponse (the alarms affected, or all for GET).
  etcdserverpb::AlarmResponse Apply(const etcdserverpb::AlarmRequest& request);
  etcdserverpb::AlarmResponse List() const;
  // Whether a NOSPACE alarm is active: writes are refused with ErrNoSpace.
  bool NoSpace() const;

 private:
  etcdserverpb::AlarmResponse ListLocked() const;
  void PersistLocked();

  MemberStorage* storage_;
  mutable std::mutex mu_;
  std::set<std::pair<uint64_t, int>> active_;  // (member id, AlarmType)
};

}  // namespace keel::server
