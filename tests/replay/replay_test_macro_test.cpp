// SIMLOOP_REPLAY_TEST (simloop/replay/gtest.hpp): a recorded failure as a
// regression test. It fails while the failure happens, passes once it does
// not, and says plainly when the recorded schedule no longer applies.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

#include <cstdlib>
#include <filesystem>
#include <string>

#include <simloop/replay/format.hpp>
#include <simloop/replay/gtest.hpp>

#include "replay_fixtures.hpp"

namespace {

using namespace simloop;

enum class Program { Buggy, Fixed, ChangedPassing, ChangedFailing };
Program program = Program::Buggy;

// The fix keeps the awaits where they were on the failing schedule (the
// recording still applies): the check and the withdrawal are no longer
// split by one.
Coro<void> withdraw_fixed(replay_fixtures::Account* account, int amount) {
  if (account->balance >= amount) account->balance -= amount;
  co_await sleep(std::chrono::nanoseconds(0));
}

// `changed`: a test-side choice first, which a recording of the original
// program does not have (replay diverges on it).
Coro<int> bank_fixed(replay_fixtures::Account* account, bool changed) {
  auto first = create_task(withdraw_fixed(account, 80));
  co_await sleep(std::chrono::nanoseconds(0));
  if (changed && sim::coin()) account->balance += 1;
  auto second = create_task(withdraw_fixed(account, 80));
  co_await first;
  co_await second;
  co_return account->balance;
}

Coro<void> overdraft_body(sim::SimLoop&) {
  replay_fixtures::Account account;
  int balance = 0;
  switch (program) {
    case Program::Buggy: balance = co_await replay_fixtures::bank(&account); break;
    case Program::Fixed: balance = co_await bank_fixed(&account, false); break;
    case Program::ChangedPassing: balance = co_await bank_fixed(&account, true); break;
    case Program::ChangedFailing:
      balance = co_await replay_fixtures::bank_changed(&account);
      throw sim::AssertionFailed("the changed program fails on every schedule");
  }
  if (balance < 0) throw sim::AssertionFailed("the account was overdrawn: balance " + std::to_string(balance));
}

// The minimized replay file of the buggy program's overdraft, as an
// exploration wrote it.
std::string recorded;

void explore_buggy() {
  sim::detail::gtest_explore("Bank", "NeverOverdraws", &overdraft_body, replay_fixtures::chaos_runner());
}
void replay_recorded() {
  replay::detail::replay_regression("BankRegression", "Seed", &overdraft_body, recorded, __FILE__, __LINE__);
}
// What replaying it printed (the notice of a schedule that no longer applies).
std::string replay_recorded_output() {
  ::testing::internal::CaptureStdout();
  replay_recorded();
  return ::testing::internal::GetCapturedStdout();
}

// Explores the buggy program with its replay files going to `dir`, and
// returns the minimized file.
std::string record_overdraft(const std::filesystem::path& dir) {
  ::setenv("SIMLOOP_REPLAY_DIR", dir.c_str(), 1);
  program = Program::Buggy;
  EXPECT_NONFATAL_FAILURE(explore_buggy(), "minimized file: ");
  ::unsetenv("SIMLOOP_REPLAY_DIR");
  std::string minimized;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().string().find(".min.") != std::string::npos) minimized = entry.path().string();
  }
  EXPECT_FALSE(minimized.empty()) << "no minimized replay file in " << dir;
  return minimized;
}

class ReplayTestMacro : public ::testing::Test {
 protected:
  void SetUp() override {
    recorded = record_overdraft(dir_);
    ASSERT_FALSE(recorded.empty());
  }
  simloop::testing::ScopedTempDir tmp_{"replay-test-macro"};
  std::filesystem::path dir_ = tmp_.path() / "replays";
};

TEST_F(ReplayTestMacro, FailsWhileTheRecordedFailureHappens) {
  program = Program::Buggy;
  EXPECT_NONFATAL_FAILURE(replay_recorded(), "the recorded failure happens again");
  EXPECT_NONFATAL_FAILURE(replay_recorded(), "the account was overdrawn");
}

TEST_F(ReplayTestMacro, PassesOnceTheFailureNoLongerHappens) {
  program = Program::Fixed;
  const std::string out = replay_recorded_output();
  EXPECT_EQ(out.find("no longer applies"), std::string::npos) << out;
}

TEST_F(ReplayTestMacro, SaysPlainlyWhenTheScheduleNoLongerAppliesAndTheRunFails) {
  program = Program::ChangedFailing;
  EXPECT_NONFATAL_FAILURE(replay_recorded(), "the schedule no longer applies (the code changed since it was recorded");
  EXPECT_NONFATAL_FAILURE(replay_recorded(), "replay diverged at step");
}

TEST_F(ReplayTestMacro, PassesWithANoticeWhenTheScheduleNoLongerAppliesAndTheRunPasses) {
  program = Program::ChangedPassing;
  const std::string out = replay_recorded_output();
  EXPECT_NE(out.find("passed, but the schedule no longer applies"), std::string::npos) << out;
  EXPECT_NE(out.find("replay diverged at step"), std::string::npos) << out;
}

void replay_missing() {
  replay::detail::replay_regression("BankRegression", "Missing", &overdraft_body, "no-such.simloop-replay", __FILE__,
                                    __LINE__);
}

TEST_F(ReplayTestMacro, AMissingFileFailsNamingIt) {
  EXPECT_NONFATAL_FAILURE(replay_missing(), "no-such.simloop-replay): cannot replay it");
}

// The macro itself, on the fixed program: one line per regression (the
// recording is made here; a real one is a checked-in file).
std::string fixed_program_recording() {
  static simloop::testing::ScopedTempDir tmp{"replay-test-macro-form"};
  recorded = record_overdraft(tmp.path() / "replays");
  program = Program::Fixed;
  return recorded;
}

SIMLOOP_REPLAY_TEST(BankRegression, FixedProgram, &overdraft_body, fixed_program_recording());

}  // namespace
