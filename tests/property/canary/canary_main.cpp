// The canary as a user sees it: a property over broken code (broken_cache.hpp)
// that MUST fail. ctest runs it through check_canary.cmake, which passes only
// if this binary fails, rapidcheck reports a shrunk counterexample, and the
// shrunk schedule has at most kCanaryMaxNonzero non-zero choices.
#include <simloop/properties/gtest.hpp>

#include "broken_cache.hpp"

SIMLOOP_PROPERTY(Canary, BrokenCacheFetchesOnce, 500, ()) {
  const auto workers = static_cast<std::size_t>(*rc::gen::inRange(2, 9));
  canary::run_broken_cache(workers, true);
}
