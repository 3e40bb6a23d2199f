#include "server/kv_service.h"

#include "absl/time/clock.h"
#include "base/etcd_errors.h"
#include "kv/quota.h"
#include "kv/request_check.h"
#include "server/unary_reply.h"

namespace keel::server {

void KvService::Range(UnaryContext* context, const etcdserverpb::RangeRequest* request,
                      etcdserverpb::RangeResponse* response) {
  absl::Status valid = kv::CheckRangeRequest(*request);
  if (!valid.ok()) return Refuse(context, valid);
  if (!request->serializable() && ctx_->IsLearner()) {
    return Refuse(context, ErrNotSupportedForLearner());
  }
  auto* reactor = context->DefaultReactor();
  auto serve = [ctx = ctx_, request, response, reactor](absl::Status status) {
    if (!status.ok()) {
      reactor->Finish(ToGrpc(status));
      return;
    }
    auto result = ctx->store->Range(*request);
    if (!result.ok()) {
      reactor->Finish(ToGrpc(result.status()));
      return;
    }
    *response = std::move(*result);
    ctx->FillHeader(response->mutable_header(), response->header().revision());
    reactor->Finish(grpc::Status::OK);
  };
  if (request->serializable()) {
    serve(absl::OkStatus());
  } else {
    ctx_->reads->Read(std::move(serve));
  }
}

int64_t KvService::StoreSizeBytes() const {
  constexpr int64_t kSizeRefreshNs = 100'000'000;  // 100 ms
  const int64_t now = absl::GetCurrentTimeNanos();
  int64_t read_at = size_read_at_ns_.load(std::memory_order_relaxed);
  if (now - read_at >= kSizeRefreshNs &&
      size_read_at_ns_.compare_exchange_strong(read_at, now, std::memory_order_relaxed)) {
    size_bytes_.store(ctx_->store->DbSizeBytes(), std::memory_order_relaxed);
  }
  return size_bytes_.load(std::memory_order_relaxed);
}

absl::Status KvService::CheckQuota(size_t request_bytes) const {
  if (ctx_->alarms->NoSpace()) return ErrNoSpace();
  absl::Status st = kv::CheckQuota(StoreSizeBytes(), static_cast<int64_t>(request_bytes),
                                   ctx_->config->EffectiveQuotaBytes());
  if (st.ok()) return st;
  serverpb::Request alarm;
  alarm.mutable_alarm()->set_action(etcdserverpb::AlarmRequest::ACTIVATE);
  alarm.mutable_alarm()->set_memberid(ctx_->member_id);
  alarm.mutable_alarm()->set_alarm(etcdserverpb::NOSPACE);
  ctx_->proposer->Propose(std::move(alarm), [](ApplyResult) {});
  return st;
}

template <typename Response>
void KvService::CheckAndPropose(UnaryContext* context, serverpb::Request request,
                                Response* response, bool costs_space) {
  if (ctx_->IsLearner()) return Refuse(context, ErrNotSupportedForLearner());
  if (costs_space) {
    absl::Status quota = CheckQuota(request.ByteSizeLong());
    if (!quota.ok()) return Refuse(context, quota);
  }
  return ProposeAndReply(ctx_, context, std::move(request), response);
}

void KvService::Put(UnaryContext* context, const etcdserverpb::PutRequest* request,
                    etcdserverpb::PutResponse* response) {
  absl::Status valid = kv::CheckPutRequest(*request);
  if (!valid.ok()) return Refuse(context, valid);
  serverpb::Request req;
  *req.mutable_put() = *request;
  return CheckAndPropose(context, std::move(req), response, /*costs_space=*/true);
}

void KvService::DeleteRange(UnaryContext* context, const etcdserverpb::DeleteRangeRequest* request,
                            etcdserverpb::DeleteRangeResponse* response) {
  absl::Status valid = kv::CheckDeleteRangeRequest(*request);
  if (!valid.ok()) return Refuse(context, valid);
  serverpb::Request req;
  *req.mutable_delete_range() = *request;
  return CheckAndPropose(context, std::move(req), response, /*costs_space=*/false);
}

void KvService::Txn(UnaryContext* context, const etcdserverpb::TxnRequest* request,
                    etcdserverpb::TxnResponse* response) {
  absl::Status valid = kv::CheckTxnRequest(*request, ctx_->config->max_txn_ops);
  if (!valid.ok()) return Refuse(context, valid);
  serverpb::Request req;
  *req.mutable_txn() = *request;
  return CheckAndPropose(context, std::move(req), response, !kv::IsTxnReadOnly(*request));
}

void KvService::Compact(UnaryContext* context, const etcdserverpb::CompactionRequest* request,
                        etcdserverpb::CompactionResponse* response) {
  serverpb::Request req;
  *req.mutable_compaction() = *request;
  return CheckAndPropose(context, std::move(req), response, /*costs_space=*/false);
}

}  // namespace keel::server
