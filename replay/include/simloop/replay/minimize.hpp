// The minimizer: shrinks a failing run's choice list to a smaller one that
// fails the same way.
//
// Contract:
//  - The oracle runs the test once with a *guide* (a choice list read
//    leniently: RunRecording::guided) and returns the trace of the run it
//    made if that run failed the same way, or nothing.
//  - minimize() tries, in order and repeatedly until a whole round gains
//    nothing: all choices zero; zeroing chunks of the non-zero choices
//    (delta debugging, halving the chunk size down to single choices);
//    dropping runs of consecutive choices that hold a non-zero one (halving
//    likewise); zeroing each pair of non-zero choices (runs with at most 16
//    of them); lowering each remaining value to 1, else to half. A
//    candidate is kept only when the run fails the same way and its
//    (non-zero count, length, sum of values) is smaller, so the result is
//    never larger than the input.
//  - The budget counts oracle runs, not wall time, so minimization is itself
//    deterministic: the same failing trace and budget give the same result.
//  - The result's trace is the recording of an actual failing run (not the
//    guide), so it replays strictly.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <simloop/replay/trace.hpp>

namespace simloop::replay {

using Oracle = std::function<std::optional<Trace>(const std::vector<Choice>& guide)>;

struct MinimizeOptions {
  std::size_t max_runs = 500;
};

struct MinimizeResult {
  Trace best;  // the smallest failing run found (the input if none smaller)
  std::size_t runs = 0;
  std::size_t original_size = 0;   // non-zero choices of the input
  std::size_t minimized_size = 0;  // non-zero choices of best
  bool budget_exhausted = false;
};

MinimizeResult minimize(const Trace& failing, const Oracle& oracle, MinimizeOptions options = {});

// "Fails the same way": the first lines of the two failure messages agree
// once every run of digits is treated as equal (a step number or a virtual
// time in a message does not make it another failure).
bool same_failure(const std::string& a, const std::string& b);

}  // namespace simloop::replay
