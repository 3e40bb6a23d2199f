// Randomized differential test: thousands of random requests (puts, deletes, ranges at any
// revision, txns, compactions, restarts, batches) against MvccStore and against a naive
// in-memory model of etcd's semantics that keeps a full copy of the key space per revision.
// Every answer (status or full response and events) must be equal. Seeds are fixed; a
// failure names the seed and the step.
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/etcd_errors.h"
#include "google/protobuf/util/message_differencer.h"
#include "kv/key_range.h"
#include "kv_test_util.h"

namespace keel::kv::testing {
namespace {

using etcdserverpb::Compare;
using etcdserverpb::RangeRequest;
using etcdserverpb::RangeResponse;
using etcdserverpb::RequestOp;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;
using google::protobuf::util::MessageDifferencer;

using State = std::map<std::string, mvccpb::KeyValue>;

// The reference: states[r] is the whole key space at revision r.
class Model {
 public:
  Model() : states_(2) {}  // revision 0 unused, revision 1 empty

  int64_t rev() const { return static_cast<int64_t>(states_.size()) - 1; }
  int64_t compacted = -1;  // etcd: -1 until the first compaction

  absl::StatusOr<RangeResponse> Range(const RangeRequest& r) const {
    if (r.key().empty()) return ErrEmptyKey();
    int64_t at = r.revision();
    if (at > rev()) return ErrFutureRev();
    if (at <= 0) at = rev();
    if (at < compacted) return ErrCompacted();
    return RangeIn(states_[at], r, rev());
  }

  // etcd's range over one state, written plainly: collect, filter, sort, cut.
  static RangeResponse RangeIn(const State& s, const RangeRequest& r, int64_t header_rev) {
    RangeResponse out;
    out.mutable_header()->set_revision(header_rev);
    KeyRange range = KeyRange::FromRequest(r.key(), r.range_end());
    std::vector<mvccpb::KeyValue> kvs;
    for (const auto& [k, kv] : s) {
      if (range.Contains(k)) kvs.push_back(kv);
    }
    out.set_count(static_cast<int64_t>(kvs.size()));
    if (r.count_only()) return out;
    const bool all = r.sort_order() != RangeRequest::NONE || r.min_mod_revision() ||
                     r.max_mod_revision() || r.min_create_revision() || r.max_create_revision();
    if (!all && r.limit() > 0 && static_cast<int64_t>(kvs.size()) > r.limit() + 1) {
      kvs.resize(r.limit() + 1);
    }
    std::vector<mvccpb::KeyValue> kept;
    for (auto& kv : kvs) {
      if (r.max_mod_revision() && kv.mod_revision() > r.max_mod_revision()) continue;
      if (r.min_mod_revision() && kv.mod_revision() < r.min_mod_revision()) continue;
      if (r.max_create_revision() && kv.create_revision() > r.max_create_revision()) continue;
      if (r.min_create_revision() && kv.create_revision() < r.min_create_revision()) continue;
      kept.push_back(kv);
    }
    auto order = r.sort_order();
    if (r.sort_target() != RangeRequest::KEY && order == RangeRequest::NONE) {
      order = RangeRequest::ASCEND;
    }
    auto field = [&](const mvccpb::KeyValue& kv) -> std::pair<int64_t, std::string> {
      switch (r.sort_target()) {
        case RangeRequest::VERSION: return {kv.version(), ""};
        case RangeRequest::CREATE: return {kv.create_revision(), ""};
        case RangeRequest::MOD: return {kv.mod_revision(), ""};
        case RangeRequest::VALUE: return {0, kv.value()};
        default: return {0, kv.key()};
      }
    };
    if (order != RangeRequest::NONE) {
      std::stable_sort(kept.begin(), kept.end(), [&](const auto& a, const auto& b) {
        return order == RangeRequest::ASCEND ? field(a) < field(b) : field(b) < field(a);
      });
    }
    if (r.limit() > 0 && static_cast<int64_t>(kept.size()) > r.limit()) {
      kept.resize(r.limit());
      out.set_more(true);
    }
    for (auto& kv : kept) {
      if (r.keys_only()) kv.clear_value();
      *out.add_kvs() = kv;
    }
    return out;
  }

