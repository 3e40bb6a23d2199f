// keel-bench's command line: etcd benchmark flag names, both value forms, per-command flags
// and defaults, and errors that name the problem.
#include "bench/keel_bench/flags.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keel::bench {
namespace {

absl::StatusOr<BenchFlags> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "keel-bench");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  return ParseBenchFlags(static_cast<int>(argv.size()), argv.data());
}

TEST(BenchFlags, PutDefaultsAreEtcdBenchmarks) {
  auto f = Parse({"put"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->command, Command::kPut);
  EXPECT_EQ(f->endpoints, std::vector<std::string>{"127.0.0.1:2379"});
  EXPECT_EQ(f->conns, 1);
  EXPECT_EQ(f->clients, 1);
  EXPECT_EQ(f->total, 10000u);
  EXPECT_EQ(f->key_size, 8);
  EXPECT_EQ(f->val_size, 8);
  EXPECT_EQ(f->key_space_size, 1u);
  EXPECT_FALSE(f->sequential_keys);
  EXPECT_EQ(f->rate_per_s, 0);
}

TEST(BenchFlags, AcceptsBothValueFormsSingleDashAndFlagsBeforeTheCommand) {
  auto f = Parse({"--endpoints=http://a:1,b:2", "-conns", "4", "put", "--clients=64", "--key-size",
                  "16", "--sequential-keys", "--rate", "500.5"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->endpoints, (std::vector<std::string>{"http://a:1", "b:2"}));
  EXPECT_EQ(f->conns, 4);
  EXPECT_EQ(f->clients, 64);
  EXPECT_EQ(f->key_size, 16);
  EXPECT_TRUE(f->sequential_keys);
  EXPECT_DOUBLE_EQ(f->rate_per_s, 500.5);
}

TEST(BenchFlags, DurationReplacesTheDefaultTotal) {
  auto f = Parse({"put", "--duration", "1m30s"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->duration, absl::Seconds(90));
  EXPECT_EQ(f->total, 0u) << "bounded by time only";
  auto g = Parse({"put", "--duration=5", "--total=7"});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->duration, absl::Seconds(5)) << "a bare number is seconds";
  EXPECT_EQ(g->total, 7u);
}

TEST(BenchFlags, RangeTakesKeyAndRangeEndAndConsistency) {
  auto f = Parse({"range", "foo", "fop", "--consistency", "s"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->command, Command::kRange);
  EXPECT_TRUE(f->range_key_set);
  EXPECT_EQ(f->range_key, "foo");
  EXPECT_EQ(f->range_end, "fop");
  EXPECT_EQ(f->consistency, 's');
  auto g = Parse({"range"});
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g->range_key_set);
  EXPECT_EQ(g->consistency, 'l');
  EXPECT_FALSE(Parse({"range", "--consistency", "x"}).ok());
  EXPECT_FALSE(Parse({"range", "a", "b", "c"}).ok());
}

TEST(BenchFlags, WatchDefaultsAndEtcdAliases) {
  auto f = Parse({"watch"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->watchers, 1000);
  EXPECT_EQ(f->streams, 10);
  EXPECT_EQ(f->rate_per_s, 100);
  EXPECT_EQ(f->total, 1000u);
  EXPECT_EQ(f->clients, 256) << "puts in flight";
  EXPECT_EQ(f->conns, 1);
  EXPECT_EQ(f->key_prefix, "keel-bench/watch/");

  auto g = Parse({"watch", "--watchers", "10000", "--streams", "100", "--put-rate", "1000",
                  "--duration", "10s", "--put-total", "5000"});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->watchers, 10000);
  EXPECT_EQ(g->streams, 100);
  EXPECT_EQ(g->rate_per_s, 1000);
  EXPECT_EQ(g->total, 5000u);
  EXPECT_EQ(g->conns, 1);
  auto w = Parse({"watch", "--streams", "20", "--watch-per-stream", "50"});
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->watchers, 1000) << "etcd's --watch-per-stream";
  EXPECT_FALSE(Parse({"watch", "--watchers", "10", "--watch-per-stream", "50"}).ok());
  auto h = Parse({"watch", "--watchers", "1000", "--streams", "250"});
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->conns, 3) << "one connection per 100 streams unless --conns is given";
  auto i = Parse({"watch", "--streams", "250", "--conns", "1"});
  ASSERT_TRUE(i.ok()) << i.status();
  EXPECT_EQ(i->conns, 1);
}

TEST(BenchFlags, WatchGetAndLeaseDefaults) {
  auto f = Parse({"watch-get"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->watchers, 10000);
  EXPECT_EQ(f->streams, 1);
  EXPECT_EQ(f->watch_get_events, 8);
  EXPECT_EQ(f->total, 0u) << "runs until the watchers have their events";
  auto g = Parse({"lease-keepalive", "--clients", "8"});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->leases, 8) << "one lease per client";
  EXPECT_EQ(g->lease_ttl_s, 100);
}

