// Lessor on a fake clock, driven by hand (Step(), never Start()): what it proposes and when,
// against a real MvccStore whose lease table the test changes as the applier would.
#include "server/lessor.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kv/store.h"
#include "tests/kv/kv_test_util.h"

namespace keel::server {
namespace {

using Clock = Lessor::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

using kv::testing::TempDir;

class LessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = kv::MvccStore::Open(dir_.path(), kv::MvccStoreOptions());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    Lessor::Options options;
    options.election_timeout = seconds(1);
    options.checkpoint_interval = seconds(0);
    options.now = [this] { return now_; };
    lessor_ = std::make_unique<Lessor>(options, store_.get(),
                                       [this](serverpb::Request r, WaitRegistry::Callback done) {
                                         proposed_.push_back(std::move(r));
                                         callbacks_.push_back(std::move(done));
                                       });
  }

  void Grant(int64_t id, int64_t ttl) {
    ASSERT_TRUE(store_->GrantLease(id, ttl, ++index_).ok());
    lessor_->OnGranted(id, ttl);
  }
  // Applies proposal `i` the way the applier does, then completes it.
  void Apply(size_t i, uint64_t entry_term) {
    const serverpb::Request& r = proposed_[i];
    ApplyResult result{absl::OkStatus(), nullptr};
    if (r.has_lease_expiry() && r.lease_expiry().leader_term() == entry_term) {
      std::vector<kv::LeaseRevocation> leases;
      for (const auto& l : r.lease_expiry().leases()) leases.push_back({l.id(), l.renewed_index()});
      lessor_->OnRevoked(store_->RevokeLeases(leases, ++index_).revoked);
    } else if (r.has_lease_renewal()) {
      std::vector<int64_t> ids(r.lease_renewal().ids().begin(), r.lease_renewal().ids().end());
      std::vector<int64_t> ttls = store_->RenewLeases(ids, ++index_);
      lessor_->OnRenewed(ids, ttls);
      auto resp = std::make_shared<serverpb::LeaseRenewalResponse>();
      resp->mutable_ttls()->Add(ttls.begin(), ttls.end());
      result.response = resp;
    }
    callbacks_[i](std::move(result));
  }
  std::vector<int64_t> ExpiredIds(size_t i) {
    std::vector<int64_t> ids;
    for (const auto& l : proposed_[i].lease_expiry().leases()) ids.push_back(l.id());
    return ids;
  }

  TempDir dir_;
  std::unique_ptr<kv::MvccStore> store_;
  std::unique_ptr<Lessor> lessor_;
  Clock::time_point now_ = Clock::time_point() + std::chrono::hours(1);
  uint64_t index_ = 0;
  std::vector<serverpb::Request> proposed_;
  std::vector<WaitRegistry::Callback> callbacks_;
};

TEST_F(LessorTest, OnlyALeaderProposesExpiryAndNotBeforeTheDeadline) {
  Grant(1, 5);
  now_ += milliseconds(5500);
  lessor_->Step();
  EXPECT_TRUE(proposed_.empty()) << "a follower revoked a lease";
  lessor_->OnLeaderChanged(3);
  lessor_->Step();
  EXPECT_TRUE(proposed_.empty()) << "promotion adds one election timeout: due at 6 s";
  now_ += milliseconds(499);
  lessor_->Step();
  EXPECT_TRUE(proposed_.empty());
  now_ += milliseconds(1);
  lessor_->Step();
  ASSERT_EQ(proposed_.size(), 1u);
  EXPECT_EQ(proposed_[0].lease_expiry().leader_term(), 3u);
  EXPECT_EQ(ExpiredIds(0), std::vector<int64_t>{1});
  lessor_->Step();
  EXPECT_EQ(proposed_.size(), 1u) << "a lease in flight is not proposed twice";
  Apply(0, 3);
  EXPECT_FALSE(store_->GetLease(1, false));
  EXPECT_FALSE(lessor_->Remaining(1));
}