  // Working state of one write request.
  struct Work {
    State state;
    int64_t rev;
    bool changed = false;
    std::vector<mvccpb::Event> events;
  };

  Work Begin() const { return Work{states_.back(), rev() + 1}; }
  void End(Work& w) {
    if (w.changed) states_.push_back(w.state);
  }

  static void DoPut(Work& w, const etcdserverpb::PutRequest& p, etcdserverpb::PutResponse* resp) {
    auto it = w.state.find(p.key());
    std::optional<mvccpb::KeyValue> prev;
    if (it != w.state.end()) prev = it->second;
    mvccpb::KeyValue kv;
    kv.set_key(p.key());
    kv.set_create_revision(prev ? prev->create_revision() : w.rev);
    kv.set_mod_revision(w.rev);
    kv.set_version(prev ? prev->version() + 1 : 1);
    kv.set_value(p.ignore_value() ? prev->value() : p.value());
    kv.set_lease(p.ignore_lease() ? prev->lease() : p.lease());
    w.state[p.key()] = kv;
    w.changed = true;
    resp->mutable_header()->set_revision(w.rev);
    if (p.prev_kv() && prev) *resp->mutable_prev_kv() = *prev;
    mvccpb::Event e;
    e.set_type(mvccpb::Event::PUT);
    *e.mutable_kv() = kv;
    if (prev) *e.mutable_prev_kv() = *prev;
    w.events.push_back(e);
  }

  static void DoDelete(Work& w, const etcdserverpb::DeleteRangeRequest& d,
                       etcdserverpb::DeleteRangeResponse* resp) {
    KeyRange range = KeyRange::FromRequest(d.key(), d.range_end());
    std::vector<std::string> gone;
    for (const auto& [k, kv] : w.state) {
      if (range.Contains(k)) gone.push_back(k);
    }
    for (const auto& k : gone) {
      mvccpb::Event e;
      e.set_type(mvccpb::Event::DELETE);
      e.mutable_kv()->set_key(k);
      e.mutable_kv()->set_mod_revision(w.rev);
      *e.mutable_prev_kv() = w.state[k];
      if (d.prev_kv()) *resp->add_prev_kvs() = w.state[k];
      w.state.erase(k);
      w.events.push_back(e);
      w.changed = true;
    }
    resp->set_deleted(static_cast<int64_t>(gone.size()));
    resp->mutable_header()->set_revision(w.changed ? w.rev : w.rev - 1);
  }

  bool CompareHolds(const State& s, const Compare& c) const {
    KeyRange range = KeyRange::FromRequest(c.key(), c.range_end());
    std::vector<mvccpb::KeyValue> kvs;
    for (const auto& [k, kv] : s) {
      if (range.Contains(k)) kvs.push_back(kv);
    }
    auto one = [&](const mvccpb::KeyValue& kv) {
      int r = 0;
      auto cmp = [](int64_t a, int64_t b) { return a < b ? -1 : a > b ? 1 : 0; };
      switch (c.target()) {
        case Compare::VERSION: r = cmp(kv.version(), c.version()); break;
        case Compare::CREATE: r = cmp(kv.create_revision(), c.create_revision()); break;
        case Compare::MOD: r = cmp(kv.mod_revision(), c.mod_revision()); break;
        case Compare::LEASE: r = cmp(kv.lease(), c.lease()); break;
        case Compare::VALUE: {
          int x = kv.value().compare(c.value());
          r = x < 0 ? -1 : x > 0;
          break;
        }
        default: break;
      }
      switch (c.result()) {
        case Compare::EQUAL: return r == 0;
        case Compare::NOT_EQUAL: return r != 0;
        case Compare::GREATER: return r > 0;
        default: return r < 0;
      }
    };
    if (kvs.empty()) return c.target() != Compare::VALUE && one(mvccpb::KeyValue());
    for (const auto& kv : kvs) {
      if (!one(kv)) return false;
    }
    return true;
  }

