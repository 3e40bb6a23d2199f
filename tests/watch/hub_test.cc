// Unit tests of the watch hub: each names the guarantee it checks (ETCD-REFERENCE.md §1.3).
#include "watch/hub.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/watch/watch_test_util.h"

namespace keel::watch {
namespace {

using ::testing::ElementsAre;
using testing::Consumer;
using testing::DelOp;
using testing::PutOp;
using testing::Describe;
using testing::Spec;
using testing::WatchEnv;

etcdserverpb::TxnRequest TxnOf(std::vector<etcdserverpb::RequestOp> ops) {
  etcdserverpb::TxnRequest txn;
  for (auto& op : ops) *txn.add_success() = std::move(op);
  return txn;
}

TEST(WatchHub, CreatedComesFirstAndAutoIdsCountFromZero) {
  WatchEnv env;
  Consumer c(&env.hub());
  EXPECT_EQ(env.hub().Watch(c.stream(), 0, Spec("a")), 0);
  EXPECT_EQ(env.hub().Watch(c.stream(), 0, Spec("a")), 1);
  EXPECT_EQ(env.hub().Watch(c.stream(), 7, Spec("a")), 7);
  c.Drain();
  ASSERT_EQ(c.updates().size(), 3u);
  EXPECT_TRUE(c.updates()[0].created);
  EXPECT_EQ(c.updates()[0].revision, 1);
}

TEST(WatchHub, DuplicateClientIdIsRefusedWithEtcdsReason) {
  WatchEnv env;
  Consumer c(&env.hub());
  ASSERT_EQ(env.hub().Watch(c.stream(), 5, Spec("a")), 5);
  EXPECT_EQ(env.hub().Watch(c.stream(), 5, Spec("b")), -1);
  c.Drain();
  ASSERT_EQ(c.updates().size(), 2u);
  const WatchUpdate& u = c.updates()[1];
  EXPECT_EQ(u.watch_id, -1);
  EXPECT_TRUE(u.created);
  EXPECT_TRUE(u.canceled);
  EXPECT_EQ(u.cancel_reason, "mvcc: duplicate watch ID provided on the WatchStream");
}

TEST(WatchHub, SyncedWatcherGetsItsKeysEventsInOrder) {
  WatchEnv env;
  Consumer c(&env.hub());
  int64_t id = env.hub().Watch(c.stream(), 0, Spec("a"));
  env.Put("a", "1");
  env.Put("b", "x");
  env.Put("a", "2");
  env.Del("a");
  ASSERT_TRUE(c.WaitFor([&] { return c.EventsOf(id).size() == 3; }));
  EXPECT_THAT(Describe(c.EventsOf(id)), ElementsAre("PUT a=1@2", "PUT a=2@4", "DELETE a@5"));
}

TEST(WatchHub, PrefixAndFromKeyRanges) {
  WatchEnv env;
  Consumer c(&env.hub());
  int64_t prefix = env.hub().Watch(c.stream(), 0, Spec("p/", "p0"));
  int64_t from = env.hub().Watch(c.stream(), 0, Spec("m", std::string(1, '\0')));
  int64_t all = env.hub().Watch(c.stream(), 0, Spec("", std::string(1, '\0')));
  env.Put("p/1", "a");
  env.Put("a", "b");
  env.Put("z", "c");
  ASSERT_TRUE(c.WaitFor([&] { return c.EventsOf(all).size() == 3; }));
  EXPECT_THAT(Describe(c.EventsOf(prefix)), ElementsAre("PUT p/1=a@2"));
  EXPECT_THAT(Describe(c.EventsOf(from)), ElementsAre("PUT p/1=a@2", "PUT z=c@4"));
}

TEST(WatchHub, FiltersDropPutsOrDeletes) {
  WatchEnv env;
  Consumer c(&env.hub());
  WatchSpec no_put = Spec("k");
  no_put.no_put = true;
  WatchSpec no_delete = Spec("k");
  no_delete.no_delete = true;
  int64_t a = env.hub().Watch(c.stream(), 0, no_put);
  int64_t b = env.hub().Watch(c.stream(), 0, no_delete);
  env.Put("k", "1");
  env.Del("k");
  ASSERT_TRUE(c.WaitFor([&] { return !c.EventsOf(a).empty() && !c.EventsOf(b).empty(); }));
  EXPECT_THAT(Describe(c.EventsOf(a)), ElementsAre("DELETE k@3"));
  EXPECT_THAT(Describe(c.EventsOf(b)), ElementsAre("PUT k=1@2"));
}

TEST(WatchHub, PrevKvOnlyWhenAskedBothSyncedAndFromHistory) {
  WatchEnv env;
  Consumer c(&env.hub());
  WatchSpec with = Spec("k");
  with.prev_kv = true;
  int64_t synced = env.hub().Watch(c.stream(), 0, with);
  int64_t plain = env.hub().Watch(c.stream(), 0, Spec("k"));
  env.Put("k", "1");
  env.Put("k", "2");
  env.Del("k");
  with.start_revision = 2;
  int64_t past = env.hub().Watch(c.stream(), 0, with);
  ASSERT_TRUE(c.WaitFor([&] { return c.EventsOf(past).size() == 3; }));
  EXPECT_THAT(Describe(c.EventsOf(synced)),
              ElementsAre("PUT k=1@2", "PUT k=2@3 prev=1", "DELETE k@4 prev=2"));
  EXPECT_EQ(Describe(c.EventsOf(past)), Describe(c.EventsOf(synced)));
  EXPECT_THAT(Describe(c.EventsOf(plain)), ElementsAre("PUT k=1@2", "PUT k=2@3", "DELETE k@4"));
}

TEST(WatchHub, CatchUpKeepsTheOrderOfWritesInsideATxn) {
  WatchEnv env;
  env.Put("a", "0");
  env.Txn(TxnOf({PutOp("c", "1"), PutOp("b", "1"), DelOp("a")}));
  Consumer c(&env.hub());
  int64_t id = env.hub().Watch(c.stream(), 0, Spec("a", "z", 1));
  ASSERT_TRUE(c.WaitFor([&] { return c.EventsOf(id).size() == 4; }));
  EXPECT_THAT(Describe(c.EventsOf(id)),
              ElementsAre("PUT a=0@2", "PUT c=1@3", "PUT b=1@3", "DELETE a@3"));
}

TEST(WatchHub, CatchUpChunksNeverSplitARevision) {
  WatchHubOptions options;
  options.catch_up_chunk_events = 2;
  WatchEnv env(options);
  for (int i = 0; i < 5; ++i) {
    env.Txn(TxnOf({PutOp("a" + std::to_string(i), "x"), PutOp("b" + std::to_string(i), "x"),
                   PutOp("c" + std::to_string(i), "x")}));
  }
  Consumer c(&env.hub());
  int64_t id = env.hub().Watch(c.stream(), 0, Spec("", std::string(1, '\0'), 2));
  ASSERT_TRUE(c.WaitFor([&] { return c.EventsOf(id).size() == 15; }));
  int64_t last_rev_of_previous_update = 0;
  for (const auto& u : c.updates()) {
    if (!u.has_events()) continue;
    EXPECT_GT(u.Events().front().kv().mod_revision(), last_rev_of_previous_update);
    last_rev_of_previous_update = u.Events().back().kv().mod_revision();
    EXPECT_EQ(u.revision, last_rev_of_previous_update);
  }
}

TEST(WatchHub, CompactedStartIsCanceledWithTheCompactRevision) {
  WatchEnv env;
  for (int i = 0; i < 5; ++i) env.Put("k", std::to_string(i));  // revisions 2..6
  ASSERT_TRUE(env.Compact(4).ok());
  Consumer c(&env.hub());
  int64_t early = env.hub().Watch(c.stream(), 0, Spec("k", "", 3));
  int64_t at = env.hub().Watch(c.stream(), 0, Spec("k", "", 4));  // == compacted: readable
  ASSERT_TRUE(c.WaitFor([&] { return c.CancelOf(early) && c.EventsOf(at).size() == 3; }));
  EXPECT_EQ(c.CancelOf(early)->compact_revision, 4);
  EXPECT_TRUE(c.EventsOf(early).empty());
  EXPECT_THAT(Describe(c.EventsOf(at)), ElementsAre("PUT k=2@4", "PUT k=3@5", "PUT k=4@6"));
  EXPECT_EQ(c.CancelOf(at), nullptr);
}

TEST(WatchHub, FutureStartRevisionWaitsForIt) {
  WatchEnv env;
  Consumer c(&env.hub());
  int64_t id = env.hub().Watch(c.stream(), 0, Spec("k", "", 4));
  for (int i = 0; i < 4; ++i) env.Put("k", std::to_string(i));  // revisions 2..5
  ASSERT_TRUE(c.WaitFor([&] { return c.EventsOf(id).size() == 2; }));
  EXPECT_THAT(Describe(c.EventsOf(id)), ElementsAre("PUT k=2@4", "PUT k=3@5"));
}

TEST(WatchHub, CancelQueuesCanceledAndStopsEvents) {
  WatchEnv env;
  Consumer c(&env.hub());
  int64_t id = env.hub().Watch(c.stream(), 0, Spec("k"));
  env.Put("k", "1");
  EXPECT_TRUE(env.hub().Cancel(c.stream(), id));
  EXPECT_FALSE(env.hub().Cancel(c.stream(), id));
  env.Put("k", "2");
  c.Drain();
  ASSERT_NE(c.CancelOf(id), nullptr);
  EXPECT_THAT(Describe(c.EventsOf(id)), ElementsAre("PUT k=1@2"));
  EXPECT_TRUE(c.updates().back().canceled);
}

TEST(WatchHub, SlowConsumerFallsBackToHistoryAndLosesNothing) {
  WatchHubOptions options;
  options.max_stream_buffered_bytes = 2000;
  options.catch_up_chunk_events = 7;
  WatchEnv env(options);
  Consumer slow(&env.hub());
  Consumer fast(&env.hub());
  WatchSpec spec = Spec("k", "l");
  spec.prev_kv = true;
  int64_t s = env.hub().Watch(slow.stream(), 0, spec);
  int64_t f = env.hub().Watch(fast.stream(), 0, spec);
  for (int i = 0; i < 300; ++i) {
    env.Put("k" + std::to_string(i % 7), std::string(40, 'a' + i % 26));
    if (i % 50 == 0) env.Del("k0");
    fast.Drain();  // the fast stream keeps up; the slow one never reads meanwhile
  }
  EXPECT_GT(env.hub().FellBehindCount(), 0u);
  std::vector<mvccpb::Event> want;
  for (const auto& e : env.published()) {
    if (e.kv().key() >= "k" && e.kv().key() < "l") want.push_back(e);
  }
  ASSERT_TRUE(slow.WaitFor([&] { return slow.EventsOf(s).size() >= want.size(); }));
  ASSERT_TRUE(fast.WaitFor([&] { return fast.EventsOf(f).size() >= want.size(); }));
  EXPECT_EQ(Describe(slow.EventsOf(s)), Describe(want));
  EXPECT_EQ(Describe(fast.EventsOf(f)), Describe(want));
}

TEST(WatchHub, ProgressWaitsUntilTheStreamIsSyncedAndFollowsItsEvents) {
  WatchHubOptions options;
  options.max_stream_buffered_bytes = 1000;
  WatchEnv env(options);
  for (int i = 0; i < 100; ++i) env.Put("k", std::string(50, 'x'));
  Consumer c(&env.hub());
  int64_t id = env.hub().Watch(c.stream(), 0, Spec("k", "", 1));
  env.hub().RequestProgress(c.stream());
  ASSERT_TRUE(c.WaitFor([&] {
    return !c.updates().empty() && c.updates().back().watch_id == -1;
  }));
  EXPECT_EQ(c.EventsOf(id).size(), 100u);  // every event before the progress update
  EXPECT_EQ(c.updates().back().revision, env.rev());
  EXPECT_TRUE(!c.updates().back().has_events());
}

TEST(WatchHub, ProgressIsImmediateWhenSynced) {
  WatchEnv env;
  env.Put("k", "1");
  Consumer c(&env.hub());
  env.hub().Watch(c.stream(), 0, Spec("k"));
  env.hub().RequestProgress(c.stream());
  c.Drain();
  ASSERT_EQ(c.updates().size(), 2u);
  EXPECT_EQ(c.updates()[1].watch_id, -1);
  EXPECT_EQ(c.updates()[1].revision, 2);
}

TEST(WatchHub, ProgressNotifyOnlyForQuietSyncedWatchersThatAskedForIt) {
  WatchEnv env;
  Consumer c(&env.hub());
  WatchSpec notify = Spec("a");
  notify.progress_notify = true;
  int64_t busy = env.hub().Watch(c.stream(), 0, notify);
  notify.key = "b";
  int64_t quiet = env.hub().Watch(c.stream(), 0, notify);
  int64_t plain = env.hub().Watch(c.stream(), 0, Spec("b"));
  env.Put("a", "1");
  c.Drain();
  size_t before = c.updates().size();
  env.hub().NotifyProgress();
  c.Drain();
  // Only the quiet watcher that asked: the busy one had an event since the last round.
  ASSERT_EQ(c.updates().size(), before + 1);
  const WatchUpdate& u = c.updates().back();
  EXPECT_EQ(u.watch_id, quiet);
  EXPECT_TRUE(!u.has_events());
  EXPECT_FALSE(u.created || u.canceled);
  EXPECT_EQ(u.revision, 2);
  env.hub().NotifyProgress();  // now both are quiet
  c.Drain();
  ASSERT_EQ(c.updates().size(), before + 3);
  EXPECT_EQ(c.updates()[before + 1].watch_id, busy);
  EXPECT_EQ(c.updates()[before + 2].watch_id, quiet);
  for (const auto& up : c.updates()) {
    if (up.watch_id == plain) {
      EXPECT_TRUE(up.created);  // never a progress update
    }
  }
}

// Fan-out: identical watches are matched once and share one copy of the events.
TEST(WatchHub, IdenticalWatchesShareOneEventBatch) {
  WatchEnv env;
  Consumer c1(&env.hub());
  Consumer c2(&env.hub());
  int64_t a = env.hub().Watch(c1.stream(), 0, Spec("p/", "p0"));
  int64_t b = env.hub().Watch(c2.stream(), 0, Spec("p/", "p0"));
  env.Put("p/1", "x");
  c1.Drain();
  c2.Drain();
  const WatchUpdate& ua = c1.updates().back();
  const WatchUpdate& ub = c2.updates().back();
  ASSERT_EQ(ua.watch_id, a);
  ASSERT_EQ(ub.watch_id, b);
  ASSERT_EQ(ua.batches.size(), 1u);
  ASSERT_EQ(ub.batches.size(), 1u);
  EXPECT_EQ(ua.batches[0].get(), ub.batches[0].get());
  EXPECT_THAT(Describe(ua.Events()), ElementsAre("PUT p/1=x@2"));
}

// The key index: a publish reaches the single-key watches of its keys and no others, and a
// group disappears with its last watcher (a later watch on the key starts afresh).
TEST(WatchHub, SingleKeyIndexRoutesOnlyToTheKeysWatchers) {
  WatchEnv env;
  Consumer c(&env.hub());
  std::vector<int64_t> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(env.hub().Watch(c.stream(), 0, Spec("k" + std::to_string(i))));
  int64_t dup = env.hub().Watch(c.stream(), 0, Spec("k7"));
  env.Put("k7", "x");
  env.Put("k42", "y");
  c.Drain();
  for (int i = 0; i < 50; ++i) {
    size_t want = (i == 7 || i == 42) ? 1 : 0;
    EXPECT_EQ(c.EventsOf(ids[i]).size(), want) << "k" << i;
  }
  EXPECT_EQ(c.EventsOf(dup).size(), 1u);
  ASSERT_TRUE(env.hub().Cancel(c.stream(), ids[7]));
  ASSERT_TRUE(env.hub().Cancel(c.stream(), dup));
  int64_t again = env.hub().Watch(c.stream(), 0, Spec("k7"));
  env.Put("k7", "z");
  c.Drain();
  EXPECT_EQ(c.EventsOf(ids[7]).size(), 1u);
  EXPECT_THAT(Describe(c.EventsOf(again)), ElementsAre("PUT k7=z@4"));
}

// Coalescing: a stream that is not drained gets one growing update per watcher, not one per
// revision; a control update (here a progress answer) closes the updates queued before it.
TEST(WatchHub, UndrainedStreamMergesAWatchersUpdatesUntilAControlUpdate) {
  WatchEnv env;
  Consumer c(&env.hub());
  int64_t a = env.hub().Watch(c.stream(), 0, Spec("a"));
  int64_t all = env.hub().Watch(c.stream(), 0, Spec("", std::string(1, '\0')));
  env.Put("a", "1");
  env.Put("b", "2");
  env.Put("a", "3");
  env.hub().RequestProgress(c.stream());
  env.Put("a", "4");
  c.Drain();
  std::vector<std::string> shape;
  for (const auto& u : c.updates()) {
    if (u.created) continue;
    shape.push_back(std::to_string(u.watch_id) + ":" + std::to_string(u.event_count()) + "@" +
                    std::to_string(u.revision));
  }
  // created a, created all, [a: 2 events @4], [all: 3 events @4], progress, [a @5], [all @5]
  EXPECT_THAT(shape, ElementsAre(std::to_string(a) + ":2@4", std::to_string(all) + ":3@4",
                                 "-1:0@4", std::to_string(a) + ":1@5",
                                 std::to_string(all) + ":1@5"));
  EXPECT_THAT(Describe(c.EventsOf(a)), ElementsAre("PUT a=1@2", "PUT a=3@4", "PUT a=4@5"));
}

// Coalescing stops at max_merged_update_bytes: no message grows without bound.
TEST(WatchHub, MergingStopsAtTheMergeLimit) {
  WatchHubOptions options;
  options.max_merged_update_bytes = 200;
  WatchEnv env(options);
  Consumer c(&env.hub());
  int64_t a = env.hub().Watch(c.stream(), 0, Spec("a"));
  for (int i = 0; i < 20; ++i) env.Put("a", std::string(50, 'v'));
  c.Drain();
  size_t updates = 0;
  for (const auto& u : c.updates()) {
    if (u.watch_id != a || u.created) continue;
    ++updates;
    EXPECT_LE(u.event_bytes(), 200u + 80u);  // the limit plus at most one event past it
  }
  EXPECT_GT(updates, 1u);
  EXPECT_EQ(c.EventsOf(a).size(), 20u);
}

}  // namespace
}  // namespace keel::watch
