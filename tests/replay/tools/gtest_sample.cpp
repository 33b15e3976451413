// A GoogleTest binary with one racy SIMLOOP_TEST whose check is an EXPECT_*,
// wired to replay (simloop/replay/gtest.hpp), for tools/cli_test.sh: it must
// fail, write its replay files (the minimized one judged run by run), and
// replay exactly from the printed command.
#include <gtest/gtest.h>

#include <simloop/replay/gtest.hpp>

#include "replay_fixtures.hpp"

namespace {

simloop::sim::RunnerOptions chaos() {
  simloop::sim::RunnerOptions o;
  o.sim.fidelity = simloop::sim::Fidelity::Chaos;
  o.runs = 300;
  return o;
}

}  // namespace

SIMLOOP_TEST_OPTIONS(Sample, ExpectOverdraft, chaos()) {
  replay_fixtures::Account account;
  const int balance = co_await replay_fixtures::bank(&account);
  EXPECT_GE(balance, 0);
}

// A second test: under SIMLOOP_REPLAY of the first one's file it is skipped.
SIMLOOP_TEST(Sample, AlwaysPasses) { co_await simloop::sleep(std::chrono::milliseconds(1)); }
