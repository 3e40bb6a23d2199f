// keel: one etcd-compatible member. Parses flags, starts a Member, stops it on SIGINT/SIGTERM.
#include <csignal>
#include <unistd.h>
#include <cstdio>
#include <iostream>

#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "cmd/keel/flags.h"
#include "server/maintenance_service.h"
#include "server/member.h"

int main(int argc, char** argv) {
  auto flags = keel::cmd::ParseKeelFlags(argc, argv);
  if (!flags.ok()) {
    std::cerr << "keel: " << flags.status().message() << "\n(see keel --help)\n";
    return 2;
  }
  if (flags->show_help) {
    std::cout << keel::cmd::KeelUsage();
    return 0;
  }
  if (flags->show_version) {
    std::cout << "keel (etcd API " << keel::server::kEtcdApiVersion << ")\n";
    return 0;
  }
  // Debian's abseil checks every mutex acquisition for lock-order cycles (a debug aid that
  // costs on every gRPC call); Keel's locks are checked by its tests and sanitizers instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Block the stop signals in every thread; this one waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto member = keel::server::Member::Start(flags->config);
  if (!member.ok()) {
    std::cerr << "keel: " << member.status().message() << "\n";
    return 1;
  }
  // A member removed from the cluster stops as if told to (etcd exits too).
  (*member)->set_on_removed([] { kill(getpid(), SIGTERM); });
  std::cerr << "keel: member " << std::hex << (*member)->member_id() << std::dec
            << " ready, serving client requests on "
            << absl::StrJoin(flags->config.listen_client_urls, ",") << " (ports "
            << absl::StrJoin((*member)->client_ports(), ",") << ")" << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  std::cerr << "keel: received " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping"
            << std::endl;
  (*member)->Stop();
  return 0;
}
