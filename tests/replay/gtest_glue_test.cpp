// SIMLOOP_TEST wired to replay (simloop/replay/gtest.hpp): a failing test
// reports its replay files and command; SIMLOOP_REPLAY replays the file.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

#include <cstdlib>
#include <filesystem>

#include <simloop/replay/format.hpp>
#include <simloop/replay/gtest.hpp>

#include "replay_fixtures.hpp"

namespace {

using namespace simloop;

Coro<void> overdraft_body(sim::SimLoop&) {
  replay_fixtures::Account account;
  const int balance = co_await replay_fixtures::bank(&account);
  if (balance < 0) throw sim::AssertionFailed("the account was overdrawn: balance " + std::to_string(balance));
}

void run_glued() {
  sim::detail::gtest_explore("ReplayGlue", "Overdraft", &overdraft_body, replay_fixtures::chaos_runner());
}

class ReplayGlue : public ::testing::Test {
 protected:
  void SetUp() override { ::setenv("SIMLOOP_REPLAY_DIR", dir_.c_str(), 1); }
  void TearDown() override {
    ::unsetenv("SIMLOOP_REPLAY_DIR");
    ::unsetenv("SIMLOOP_REPLAY");
  }
  // The replay directory does not exist until something writes to it.
  simloop::testing::ScopedTempDir tmp_{"replay-glue"};
  std::filesystem::path dir_ = tmp_.path() / "replays";
};

TEST_F(ReplayGlue, SimloopTestWritesReplayFilesAndReplaysThem) {
  EXPECT_NONFATAL_FAILURE(run_glued(), "minimized file: ");
  std::string original;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    const std::string p = entry.path().string();
    if (p.find(".min.") == std::string::npos) original = p;
  }
  ASSERT_FALSE(original.empty());
  EXPECT_EQ(replay::load_trace(original).test, "ReplayGlue.Overdraft");
  ::setenv("SIMLOOP_REPLAY", original.c_str(), 1);
  EXPECT_NONFATAL_FAILURE(run_glued(), "replay: reproduced exactly");
}

TEST_F(ReplayGlue, BadReplayFileFailsTheTestWithItsName) {
  const std::string missing = (dir_ / "missing.simloop-replay").string();
  ::setenv("SIMLOOP_REPLAY", missing.c_str(), 1);
  EXPECT_NONFATAL_FAILURE(run_glued(), "missing.simloop-replay: (byte offset 0) cannot read the file");
}

}  // namespace
