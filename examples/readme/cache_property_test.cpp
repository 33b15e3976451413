#include <optional>
#include <vector>

#include <simloop/properties/gtest.hpp>
#include <simloop/simloop.hpp>
using namespace std::chrono_literals;

// Fetches its value once, however many workers ask at the same time: the
// first to take the lock fetches, the others find the value when they get it.
struct Cache {
  simloop::Lock lock;
  std::optional<int> value;
  int fetches = 0;
};

simloop::Coro<void> worker(Cache* cache) {
  auto held = co_await cache->lock.hold();
  if (cache->value) co_return;
  ++cache->fetches;
  co_await simloop::sleep(500us);  // the fetch
  cache->value = 42;
}

SIMLOOP_PROPERTY(Cache, FetchesOnce, 300, ()) {
  const int workers = *rc::gen::inRange(2, 9);  // an input; the schedule is generated too
  simloop::properties::run([&](simloop::sim::SimLoop& loop) -> simloop::Coro<void> {
    Cache cache;
    std::vector<simloop::Task<void>> ts;
    for (int i = 0; i < workers; ++i) ts.push_back(loop.create_task(worker(&cache)));
    for (auto& t : ts) co_await t;
    SIMLOOP_PROP_ASSERT(cache.fetches == 1, "fetched " << cache.fetches << " times");
  });
}
