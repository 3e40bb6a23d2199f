#include "bench/keel_bench/kv_ops.h"

#include <grpcpp/support/async_unary_call.h>

#include <cstring>
#include <random>

#include "bench/keel_bench/clock.h"

namespace keel::bench {
namespace {

using etcdserverpb::Compare;
using etcdserverpb::PutRequest;
using etcdserverpb::PutResponse;
using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;

template <typename Response>
using Reader = std::unique_ptr<grpc::ClientAsyncResponseReader<Response>>;

class PutOp final : public ClientOp {
 public:
  PutOp(Conn* conn, const PutOptions& o) : conn_(conn), options_(o), rng_(o.seed) {
    request_.set_value(o.value);
  }

  void Start(uint64_t seq) override {
    key_index_ = options_.keys->IndexFor(seq, rng_);
    options_.keys->KeyAt(key_index_, request_.mutable_key());
    if (options_.samples != nullptr) start_ns_ = NowNs();
    if (options_.stamp_send_time) {
      const int64_t now = NowNs();
      std::memcpy(request_.mutable_value()->data(), &now, sizeof(now));
    }
    reader_.reset();  // before its call's context goes (see NewContext)
    reader_ = conn_->kv->PrepareAsyncPut(NewContext(), request_, queue());
    reader_->StartCall();
    reader_->Finish(&response_, &status_, &finish_tag_);
  }

 private:
  void OnFinish(bool) {
    if (status_.ok() && options_.ack_sink != nullptr) {
      options_.ack_sink->OnPutAck(key_index_, response_.header().revision());
    }
    if (options_.samples != nullptr) {
      const int64_t now = NowNs();
      options_.samples->Add(now, now - start_ns_, status_.ok());
    }
    Done(status_);
  }

  Conn* conn_;
  PutOptions options_;
  std::mt19937_64 rng_;
  uint64_t key_index_ = 0;
  int64_t start_ns_ = 0;
  PutRequest request_;
  PutResponse response_;
  grpc::Status status_;
  Reader<PutResponse> reader_;
  MethodTag<PutOp, &PutOp::OnFinish> finish_tag_{this};
};

class RangeOp final : public ClientOp {
 public:
  RangeOp(Conn* conn, const RangeOptions& o) : conn_(conn), options_(o), rng_(o.seed) {
    request_.set_key(o.key);
    request_.set_range_end(o.range_end);
    request_.set_serializable(o.serializable);
    request_.set_limit(o.limit);
  }

  void Start(uint64_t seq) override {
    if (options_.key.empty()) {
      options_.keys->KeyAt(options_.keys->IndexFor(seq, rng_), request_.mutable_key());
    }
    reader_.reset();
    reader_ = conn_->kv->PrepareAsyncRange(NewContext(), request_, queue());
    reader_->StartCall();
    reader_->Finish(&response_, &status_, &finish_tag_);
  }

 private:
  void OnFinish(bool) { Done(status_); }

  Conn* conn_;
  RangeOptions options_;
  std::mt19937_64 rng_;
  RangeRequest request_;
  RangeResponse response_;
  grpc::Status status_;
  Reader<RangeResponse> reader_;
  MethodTag<RangeOp, &RangeOp::OnFinish> finish_tag_{this};
};

class TxnPutOp final : public ClientOp {
 public:
  TxnPutOp(Conn* conn, const KeyGenerator* keys, std::string value, int ops)
      : conn_(conn), keys_(keys) {
    for (int j = 0; j < ops; ++j) request_.add_success()->mutable_request_put()->set_value(value);
  }

  void Start(uint64_t seq) override {
    const uint64_t ops = static_cast<uint64_t>(request_.success_size());
    for (uint64_t j = 0; j < ops; ++j) {
      keys_->KeyAt(
          (seq * ops + j) % keys_->key_space_size(),
          request_.mutable_success(static_cast<int>(j))->mutable_request_put()->mutable_key());
    }
    reader_.reset();
    reader_ = conn_->kv->PrepareAsyncTxn(NewContext(), request_, queue());
    reader_->StartCall();
    reader_->Finish(&response_, &status_, &finish_tag_);
  }

 private:
  void OnFinish(bool) { Done(status_); }

