// The zero-copy WatchResponse scanner against messages serialized by protobuf itself, and
// the send-time stamp of watch values.
#include "bench/keel_bench/watch_scan.h"

#include <gtest/gtest.h>

#include <cstring>

#include "bench/keel_bench/watch_stream.h"
#include "etcd/rpc.pb.h"

namespace keel::bench {
namespace {

bool Scan(const std::string& bytes, WatchResponseView* r, std::vector<WatchEventView>* events) {
  return ScanWatchResponse(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), r, events);
}

TEST(ScanWatchResponse, ReadsEveryFieldItUses) {
  etcdserverpb::WatchResponse m;
  m.mutable_header()->set_revision(42);
  m.mutable_header()->set_cluster_id(7);
  m.set_watch_id(3);
  m.set_created(true);
  m.set_fragment(true);
  m.set_cancel_reason("why");
  m.set_compact_revision(9);
  m.set_canceled(true);
  auto* e1 = m.add_events();
  e1->mutable_kv()->set_key(std::string("k\0\xff", 3));
  e1->mutable_kv()->set_value("value-1");
  e1->mutable_kv()->set_mod_revision(40);
  e1->mutable_kv()->set_create_revision(1);
  e1->mutable_kv()->set_version(5);
  e1->mutable_prev_kv()->set_value("ignored");
  auto* e2 = m.add_events();
  e2->set_type(mvccpb::Event::DELETE);
  e2->mutable_kv()->set_key("k2");
  e2->mutable_kv()->set_mod_revision(41);

  const std::string bytes = m.SerializeAsString();
  WatchResponseView r;
  std::vector<WatchEventView> events;
  ASSERT_TRUE(Scan(bytes, &r, &events));
  EXPECT_EQ(r.header_revision, 42);
  EXPECT_EQ(r.watch_id, 3);
  EXPECT_TRUE(r.created);
  EXPECT_TRUE(r.canceled);
  EXPECT_TRUE(r.fragment);
  EXPECT_EQ(r.compact_revision, 9);
  EXPECT_EQ(r.cancel_reason, "why");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, 0);
  EXPECT_EQ(events[0].key, std::string_view("k\0\xff", 3));
  EXPECT_EQ(events[0].value, "value-1");
  EXPECT_EQ(events[0].mod_revision, 40);
  EXPECT_EQ(events[1].type, 1);
  EXPECT_EQ(events[1].key, "k2");
  EXPECT_EQ(events[1].value, "");
  EXPECT_EQ(events[1].mod_revision, 41);
}

TEST(ScanWatchResponse, ViewsPointIntoTheInput) {
  etcdserverpb::WatchResponse m;
  m.add_events()->mutable_kv()->set_value("abcdefgh");
  const std::string bytes = m.SerializeAsString();
  WatchResponseView r;
  std::vector<WatchEventView> events;
  ASSERT_TRUE(Scan(bytes, &r, &events));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_GE(events[0].value.data(), bytes.data());
  EXPECT_LE(events[0].value.data() + events[0].value.size(), bytes.data() + bytes.size());
}

TEST(ScanWatchResponse, EmptyMessageAndReuseResetTheOutputs) {
  etcdserverpb::WatchResponse m;
  m.set_watch_id(5);
  m.add_events()->mutable_kv()->set_mod_revision(2);
  WatchResponseView r;
  std::vector<WatchEventView> events;
  ASSERT_TRUE(Scan(m.SerializeAsString(), &r, &events));
  ASSERT_TRUE(Scan("", &r, &events));
  EXPECT_EQ(r.watch_id, 0);
  EXPECT_TRUE(events.empty());
}

TEST(ScanWatchResponse, SkipsUnknownFields) {
  etcdserverpb::WatchResponse m;
  m.set_watch_id(8);
  m.add_events()->mutable_kv()->set_mod_revision(12);
  std::string bytes = m.SerializeAsString();
  // Field 20, length-delimited "xyz"; field 21 varint 300; field 22 fixed64; field 23 fixed32.
  bytes += std::string("\xa2\x01\x03xyz", 6);
  bytes += std::string("\xa8\x01\xac\x02", 4);
  bytes += std::string("\xb1\x01", 2) + std::string(8, '\x01');
  bytes += std::string("\xbd\x01", 2) + std::string(4, '\x02');
  WatchResponseView r;
  std::vector<WatchEventView> events;
  ASSERT_TRUE(Scan(bytes, &r, &events));
  EXPECT_EQ(r.watch_id, 8);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].mod_revision, 12);
}

TEST(ScanWatchResponse, RejectsTruncatedInput) {
  etcdserverpb::WatchResponse m;
  m.set_watch_id(1);
  m.add_events()->mutable_kv()->set_value("some value bytes");
  const std::string bytes = m.SerializeAsString();
  WatchResponseView r;
  std::vector<WatchEventView> events;
  for (size_t cut = 1; cut < bytes.size(); ++cut) {
    const std::string part = bytes.substr(0, cut);
    // A cut may fall between two top-level fields (valid, fewer fields); otherwise: false.
    etcdserverpb::WatchResponse reference;
    EXPECT_EQ(Scan(part, &r, &events), reference.ParseFromString(part)) << "cut at " << cut;
  }
  EXPECT_FALSE(Scan(std::string("\x00", 1), &r, &events)) << "a zero tag";
}

TEST(SendTimeOf, ReadsTheFirstEightBytesWhenPlausible) {
  const int64_t now = int64_t{5000} * 1'000'000'000;
  std::string value(16, 'x');
  const int64_t sent = now - 1'500'000;
  std::memcpy(value.data(), &sent, sizeof(sent));
  int64_t got = 0;
  ASSERT_TRUE(SendTimeOf(value, now, &got));
  EXPECT_EQ(got, sent);
  EXPECT_FALSE(SendTimeOf("short", now, &got));
  EXPECT_FALSE(SendTimeOf(value, sent - 1, &got)) << "from the future";
  EXPECT_FALSE(SendTimeOf(value, sent + int64_t{7200} * 1'000'000'000, &got)) << "too old";
}

}  // namespace
}  // namespace keel::bench