TEST(BenchFlags, LeaseGrantIsALoadRunWithATtl) {
  auto f = Parse({"lease-grant", "--clients", "100", "--duration", "10s"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->command, Command::kLeaseGrant);
  EXPECT_EQ(f->lease_ttl_s, 100);
  EXPECT_FALSE(f->keep_leases) << "revoked at the end";
  EXPECT_EQ(f->total, 0u);
  auto g = Parse({"lease-grant", "--lease-ttl", "30", "--keep-leases", "--rate", "500"});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->lease_ttl_s, 30);
  EXPECT_TRUE(g->keep_leases);
  EXPECT_EQ(g->total, 10000u);
  EXPECT_FALSE(Parse({"lease-grant", "--leases", "5"}).ok()) << "one lease per request";
}

TEST(BenchFlags, LeaseExpiryDefaultsAndItsOwnFlags) {
  auto f = Parse({"lease-expiry"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->command, Command::kLeaseExpiry);
  EXPECT_EQ(f->leases, 100000);
  EXPECT_EQ(f->lease_ttl_s, 5);
  EXPECT_EQ(f->setup_clients, 100);
  EXPECT_EQ(f->conns, 1) << "one connection per 100 setup clients";
  EXPECT_EQ(f->clients, 1) << "one writer";
  EXPECT_EQ(f->key_prefix, "keel-bench/lease-expiry/");
  EXPECT_EQ(f->baseline, absl::Seconds(5));
  EXPECT_EQ(f->expiry_timeout, absl::Minutes(5));
  EXPECT_EQ(f->total, 0u) << "runs until every key is deleted";
  auto g = Parse({"lease-expiry", "--leases", "20000", "--lease-ttl", "2", "--setup-clients",
                  "250", "--clients", "4", "--rate", "200", "--baseline", "0",
                  "--expiry-timeout", "90s", "--key-prefix", "x/", "--val-size", "64"});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->leases, 20000);
  EXPECT_EQ(g->lease_ttl_s, 2);
  EXPECT_EQ(g->setup_clients, 250);
  EXPECT_EQ(g->conns, 3);
  EXPECT_EQ(g->clients, 4);
  EXPECT_EQ(g->rate_per_s, 200);
  EXPECT_EQ(g->baseline, absl::ZeroDuration());
  EXPECT_EQ(g->expiry_timeout, absl::Seconds(90));
  EXPECT_EQ(g->key_prefix, "x/");
  EXPECT_EQ(g->val_size, 64);
  auto h = Parse({"lease-expiry", "--setup-clients", "250", "--conns", "1"});
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->conns, 1);
}

TEST(BenchFlags, ErrorsNameTheProblem) {
  auto expect_error = [](std::vector<std::string> args, const std::string& needle) {
    auto f = Parse(args);
    ASSERT_FALSE(f.ok());
    EXPECT_NE(std::string(f.status().message()).find(needle), std::string::npos)
        << f.status().message();
  };
  expect_error({}, "no command");
  expect_error({"get"}, "unknown command \"get\"");
  expect_error({"put", "--nope=1"}, "unknown flag --nope");
  expect_error({"put", "--clients"}, "needs a value");
  expect_error({"put", "--clients", "0"}, "--clients");
  expect_error({"put", "--clients", "many"}, "--clients");
  expect_error({"put", "--duration", "soon"}, "--duration");
  expect_error({"put", "--watchers", "5"}, "--watchers is not used by put");
  expect_error({"range", "--txn-ops", "2"}, "--txn-ops is not used by range");
  expect_error({"range", "--val-size", "2"}, "--val-size is not used by range");
  expect_error({"watch", "--key-space-size", "2"}, "not used by watch");
  expect_error({"txn-put", "--sequential-keys"}, "not used by txn-put");
  expect_error({"lease-keepalive", "--key-size", "2"}, "not used by lease-keepalive");
  expect_error({"lease-expiry", "--total", "5"}, "--total is not used by lease-expiry");
  expect_error({"lease-expiry", "--duration", "5s"}, "not used by lease-expiry");
  expect_error({"lease-expiry", "--key-prefix", ""}, "--key-prefix must not be empty");
  expect_error({"lease-expiry", "--expiry-timeout", "0"}, "--expiry-timeout");
  expect_error({"lease-keepalive", "--setup-clients", "5"}, "not used by lease-keepalive");
  expect_error({"put", "--keep-leases"}, "not used by put");
  expect_error({"put", "extra"}, "takes no arguments");
  expect_error({"watch", "--val-size", "4"}, "at least 8");
  expect_error({"watch", "--watchers", "5", "--streams", "10"}, "exceeds --watchers");
}

TEST(BenchFlags, HelpNeedsNoCommand) {
  auto f = Parse({"--help"});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->show_help);
  auto g = Parse({"watch", "-h"});
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->show_help);
  EXPECT_EQ(g->help_command, "watch");
  auto h = Parse({"help", "put"});
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->help_command, "put");
}

TEST(BenchFlags, UsageListsEveryCommandAndOnlyACommandsFlags) {
  const std::string all = BenchUsage();
  for (const char* c :
       {"put", "range", "txn-put", "txn-update", "watch", "watch-get", "lease-keepalive",
        "lease-grant", "lease-expiry"}) {
    EXPECT_NE(all.find(std::string("  ") + c + " "), std::string::npos) << c;
  }
  const std::string put = BenchUsage("put");
  EXPECT_NE(put.find("--key-space-size"), std::string::npos);
  EXPECT_EQ(put.find("--watchers"), std::string::npos);
}

}  // namespace
}  // namespace keel::bench