  Conn* conn_;
  const KeyGenerator* keys_;
  TxnRequest request_;
  TxnResponse response_;
  grpc::Status status_;
  Reader<TxnResponse> reader_;
  MethodTag<TxnPutOp, &TxnPutOp::OnFinish> finish_tag_{this};
};

class TxnUpdateOp final : public ClientOp {
 public:
  TxnUpdateOp(Conn* conn, const KeyGenerator* keys, std::string value, uint64_t seed,
              TxnUpdateCounters* counters)
      : conn_(conn), keys_(keys), rng_(seed), counters_(counters) {
    Compare* cmp = txn_.add_compare();
    cmp->set_result(Compare::EQUAL);
    cmp->set_target(Compare::MOD);
    txn_.add_success()->mutable_request_put()->set_value(std::move(value));
    txn_.add_failure()->mutable_request_range();
  }

  void Start(uint64_t seq) override {
    attempts_ = 0;
    keys_->KeyAt(keys_->IndexFor(seq, rng_), range_.mutable_key());
    range_reader_.reset();
    txn_reader_.reset();
    range_reader_ = conn_->kv->PrepareAsyncRange(NewContext(), range_, queue());
    range_reader_->StartCall();
    range_reader_->Finish(&range_response_, &status_, &range_tag_);
  }

 private:
  void OnRange(bool) {
    if (!status_.ok()) return Done(status_);
    SendTxn(range_response_.kvs_size() > 0 ? range_response_.kvs(0).mod_revision() : 0);
  }

  // Compare mod_revision == seen (0: the key must not exist, as Kubernetes' create).
  void SendTxn(int64_t seen_mod_revision) {
    ++attempts_;
    counters_->txns.fetch_add(1, std::memory_order_relaxed);
    Compare* cmp = txn_.mutable_compare(0);
    cmp->set_key(range_.key());
    cmp->set_mod_revision(seen_mod_revision);
    txn_.mutable_success(0)->mutable_request_put()->set_key(range_.key());
    txn_.mutable_failure(0)->mutable_request_range()->set_key(range_.key());
    range_reader_.reset();
    txn_reader_.reset();
    txn_reader_ = conn_->kv->PrepareAsyncTxn(NewContext(), txn_, queue());
    txn_reader_->StartCall();
    txn_reader_->Finish(&txn_response_, &status_, &txn_tag_);
  }

  void OnTxn(bool) {
    if (!status_.ok() || txn_response_.succeeded()) return Done(status_);
    counters_->conflicts.fetch_add(1, std::memory_order_relaxed);
    if (attempts_ >= kMaxTxnUpdateAttempts) {
      return Done(grpc::Status(grpc::StatusCode::ABORTED, "txn-update: too many conflicts"));
    }
    int64_t current = 0;
    if (txn_response_.responses_size() > 0 &&
        txn_response_.responses(0).response_range().kvs_size() > 0) {
      current = txn_response_.responses(0).response_range().kvs(0).mod_revision();
    }
    SendTxn(current);
  }

  Conn* conn_;
  const KeyGenerator* keys_;
  std::mt19937_64 rng_;
  TxnUpdateCounters* counters_;
  int attempts_ = 0;
  RangeRequest range_;
  RangeResponse range_response_;
  TxnRequest txn_;
  TxnResponse txn_response_;
  grpc::Status status_;
  Reader<RangeResponse> range_reader_;
  Reader<TxnResponse> txn_reader_;
  MethodTag<TxnUpdateOp, &TxnUpdateOp::OnRange> range_tag_{this};
  MethodTag<TxnUpdateOp, &TxnUpdateOp::OnTxn> txn_tag_{this};
};

}  // namespace

std::unique_ptr<ClientOp> NewPutOp(Conn* conn, const PutOptions& options) {
  return std::make_unique<PutOp>(conn, options);
}

std::unique_ptr<ClientOp> NewRangeOp(Conn* conn, const RangeOptions& options) {
  return std::make_unique<RangeOp>(conn, options);
}

std::unique_ptr<ClientOp> NewTxnPutOp(Conn* conn, const KeyGenerator* keys, std::string value,
                                      int ops) {
  return std::make_unique<TxnPutOp>(conn, keys, std::move(value), ops);
}

std::unique_ptr<ClientOp> NewTxnUpdateOp(Conn* conn, const KeyGenerator* keys, std::string value,
                                         uint64_t seed, TxnUpdateCounters* counters) {
  return std::make_unique<TxnUpdateOp>(conn, keys, std::move(value), seed, counters);
}

}  // namespace keel::bench
