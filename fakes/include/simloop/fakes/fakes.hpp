// The fakes in one include: FakeSelector (simulated pipes, sockets and a
// network), FakeExecutor, the leak check, and make_sim_loop to build a
// SimLoop with all of them.
#pragma once

#include <cstdint>
#include <memory>

#include <simloop/fakes/fake_executor.hpp>
#include <simloop/fakes/fake_selector.hpp>
#include <simloop/fakes/leaks.hpp>
#include <simloop/sim/sim_loop.hpp>
#include <simloop/streams.hpp>

namespace simloop::fakes {

struct SimIoOptions {
  NetOptions net;
  ExecutorOptions executor;
};

// A SimLoop on `scheduler` (null: FifoScheduler) with a FakeSelector and a FakeExecutor.
std::unique_ptr<sim::SimLoop> make_sim_loop(std::unique_ptr<Scheduler> scheduler = nullptr, SimIoOptions options = {});

}  // namespace simloop::fakes
