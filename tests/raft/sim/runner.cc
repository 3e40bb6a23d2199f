#include "tests/raft/sim/runner.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/check.h"

namespace keel::raft::sim {
namespace {

// Separates the child's stderr from its result (the result comes last).
constexpr char kMarker[] = "\x1eRESULT\x1e";
constexpr char kFieldSeparator = '\x1f';

void WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// The last non-empty line of `text`, for quoting a fatal check.
std::string LastLine(const std::string& text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  return lines.empty() ? std::string("(no output)") : std::string(lines.back());
}

}  // namespace

SeedResult RunSeedIsolated(const SimOptions& options) {
  int fds[2];
  KEEL_CHECK(pipe(fds) == 0) << "pipe: " << errno;
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  KEEL_CHECK(pid >= 0) << "fork: " << errno;
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDERR_FILENO);
    SeedResult r = RunSeed(options);
    std::fflush(stdout);
    std::fflush(stderr);
    std::string out = absl::StrCat(kMarker, r.passed ? 1 : 0, std::string(1, kFieldSeparator),
                                   r.fingerprint, std::string(1, kFieldSeparator),
                                   r.liveness_ticks, std::string(1, kFieldSeparator), r.violation,
                                   std::string(1, kFieldSeparator), r.summary);
    WriteAll(fds[1], out);
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  std::string output;
  char buffer[4096];
  for (;;) {
    ssize_t n = read(fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buffer, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  SeedResult result;
  size_t marker = output.rfind(kMarker);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && marker != std::string::npos) {
    std::string payload = output.substr(marker + sizeof(kMarker) - 1);
    std::vector<std::string> fields = absl::StrSplit(payload, kFieldSeparator);
    KEEL_CHECK_EQ(fields.size(), 5u);
    result.passed = fields[0] == "1";
    KEEL_CHECK(absl::SimpleAtoi(fields[1], &result.fingerprint));
    KEEL_CHECK(absl::SimpleAtoi(fields[2], &result.liveness_ticks));
    result.violation = fields[3];
    result.summary = fields[4];
    // Anything the child printed to stderr besides its result is passed on.
    if (marker > 0) std::fwrite(output.data(), 1, marker, stderr);
    return result;
  }
  result.passed = false;
  std::string how = WIFSIGNALED(status) ? absl::StrCat("killed by signal ", WTERMSIG(status))
                                         : absl::StrCat("exited with status ", WEXITSTATUS(status));
  result.violation = absl::StrCat("process ", how, ": ", LastLine(output));
  return result;
}

}  // namespace keel::raft::sim
