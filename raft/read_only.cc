#include "raft/read_only.h"

#include <algorithm>

namespace keel::raft {

void ReadOnly::AddRequest(uint64_t index, const Message& request) {
  const std::string& ctx = request.entries.at(0).data.str();
  if (pending_.count(ctx) > 0) return;
  pending_.emplace(ctx, ReadIndexStatus{request, index, {}});
  queue_.push_back(ctx);
}

const std::set<NodeId>* ReadOnly::RecvAck(NodeId from, const std::string& ctx) {
  auto it = pending_.find(ctx);
  if (it == pending_.end()) return nullptr;
  it->second.acks.insert(from);
  return &it->second.acks;
}

std::vector<ReadIndexStatus> ReadOnly::Advance(const std::string& ctx) {
  auto pos = std::find(queue_.begin(), queue_.end(), ctx);
  if (pos == queue_.end()) return {};
  std::vector<ReadIndexStatus> out;
  for (auto it = queue_.begin(); it != pos + 1; ++it) {
    auto p = pending_.find(*it);
    out.push_back(std::move(p->second));
    pending_.erase(p);
  }
  queue_.erase(queue_.begin(), pos + 1);
  return out;
}

std::string ReadOnly::LastPendingRequestCtx() const {
  return queue_.empty() ? std::string() : queue_.back();
}

void ReadOnly::Clear() {
  pending_.clear();
  queue_.clear();
}

}  // namespace keel::raft
