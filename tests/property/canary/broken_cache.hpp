// The canary: deliberately broken code that only fails on a deviating
// schedule, so a passing property suite proves nothing unless this one is
// found and shrunk.
//
// BrokenCache::get() checks, then acts across an await (check-then-act): a
// worker that finds the cache empty fetches (a 500us await) and only then
// marks it filled. Worker i wakes at (i + 1) ms, so on the natural schedule
// each fetch is over before the next worker looks. A single busy callback
// (callback cost >= 1ms on the first worker's step) lets the next worker look
// while the fetch is in flight: two fetches, the invariant "fetched once"
// breaks. The shrunk schedule needs exactly one non-zero choice; the
// canary's bound is <= 2 (kCanaryMaxNonzero). The worker count usually
// shrinks to 2 (rapidcheck does not revisit it once the schedule shrank).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include <simloop/properties/rapidcheck.hpp>
#include <simloop/simloop.hpp>

namespace canary {

inline constexpr std::uint64_t kCanaryMaxNonzero = 2;

struct BrokenCache {
  bool filled = false;
  int fetches = 0;
  simloop::Coro<void> get() {
    if (!filled) {  // BUG: the check and the act are split by an await
      ++fetches;
      co_await simloop::sleep(std::chrono::microseconds(500));
      filled = true;
    }
  }
};

inline simloop::Coro<void> worker(BrokenCache* cache, std::size_t i) {
  co_await simloop::sleep(std::chrono::milliseconds(static_cast<long>(i) + 1));
  co_await cache->get();
}

// The property body: `workers` workers share one cache; it must be fetched once.
inline simloop::properties::PropertyRun run_broken_cache(std::size_t workers, bool fail_property) {
  auto scenario = [workers](simloop::sim::SimLoop& loop) -> simloop::Coro<void> {
    auto cache = std::make_shared<BrokenCache>();
    std::vector<simloop::Task<void>> tasks;
    for (std::size_t i = 0; i < workers; ++i) tasks.push_back(loop.create_task(worker(cache.get(), i)));
    for (auto& t : tasks) co_await t;
    SIMLOOP_PROP_ASSERT(cache->fetches == 1, "the cache was fetched " << cache->fetches << " times");
  };
  simloop::properties::PropertyOptions options;
  options.fidelity = simloop::sim::Fidelity::Asyncio;
  return fail_property ? simloop::properties::run(scenario, options) : simloop::properties::check(scenario, options);
}

}  // namespace canary
