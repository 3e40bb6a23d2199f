// Helpers for watch/ tests: a store attached to its own RocksDB with a hub on top, a writer
// that publishes what it applies (as the apply thread does), and a consumer of one stream.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/check.h"
#include "gtest/gtest.h"
#include "kv/store.h"
#include "rocksdb/db.h"
#include "tests/kv/kv_test_util.h"
#include "watch/history.h"
#include "watch/hub.h"

namespace keel::watch::testing {

using kv::testing::DelOp;
using kv::testing::DelReq;
using kv::testing::PutOp;
using kv::testing::PutReq;

class WatchEnv {
 public:
  explicit WatchEnv(WatchHubOptions options = {}) {
    rocksdb::DBOptions db_options;
    db_options.create_if_missing = true;
    db_options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()}};
    for (auto& d : kv::MvccStore::ColumnFamilyDescriptors()) families.push_back(d);
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(db_options, dir_.path(), families, &handles_, &db);
    KEEL_CHECK(s.ok()) << s.ToString();
    db_.reset(db);
    auto store = kv::MvccStore::Attach(db, handles_[1], handles_[2], handles_[3], kv::MvccStoreOptions());
    KEEL_CHECK(store.ok()) << store.status();
    store_ = std::move(*store);
    history_ = std::make_unique<KvHistory>(store_.get());
    hub_ = std::make_unique<WatchHub>(history_.get(), store_->CurrentRevision(), options);
  }
  ~WatchEnv() {
    hub_.reset();
    history_.reset();
    store_.reset();
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_.reset();
  }

  WatchHub& hub() { return *hub_; }
  kv::MvccStore& store() { return *store_; }
  int64_t rev() const { return store_->CurrentRevision(); }
  // Every event published, in order: the history watchers are checked against.
  const std::vector<mvccpb::Event>& published() const { return published_; }

  void Put(const std::string& k, const std::string& v) {
    auto r = store_->Put(PutReq(k, v), next_index_++);
    KEEL_CHECK(r.ok()) << r.status();
    Publish(std::move(r->events));
  }
  void Del(const std::string& k, const std::string& end = "") {
    auto r = store_->DeleteRange(DelReq(k, end), next_index_++);
    KEEL_CHECK(r.ok()) << r.status();
    Publish(std::move(r->events));
  }
  void Txn(const etcdserverpb::TxnRequest& txn) {
    auto r = store_->Txn(txn, next_index_++);
    KEEL_CHECK(r.ok()) << r.status();
    Publish(std::move(r->events));
  }
  absl::Status Compact(int64_t revision) {
    return store_->Compact(revision, next_index_++).status();
  }
  // Applies several writes in one batch, publishing after the commit as the applier does.
  void Batch(const std::vector<std::function<void(std::vector<mvccpb::Event>*)>>& writes) {
    store_->BeginBatch();
    std::vector<mvccpb::Event> events;
    for (const auto& w : writes) w(&events);
    KEEL_CHECK(store_->CommitBatch().ok());
    Publish(std::move(events));
  }
  uint64_t NextIndex() { return next_index_++; }

  void Publish(std::vector<mvccpb::Event> events) {
    for (const auto& e : events) published_.push_back(e);
    hub_->Publish(store_->CurrentRevision(), std::move(events));
  }

 private:
  kv::testing::TempDir dir_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<kv::MvccStore> store_;
  std::unique_ptr<KvHistory> history_;
  std::unique_ptr<WatchHub> hub_;
  std::vector<mvccpb::Event> published_;
  uint64_t next_index_ = 1;
};

// Wake-ups of one or more streams.
struct Signal {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t wakeups = 0;

  void Raise() {
    std::lock_guard<std::mutex> lock(mu);
    ++wakeups;
    cv.notify_all();
  }
  // Calls step() until it returns true or 20 s pass; between calls waits for a wake-up (no
  // sleeps). step() should drain the streams this signal serves.
  bool WaitFor(const std::function<bool()>& step) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (true) {
      uint64_t seen;
      {
        std::lock_guard<std::mutex> lock(mu);
        seen = wakeups;
      }
      if (step()) return true;
      std::unique_lock<std::mutex> lock(mu);
      if (!cv.wait_until(lock, deadline, [&] { return wakeups != seen; })) {
        lock.unlock();
        return step();
      }
    }
  }
};

// One stream and what it was sent.
class Consumer {
 public:
  explicit Consumer(WatchHub* hub, Signal* signal = nullptr)
      : hub_(hub), signal_(signal ? signal : &own_signal_) {
    stream_ = hub_->OpenStream([this] { signal_->Raise(); });
  }
  ~Consumer() { hub_->CloseStream(stream_); }

  WatchHub::Stream& stream() { return *stream_; }
  void Drain() {
    while (auto u = hub_->Take(*stream_)) updates_.push_back(std::move(*u));
  }
  // Drains until pred() holds or 20 s pass (no sleeps: waits for the hub's wake-ups).
  bool WaitFor(const std::function<bool()>& pred) {
    return signal_->WaitFor([&] {
      Drain();
      return pred();
    });
  }
  const std::vector<WatchUpdate>& updates() const { return updates_; }
  // The events sent for `id`, in order.
  std::vector<mvccpb::Event> EventsOf(int64_t id) const {
    std::vector<mvccpb::Event> out;
    for (const auto& u : updates_) {
      if (u.watch_id == id) {
        for (const auto& e : u.Events()) out.push_back(e);
      }
    }
    return out;
  }
  const WatchUpdate* CancelOf(int64_t id) const {
    for (const auto& u : updates_) {
      if (u.watch_id == id && u.canceled) return &u;
    }
    return nullptr;
  }

 private:
  WatchHub* hub_;
  Signal own_signal_;
  Signal* signal_;
  std::shared_ptr<WatchHub::Stream> stream_;
  std::vector<WatchUpdate> updates_;
};

inline WatchSpec Spec(const std::string& key, const std::string& end = "", int64_t start = 0) {
  WatchSpec s;
  s.key = key;
  s.range_end = end;
  s.start_revision = start;
  return s;
}

// "PUT a=1@5" / "DELETE a@6": compact, comparable descriptions of events.
inline std::string Describe(const mvccpb::Event& e) {
  std::string s = e.type() == mvccpb::Event::PUT ? "PUT " : "DELETE ";
  s += e.kv().key();
  if (e.type() == mvccpb::Event::PUT) s += "=" + e.kv().value();
  s += "@" + std::to_string(e.kv().mod_revision());
  if (e.has_prev_kv()) s += " prev=" + e.prev_kv().value();
  return s;
}
inline std::vector<std::string> Describe(const std::vector<mvccpb::Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(Describe(e));
  return out;
}

}  // namespace keel::watch::testing
