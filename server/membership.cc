#include "server/membership.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/big_endian.h"
#include "base/check.h"
#include "server/url.h"

namespace keel::server {
namespace {

constexpr char kMembersPrefix[] = "members/";
constexpr char kRemovedPrefix[] = "removed/";

// FNV-1a: stable across runs and builds, unlike std::hash.
uint64_t StableHash(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

uint64_t MemberIdFor(std::vector<std::string> peer_urls, const std::string& cluster_token) {
  std::sort(peer_urls.begin(), peer_urls.end());
  uint64_t id = StableHash(absl::StrCat(absl::StrJoin(peer_urls, ","), "/", cluster_token));
  return id == 0 ? 1 : id;  // 0 is raft's "nobody"
}

uint64_t ClusterIdFor(std::vector<uint64_t> member_ids, const std::string& cluster_token) {
  std::sort(member_ids.begin(), member_ids.end());
  return StableHash(absl::StrCat("cluster/", absl::StrJoin(member_ids, ","), "/", cluster_token));
}

absl::StatusOr<std::vector<etcdserverpb::Member>> ParseInitialCluster(
    const std::string& initial_cluster, const std::string& cluster_token) {
  std::vector<std::pair<std::string, std::vector<std::string>>> by_name;
  for (const std::string& item : SplitList(initial_cluster)) {
    std::vector<std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty() || kv[1].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--initial-cluster: expected name=url, got \"", item, "\""));
    }
    auto url = ParseUrl(kv[1]);
    if (!url.ok()) return url.status();
    auto it = std::find_if(by_name.begin(), by_name.end(),
                           [&](const auto& p) { return p.first == kv[0]; });
    if (it == by_name.end()) {
      by_name.push_back({kv[0], {kv[1]}});
    } else {
      it->second.push_back(kv[1]);
    }
  }
  if (by_name.empty()) return absl::InvalidArgumentError("--initial-cluster is empty");
  std::vector<etcdserverpb::Member> out;
  std::set<std::string> urls_seen;
  for (auto& [name, urls] : by_name) {
    for (const auto& u : urls) {
      if (!urls_seen.insert(u).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("--initial-cluster: peer URL ", u, " is listed twice"));
      }
    }
    etcdserverpb::Member m;
    m.set_id(MemberIdFor(urls, cluster_token));
    m.set_name(name);
    for (const auto& u : urls) m.add_peerurls(u);
    out.push_back(std::move(m));
  }
  return out;
}

absl::Status Membership::Load() {
  auto members = storage_->ScanMeta(kMembersPrefix);
  if (!members.ok()) return members.status();
  auto removed = storage_->ScanMeta(kRemovedPrefix);
  if (!removed.ok()) return removed.status();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, value] : *members) {
    etcdserverpb::Member m;
    if (!m.ParseFromString(value)) return absl::DataLossError("corrupt member record");
    members_[m.id()] = std::move(m);
  }
  for (const auto& [key, value] : *removed) {
    if (key.size() != sizeof(kRemovedPrefix) - 1 + 8) {
      return absl::DataLossError("corrupt removed-member record");
    }
    removed_.insert(GetBigEndian64(key.data() + sizeof(kRemovedPrefix) - 1));
  }
  return absl::OkStatus();
}

absl::Status Membership::Store(const etcdserverpb::Member& m) {
  return storage_->PutMeta(absl::StrCat(kMembersPrefix, BigEndian64(m.id())),
                           m.SerializeAsString(), /*sync=*/false);
}

void Membership::Changed() {
  if (on_change_) on_change_();
}

absl::Status Membership::Bootstrap(const std::vector<etcdserverpb::Member>& members) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    KEEL_CHECK(members_.empty()) << "bootstrap of a data dir that has members";
  }
  for (const auto& m : members) {
    absl::Status st = Store(m);
    if (!st.ok()) return st;
  }
  absl::Status st = storage_->SyncWal();
  if (!st.ok()) return st;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& m : members) members_[m.id()] = m;
  return absl::OkStatus();
}

