#include "bench/keel_bench/lease_ops.h"

#include <grpcpp/support/async_stream.h>

#include "absl/strings/str_cat.h"

namespace keel::bench {
namespace {

using etcdserverpb::LeaseKeepAliveRequest;
using etcdserverpb::LeaseKeepAliveResponse;

class LeaseKeepAliveOp final : public ClientOp {
 public:
  LeaseKeepAliveOp(Conn* conn, int64_t lease_id) : conn_(conn) { request_.set_id(lease_id); }

  void Start(uint64_t) override {
    if (stream_) return Write();
    // The stream lives across operations: no per-request deadline on it.
    stream_context_.emplace();
    stream_ = conn_->lease->PrepareAsyncLeaseKeepAlive(&*stream_context_, queue());
    stream_->StartCall(&start_tag_);
  }

  void Close(std::function<void()> done) override {
    if (!stream_) return done();
    close_done_ = std::move(done);
    closing_ = true;
    stream_context_->TryCancel();
    stream_->Finish(&status_, &finish_tag_);
  }

 private:
  void OnStart(bool ok) {
    if (!ok) return Broken();
    Write();
  }
  void Write() { stream_->Write(request_, &write_tag_); }
  void OnWrite(bool ok) {
    if (!ok) return Broken();
    stream_->Read(&response_, &read_tag_);
  }
  void OnRead(bool ok) {
    if (!ok) return Broken();
    if (response_.ttl() <= 0) {
      return Done(grpc::Status(grpc::StatusCode::NOT_FOUND,
                               absl::StrCat("lease ", request_.id(), " expired or unknown (TTL ",
                                            response_.ttl(), ")")));
    }
    Done(grpc::Status::OK);
  }
  // A failed start, write or read: the stream is over; its status is this operation's error.
  void Broken() { stream_->Finish(&status_, &finish_tag_); }
  void OnFinish(bool) {
    stream_.reset();
    stream_context_.reset();
    if (closing_) return close_done_();
    Done(status_.ok() ? grpc::Status(grpc::StatusCode::UNKNOWN, "keep-alive stream ended")
                      : status_);
  }

  Conn* conn_;
  std::optional<grpc::ClientContext> stream_context_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<LeaseKeepAliveRequest, LeaseKeepAliveResponse>>
      stream_;
  LeaseKeepAliveRequest request_;
  LeaseKeepAliveResponse response_;
  grpc::Status status_;
  bool closing_ = false;
  std::function<void()> close_done_;
  MethodTag<LeaseKeepAliveOp, &LeaseKeepAliveOp::OnStart> start_tag_{this};
  MethodTag<LeaseKeepAliveOp, &LeaseKeepAliveOp::OnWrite> write_tag_{this};
  MethodTag<LeaseKeepAliveOp, &LeaseKeepAliveOp::OnRead> read_tag_{this};
  MethodTag<LeaseKeepAliveOp, &LeaseKeepAliveOp::OnFinish> finish_tag_{this};
};

}  // namespace

absl::StatusOr<std::vector<int64_t>> GrantLeases(Conn* conn, int n, int64_t ttl_s,
                                                 absl::Duration timeout) {
  std::vector<int64_t> ids;
  for (int i = 0; i < n; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout));
    etcdserverpb::LeaseGrantRequest req;
    req.set_ttl(ttl_s);
    etcdserverpb::LeaseGrantResponse resp;
    grpc::Status st = conn->lease->LeaseGrant(&ctx, req, &resp);
    if (!st.ok()) {
      RevokeLeases(conn, ids, timeout);
      return absl::Status(static_cast<absl::StatusCode>(st.error_code()),
                          absl::StrCat("Lease.LeaseGrant: ", DescribeStatus(st)));
    }
    if (!resp.error().empty()) {
      RevokeLeases(conn, ids, timeout);
      return absl::InternalError(absl::StrCat("Lease.LeaseGrant: ", resp.error()));
    }
    ids.push_back(resp.id());
  }
  return ids;
}

int RevokeLeases(Conn* conn, const std::vector<int64_t>& ids, absl::Duration timeout) {
  int revoked = 0;
  for (int64_t id : ids) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout));
    etcdserverpb::LeaseRevokeRequest req;
    req.set_id(id);
    etcdserverpb::LeaseRevokeResponse resp;
    if (conn->lease->LeaseRevoke(&ctx, req, &resp).ok()) ++revoked;
  }
  return revoked;
}

std::unique_ptr<ClientOp> NewLeaseKeepAliveOp(Conn* conn, int64_t lease_id) {
  return std::make_unique<LeaseKeepAliveOp>(conn, lease_id);
}

}  // namespace keel::bench
