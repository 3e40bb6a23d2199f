// raft_sim: runs seeded simulations of a Raft cluster against the real core.
//
//   raft_sim --seeds N --first-seed S [--nodes K] [--steps M] [--bug NAME] [--verbose]
//            [--no-fork]
//
// Each seed runs in a child process (see runner.h) unless --verbose or --no-fork. Every
// failure prints one line with the violation and the command that replays it; the last line
// is "P passed, F failed"; the exit status is 1 if any seed failed.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "tests/raft/sim/runner.h"
#include "tests/raft/sim/scenario.h"

namespace {

using keel::raft::sim::SimOptions;

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "raft_sim: %s\nusage: raft_sim --seeds N --first-seed S [--nodes K] [--steps M] "
               "[--bug NAME] [--verbose] [--no-fork]\n  bugs: %s\n",
               why, absl::StrJoin(keel::raft::sim::BugNames(), ", ").c_str());
  std::exit(2);
}

uint64_t ParseNumber(const char* flag, const char* value) {
  uint64_t n = 0;
  if (value == nullptr || !absl::SimpleAtoi(value, &n)) {
    Usage((std::string("bad value for ") + flag).c_str());
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seeds = 1;
  SimOptions base;
  bool fork_each = true;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--seeds") {
      seeds = ParseNumber(argv[i], value), ++i;
    } else if (arg == "--first-seed") {
      base.seed = ParseNumber(argv[i], value), ++i;
    } else if (arg == "--nodes") {
      base.nodes = static_cast<int>(ParseNumber(argv[i], value)), ++i;
      if (base.nodes < 1 || base.nodes > 9) Usage("--nodes must be in 1..9");
    } else if (arg == "--steps") {
      base.steps = ParseNumber(argv[i], value), ++i;
    } else if (arg == "--bug") {
      if (value == nullptr) Usage("--bug needs a name");
      keel::raft::TestOnlyBugs bugs;
      if (!keel::raft::sim::SetBugByName(value, &bugs).ok()) Usage("unknown bug");
      base.bug = value, ++i;
    } else if (arg == "--verbose") {
      base.verbose = true;
      fork_each = false;
    } else if (arg == "--no-fork") {
      fork_each = false;
    } else {
      Usage(("unknown flag " + std::string(arg)).c_str());
    }
  }

  uint64_t passed = 0, failed = 0;
  for (uint64_t k = 0; k < seeds; ++k) {
    SimOptions options = base;
    options.seed = base.seed + k;
    keel::raft::sim::SeedResult r = fork_each ? keel::raft::sim::RunSeedIsolated(options)
                                              : keel::raft::sim::RunSeed(options);
    if (base.verbose) std::printf("seed %llu: %s\n", static_cast<unsigned long long>(options.seed), r.summary.c_str());
    if (r.passed) {
      ++passed;
    } else {
      ++failed;
      std::printf("FAIL seed %llu: %s; replay: %s\n", static_cast<unsigned long long>(options.seed),
                  r.violation.c_str(), keel::raft::sim::ReplayCommand(options).c_str());
    }
    std::fflush(stdout);
  }
  std::printf("%llu passed, %llu failed\n", static_cast<unsigned long long>(passed),
              static_cast<unsigned long long>(failed));
  return failed == 0 ? 0 : 1;
}
