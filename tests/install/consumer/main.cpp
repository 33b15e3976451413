// A user program of the core alone (simloop::simloop), built against the
// installed package, through add_subdirectory, with pkg-config, and with
// -fsanitize=address,undefined against an uninstrumented simloop. It makes
// and frees simloop's pooled objects (handles, futures, tasks, coroutine
// frames) both in this translation unit and inside the library (the
// runner's main task, a TaskGroup's futures): objects of types whose code
// both sides compile, so that a block taken from the pool on one side and
// given back on the other aborts under AddressSanitizer unless both sides
// make the same pool choice (<simloop/config.hpp>).
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include <simloop/simloop.hpp>

using namespace std::chrono_literals;

static simloop::Coro<int> twice(int n) {
  co_await simloop::sleep(1s);
  co_return 2 * n;
}

// Futures made here and completed by callbacks the loop runs and frees.
static simloop::Coro<int> churn(simloop::EventLoop& loop, int rounds) {
  int sum = 0;
  for (int i = 0; i < rounds; ++i) {
    auto f = simloop::Future<int>::create(loop);
    loop.call_later(std::chrono::milliseconds(i % 3), [f, i] { f.set_result(i); });
    sum += co_await f;
  }
  co_return sum;
}

static simloop::Coro<void> tick() { co_await simloop::sleep(1ms); }

static simloop::Coro<void> count_tick(int* count) {
  co_await tick();
  ++*count;
}

// Tasks of several sizes and a gather over them, under the runner (whose
// main task, a Task<void>, the library makes; Task<void>s are made here too).
static simloop::Coro<void> scenario(simloop::sim::SimLoop& loop) {
  auto ticker = loop.create_task(tick(), "ticker");
  std::vector<simloop::Task<int>> tasks;
  for (int i = 0; i < 64; ++i) tasks.push_back(loop.create_task(i % 2 == 0 ? twice(i) : churn(loop, i % 7)));
  const std::vector<int> results = co_await simloop::gather(tasks);
  co_await ticker;
  // A TaskGroup: futures the library makes, of a type this program uses too.
  int in_group = 0;
  auto three_ticks = [&in_group](simloop::TaskGroup& tg) -> simloop::Coro<void> {
    for (int i = 0; i < 3; ++i) tg.create_task(count_tick(&in_group));
    co_return;
  };
  co_await simloop::with_task_group(three_ticks);
  if (in_group != 3) throw std::logic_error("a task of the group did not run");
  if (results.size() != tasks.size()) throw std::logic_error("gather lost a result");
}

int main() {
  simloop::sim::SimLoop loop;
  const int v = loop.run_until_complete(twice(21));
  const simloop::Duration at = loop.time();
  std::printf("consumer (simloop %s): %d at %lld ns\n", SIMLOOP_VERSION, v, static_cast<long long>(at.count()));
  const int churned = loop.run_until_complete(churn(loop, 1000));
  loop.run_until_complete(tick());
  static_assert(SIMLOOP_VERSION_MAJOR >= 0 && SIMLOOP_VERSION_MINOR >= 0 && SIMLOOP_VERSION_PATCH >= 0);

  simloop::sim::RunnerOptions options;
  options.test_name = "consumer";
  options.runs = 20;
  options.log = nullptr;
  const simloop::sim::ExploreResult explored = simloop::sim::explore(scenario, options);
  if (!explored.ok()) std::printf("%s\n", explored.failure->report.c_str());
  return v == 42 && at == 1s && churned == 999 * 1000 / 2 && explored.ok() && explored.runs == 20 ? 0 : 1;
}
