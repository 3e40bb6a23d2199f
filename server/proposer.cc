#include "server/proposer.h"

#include "base/etcd_errors.h"
#include "raft/raw_node.h"

namespace keel::server {
namespace {
// etcd's maxGapBetweenApplyAndCommitIndex.
constexpr uint64_t kMaxApplyBacklog = 5000;
}  // namespace

Proposer::Proposer(RaftLoop* raft, Applier* applier, WaitRegistry* waits,
                   uint64_t max_request_bytes, std::chrono::milliseconds timeout)
    : raft_(raft), applier_(applier), waits_(waits), max_request_bytes_(max_request_bytes),
      timeout_(timeout) {}

void Proposer::Propose(serverpb::Request request, WaitRegistry::Callback done) {
  if (applier_->Backlog() > kMaxApplyBacklog) {
    done(ApplyResult{ErrTooManyRequests(), nullptr});
    return;
  }
  uint64_t id = waits_->NextId();
  request.set_id(id);
  std::string data = request.SerializeAsString();
  if (data.size() > max_request_bytes_) {
    done(ApplyResult{ErrRequestTooLarge(), nullptr});
    return;
  }
  waits_->Register(id, WaitRegistry::Clock::now() + timeout_, std::move(done));
  raft_->Propose(std::move(data), [waits = waits_, id](absl::Status status) {
    // raft refused it: no leader to take it (or a transfer is under way).
    waits->Fail(id, raft::IsProposalDropped(status) ? ErrNoLeader() : status);
  });
}

void Proposer::ProposeConfChange(raft::ConfChange cc,
                                 std::function<absl::Status(const raft::Status&)> check,
                                 WaitRegistry::Callback done) {
  uint64_t id = waits_->NextId();
  cc.id = id;
  waits_->Register(id, WaitRegistry::Clock::now() + timeout_, std::move(done));
  raft_->Submit([waits = waits_, id, cc = std::move(cc),
                 check = std::move(check)](raft::RawNode& node) {
    if (check) {
      absl::Status st = check(node.GetStatus());
      if (!st.ok()) {
        waits->Fail(id, st);
        return;
      }
    }
    absl::Status st = node.ProposeConfChange(cc);
    if (!st.ok()) waits->Fail(id, raft::IsProposalDropped(st) ? ErrNoLeader() : st);
  });
}

}  // namespace keel::server
