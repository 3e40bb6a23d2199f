// Applier: which thread applies a committed group, and that handing groups over on two
// threads never reorders them. A real MemberStorage in a temporary directory.
#include "server/applier.h"

#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/alarms.h"
#include "server/lessor.h"
#include "server/member_storage.h"
#include "server/membership.h"
#include "server/wait_registry.h"
#include "tests/kv/kv_test_util.h"

namespace keel::server {
namespace {

using kv::testing::TempDir;

class ApplierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto storage = MemberStorage::Open(dir_.path(), kv::MvccStoreOptions());
    ASSERT_TRUE(storage.ok()) << storage.status();
    storage_ = std::move(*storage);
    alarms_ = std::make_unique<Alarms>(storage_.get());
    membership_ = std::make_unique<Membership>(storage_.get());
    lessor_ = std::make_unique<Lessor>(Lessor::Options(), &storage_->kv(),
                                       [](serverpb::Request, WaitRegistry::Callback) {});
    waits_ = std::make_unique<WaitRegistry>(1);
  }
  void TearDown() override {
    if (applier_) applier_->Stop();
  }

  void Start(size_t inline_max_entries,
             std::function<void(std::function<void()>)> run_replies = nullptr) {
    Applier::Hooks hooks;
    hooks.run_replies = std::move(run_replies);
    hooks.on_applied = [this](uint64_t index) {
      std::lock_guard<std::mutex> lock(mu_);
      applied_on_.push_back({index, std::this_thread::get_id()});
    };
    applier_ =
        std::make_unique<Applier>(&storage_->kv(), alarms_.get(), membership_.get(), lessor_.get(),
                                  waits_.get(), std::move(hooks), inline_max_entries);
    applier_->Start();
  }

  raft::Entry Entry(const serverpb::Request& req) {
    raft::Entry e;
    e.term = 1;
    e.index = ++index_;
    e.data = raft::Bytes(req.SerializeAsString());
    return e;
  }
  raft::Entry Put(const std::string& key) {
    serverpb::Request req;
    req.mutable_put()->set_key(key);
    req.mutable_put()->set_value("v");
    return Entry(req);
  }
  // A put proposed by this member: its waiter records the outcome in replied_.
  raft::Entry WaitedPut(const std::string& key) {
    serverpb::Request req;
    req.set_id(waits_->NextId());
    req.mutable_put()->set_key(key);
    req.mutable_put()->set_value("v");
    waits_->Register(req.id(), std::chrono::steady_clock::now() + std::chrono::seconds(60),
                     [this, key](ApplyResult r) {
                       std::lock_guard<std::mutex> lock(mu_);
                       replied_.push_back(key + (r.status.ok() ? "" : " failed"));
                     });
    return Entry(req);
  }
  std::vector<std::string> Replied() {
    std::lock_guard<std::mutex> lock(mu_);
    return replied_;
  }
  raft::Entry DeletePrefix(const std::string& prefix) {
    serverpb::Request req;
    req.mutable_delete_range()->set_key(prefix);
    req.mutable_delete_range()->set_range_end(prefix + "\xff");
    return Entry(req);
  }
  raft::Entry SingleKeyTxn(const std::string& key) {
    serverpb::Request req;
    auto* txn = req.mutable_txn();
    auto* cmp = txn->add_compare();
    cmp->set_key(key);
    cmp->set_target(etcdserverpb::Compare::MOD);
    cmp->set_result(etcdserverpb::Compare::EQUAL);
    cmp->set_mod_revision(0);
    txn->add_success()->mutable_request_put()->set_key(key);
    txn->add_failure()->mutable_request_range()->set_key(key);
    return Entry(req);
  }

  // The thread that applied the group ending at `index`; fails the test after 10 s.
  std::thread::id AppliedOn(uint64_t index) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (auto& [i, id] : applied_on_) {
          if (i == index) return id;
        }
      }
      std::this_thread::yield();
    }
    ADD_FAILURE() << "index " << index << " was not applied within 10 s";
    return {};
  }

  TempDir dir_;
  std::unique_ptr<MemberStorage> storage_;
  std::unique_ptr<Alarms> alarms_;
  std::unique_ptr<Membership> membership_;
  std::unique_ptr<Lessor> lessor_;
  std::unique_ptr<WaitRegistry> waits_;
  std::unique_ptr<Applier> applier_;
  uint64_t index_ = 0;
  std::mutex mu_;
  std::vector<std::pair<uint64_t, std::thread::id>> applied_on_;
  std::vector<std::string> replied_;
};

