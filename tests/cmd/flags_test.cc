// keel's command line: etcd's flag names and defaults, and a clear error for unknown flags.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cmd/keel/flags.h"

namespace keel::cmd {
namespace {

absl::StatusOr<KeelFlags> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "keel");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseKeelFlags(static_cast<int>(argv.size()), argv.data());
}

TEST(KeelFlags, NoFlagsGiveEtcdDefaultsOnLoopback) {
  auto f = Parse({});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->config.name, "default");
  EXPECT_EQ(f->config.data_dir, "") << "the member derives <name>.keel";
  EXPECT_EQ(f->config.listen_client_urls, std::vector<std::string>{"http://127.0.0.1:2379"});
  EXPECT_EQ(f->config.heartbeat_interval_ms, 100);
  EXPECT_EQ(f->config.election_timeout_ms, 1000);
  EXPECT_EQ(f->config.max_request_bytes, 1536u * 1024);
  EXPECT_EQ(f->config.max_txn_ops, 128);
  EXPECT_EQ(f->config.EffectiveQuotaBytes(), int64_t{2} << 30);
}

TEST(KeelFlags, AcceptsEqualsSpaceAndSingleDashForms) {
  auto f = Parse({"--name=n1", "--data-dir", "/tmp/x", "-heartbeat-interval=50",
                  "--listen-client-urls", "http://127.0.0.1:1,http://127.0.0.1:2",
                  "--quota-backend-bytes", "1048576", "--auto-compaction-mode", "revision",
                  "--auto-compaction-retention", "100", "--max-txn-ops", "7"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->config.name, "n1");
  EXPECT_EQ(f->config.data_dir, "/tmp/x");
  EXPECT_EQ(f->config.heartbeat_interval_ms, 50);
  EXPECT_EQ(f->config.listen_client_urls.size(), 2u);
  EXPECT_EQ(f->config.quota_backend_bytes, 1048576);
  EXPECT_EQ(f->config.auto_compaction_mode, "revision");
  EXPECT_EQ(f->config.max_txn_ops, 7);
}

TEST(KeelFlags, WatchProgressNotifyIntervalTakesAGoDuration) {
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->config.watch_progress_notify_interval_ms, 600000) << "etcd's 10m";
  auto f = Parse({"--experimental-watch-progress-notify-interval=1500ms"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->config.watch_progress_notify_interval_ms, 1500);
  auto g = Parse({"--watch-progress-notify-interval", "2m"});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->config.watch_progress_notify_interval_ms, 120000);
  EXPECT_FALSE(Parse({"--watch-progress-notify-interval", "soon"}).ok());
}

TEST(KeelFlags, ValueCacheBytesDefaultsTo16MiB) {
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->config.value_cache_bytes, int64_t{16} << 20);
  auto f = Parse({"--experimental-value-cache-bytes", "0"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->config.value_cache_bytes, 0);
}

TEST(KeelFlags, ReadRoundHoldDefaultsTo1ms) {
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->config.read_round_hold_us, 1000);
  auto f = Parse({"--experimental-read-round-hold-us", "0"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->config.read_round_hold_us, 0);
}

TEST(KeelFlags, InlineApplyDefaultsTo4Entries) {
  auto defaults = Parse({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->config.inline_apply_max_entries, 4);
  auto f = Parse({"--experimental-inline-apply-max-entries", "0"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->config.inline_apply_max_entries, 0);
}

TEST(KeelFlags, UnknownFlagIsNamedInTheError) {
  auto f = Parse({"--name", "x", "--enable-v2"});
  ASSERT_FALSE(f.ok());
  EXPECT_NE(std::string(f.status().message()).find("--enable-v2"), std::string::npos)
      << f.status();
}

TEST(KeelFlags, BadNumberAndMissingValueAreErrors) {
  EXPECT_FALSE(Parse({"--election-timeout", "soon"}).ok());
  EXPECT_FALSE(Parse({"--snapshot-count"}).ok());
}

}  // namespace
}  // namespace keel::cmd
