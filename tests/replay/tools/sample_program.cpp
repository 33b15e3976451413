// A small racy program under replay::explore, for the end-to-end test of
// SIMLOOP_REPLAY and simloop-trace (tools/cli_test.sh).
//
//   SIMLOOP_REPLAY_DIR=<dir> replay_sample_program
//       explores; on the failure, writes the replay files there; exit 1
//   SIMLOOP_REPLAY=<file> replay_sample_program
//       replays the file; exit 1 when it failed again (it prints the verdict)
// Arguments starting with --gtest_ are ignored (the printed replay command
// names the test with one, as for a GoogleTest binary).
// The race: two withdrawals check the balance, then await, then withdraw;
// only a ready batch run out of asyncio's order lets both pass the check.
#include <cstdio>
#include <exception>
#include <string>

#include <simloop/replay/explore.hpp>
#include <simloop/simloop.hpp>

#include "replay_fixtures.hpp"

namespace {

simloop::Coro<void> overdraft(simloop::sim::SimLoop&) {
  replay_fixtures::Account account;
  const int balance = co_await replay_fixtures::bank(&account);
  if (balance < 0) {
    throw simloop::sim::AssertionFailed("the account was overdrawn: balance " + std::to_string(balance));
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]).rfind("--gtest_", 0) != 0) {
      std::fprintf(stderr, "usage: [SIMLOOP_REPLAY_DIR=<dir>] [SIMLOOP_REPLAY=<file>] %s\n", argv[0]);
      return 2;
    }
  }
  try {
    simloop::sim::RunnerOptions options = simloop::sim::options_from_env();
    options.test_name = "Sample.Overdraft";
    options.sim.fidelity = simloop::sim::Fidelity::Chaos;
    const simloop::sim::ExploreResult result = simloop::replay::explore(&overdraft, options);
    return result.ok() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "replay_sample_program: %s\n", e.what());
    return 2;
  }
}