  // Runs a txn the generator built to be valid; `before` is the state compares see.
  void DoTxn(Work& w, const State& before, const TxnRequest& t, TxnResponse* resp) const {
    bool ok = true;
    for (const auto& c : t.compare()) ok = ok && CompareHolds(before, c);
    resp->set_succeeded(ok);
    for (const auto& op : ok ? t.success() : t.failure()) {
      auto* out = resp->add_responses();
      switch (op.request_case()) {
        case RequestOp::kRequestPut:
          DoPut(w, op.request_put(), out->mutable_response_put());
          break;
        case RequestOp::kRequestDeleteRange:
          DoDelete(w, op.request_delete_range(), out->mutable_response_delete_range());
          break;
        case RequestOp::kRequestRange: {
          const auto& r = op.request_range();
          int64_t read_rev = w.changed ? w.rev : w.rev - 1;
          int64_t at = r.revision() <= 0 ? read_rev : r.revision();
          const State& s = at == read_rev ? w.state : states_[at];
          *out->mutable_response_range() = RangeIn(s, r, read_rev);
          break;
        }
        case RequestOp::kRequestTxn:
          out->mutable_response_txn()->mutable_header();
          DoTxn(w, before, op.request_txn(), out->mutable_response_txn());
          break;
        default:
          break;
      }
    }
  }

  const State& Latest() const { return states_.back(); }

 private:
  std::vector<State> states_;
};

class ModelTest : public StoreFixture, public ::testing::WithParamInterface<uint32_t> {
 protected:
  std::string Key() {
    static const std::vector<std::string> keys = {
        "a", "b", "c", "ca", "cb", "d", std::string("a\0", 2), "\xff", "\xff\xff", "z",
        std::string("\0x", 2), "\x80"};
    return keys[rng_() % keys.size()];
  }
  std::string Value() { return std::string(rng_() % 4, static_cast<char>('a' + rng_() % 3)); }
  int64_t Lease() { return rng_() % 5 == 0 ? static_cast<int64_t>(rng_() % 3) : 0; }
  bool Coin(int one_in) { return rng_() % one_in == 0; }

  void RangeEnd(std::string* key, std::string* end) {
    switch (rng_() % 5) {
      case 0: case 1: end->clear(); break;
      case 2: *end = PrefixRangeEnd(*key); break;
      case 3: *end = std::string(1, '\0'); if (Coin(3)) *key = std::string(1, '\0'); break;
      default: *end = Key(); break;
    }
  }

  RangeRequest RandomRange(int64_t max_rev) {
    RangeRequest r;
    std::string key = Key(), end;
    RangeEnd(&key, &end);
    r.set_key(key);
    r.set_range_end(end);
    if (Coin(3)) r.set_revision(static_cast<int64_t>(rng_() % (max_rev + 2)));
    if (Coin(3)) r.set_limit(static_cast<int64_t>(rng_() % 4));
    if (Coin(4)) r.set_sort_order(static_cast<RangeRequest::SortOrder>(rng_() % 3));
    if (Coin(4)) r.set_sort_target(static_cast<RangeRequest::SortTarget>(rng_() % 5));
    if (Coin(8)) r.set_count_only(true);
    if (Coin(8)) r.set_keys_only(true);
    if (Coin(8)) r.set_min_mod_revision(static_cast<int64_t>(rng_() % (max_rev + 1)));
    if (Coin(8)) r.set_max_create_revision(static_cast<int64_t>(rng_() % (max_rev + 1)));
    return r;
  }

  etcdserverpb::PutRequest RandomPut() {
    auto p = PutReq(Key(), Value(), Lease());
    p.set_prev_kv(Coin(3));
    return p;
  }

