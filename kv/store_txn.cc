// MvccStore::Txn: compares, branch planning, the checks etcd makes against the state, and
// execution of the chosen ops at one revision.
#include <string>
#include <utility>

#include "base/check.h"
#include "base/etcd_errors.h"
#include "base/status_macros.h"
#include "kv/store.h"
#include "kv/store_internal.h"

namespace keel::kv {
namespace {

using etcdserverpb::Compare;
using etcdserverpb::RequestOp;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;

// etcd's compareKV: the operand is read from the oneof only when its case matches the
// target; otherwise it is 0 / empty (clients may leave it unset to mean zero).
bool CompareKv(const Compare& c, const mvccpb::KeyValue& kv) {
  int result = 0;
  auto cmp = [](int64_t a, int64_t b) { return a < b ? -1 : (a > b ? 1 : 0); };
  switch (c.target()) {
    case Compare::VALUE: {
      const std::string& v =
          c.target_union_case() == Compare::kValue ? c.value() : std::string();
      int r = kv.value().compare(v);
      result = r < 0 ? -1 : (r > 0 ? 1 : 0);
      break;
    }
    case Compare::CREATE:
      result = cmp(kv.create_revision(),
                   c.target_union_case() == Compare::kCreateRevision ? c.create_revision() : 0);
      break;
    case Compare::MOD:
      result = cmp(kv.mod_revision(),
                   c.target_union_case() == Compare::kModRevision ? c.mod_revision() : 0);
      break;
    case Compare::VERSION:
      result = cmp(kv.version(), c.target_union_case() == Compare::kVersion ? c.version() : 0);
      break;
    case Compare::LEASE:
      result = cmp(kv.lease(), c.target_union_case() == Compare::kLease ? c.lease() : 0);
      break;
    default:
      break;
  }
  switch (c.result()) {
    case Compare::EQUAL:
      return result == 0;
    case Compare::NOT_EQUAL:
      return result != 0;
    case Compare::GREATER:
      return result > 0;
    case Compare::LESS:
      return result < 0;
    default:
      return true;  // etcd: an unknown result passes
  }
}

}  // namespace

// etcd's applyCompare over the current state: every key in the range must satisfy it; an
// empty range compares a zero KeyValue, except that a VALUE compare on nothing fails.
bool MvccStore::EvaluateCompare(const Compare& compare) const {
  const bool needs_value = compare.target() == Compare::VALUE ||
                           compare.target() == Compare::LEASE;
  bool any = false;
  bool all = true;
  index_.VisitRange(KeyRange::FromRequest(compare.key(), compare.range_end()), INT64_MAX,
                    [&](const std::string&, const KeyHistory& h, const IndexEntry& e) {
                      any = true;
                      mvccpb::KeyValue kv;
                      if (needs_value) {
                        LatestForWriter(h, &kv);
                      } else {
                        kv.set_create_revision(h.create_revision);
                        kv.set_mod_revision(e.main);
                        kv.set_version(h.version);
                      }
                      all = CompareKv(compare, kv);
                      return all;
                    });
  if (!any) {
    if (compare.target() == Compare::VALUE) return false;
    return CompareKv(compare, mvccpb::KeyValue());
  }
  return all;
}

MvccStore::TxnPlan MvccStore::PlanTxn(const TxnRequest& request) const {
  TxnPlan plan;
  plan.succeeded = true;
  for (const Compare& c : request.compare()) {
    if (!EvaluateCompare(c)) {
      plan.succeeded = false;
      break;
    }
  }
  for (const RequestOp& op : plan.succeeded ? request.success() : request.failure()) {
    if (op.request_case() == RequestOp::kRequestTxn) {
      plan.nested.push_back(PlanTxn(op.request_txn()));
    }
  }
  return plan;
}

// etcd's checkRequests over the ops that will run: with puts=true, ignore_* need an existing
// key and a lease must exist; with puts=false, a range's revision must be readable.
absl::Status MvccStore::CheckTxnAgainstState(const TxnRequest& request, const TxnPlan& plan,
                                             bool puts) const {
  size_t nested = 0;
  for (const RequestOp& op : plan.succeeded ? request.success() : request.failure()) {
    if (op.request_case() == RequestOp::kRequestTxn) {
      KEEL_RETURN_IF_ERROR(CheckTxnAgainstState(op.request_txn(), plan.nested[nested++], puts));
    } else if (puts && op.request_case() == RequestOp::kRequestPut) {
      const auto& put = op.request_put();
      if (put.ignore_value() || put.ignore_lease()) {
        const KeyHistory* h = index_.Find(put.key());
        if (h == nullptr || !h->live()) return ErrKeyNotFound();
      }
      KEEL_RETURN_IF_ERROR(CheckLease(put.lease()));
    } else if (!puts && op.request_case() == RequestOp::kRequestRange) {
      const int64_t rev = op.request_range().revision();
      if (rev == 0) continue;
      if (rev > current_rev_) return ErrFutureRev();
      // etcd compares with its first readable revision, -1 before any compaction, so a
      // negative revision other than -1 is "compacted" there too.
      const int64_t first_rev = compacted_rev_ > 0 ? compacted_rev_ : -1;
      if (rev < first_rev) return ErrCompacted();
    }
  }
  return absl::OkStatus();
}

void MvccStore::ApplyTxnOps(RevisionWriter& txn, const TxnRequest& request, const TxnPlan& plan,
                            TxnResponse* response) {
  response->set_succeeded(plan.succeeded);
  ValueReader reader(
      [this](Revision rev, mvccpb::KeyValue* kv) { return ReadForWriter(rev, kv); });
  size_t nested = 0;
  for (const RequestOp& op : plan.succeeded ? request.success() : request.failure()) {
    etcdserverpb::ResponseOp* out = response->add_responses();
    switch (op.request_case()) {
      case RequestOp::kRequestRange: {
        absl::StatusOr<etcdserverpb::RangeResponse> range =
            RangeLocked(op.request_range(), txn.read_rev(), nullptr, reader);
        KEEL_CHECK(range.ok()) << "range in txn failed after its checks: " << range.status();
        *out->mutable_response_range() = std::move(*range);
        break;
      }
      case RequestOp::kRequestPut:
        ApplyPut(txn, op.request_put(), out->mutable_response_put());
        break;
      case RequestOp::kRequestDeleteRange:
        ApplyDelete(txn, op.request_delete_range(), out->mutable_response_delete_range());
        break;
      case RequestOp::kRequestTxn: {
        TxnResponse* inner = out->mutable_response_txn();
        inner->mutable_header();  // etcd sends nested txns an empty header
        ApplyTxnOps(txn, op.request_txn(), plan.nested[nested++], inner);
        break;
      }
      case RequestOp::REQUEST_NOT_SET:
        KEEL_FATAL() << "empty op passed CheckTxnRequest";
    }
  }
}

absl::StatusOr<TxnResult> MvccStore::Txn(const TxnRequest& request, uint64_t applied_index) {
  std::lock_guard w(write_mu_);
  KEEL_RETURN_IF_ERROR(CheckTxnRequest(request, options_.max_txn_ops));
  // Compares, nested ones included, all see the state before the txn (etcd's compareToPath).
  const TxnPlan plan = PlanTxn(request);
  if (!IsTxnReadOnly(request)) {
    KEEL_RETURN_IF_ERROR(CheckTxnAgainstState(request, plan, /*puts=*/true));
  }
  KEEL_RETURN_IF_ERROR(CheckTxnAgainstState(request, plan, /*puts=*/false));
  CheckAppliedIndex(applied_index);

  RevisionWriter txn(current_rev_);
  TxnResult result;
  ApplyTxnOps(txn, request, plan, &result.response);
  result.response.mutable_header()->set_revision(txn.read_rev());
  FinishWrite(txn, applied_index);
  result.events = std::move(txn.events);
  return result;
}

}  // namespace keel::kv
