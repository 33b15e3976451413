// SimLoop: an EventLoop on virtual time, for tests.
//
// Contract: a SimLoop built with the same scheduler (strategy, seed,
// fidelity) and running the same program makes the same run, bit for bit:
// its clock is virtual, its selector jumps to the next timer, and every
// nondeterministic decision comes from its scheduler. With the default
// FifoScheduler it reproduces CPython's asyncio order exactly.
#pragma once

#include <memory>

#include <simloop/event_loop.hpp>
#include <simloop/sim/virtual_time.hpp>
#include <simloop/task.hpp>

namespace simloop::sim {

class SimLoop : public EventLoop {
 public:
  explicit SimLoop(std::unique_ptr<Scheduler> scheduler = nullptr, std::unique_ptr<Selector> selector = nullptr,
                   std::unique_ptr<Executor> executor = nullptr);
};

// Exempts `task` from seeded cancellation injection for the rest of its run:
// an environment task (a fake server's accept loop, a pump, a reader the
// test does not exercise) whose cancellation would test the harness, not
// the code under test. The exploration runner spares the scenario's main
// task this way. No effect where nothing is injected (a loop whose
// scheduler is not a SimScheduler, a real loop); InvalidStateError for an
// empty handle.
void spare(const AnyTask& task);

}  // namespace simloop::sim
