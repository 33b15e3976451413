// Runner options for tests that judge one run's outcome themselves: one
// seed, asyncio's own order (fifo), nothing printed.
#pragma once

#include <cstdint>

#include <simloop/sim/runner.hpp>

namespace simloop::testing {

inline sim::RunnerOptions quiet_fifo_runner(std::uint64_t runs = 1) {
  sim::RunnerOptions o;
  o.runs = runs;
  o.strategy = sim::Strategy::Fifo;
  o.log = nullptr;
  return o;
}

}  // namespace simloop::testing