absl::Status Membership::ApplyConfChange(const raft::ConfChange& cc) {
  etcdserverpb::Member m;
  switch (cc.type) {
    case raft::ConfChangeType::kAddNode:
    case raft::ConfChangeType::kAddLearnerNode: {
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = members_.find(cc.node_id);
        if (it != members_.end()) m = it->second;  // a promotion of a learner
      }
      if (m.id() == 0) {
        if (!m.ParseFromArray(cc.context.view().data(), static_cast<int>(cc.context.size())) ||
            m.id() != cc.node_id) {
          return absl::DataLossError(absl::StrCat("conf change for ", cc.node_id,
                                                  " carries no member record"));
        }
      }
      m.set_islearner(cc.type == raft::ConfChangeType::kAddLearnerNode);
      absl::Status st = Store(m);
      if (!st.ok()) return st;
      {
        std::lock_guard<std::mutex> lock(mu_);
        members_[m.id()] = m;
      }
      break;
    }
    case raft::ConfChangeType::kRemoveNode: {
      absl::Status st =
          storage_->DeleteMeta(absl::StrCat(kMembersPrefix, BigEndian64(cc.node_id)), false);
      if (!st.ok()) return st;
      st = storage_->PutMeta(absl::StrCat(kRemovedPrefix, BigEndian64(cc.node_id)), "", false);
      if (!st.ok()) return st;
      std::lock_guard<std::mutex> lock(mu_);
      members_.erase(cc.node_id);
      removed_.insert(cc.node_id);
      break;
    }
    default:
      return absl::InvalidArgumentError("unsupported conf change type");
  }
  Changed();
  return absl::OkStatus();
}

absl::Status Membership::SetAttributes(uint64_t id, const std::string& name,
                                       const std::vector<std::string>& client_urls) {
  etcdserverpb::Member m;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = members_.find(id);
    if (it == members_.end()) return absl::OkStatus();  // removed meanwhile: nothing to do
    m = it->second;
  }
  m.set_name(name);
  m.clear_clienturls();
  for (const auto& u : client_urls) m.add_clienturls(u);
  absl::Status st = Store(m);
  if (!st.ok()) return st;
  {
    std::lock_guard<std::mutex> lock(mu_);
    members_[id] = m;
  }
  Changed();
  return absl::OkStatus();
}

absl::Status Membership::SetPeerUrls(uint64_t id, const std::vector<std::string>& peer_urls) {
  etcdserverpb::Member m;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = members_.find(id);
    if (it == members_.end()) return absl::OkStatus();
    m = it->second;
  }
  m.clear_peerurls();
  for (const auto& u : peer_urls) m.add_peerurls(u);
  absl::Status st = Store(m);
  if (!st.ok()) return st;
  {
    std::lock_guard<std::mutex> lock(mu_);
    members_[id] = m;
  }
  Changed();
  return absl::OkStatus();
}

absl::Status Membership::Restore(const std::vector<etcdserverpb::Member>& members,
                                 const std::vector<uint64_t>& removed) {
  for (const char* prefix : {kMembersPrefix, kRemovedPrefix}) {
    auto old = storage_->ScanMeta(prefix);
    if (!old.ok()) return old.status();
    for (const auto& [key, value] : *old) {
      absl::Status st = storage_->DeleteMeta(key, false);
      if (!st.ok()) return st;
    }
  }
  for (const auto& m : members) {
    absl::Status st = Store(m);
    if (!st.ok()) return st;
  }
  for (uint64_t id : removed) {
    absl::Status st = storage_->PutMeta(absl::StrCat(kRemovedPrefix, BigEndian64(id)), "", false);
    if (!st.ok()) return st;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    members_.clear();
    for (const auto& m : members) members_[m.id()] = m;
    removed_ = std::set<uint64_t>(removed.begin(), removed.end());
  }
  Changed();
  return absl::OkStatus();
}

std::vector<uint64_t> Membership::Removed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::vector<uint64_t>(removed_.begin(), removed_.end());
}

std::vector<etcdserverpb::Member> Membership::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<etcdserverpb::Member> out;
  for (const auto& [id, m] : members_) out.push_back(m);
  return out;
}

std::optional<etcdserverpb::Member> Membership::Get(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = members_.find(id);
  if (it == members_.end()) return std::nullopt;
  return it->second;
}

bool Membership::IsLearner(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = members_.find(id);
  return it != members_.end() && it->second.islearner();
}

bool Membership::IsRemoved(uint64_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return removed_.count(id) > 0;
}

size_t Membership::VoterCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [id, m] : members_) n += m.islearner() ? 0 : 1;
  return n;
}

}  // namespace keel::server
