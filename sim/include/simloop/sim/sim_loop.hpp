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

namespace simloop::sim {

class SimLoop : public EventLoop {
 public:
  explicit SimLoop(std::unique_ptr<Scheduler> scheduler = nullptr, std::unique_ptr<Selector> selector = nullptr,
                   std::unique_ptr<Executor> executor = nullptr);
};

}  // namespace simloop::sim
