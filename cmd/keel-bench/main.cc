// keel-bench: load generator over the etcd v3 gRPC API. Parses flags and runs the command;
// everything else is in bench/keel_bench/.
#include <iostream>

#include "bench/keel_bench/bench.h"
#include "bench/keel_bench/flags.h"

int main(int argc, char** argv) {
  auto flags = keel::bench::ParseBenchFlags(argc, argv);
  if (!flags.ok()) {
    std::cerr << "keel-bench: " << flags.status().message() << "\n(see keel-bench --help)\n";
    return keel::bench::kExitUsage;
  }
  if (flags->show_help) {
    std::cout << keel::bench::BenchUsage(flags->help_command);
    return keel::bench::kExitOk;
  }
  return keel::bench::RunBench(*flags);
}
