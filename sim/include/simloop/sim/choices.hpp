// Test-side choices: the test's own nondeterminism, drawn from the running
// loop's choice stream and recorded with the loop's (so a replay reproduces
// them too).
//
// Contract:
//  - sim::choose(n) -> [0, n), sim::coin(), sim::duration(lo, hi) ask the
//    running loop's Scheduler with ChoiceKind::Test; 0 (false, lo) is the
//    natural answer, the only one a FifoScheduler gives. Called with no loop
//    running, they raise NoRunningTaskError; n == 0 or lo > hi is an Error.
//  - buggify() is FoundationDB's BUGGIFY: true only under a SimScheduler with
//    buggify on; there, a call site (its source location) is switched on
//    with 25% chance the first time it is hit in a run, then fires on 25% of
//    its hits. Outside a simulation (a real loop, no loop) it is false and
//    costs a pointer check, so it can stay in production code.
#pragma once

#include <cstdint>
#include <source_location>

#include <simloop/handle.hpp>

namespace simloop::sim {

std::uint64_t choose(std::uint64_t n);
bool coin();
Duration duration(Duration lo, Duration hi);
bool buggify(std::source_location where = std::source_location::current());

}  // namespace simloop::sim
