// The fakes in one include: FakeSelector (simulated pipes, sockets and a
// network), FakeExecutor, the leak check, and make_sim_loop to build a
// SimLoop with all of them.
#pragma once

#include <cstdint>
#include <memory>

#include <simloop/fakes/fake_executor.hpp>
#include <simloop/fakes/fake_selector.hpp>
#include <simloop/fakes/leaks.hpp>
#include <simloop/sim/runner.hpp>
#include <simloop/sim/sim_loop.hpp>
#include <simloop/streams.hpp>

namespace simloop::fakes {

struct SimIoOptions {
  NetOptions net;
  ExecutorOptions executor;
};

// A SimLoop on `scheduler` (null: FifoScheduler) with a FakeSelector and a FakeExecutor.
std::unique_ptr<sim::SimLoop> make_sim_loop(std::unique_ptr<Scheduler> scheduler = nullptr, SimIoOptions options = {});

// `options` for the exploration runner with simulated I/O: every run's loop
// gets a FakeSelector and a FakeExecutor, and a run that leaves a transport
// open or a job unfinished fails with FailureKind::Leaks.
inline sim::RunnerOptions runner_with_fakes(sim::RunnerOptions options, SimIoOptions io = {}) {
  options.make_loop = [io](std::unique_ptr<sim::SimScheduler> scheduler) {
    return make_sim_loop(std::move(scheduler), io);
  };
  options.find_leaks = [](sim::SimLoop& loop) { return find_leaks(loop); };
  return options;
}

}  // namespace simloop::fakes