TEST_F(LessorTest, WakesAtTheNextDeadline) {
  lessor_->OnLeaderChanged(2);
  Grant(1, 10);
  Grant(2, 4);
  EXPECT_EQ(lessor_->Step(), now_ + seconds(1)) << "at least every second";
  now_ += seconds(3) + milliseconds(500);
  EXPECT_EQ(lessor_->Step(), now_ + milliseconds(500));
}

TEST_F(LessorTest, AnExpiryFromAnotherTermOrAfterARenewalRevokesNothing) {
  Grant(1, 2);
  Grant(2, 2);
  lessor_->OnLeaderChanged(4);
  now_ += seconds(4);
  lessor_->Step();
  ASSERT_EQ(proposed_.size(), 1u);
  // Lease 2 is renewed by an entry committed before the expiry entry.
  ASSERT_EQ(store_->RenewLeases({2}, ++index_), std::vector<int64_t>{2});
  lessor_->OnRenewed({2}, {2});
  Apply(0, /*entry_term=*/5);  // the proposal landed in a later term: forwarded, stale
  EXPECT_TRUE(store_->GetLease(1, false));
  EXPECT_TRUE(store_->GetLease(2, false));
  // Still leader of term 4 as far as the lessor knows: lease 1 is proposed again.
  lessor_->Step();
  ASSERT_EQ(proposed_.size(), 2u);
  EXPECT_EQ(ExpiredIds(1), std::vector<int64_t>{1});
}

TEST_F(LessorTest, RenewedLeaseSkippedAtApplyIsNotRevoked) {
  Grant(1, 2);
  lessor_->OnLeaderChanged(1);
  now_ += seconds(4);
  lessor_->Step();
  ASSERT_EQ(proposed_.size(), 1u);
  ASSERT_EQ(store_->RenewLeases({1}, ++index_), std::vector<int64_t>{2});
  lessor_->OnRenewed({1}, {2});
  Apply(0, 1);
  EXPECT_TRUE(store_->GetLease(1, false)) << "renewed after the leader decided";
  lessor_->Step();
  EXPECT_EQ(proposed_.size(), 1u) << "its new deadline is 2 s away";
  now_ += seconds(2);
  lessor_->Step();
  EXPECT_EQ(proposed_.size(), 2u);
}

TEST_F(LessorTest, ExpiriesAreBatchedWithABoundInFlight) {
  lessor_->OnLeaderChanged(1);
  const int n = Lessor::kMaxRevocationsPerEntry * (Lessor::kMaxRevocationEntriesInFlight + 2);
  for (int i = 1; i <= n; ++i) Grant(i, 2);
  now_ += seconds(10);
  lessor_->Step();
  ASSERT_EQ(proposed_.size(), static_cast<size_t>(Lessor::kMaxRevocationEntriesInFlight));
  for (const auto& p : proposed_) {
    EXPECT_EQ(p.lease_expiry().leases_size(), static_cast<int>(Lessor::kMaxRevocationsPerEntry));
  }
  Apply(0, 1);
  lessor_->Step();
  EXPECT_EQ(proposed_.size(), static_cast<size_t>(Lessor::kMaxRevocationEntriesInFlight) + 1);
  for (size_t i = 1; i < proposed_.size(); ++i) Apply(i, 1);
  lessor_->Step();
  for (size_t i = Lessor::kMaxRevocationEntriesInFlight + 1; i < proposed_.size(); ++i) Apply(i, 1);
  EXPECT_EQ(store_->LeaseCount(), 0u);
}

