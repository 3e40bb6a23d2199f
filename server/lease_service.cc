#include "server/lease_service.h"

#include <algorithm>
#include <deque>

#include "base/etcd_errors.h"
#include "server/lessor.h"
#include "server/unary_reply.h"

namespace keel::server {

using etcdserverpb::LeaseKeepAliveRequest;
using etcdserverpb::LeaseKeepAliveResponse;

int64_t MinLeaseTtlSeconds(int heartbeat_interval_ms, int election_timeout_ms) {
  const int64_t election_ticks = election_timeout_ms / heartbeat_interval_ms;
  const int64_t min_ms = (3 * election_ticks) / 2 * heartbeat_interval_ms;
  return (min_ms + 999) / 1000;
}

LeaseService::LeaseService(const ServiceContext* ctx)
    : ctx_(ctx),
      min_ttl_(MinLeaseTtlSeconds(ctx->config->heartbeat_interval_ms,
                                  ctx->config->election_timeout_ms)) {}

void LeaseService::LeaseGrant(UnaryContext* context, const etcdserverpb::LeaseGrantRequest* request,
                              etcdserverpb::LeaseGrantResponse* response) {
  if (ctx_->IsLearner()) return Refuse(context, ErrNotSupportedForLearner());
  if (ctx_->alarms->NoSpace()) return Refuse(context, ErrNoSpace());
  if (request->ttl() > kMaxLeaseTtlSeconds) return Refuse(context, ErrLeaseTTLTooLarge());
  serverpb::Request req;
  auto* grant = req.mutable_lease_grant();
  grant->set_ttl(std::max(request->ttl(), min_ttl_));
  // etcd picks a positive id from its request id generator when the client leaves it 0.
  int64_t id = request->id();
  while (id == 0) id = static_cast<int64_t>(ctx_->proposer->NextId() & ((uint64_t{1} << 63) - 1));
  grant->set_id(id);
  return ProposeAndReply(ctx_, context, std::move(req), response);
}

void LeaseService::LeaseRevoke(UnaryContext* context,
                               const etcdserverpb::LeaseRevokeRequest* request,
                               etcdserverpb::LeaseRevokeResponse* response) {
  if (ctx_->IsLearner()) return Refuse(context, ErrNotSupportedForLearner());
  serverpb::Request req;
  req.mutable_lease_revoke()->set_id(request->id());
  return ProposeAndReply(ctx_, context, std::move(req), response);
}

void LeaseService::LeaseTimeToLive(UnaryContext* context,
                                   const etcdserverpb::LeaseTimeToLiveRequest* request,
                                   etcdserverpb::LeaseTimeToLiveResponse* response) {
  if (ctx_->IsLearner()) return Refuse(context, ErrNotSupportedForLearner());
  auto* reactor = context->DefaultReactor();
  ctx_->reads->Read([ctx = ctx_, request, response, reactor](absl::Status status) {
    if (!status.ok()) {
      reactor->Finish(ToGrpc(status));
      return;
    }
    response->set_id(request->id());
    auto info = ctx->store->GetLease(request->id(), request->keys());
    auto remaining = ctx->lessor->Remaining(request->id());
    if (!info || !remaining) {
      response->set_ttl(-1);  // etcd: unknown or already revoked, not an error
    } else {
      // Whole seconds left, truncated as etcd's int64(Remaining().Seconds()).
      response->set_ttl(std::max<int64_t>(
          0, std::chrono::duration_cast<std::chrono::seconds>(*remaining).count()));
      response->set_grantedttl(info->ttl);
      for (auto& key : info->keys) response->add_keys(std::move(key));
    }
    ctx->FillHeader(response->mutable_header(), 0);
    reactor->Finish(grpc::Status::OK);
  });
}

void LeaseService::LeaseLeases(UnaryContext* context, const etcdserverpb::LeaseLeasesRequest*,
                               etcdserverpb::LeaseLeasesResponse* response) {
  if (ctx_->IsLearner()) return Refuse(context, ErrNotSupportedForLearner());
  auto* reactor = context->DefaultReactor();
  ctx_->reads->Read([ctx = ctx_, response, reactor](absl::Status status) {
    if (!status.ok()) {
      reactor->Finish(ToGrpc(status));
      return;
    }
    for (const kv::LeaseInfo& l : ctx->store->ListLeases()) response->add_leases()->set_id(l.id);
    ctx->FillHeader(response->mutable_header(), 0);
    reactor->Finish(grpc::Status::OK);
  });
}

// One keep-alive stream: each request is a renewal through the Lessor; answers are written
// in the order they complete, one write in flight at a time. Lifetime: deleted once gRPC has
// called OnDone and no renewal is outstanding (a renewal's callback may arrive later).
class LeaseService::KeepAliveReactor final
    : public BidiReactor<LeaseKeepAliveRequest, LeaseKeepAliveResponse> {
 public:
  explicit KeepAliveReactor(LeaseService* service) : service_(service), ctx_(service->ctx_) {
    if (ctx_->IsLearner()) {
      std::lock_guard lock(mu_);
      FinishLocked(ToGrpc(ErrNotSupportedForLearner()));
      return;
    }
    StartRead(&request_);
  }

  void Stop() {
    std::lock_guard lock(mu_);
    if (!finished_) FinishLocked(ToGrpc(ErrStopped()));
  }

  void OnReadDone(bool ok) override {
    std::unique_lock lock(mu_);
    if (!ok) {
      reads_done_ = true;  // the client closed its side: answer what is outstanding, then end
      FinishIfDoneLocked();
      return;
    }
    const int64_t id = request_.id();
    ++outstanding_;
    lock.unlock();
    ctx_->lessor->Renew(id, [this, id](absl::StatusOr<int64_t> ttl) { OnRenewed(id, ttl); });
    lock.lock();
    if (!finished_) StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      broken_ = true;
      FinishLocked(grpc::Status::CANCELLED);
      return;
    }
    WriteNextLocked();
    FinishIfDoneLocked();
  }

