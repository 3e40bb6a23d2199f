#include "bench/keel_bench/lease_ops.h"

#include <algorithm>
#include <grpcpp/support/async_stream.h>
#include <grpcpp/support/async_unary_call.h>

#include "absl/strings/str_cat.h"
#include "bench/keel_bench/clock.h"
#include "bench/keel_bench/expiry_stats.h"

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

template <typename Response>
using Reader = std::unique_ptr<grpc::ClientAsyncResponseReader<Response>>;

// LeaseGrantResponse.error: etcd reports failures as gRPC statuses, but the field exists.
grpc::Status GrantError(const etcdserverpb::LeaseGrantResponse& response) {
  if (response.error().empty()) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::INTERNAL, absl::StrCat("LeaseGrant: ", response.error()));
}

class LeaseGrantOp final : public ClientOp {
 public:
  LeaseGrantOp(Conn* conn, int64_t ttl_s, std::vector<int64_t>* granted)
      : conn_(conn), granted_(granted) {
    request_.set_ttl(ttl_s);
  }

  void Start(uint64_t) override {
    reader_.reset();  // before its call's context goes (see NewContext)
    reader_ = conn_->lease->PrepareAsyncLeaseGrant(NewContext(), request_, queue());
    reader_->StartCall();
    reader_->Finish(&response_, &status_, &finish_tag_);
  }

 private:
  void OnFinish(bool) {
    if (!status_.ok()) return Done(status_);
    if (grpc::Status e = GrantError(response_); !e.ok()) return Done(e);
    granted_->push_back(response_.id());
    Done(status_);
  }

  Conn* conn_;
  std::vector<int64_t>* granted_;
  etcdserverpb::LeaseGrantRequest request_;
  etcdserverpb::LeaseGrantResponse response_;
  grpc::Status status_;
  Reader<etcdserverpb::LeaseGrantResponse> reader_;
  MethodTag<LeaseGrantOp, &LeaseGrantOp::OnFinish> finish_tag_{this};
};

class LeaseRevokeOp final : public ClientOp {
 public:
  LeaseRevokeOp(Conn* conn, const std::vector<int64_t>* ids) : conn_(conn), ids_(ids) {}

  void Start(uint64_t seq) override {
    request_.set_id((*ids_)[seq]);
    reader_.reset();
    reader_ = conn_->lease->PrepareAsyncLeaseRevoke(NewContext(), request_, queue());
    reader_->StartCall();
    reader_->Finish(&response_, &status_, &finish_tag_);
  }

 private:
  void OnFinish(bool) { Done(status_); }

  Conn* conn_;
  const std::vector<int64_t>* ids_;
  etcdserverpb::LeaseRevokeRequest request_;
  etcdserverpb::LeaseRevokeResponse response_;
  grpc::Status status_;
  Reader<etcdserverpb::LeaseRevokeResponse> reader_;
  MethodTag<LeaseRevokeOp, &LeaseRevokeOp::OnFinish> finish_tag_{this};
};

class LeasedPutOp final : public ClientOp {
 public:
  LeasedPutOp(Conn* conn, const LeasedPutOptions& o) : conn_(conn), options_(o) {
    grant_.set_ttl(o.ttl_s);
    put_.set_value(o.value);
  }

  void Start(uint64_t seq) override {
    seq_ = seq;
    grant_reader_.reset();
    put_reader_.reset();
    if (options_.expire_at_ns > 0) {
      const int64_t left_ns = options_.expire_at_ns - NowNs();
      grant_.set_ttl(std::max<int64_t>(1, (left_ns + 999'999'999) / 1'000'000'000));
    }
    grant_reader_ = conn_->lease->PrepareAsyncLeaseGrant(NewContext(), grant_, queue());
    grant_reader_->StartCall();
    grant_reader_->Finish(&grant_response_, &status_, &grant_tag_);
  }

 private:
  void OnGrant(bool) {
    if (!status_.ok()) return Done(status_);
    if (grpc::Status e = GrantError(grant_response_); !e.ok()) return Done(e);
    LeaseRecord& record = (*options_.records)[seq_];
    record.id = grant_response_.id();
    record.ttl_s = grant_response_.ttl();
    record.granted_ns = NowNs();
    put_.set_key(LeaseKey(options_.key_prefix, seq_));
    put_.set_lease(record.id);
    grant_reader_.reset();
    put_reader_ = conn_->kv->PrepareAsyncPut(NewContext(), put_, queue());
    put_reader_->StartCall();
    put_reader_->Finish(&put_response_, &status_, &put_tag_);
  }

  void OnPut(bool) {
    if (status_.ok()) (*options_.records)[seq_].key_put = true;
    Done(status_);
  }

  Conn* conn_;
  LeasedPutOptions options_;
  uint64_t seq_ = 0;
  etcdserverpb::LeaseGrantRequest grant_;
  etcdserverpb::LeaseGrantResponse grant_response_;
  etcdserverpb::PutRequest put_;
  etcdserverpb::PutResponse put_response_;
  grpc::Status status_;
  Reader<etcdserverpb::LeaseGrantResponse> grant_reader_;
  Reader<etcdserverpb::PutResponse> put_reader_;
  MethodTag<LeasedPutOp, &LeasedPutOp::OnGrant> grant_tag_{this};
  MethodTag<LeasedPutOp, &LeasedPutOp::OnPut> put_tag_{this};
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

std::unique_ptr<ClientOp> NewLeaseGrantOp(Conn* conn, int64_t ttl_s,
                                          std::vector<int64_t>* granted) {
  return std::make_unique<LeaseGrantOp>(conn, ttl_s, granted);
}

std::unique_ptr<ClientOp> NewLeaseRevokeOp(Conn* conn, const std::vector<int64_t>* ids) {
  return std::make_unique<LeaseRevokeOp>(conn, ids);
}

std::unique_ptr<ClientOp> NewLeasedPutOp(Conn* conn, const LeasedPutOptions& options) {
  return std::make_unique<LeasedPutOp>(conn, options);
}

}  // namespace keel::bench