TEST_F(LessorTest, KeepAlivesAreGatheredWhileOneRenewalIsInFlight) {
  Grant(1, 10);
  Grant(2, 10);
  std::vector<int64_t> answers;
  auto record = [&](absl::StatusOr<int64_t> ttl) { answers.push_back(ttl.ok() ? *ttl : -100); };
  lessor_->Renew(1, record);
  ASSERT_EQ(proposed_.size(), 1u);
  lessor_->Renew(2, record);
  lessor_->Renew(1, record);
  EXPECT_EQ(proposed_.size(), 1u) << "gathered behind the one in flight";
  Apply(0, 1);
  EXPECT_EQ(answers, std::vector<int64_t>{10});
  ASSERT_EQ(proposed_.size(), 2u) << "the completion proposes what was gathered";
  EXPECT_EQ(proposed_[1].lease_renewal().ids_size(), 2);
  Apply(1, 1);
  EXPECT_EQ(answers, (std::vector<int64_t>{10, 10, 10}));
}

TEST_F(LessorTest, KeepAlivesDoNotWaitBehindALostRenewal) {
  Grant(1, 10);
  std::vector<int64_t> answers;
  auto record = [&](absl::StatusOr<int64_t> ttl) { answers.push_back(ttl.ok() ? *ttl : -100); };
  lessor_->Renew(1, record);  // proposal 0 is never applied (forwarded to a dead leader)
  lessor_->Renew(1, record);
  lessor_->Step();
  EXPECT_EQ(proposed_.size(), 1u);
  now_ += Lessor::kRenewalFlushInterval;
  lessor_->Step();
  ASSERT_EQ(proposed_.size(), 2u);
  Apply(1, 1);
  EXPECT_EQ(answers, std::vector<int64_t>{10});
}

TEST_F(LessorTest, UnknownAndExpiredLeasesAreAnsweredAtOnceWithTtlZero) {
  Grant(1, 3);
  std::vector<int64_t> answers;
  auto record = [&](absl::StatusOr<int64_t> ttl) { answers.push_back(ttl.ok() ? *ttl : -100); };
  lessor_->Renew(99, record);
  now_ += seconds(3);
  lessor_->Renew(1, record);
  EXPECT_EQ(answers, (std::vector<int64_t>{0, 0}));
  EXPECT_TRUE(proposed_.empty());
}

TEST_F(LessorTest, ReloadUsesCheckpointedRemainingTtl) {
  Grant(1, 100);
  Grant(2, 100);
  store_->CheckpointLeases({{1, 30}}, ++index_);
  lessor_->Reload();
  EXPECT_EQ(*lessor_->Remaining(1), seconds(30));
  EXPECT_EQ(*lessor_->Remaining(2), seconds(100));
}

TEST_F(LessorTest, LeaderCheckpointsLeasesPartWayThroughTheirTtl) {
  Lessor::Options options;
  options.checkpoint_interval = seconds(60);
  options.now = [this] { return now_; };
  lessor_ = std::make_unique<Lessor>(options, store_.get(),
                                     [this](serverpb::Request r, WaitRegistry::Callback done) {
                                       proposed_.push_back(std::move(r));
                                       callbacks_.push_back(std::move(done));
                                     });
  Grant(1, 600);
  lessor_->OnLeaderChanged(1);
  now_ += seconds(59);
  lessor_->Step();
  EXPECT_TRUE(proposed_.empty());
  now_ += seconds(1);
  lessor_->Step();
  ASSERT_EQ(proposed_.size(), 1u);
  ASSERT_EQ(proposed_[0].lease_checkpoint().checkpoints_size(), 1);
  // 600 s + 1 s of promotion grace - 60 s elapsed.
  EXPECT_EQ(proposed_[0].lease_checkpoint().checkpoints(0).remaining_ttl(), 541);
}

TEST_F(LessorTest, AFollowerTakesACheckpointOnlyWhenItIsTighter) {
  Grant(1, 100);
  now_ += seconds(50);
  lessor_->OnCheckpointed({{1, 60}});
  EXPECT_EQ(*lessor_->Remaining(1), seconds(50)) << "its own deadline was earlier";
  lessor_->OnCheckpointed({{1, 20}});
  EXPECT_EQ(*lessor_->Remaining(1), seconds(20));
}

}  // namespace
}  // namespace keel::server
