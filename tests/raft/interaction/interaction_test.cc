// Golden-text interaction tests of the raft core: one test per file in testdata/, each run
// through a fresh InteractionEnv. `--rewrite` (or KEEL_REWRITE_GOLDEN=1) writes the actual
// outputs back into the source tree instead of comparing; review the diff before committing.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/raft/interaction/datadriven.h"
#include "tests/raft/interaction/interaction_env.h"

namespace keel::raft::interaction {
namespace {

bool g_rewrite = false;

class InteractionTest : public ::testing::Test {
 public:
  explicit InteractionTest(std::string path) : path_(std::move(path)) {}

  void TestBody() override {
    InteractionEnv env;
    datadriven::RunResult result = datadriven::RunFile(
        path_, [&env](const datadriven::TestData& d) { return env.Handle(d); }, g_rewrite);
    EXPECT_GT(result.blocks, 0) << path_ << " has no blocks";
    for (const std::string& failure : result.failures) ADD_FAILURE() << failure;
  }

 private:
  std::string path_;
};

// Test names come from file names: "prevote.txt" -> "prevote".
void RegisterTests() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(KEEL_INTERACTION_TESTDATA_DIR)) {
    if (entry.is_regular_file() && entry.path().extension() == ".txt") files.push_back(entry.path());
  }
  // Directory order is unspecified; test order should not be.
  std::sort(files.begin(), files.end());
  for (const std::filesystem::path& file : files) {
    std::string name = file.stem().string();
    std::replace(name.begin(), name.end(), '-', '_');
    ::testing::RegisterTest("Interaction", name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                            [path = file.string()]() -> ::testing::Test* {
                              return new InteractionTest(path);
                            });
  }
}

}  // namespace
}  // namespace keel::raft::interaction

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--rewrite") == 0) {
      keel::raft::interaction::g_rewrite = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  const char* env = std::getenv("KEEL_REWRITE_GOLDEN");
  if (env != nullptr && std::strcmp(env, "1") == 0) keel::raft::interaction::g_rewrite = true;
  int new_argc = static_cast<int>(args.size());
  ::testing::InitGoogleTest(&new_argc, args.data());
  keel::raft::interaction::RegisterTests();
  return RUN_ALL_TESTS();
}
