// Randomized check of the watch guarantees against a real MvccStore: random puts, deletes,
// txns, batches and compactions, with many watchers on random ranges from random start
// revisions on streams read at random moments (so some fall behind and catch up from
// history while the writer keeps going). Each watcher must have been sent exactly the
// history restricted to its range and filters from its start revision — or a prefix of it
// and a cancel at a compaction that erased what it still needed. The seed is printed.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/watch/watch_test_util.h"
#include "watch/hub.h"

namespace keel::watch {
namespace {

using testing::Consumer;
using testing::Describe;
using testing::Signal;
using testing::WatchEnv;

struct Watched {
  size_t stream;
  int64_t id;
  WatchSpec spec;
  int64_t start;          // effective start revision
  bool canceled_by_test = false;
};

class Random {
 public:
  explicit Random(uint64_t seed) : rng_(seed) {}
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(int percent) { return Int(1, 100) <= percent; }
  std::string Key() { return "k" + std::to_string(Int(0, 2)) + std::to_string(Int(0, 5)); }

 private:
  std::mt19937_64 rng_;
};

WatchSpec RandomSpec(Random& r) {
  WatchSpec s;
  switch (r.Int(0, 4)) {
    case 0:  // one key
      s.key = r.Key();
      break;
    case 1:  // a prefix
      s.key = "k" + std::to_string(r.Int(0, 2));
      s.range_end = "k" + std::to_string(r.Int(0, 2) + 1);
      break;
    case 2: {  // [a, b)
      std::string a = r.Key(), b = r.Key();
      if (b < a) std::swap(a, b);
      s.key = a;
      s.range_end = b;
      break;
    }
    case 3:  // from a key
      s.key = r.Key();
      s.range_end = std::string(1, '\0');
      break;
    default:  // everything
      s.range_end = std::string(1, '\0');
  }
  s.no_put = r.Chance(10);
  s.no_delete = !s.no_put && r.Chance(10);
  s.prev_kv = r.Chance(50);
  return s;
}

// What a seed exercised; catch-up timing varies from run to run, so the suite (not each seed)
// must exercise both slow consumers and compaction cancels.
struct SeedStats {
  uint64_t fell_behind = 0;
  uint64_t canceled_by_compaction = 0;
};

void RunSeed(uint64_t seed, SeedStats* stats) {
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (replay: --gtest_filter=WatchRandom.* with this seed in kSeeds)");
  Random r(seed);
  WatchHubOptions options;
  options.max_stream_buffered_bytes = static_cast<size_t>(r.Int(1000, 20000));
  options.catch_up_chunk_events = static_cast<size_t>(r.Int(1, 30));
  options.catch_up_chunk_bytes = static_cast<size_t>(r.Int(1, 4000));
  WatchEnv env(options);
  Signal signal;
  std::vector<std::unique_ptr<Consumer>> streams;
  for (int i = 0; i < 12; ++i) streams.push_back(std::make_unique<Consumer>(&env.hub(), &signal));
  std::vector<Watched> watched;
  std::set<int64_t> compactions;
  std::set<int64_t> revisions_with_deletes;

  auto note_deletes = [&] {
    for (const auto& e : env.published()) {
      if (e.type() == mvccpb::Event::DELETE) revisions_with_deletes.insert(e.kv().mod_revision());
    }
  };
  auto quiesce = [&] {
    return signal.WaitFor([&] {
      for (auto& s : streams) s->Drain();
      return env.hub().UnsyncedCount() == 0;
    });
  };
  for (int step = 0; step < 1500; ++step) {
    // The writer is far faster than catch-up here; now and then let the watchers catch up,
    // so that many of them live through compactions instead of being cancelled by them.
    if (step % 100 == 99 && r.Chance(70)) {
      ASSERT_TRUE(quiesce()) << "no catch-up by step " << step;
    }
    int what = r.Int(0, 99);
    if (what < 30) {
      env.Put(r.Key(), "v" + std::to_string(step));
    } else if (what < 40) {
      if (r.Chance(50)) {
        env.Del(r.Key());
      } else {
        std::string a = r.Key(), b = r.Key();
        if (b < a) std::swap(a, b);
        env.Del(a, b);
      }
    } else if (what < 52) {
      // A txn of distinct single keys, written in random (not key) order.
      etcdserverpb::TxnRequest txn;
      std::set<std::string> used;
      for (int i = r.Int(1, 5); i > 0; --i) {
        std::string k = r.Key();
        if (!used.insert(k).second) continue;
        *txn.add_success() = r.Chance(70) ? testing::PutOp(k, "t" + std::to_string(step))
                                          : testing::DelOp(k);
      }
      env.Txn(txn);
    } else if (what < 57) {
      std::vector<std::function<void(std::vector<mvccpb::Event>*)>> writes;
      for (int i = r.Int(2, 4); i > 0; --i) {
        std::string k = r.Key();
        std::string v = "b" + std::to_string(step);
        writes.push_back([&env, k, v](std::vector<mvccpb::Event>* out) {
          auto res = env.store().Put(testing::PutReq(k, v), env.NextIndex());
          KEEL_CHECK(res.ok());
          for (auto& e : res->events) out->push_back(std::move(e));
        });
      }
      env.Batch(writes);
    } else if (what < 60) {
      // Compact at a revision with no delete: the tombstone at exactly the compaction
      // revision is dropped by kv/ (as by etcd 3.4, #18089); docs/watch.md.
      note_deletes();
      // Usually keeps some history (as auto-compaction does), sometimes none.
      int64_t lo = std::max<int64_t>(env.store().CompactedRevision() + 1, 1);
      int64_t hi = r.Chance(5) ? env.rev() : env.rev() - r.Int(40, 150);
      if (lo <= hi) {
        int64_t c = r.Int(static_cast<int>(std::max(lo, hi - 20)), static_cast<int>(hi));
        if (revisions_with_deletes.count(c) == 0 && env.Compact(c).ok()) compactions.insert(c);
      }
    } else if (what < 80) {
      Watched w;
      w.stream = static_cast<size_t>(r.Int(0, static_cast<int>(streams.size()) - 1));
      w.spec = RandomSpec(r);
      // Mostly starts that history still holds; some that it no longer does.
      int64_t floor = std::max<int64_t>(1, env.rev() - 60);
      if (r.Chance(80)) floor = std::max(floor, env.store().CompactedRevision());
      w.spec.start_revision = r.Chance(25) ? 0 : r.Int(static_cast<int>(floor),
                                                       static_cast<int>(env.rev() + 3));
      w.start = w.spec.start_revision == 0 ? env.rev() + 1 : w.spec.start_revision;
      int64_t chosen = r.Chance(20) ? 1000 + step : 0;
      w.id = env.hub().Watch(streams[w.stream]->stream(), chosen, w.spec);
      ASSERT_GE(w.id, 0);
      watched.push_back(w);
    } else if (what < 97) {
      for (int i = r.Int(1, 6); i > 0; --i) {
        streams[static_cast<size_t>(r.Int(0, static_cast<int>(streams.size()) - 1))]->Drain();
      }
    } else if (!watched.empty()) {
      Watched& w = watched[static_cast<size_t>(r.Int(0, static_cast<int>(watched.size()) - 1))];
      if (!w.canceled_by_test) {
        w.canceled_by_test = true;
        env.hub().Cancel(streams[w.stream]->stream(), w.id);
      }
    }
  }
  ASSERT_TRUE(quiesce()) << "watchers did not catch up";
  for (auto& s : streams) s->Drain();

  int canceled_by_compaction = 0;
  for (const Watched& w : watched) {
    SCOPED_TRACE("watch " + std::to_string(w.id) + " on stream " + std::to_string(w.stream) +
                 " from " + std::to_string(w.start));
    EventFilter filter(w.spec);
    std::vector<mvccpb::Event> want;
    for (const auto& e : env.published()) {
      if (e.kv().mod_revision() >= w.start && filter.Matches(e)) want.push_back(e);
    }
    const Consumer& c = *streams[w.stream];
    std::vector<mvccpb::Event> got = c.EventsOf(w.id);
    // prev_kv: exactly as published when present; absent only where history was compacted.
    for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
      if (!w.spec.prev_kv) {
        ASSERT_FALSE(got[i].has_prev_kv());
      } else if (got[i].has_prev_kv()) {
        ASSERT_EQ(got[i].prev_kv().SerializeAsString(), want[i].prev_kv().SerializeAsString());
      } else if (want[i].has_prev_kv()) {
        ASSERT_LT(got[i].kv().mod_revision() - 1, env.store().CompactedRevision());
      }
      got[i].clear_prev_kv();
      want[i].clear_prev_kv();
    }
    const WatchUpdate* cancel = c.CancelOf(w.id);
    if (cancel != nullptr && cancel->compact_revision > 0) {
      ++canceled_by_compaction;
      ASSERT_TRUE(compactions.count(cancel->compact_revision)) << cancel->compact_revision;
      ASSERT_LE(got.size(), want.size());
      want.resize(got.size());
      ASSERT_EQ(Describe(got), Describe(want));
      for (const auto& e : got) ASSERT_LT(e.kv().mod_revision(), cancel->compact_revision);
    } else if (w.canceled_by_test) {
      ASSERT_NE(cancel, nullptr);
      ASSERT_LE(got.size(), want.size());
      want.resize(got.size());
      ASSERT_EQ(Describe(got), Describe(want));
    } else {
      ASSERT_EQ(cancel, nullptr);
      ASSERT_EQ(Describe(got), Describe(want));
    }
    // Nothing for a watch before its created update or after its cancel.
    bool created = false, ended = false;
    for (const auto& u : c.updates()) {
      if (u.watch_id != w.id) continue;
      ASSERT_FALSE(ended);
      if (u.created) created = true;
      if (u.has_events()) {
        ASSERT_TRUE(created);
      }
      if (u.canceled) ended = true;
    }
  }
  size_t delivered = 0;
  for (const auto& s : streams) {
    for (const auto& u : s->updates()) delivered += u.event_count();
  }
  std::printf("seed %llu: %zu watchers, %zu events delivered, %llu fell behind, %d canceled by "
              "compaction, %zu compactions\n",
              static_cast<unsigned long long>(seed), watched.size(), delivered,
              static_cast<unsigned long long>(env.hub().FellBehindCount()),
              canceled_by_compaction, compactions.size());
  stats->fell_behind += env.hub().FellBehindCount();
  stats->canceled_by_compaction += static_cast<uint64_t>(canceled_by_compaction);
}

constexpr uint64_t kSeeds[] = {1, 2, 3, 4, 5, 42, 2024, 777};

TEST(WatchRandom, EveryWatcherSeesExactlyItsHistory) {
  SeedStats stats;
  for (uint64_t seed : kSeeds) {
    RunSeed(seed, &stats);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(stats.fell_behind, 0u) << "no seed exercised a slow consumer";
  EXPECT_GT(stats.canceled_by_compaction, 0u) << "no seed exercised a compaction cancel";
}

}  // namespace
}  // namespace keel::watch
