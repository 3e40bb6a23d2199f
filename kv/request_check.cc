#include "kv/request_check.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "base/etcd_errors.h"
#include "base/status_macros.h"

namespace keel::kv {
namespace {

using etcdserverpb::RequestOp;
using etcdserverpb::TxnRequest;
using google::protobuf::RepeatedPtrField;

absl::Status CheckTxnOps(const TxnRequest& request, int max_txn_ops);

absl::Status CheckRequestOp(const RequestOp& op, int max_txn_ops) {
  switch (op.request_case()) {
    case RequestOp::kRequestRange:
      return CheckRangeRequest(op.request_range());
    case RequestOp::kRequestPut:
      return CheckPutRequest(op.request_put());
    case RequestOp::kRequestDeleteRange:
      return CheckDeleteRangeRequest(op.request_delete_range());
    case RequestOp::kRequestTxn:
      return CheckTxnOps(op.request_txn(), max_txn_ops);
    case RequestOp::REQUEST_NOT_SET:
      break;
  }
  return ErrKeyNotFound();  // etcd's answer to an empty op
}

absl::Status CheckTxnOps(const TxnRequest& request, int max_txn_ops) {
  const int ops = std::max({request.compare_size(), request.success_size(),
                            request.failure_size()});
  if (ops > max_txn_ops) return ErrTooManyOps();
  for (const auto& compare : request.compare()) {
    if (compare.key().empty()) return ErrEmptyKey();
  }
  for (const auto& op : request.success()) {
    KEEL_RETURN_IF_ERROR(CheckRequestOp(op, max_txn_ops - ops));
  }
  for (const auto& op : request.failure()) {
    KEEL_RETURN_IF_ERROR(CheckRequestOp(op, max_txn_ops - ops));
  }
  return absl::OkStatus();
}

// A deleted interval [begin, end) taken literally, as etcd's interval tree does: a point
// delete is [key, key+"\0"), and a range_end of "\0" gives an interval that contains
// nothing, so etcd (3.4.23, checked) accepts a put next to a from-key delete. We match it.
struct Interval {
  std::string begin;
  std::string end;
  bool Contains(const std::string& key) const { return begin <= key && key < end; }
};

bool AnyContains(const std::vector<Interval>& dels, const std::string& key) {
  return std::any_of(dels.begin(), dels.end(),
                     [&](const Interval& iv) { return iv.Contains(key); });
}

// etcd's checkIntervals: the keys put and intervals deleted by `ops`, or ErrDuplicateKey.
absl::Status CheckIntervals(const RepeatedPtrField<RequestOp>& ops, std::set<std::string>* puts,
                            std::vector<Interval>* dels) {
  for (const RequestOp& op : ops) {
    if (op.request_case() != RequestOp::kRequestDeleteRange) continue;
    const auto& del = op.request_delete_range();
    if (del.range_end().empty()) {
      dels->push_back({del.key(), del.key() + std::string(1, '\0')});
    } else {
      dels->push_back({del.key(), del.range_end()});
    }
  }
  for (const RequestOp& op : ops) {
    if (op.request_case() != RequestOp::kRequestTxn) continue;
    std::set<std::string> puts_then, puts_else;
    std::vector<Interval> dels_then, dels_else;
    KEEL_RETURN_IF_ERROR(CheckIntervals(op.request_txn().success(), &puts_then, &dels_then));
    KEEL_RETURN_IF_ERROR(CheckIntervals(op.request_txn().failure(), &puts_else, &dels_else));
    for (const std::string& key : puts_then) {
      if (puts->count(key) > 0 || AnyContains(*dels, key)) return ErrDuplicateKey();
      puts->insert(key);
    }
    for (const std::string& key : puts_else) {
      // Then and else exclude each other: a key put in both is fine.
      if (puts->count(key) > 0 && puts_then.count(key) == 0) return ErrDuplicateKey();
      if (AnyContains(*dels, key)) return ErrDuplicateKey();
      puts->insert(key);
    }
    dels->insert(dels->end(), dels_then.begin(), dels_then.end());
    dels->insert(dels->end(), dels_else.begin(), dels_else.end());
  }
  for (const RequestOp& op : ops) {
    if (op.request_case() != RequestOp::kRequestPut) continue;
    const std::string& key = op.request_put().key();
    if (puts->count(key) > 0 || AnyContains(*dels, key)) return ErrDuplicateKey();
    puts->insert(key);
  }
  return absl::OkStatus();
}

bool OpsReadOnly(const RepeatedPtrField<RequestOp>& ops) {
  for (const RequestOp& op : ops) {
    switch (op.request_case()) {
      case RequestOp::kRequestPut:
      case RequestOp::kRequestDeleteRange:
        return false;
      case RequestOp::kRequestTxn:
        if (!IsTxnReadOnly(op.request_txn())) return false;
        break;
      default:
        break;
    }
  }
  return true;
}

}  // namespace

absl::Status CheckRangeRequest(const etcdserverpb::RangeRequest& request) {
  if (request.key().empty()) return ErrEmptyKey();
  if (!etcdserverpb::RangeRequest::SortOrder_IsValid(request.sort_order()) ||
      !etcdserverpb::RangeRequest::SortTarget_IsValid(request.sort_target())) {
    return ErrInvalidSortOption();
  }
  return absl::OkStatus();
}

absl::Status CheckPutRequest(const etcdserverpb::PutRequest& request) {
  if (request.key().empty()) return ErrEmptyKey();
  if (request.ignore_value() && !request.value().empty()) return ErrValueProvided();
  if (request.ignore_lease() && request.lease() != 0) return ErrLeaseProvided();
  return absl::OkStatus();
}

absl::Status CheckDeleteRangeRequest(const etcdserverpb::DeleteRangeRequest& request) {
  if (request.key().empty()) return ErrEmptyKey();
  return absl::OkStatus();
}

absl::Status CheckTxnRequest(const etcdserverpb::TxnRequest& request, int max_txn_ops) {
  KEEL_RETURN_IF_ERROR(CheckTxnOps(request, max_txn_ops));
  {
    std::set<std::string> puts;
    std::vector<Interval> dels;
    KEEL_RETURN_IF_ERROR(CheckIntervals(request.success(), &puts, &dels));
  }
  std::set<std::string> puts;
  std::vector<Interval> dels;
  return CheckIntervals(request.failure(), &puts, &dels);
}

bool IsTxnReadOnly(const etcdserverpb::TxnRequest& request) {
  return OpsReadOnly(request.success()) && OpsReadOnly(request.failure());
}

}  // namespace keel::kv