  // Txn whose ops touch distinct keys (so it is valid) with a few random compares.
  TxnRequest RandomTxn(int depth, std::set<std::string>* used) {
    TxnRequest t;
    for (int i = rng_() % 3; i > 0; --i) {
      Compare* c = t.add_compare();
      std::string key = Key(), end;
      if (Coin(3)) RangeEnd(&key, &end);
      c->set_key(key);
      c->set_range_end(end);
      c->set_result(static_cast<Compare::CompareResult>(rng_() % 4));
      c->set_target(static_cast<Compare::CompareTarget>(rng_() % 5));
      switch (c->target()) {
        case Compare::VALUE: c->set_value(Value()); break;
        case Compare::VERSION: c->set_version(rng_() % 3); break;
        case Compare::CREATE: c->set_create_revision(rng_() % 20); break;
        case Compare::MOD: c->set_mod_revision(rng_() % 20); break;
        default: c->set_lease(rng_() % 3); break;
      }
    }
    for (auto* branch : {t.mutable_success(), t.mutable_failure()}) {
      for (int i = rng_() % 4; i > 0; --i) {
        std::string key = Key();
        switch (rng_() % 4) {
          case 0:
            *branch->Add() = RangeOp(key, Coin(2) ? "" : PrefixRangeEnd(key));
            break;
          case 1:
            if (used->insert(key).second) {
              auto op = PutOp(key, Value());
              op.mutable_request_put()->set_prev_kv(Coin(2));
              *branch->Add() = op;
            }
            break;
          case 2:
            if (used->insert(key).second) *branch->Add() = DelOp(key);
            break;
          default:
            if (depth < 2) *branch->Add() = TxnOp(RandomTxn(depth + 1, used));
            break;
        }
      }
    }
    return t;
  }

  template <typename Msg>
  void ExpectSame(const absl::StatusOr<Msg>& got, const absl::StatusOr<Msg>& want,
                  const std::string& what) {
    ASSERT_EQ(got.status(), want.status()) << what;
    if (!got.ok()) return;
    std::string diff;
    MessageDifferencer d;
    d.ReportDifferencesToString(&diff);
    ASSERT_TRUE(d.Compare(*got, *want)) << what << "\n" << diff;
  }

  void ExpectEvents(const std::vector<mvccpb::Event>& got, const std::vector<mvccpb::Event>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_TRUE(MessageDifferencer::Equals(got[i], want[i]))
          << got[i].DebugString() << " vs " << want[i].DebugString();
    }
  }

