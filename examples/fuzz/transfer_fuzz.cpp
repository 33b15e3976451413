// A fuzz target (docs/fuzzing.md): a transfer that is not cancellation-safe.
// The money leaves one account, and one await later reaches the other; a
// transfer cancelled in between (seeded cancellation injection does that)
// loses it. libFuzzer mutates the schedule until some input cancels there.
#include <stdexcept>
#include <string>
#include <vector>

#include <simloop/fuzz/fuzz.hpp>
#include <simloop/simloop.hpp>

struct Accounts {
  int from = 100;
  int to = 0;
};

simloop::Coro<void> transfer(Accounts* accounts, int amount) {
  accounts->from -= amount;
  co_await simloop::sleep(std::chrono::milliseconds(1));  // the remote credit
  accounts->to += amount;
}

simloop::sim::RunnerOptions with_injection() {
  simloop::sim::RunnerOptions o;
  o.sim.cancel_probability = 0.05;  // as SIMLOOP_CANCEL=0.05; the environment still wins
  return o;
}

SIMLOOP_FUZZ_TARGET_OPTIONS(TransferKeepsTheMoney, with_injection()) {
  // `loop` is this input's fresh SimLoop; keep<T> outlives every task of the run.
  auto& accounts = loop.keep<Accounts>();
  std::vector<simloop::Task<void>> transfers;
  for (int i = 0; i < 3; ++i) transfers.push_back(loop.create_task(transfer(&accounts, 10)));
  co_await simloop::wait(std::move(transfers));  // never raises: a cancelled transfer is part of the test
  if (accounts.from + accounts.to != 100) {
    throw std::logic_error(std::to_string(100 - accounts.from - accounts.to) + " lost in transfers");
  }
}
