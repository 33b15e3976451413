// The workloads the fuzzing comparison runs (docs/fuzzing.md): the seven
// bugs of the injection suite under its options (injection alone,
// SIMLOOP_CANCEL=0.05), and the exploration tests' racy bugs under the
// fidelity and injection their tests use, and a deep bug (deep_bug.hpp)
// a sampler almost never reaches. The fuzz target and the
// comparison tool take them from here, so both sides run the same thing.
#pragma once

#include <string>
#include <vector>

#include <simloop/simloop.hpp>

namespace fuzz_workloads {

namespace sim = simloop::sim;

struct Workload {
  std::string name;
  sim::Scenario scenario;
  sim::RunnerOptions options;  // strategy and runs are set by whoever runs it
};

enum class Variant { Buggy, Fixed, Simloop };

// `variant` applies to the suite's bugs (the buggy user code, its fix,
// simloop's own primitive); the racy bugs have no fixed version and are
// listed only for Buggy. Defined in workloads.cpp: the suite's inline
// coroutines must live in one translation unit of a binary (GCC 12 emits
// their frames' destroy functions in discarded COMDAT sections otherwise).
std::vector<Workload> workloads(Variant variant = Variant::Buggy);

}  // namespace fuzz_workloads