  std::mt19937 rng_;
  Model model_;
};

TEST_P(ModelTest, RandomOperationsMatchTheModel) {
  const uint32_t seed = GetParam();
  rng_.seed(seed);
  UseLeases({1, 2});
  // Seeds rotate between reading every value from RocksDB, a cache too small for more than
  // a few keys (so cached and uncached keys mix and change places), and a roomy cache.
  constexpr size_t kCacheBudgets[] = {0, 400, kv::kDefaultValueCacheBytes};
  value_cache_bytes_ = kCacheBudgets[seed % 3];
  Reopen();
  constexpr int kSteps = 3000;
  bool batching = false;
  for (int step = 0; step < kSteps; ++step) {
    SCOPED_TRACE("seed " + std::to_string(seed) + " step " + std::to_string(step) +
                 " (rerun: --gtest_filter='*ModelTest*/*')");
    const int dice = static_cast<int>(rng_() % 100);
    if (dice < 30) {
      auto p = RandomPut();
      absl::StatusOr<etcdserverpb::PutResponse> want;
      Model::Work w = model_.Begin();
      if (p.lease() != 0 && p.lease() != 1 && p.lease() != 2) {
        want = ErrLeaseNotFound();
      } else {
        etcdserverpb::PutResponse resp;
        Model::DoPut(w, p, &resp);
        want = resp;
      }
      auto got = Put(p);
      ExpectSame(got.ok() ? absl::StatusOr<etcdserverpb::PutResponse>(got->response)
                          : absl::StatusOr<etcdserverpb::PutResponse>(got.status()),
                 want, "put " + p.ShortDebugString());
      if (got.ok()) {
        ExpectEvents(got->events, w.events);
        model_.End(w);
      }
    } else if (dice < 40) {
      auto d = DelReq(Key());
      std::string key = d.key(), end;
      RangeEnd(&key, &end);
      d.set_key(key);
      d.set_range_end(end);
      d.set_prev_kv(Coin(2));
      Model::Work w = model_.Begin();
      etcdserverpb::DeleteRangeResponse want;
      Model::DoDelete(w, d, &want);
      auto got = Del(d);
      ASSERT_TRUE(got.ok()) << got.status();
      ExpectSame<etcdserverpb::DeleteRangeResponse>(got->response, want,
                                                    "delete " + d.ShortDebugString());
      ExpectEvents(got->events, w.events);
      model_.End(w);
    } else if (dice < 70) {
      if (batching) continue;  // readers do not see an open batch; the model does
      auto r = RandomRange(model_.rev());
      ExpectSame(store_->Range(r), model_.Range(r), "range " + r.ShortDebugString());
    } else if (dice < 90) {
      std::set<std::string> used;
      TxnRequest t = RandomTxn(0, &used);
      Model::Work w = model_.Begin();
      TxnResponse want;
      model_.DoTxn(w, model_.Latest(), t, &want);
      want.mutable_header()->set_revision(w.changed ? w.rev : w.rev - 1);
      auto got = Txn(t);
      ASSERT_TRUE(got.ok()) << got.status() << " " << t.ShortDebugString();
      ExpectSame<TxnResponse>(got->response, want, "txn " + t.ShortDebugString());
      ExpectEvents(got->events, w.events);
      model_.End(w);
    } else if (dice < 93) {
      const int64_t span = model_.rev() - model_.compacted + 1;
      const int64_t target = model_.compacted + static_cast<int64_t>(rng_() % (span + 1));
      absl::StatusOr<etcdserverpb::CompactionResponse> want;
      if (target <= model_.compacted) {
        want = ErrCompacted();
      } else if (target > model_.rev()) {
        want = ErrFutureRev();
      } else {
        etcdserverpb::CompactionResponse resp;
        resp.mutable_header()->set_revision(model_.rev());
        want = resp;
        model_.compacted = target;
      }
      if (batching) {
        ASSERT_TRUE(store_->CommitBatch().ok());
        batching = false;
      }
      ExpectSame(Compact(target), want, "compact " + std::to_string(target));
    } else if (dice < 95) {
      if (batching) {
        ASSERT_TRUE(store_->CommitBatch().ok());
      }
      batching = false;
      Reopen();
    } else if (dice < 98) {
      if (batching) {
        ASSERT_TRUE(store_->CommitBatch().ok());
      } else {
        store_->BeginBatch();
      }
      batching = !batching;
    } else {
      if (batching) continue;
      // HashKV is stable across a restart.
      auto before = store_->HashKV(0);
      ASSERT_TRUE(before.ok());
      Reopen();
      auto after = store_->HashKV(0);
      ASSERT_TRUE(after.ok());
      EXPECT_EQ(before->hash, after->hash);
    }
    if (HasFatalFailure()) return;
    if (!batching) {
      ASSERT_EQ(store_->CurrentRevision(), model_.rev());
    }
    if (step % 100 == 0) store_->CheckInvariants();
  }
  if (batching) {
    ASSERT_TRUE(store_->CommitBatch().ok());
  }
  store_->CheckInvariants();
  EXPECT_GT(model_.rev(), kSteps / 5) << "too few writes for the test to mean much";
  // Finally every revision from the compaction point on reads back as the model says.
  for (int64_t rev = std::max<int64_t>(model_.compacted, 1); rev <= model_.rev(); ++rev) {
    auto r = RangeReq(std::string(1, '\0'), std::string(1, '\0'), rev);
    ExpectSame(store_->Range(r), model_.Range(r), "final range at " + std::to_string(rev));
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, ModelTest, ::testing::Values(1u, 2u, 3u, 42u, 2024u));

}  // namespace
}  // namespace keel::kv::testing