  void OnDone() override {
    {
      std::lock_guard lock(service_->mu_);
      service_->reactors_.erase(this);
    }
    bool destroy;
    {
      std::lock_guard lock(mu_);
      done_ = true;
      destroy = outstanding_ == 0;
    }
    if (destroy) delete this;
  }

 private:
  void OnRenewed(int64_t id, const absl::StatusOr<int64_t>& ttl) {
    bool destroy = false;
    {
      std::lock_guard lock(mu_);
      --outstanding_;
      if (done_) {
        destroy = outstanding_ == 0;
      } else if (!finished_) {
        if (!ttl.ok()) {
          // etcd ends the stream on errors other than an unknown lease (no leader, timeout);
          // clients open a new one.
          FinishLocked(ToGrpc(ttl.status()));
        } else {
          LeaseKeepAliveResponse& resp = queue_.emplace_back();
          resp.set_id(id);
          resp.set_ttl(*ttl);
          ctx_->FillHeader(resp.mutable_header(), 0);
          WriteNextLocked();
          FinishIfDoneLocked();
        }
      }
    }
    if (destroy) delete this;
  }

  void WriteNextLocked() {
    if (writing_ || finished_ || queue_.empty()) return;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }

  void FinishIfDoneLocked() {
    if (reads_done_ && outstanding_ == 0 && queue_.empty() && !writing_) {
      FinishLocked(grpc::Status::OK);
    }
  }

  void FinishLocked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    queue_.clear();
    Finish(status);
  }

  LeaseService* service_;
  const ServiceContext* ctx_;
  LeaseKeepAliveRequest request_;   // the read in flight
  LeaseKeepAliveResponse current_;  // the write in flight

  std::mutex mu_;
  std::deque<LeaseKeepAliveResponse> queue_;
  int outstanding_ = 0;  // renewals not answered yet
  bool writing_ = false;
  bool reads_done_ = false;
  bool broken_ = false;
  bool finished_ = false;
  bool done_ = false;  // OnDone ran
};

BidiReactor<LeaseKeepAliveRequest, LeaseKeepAliveResponse>* LeaseService::LeaseKeepAlive(
    grpc::ServerContext*) {
  auto* reactor = new KeepAliveReactor(this);
  std::lock_guard lock(mu_);
  reactors_.insert(reactor);
  return reactor;
}

void LeaseService::FinishAll() {
  std::lock_guard lock(mu_);
  for (KeepAliveReactor* r : reactors_) r->Stop();  // OnDone (which erases) waits for mu_
}

}  // namespace keel::server