TEST_F(ApplierTest, AFewPutsAreAppliedBeforeEnqueueReturnsOnTheCallersThread) {
  Start(4);
  applier_->Enqueue({Put("a"), Put("b"), SingleKeyTxn("c")});
  EXPECT_EQ(applier_->applied_index(), 3u);
  EXPECT_EQ(AppliedOn(3), std::this_thread::get_id());
  EXPECT_EQ(storage_->kv().CurrentRevision(), 4);  // 1 + three writes
}

TEST_F(ApplierTest, AGroupsRepliesRunAsOneTaskThroughTheHook) {
  std::vector<std::function<void()>> tasks;  // only the test's thread: the group is inline
  Start(4, [&](std::function<void()> task) { tasks.push_back(std::move(task)); });
  applier_->Enqueue({WaitedPut("a"), Put("b"), WaitedPut("c")});
  ASSERT_EQ(applier_->applied_index(), 3u);
  ASSERT_EQ(tasks.size(), 1u) << "one task for the group's two waiters";
  EXPECT_TRUE(Replied().empty()) << "the replies wait for their task";
  EXPECT_EQ(storage_->kv().CurrentRevision(), 4) << "while the writes are already visible";
  tasks[0]();
  EXPECT_EQ(Replied(), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(waits_->Size(), 0u);
}

TEST_F(ApplierTest, ALoneReplyIsWrittenByTheApplyingThread) {
  std::vector<std::function<void()>> tasks;
  Start(4, [&](std::function<void()> task) { tasks.push_back(std::move(task)); });
  applier_->Enqueue({WaitedPut("a"), Put("b")});
  ASSERT_EQ(applier_->applied_index(), 2u);
  EXPECT_TRUE(tasks.empty());
  EXPECT_EQ(Replied(), (std::vector<std::string>{"a"}));
}

TEST_F(ApplierTest, RangesOfKeysGoToTheApplyThread) {
  Start(4);
  applier_->Enqueue({Put("a"), DeletePrefix("a")});
  EXPECT_NE(AppliedOn(2), std::this_thread::get_id());
}

TEST_F(ApplierTest, GroupsLargerThanTheLimitGoToTheApplyThread) {
  Start(2);
  applier_->Enqueue({Put("a"), Put("b"), Put("c")});
  EXPECT_NE(AppliedOn(3), std::this_thread::get_id());
}

TEST_F(ApplierTest, ZeroSendsEverythingToTheApplyThread) {
  Start(0);
  applier_->Enqueue({Put("a")});
  EXPECT_NE(AppliedOn(1), std::this_thread::get_id());
}

TEST_F(ApplierTest, ACheapGroupWaitsBehindWorkAlreadyHandedOver) {
  Start(4);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> task_started;
  applier_->RunInOrder([&] {
    task_started.set_value();
    released.wait();
  });
  task_started.get_future().wait();
  // The apply thread is busy: this group must queue, not overtake the task.
  applier_->Enqueue({Put("a")});
  EXPECT_EQ(applier_->applied_index(), 0u);
  release.set_value();
  EXPECT_NE(AppliedOn(1), std::this_thread::get_id());
  // Idle again: the next cheap group is applied inline, after the queued one.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (applier_->Backlog() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  applier_->Enqueue({Put("b")});
  EXPECT_EQ(applier_->applied_index(), 2u);
}

TEST_F(ApplierTest, InlineAndThreadedGroupsApplyInIndexOrder) {
  Start(4);
  // Alternate groups the apply thread takes (prefix deletes, big groups) with cheap ones
  // the caller may apply itself; every index must be applied once, in order.
  for (int round = 0; round < 200; ++round) {
    if (round % 3 == 0) {
      applier_->Enqueue({Put("k" + std::to_string(round)), DeletePrefix("zz")});
    } else if (round % 3 == 1) {
      std::vector<raft::Entry> big;
      for (int i = 0; i < 6; ++i) big.push_back(Put("b" + std::to_string(i)));
      applier_->Enqueue(std::move(big));
    } else {
      applier_->Enqueue({Put("c"), SingleKeyTxn("d")});
    }
  }
  const uint64_t last = index_;
  AppliedOn(last);
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t prev = 0;
  for (auto& [i, id] : applied_on_) {
    EXPECT_GT(i, prev) << "applied out of order";
    prev = i;
  }
  EXPECT_EQ(prev, last);
  EXPECT_EQ(storage_->kv().AppliedIndex(), last);
}

}  // namespace
}  // namespace keel::server
