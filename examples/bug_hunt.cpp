// The demo bug hunt: an inventory service that oversells its last item.
//
// reserve() checks the stock, writes the reservation to a database (an await
// whose latency is usually 1 ms) and only then takes the item. Two customers
// ask for the last item 3 ms apart: with the usual latency the first
// reservation lands before the second customer checks, so asyncio's natural
// order and timing (fifo) never see the bug. A slow write (a buggify() site,
// as a loaded database would be) or a busy loop (a callback that takes
// longer than the 3 ms gap, so both customers arrive together) opens the
// window, and both customers get the item.
//
//   ./bug_hunt                               explore seeds (random strategy)
//   SIMLOOP_STRATEGY=fifo SIMLOOP_RUNS=1 ./bug_hunt
//   SIMLOOP_REPLAY=<file> ./bug_hunt         replay a saved failing run
//
// Every SIMLOOP_* variable of the runner and of replay applies (docs/),
// SIMLOOP_CANCEL included: a customer whose request is cancelled simply gets
// nothing. The scenario awaits every task it starts, so no task outlives
// the inventory they share (docs/loop.md, "Lifetimes").
//
// Exit status (sim::exit_status): 0 no failure, 1 a failure found (or
// replayed exactly), 2 bad input (a bad variable, a missing or damaged
// replay file), 3-5 a replay that failed differently, diverged and still
// fails, or diverged and passed.
#include <fmt/format.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <simloop/replay/explore.hpp>
#include <simloop/simloop.hpp>

using namespace std::chrono_literals;
using simloop::Coro;
namespace sim = simloop::sim;

namespace {

struct Inventory {
  int stock = 1;
  int sold = 0;
};

Coro<> write_reservation(std::string customer) {
  (void)customer;
  const simloop::Duration latency = sim::buggify() ? sim::duration(1ms, 10ms) : simloop::Duration(1ms);
  co_await simloop::sleep(latency);
}

// The bug: the check and the update are separated by an await.
Coro<bool> reserve(Inventory* inventory, std::string customer) {
  if (inventory->stock <= 0) co_return false;
  co_await write_reservation(customer);
  inventory->stock -= 1;
  inventory->sold += 1;
  co_return true;
}

// Whether a customer got the item. A cancelled request (an injected cancel,
// or a client that hung up) got nothing; it is the customer's task that was
// cancelled, not the one awaiting it, so wait() (which never raises a
// child's error) and not `co_await customer`.
Coro<bool> got_item(simloop::Task<bool> customer) {
  std::vector<simloop::Task<bool>> one{customer};  // named: GCC 12 rejects a braced list inside co_await
  co_await simloop::wait(std::move(one));
  co_return !customer.cancelled() && customer.result();
}

Coro<> shop(sim::SimLoop& loop) {
  Inventory inventory;
  auto alice = loop.create_task(reserve(&inventory, "alice"), "alice");
  co_await simloop::sleep(3ms);
  auto bob = loop.create_task(reserve(&inventory, "bob"), "bob");
  const bool alice_got_it = co_await got_item(alice);
  const bool bob_got_it = co_await got_item(bob);
  if (inventory.sold > 1) {
    throw std::logic_error(fmt::format("oversold: {} customers got the last item (alice={}, bob={}), stock is now {}",
                                       inventory.sold, alice_got_it, bob_got_it, inventory.stock));
  }
}

}  // namespace

int main(int argc, char** argv) {
  sim::RunnerOptions options;
  options.test_name = "bug_hunt";
  options.runs = 1000;
  options.strategy = sim::Strategy::Random;
  options.program = argc > 0 ? argv[0] : "bug_hunt";
  sim::ExploreResult result;
  try {
    options = sim::options_from_env(options);
    result = simloop::replay::explore(shop, options);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bug_hunt: {}\n", e.what());
    return sim::kExitBadInput;
  }
  if (result.ok() && result.replay_verdict == sim::ReplayVerdict::None) {
    fmt::print("bug_hunt: no failure in {} runs\n", result.runs);
  }
  return sim::exit_status(result);
}
