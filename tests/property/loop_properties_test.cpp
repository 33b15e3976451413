// Properties of the loop itself (timers, sleep, call_soon, cancellation,
// determinism, replay), each over many generated schedules. Unless a
// property fixes the fidelity, rapidcheck draws it (asyncio or chaos).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <simloop/properties/gtest.hpp>
#include <simloop/replay/explore.hpp>
#include <simloop/simloop.hpp>

#include "support/raises.hpp"

namespace {

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::Duration;
using simloop::Task;
using simloop::sim::SimLoop;
using simloop::testing::raises;
namespace props = simloop::properties;

std::vector<Duration> gen_delays(int max_count, int max_us) {
  const auto us = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, max_us));
  std::vector<Duration> out;
  for (std::size_t i = 0; i < us.size() && i < static_cast<std::size_t>(max_count); ++i) {
    out.push_back(std::chrono::microseconds(us[i]));
  }
  return out;
}

Coro<void> sleeper(SimLoop* loop, Duration d, int* violations) {
  const Duration start = loop->time();
  co_await simloop::sleep(d);
  if (loop->time() < start + d) ++*violations;
}

}  // namespace

// sleep(d) resumes at virtual time >= start + d, whatever the schedule.
SIMLOOP_PROPERTY(LoopProperty, SleepResumesNoEarlierThanStartPlusDelay, 200, ()) {
  const auto delays = gen_delays(12, 5000);
  props::run([&](SimLoop& loop) -> Coro<void> {
    int violations = 0;
    std::vector<Task<void>> tasks;
    for (Duration d : delays) tasks.push_back(loop.create_task(sleeper(&loop, d, &violations)));
    for (auto& t : tasks) co_await t;
    SIMLOOP_PROP_ASSERT(violations == 0, violations << " sleep(s) resumed early");
  });
}

// A call_later(d) callback never runs before its deadline, and every timer
// that is not cancelled runs exactly once.
SIMLOOP_PROPERTY(LoopProperty, TimersNeverFireEarlyAndEachFiresOnce, 200, ()) {
  const auto delays = gen_delays(16, 3000);
  const auto cancel_mask = *rc::gen::container<std::vector<bool>>(delays.size(), rc::gen::arbitrary<bool>());
  props::run([&](SimLoop& loop) -> Coro<void> {
    std::vector<int> fired(delays.size(), 0);
    int early = 0;
    std::vector<simloop::HandleRef> handles;
    const Duration start = loop.time();
    for (std::size_t i = 0; i < delays.size(); ++i) {
      const Duration due = start + delays[i];
      handles.push_back(loop.call_later(delays[i], [&fired, &early, &loop, i, due] {
        ++fired[i];
        if (loop.time() < due) ++early;
      }));
    }
    for (std::size_t i = 0; i < delays.size(); ++i) {
      if (cancel_mask[i]) handles[i]->cancel();
    }
    co_await simloop::sleep(10ms);
    SIMLOOP_PROP_ASSERT(early == 0, early << " timer(s) fired before their deadline");
    for (std::size_t i = 0; i < delays.size(); ++i) {
      SIMLOOP_PROP_ASSERT(fired[i] == (cancel_mask[i] ? 0 : 1), "timer " << i << " fired " << fired[i] << " times");
    }
  });
}

// Under asyncio fidelity call_soon is FIFO: callbacks run in the order they
// were scheduled, generation after generation, whatever else the schedule
// does (callback costs, timer ties).
SIMLOOP_PROPERTY(LoopProperty, CallSoonIsFifoUnderAsyncioFidelity, 200, ()) {
  const int n = *rc::gen::inRange(1, 20);
  const auto timer_delays = gen_delays(6, 50);
  props::PropertyOptions options;
  options.fidelity = simloop::sim::Fidelity::Asyncio;
  props::run(
      [&](SimLoop& loop) -> Coro<void> {
        std::vector<int> order;
        for (Duration d : timer_delays) loop.call_later(d, [] {});  // timers interleaving with the callbacks
        for (int i = 0; i < n; ++i) {
          loop.call_soon([&order, &loop, i, n] {
            order.push_back(i);
            loop.call_soon([&order, i, n] { order.push_back(n + i); });
          });
        }
        co_await simloop::sleep(1ms);
        SIMLOOP_PROP_ASSERT(static_cast<int>(order.size()) == 2 * n);
        for (int i = 0; i < 2 * n; ++i) SIMLOOP_PROP_ASSERT(order[static_cast<std::size_t>(i)] == i, "position " << i);
      },
      options);
}

// In either fidelity (chaos may reorder), every call_soon callback runs
// exactly once, and a cancelled handle never runs.
SIMLOOP_PROPERTY(LoopProperty, CallSoonRunsEachCallbackExactlyOnce, 200, ()) {
  const int n = *rc::gen::inRange(1, 24);
  const auto cancel_mask =
      *rc::gen::container<std::vector<bool>>(static_cast<std::size_t>(n), rc::gen::arbitrary<bool>());
  props::run([&](SimLoop& loop) -> Coro<void> {
    std::vector<int> runs(static_cast<std::size_t>(n), 0);
    for (int i = 0; i < n; ++i) {
      auto h = loop.call_soon([&runs, i] { ++runs[static_cast<std::size_t>(i)]; });
      if (cancel_mask[static_cast<std::size_t>(i)]) h->cancel();
    }
    co_await simloop::sleep(Duration{0});
    co_await simloop::sleep(Duration{0});
    for (int i = 0; i < n; ++i) {
      const std::size_t k = static_cast<std::size_t>(i);
      SIMLOOP_PROP_ASSERT(runs[k] == (cancel_mask[k] ? 0 : 1), "callback " << i << " ran " << runs[k] << " times");
    }
  });
}

// sleep(0) yields exactly one loop iteration, in both fidelities.
SIMLOOP_PROPERTY(LoopProperty, SleepZeroYieldsExactlyOneIteration, 200, ()) {
  const int yields = *rc::gen::inRange(1, 20);
  const int others = *rc::gen::inRange(0, 5);
  props::run([&](SimLoop& loop) -> Coro<void> {
    auto busy = [](int k) -> Coro<void> {
      for (int i = 0; i < k; ++i) co_await simloop::sleep(Duration{0});
    };
    std::vector<Task<void>> tasks;
    for (int i = 0; i < others; ++i) tasks.push_back(loop.create_task(busy(yields)));
    for (int i = 0; i < yields; ++i) {
      const auto before = loop.iterations();
      co_await simloop::sleep(Duration{0});
      SIMLOOP_PROP_ASSERT(loop.iterations() == before + 1,
                          "sleep(0) took " << loop.iterations() - before << " iterations");
    }
    for (auto& t : tasks) co_await t;
  });
}

namespace {
Coro<void> cancellable_body(Duration d, bool* ran_past_await) {
  co_await simloop::sleep(d);
  *ran_past_await = true;
}
}  // namespace

// A cancel() that reaches a task before it finished makes it end cancelled,
// and the task never runs past the co_await it was cancelled at.
SIMLOOP_PROPERTY(LoopProperty, CancelBeforeDoneEndsTheTaskCancelled, 300, ()) {
  const auto body_us = *rc::gen::inRange(0, 2000);
  const auto cancel_us = *rc::gen::inRange(0, 2000);
  const bool from_callback = *rc::gen::arbitrary<bool>();
  props::run([&](SimLoop& loop) -> Coro<void> {
    bool ran_past = false;
    Task<void> t = loop.create_task(cancellable_body(std::chrono::microseconds(body_us), &ran_past));
    co_await simloop::sleep(std::chrono::microseconds(cancel_us));
    const bool was_done = t.done();
    bool accepted = false;
    if (from_callback) {
      // The callback owns its result: under chaos it may run after this
      // task resumed, so wait until it did.
      auto result = std::make_shared<std::optional<bool>>();
      loop.call_soon([t, result] { *result = t.cancel(); });
      while (!result->has_value()) co_await simloop::sleep(Duration{0});
      accepted = **result;
    } else {
      accepted = t.cancel();
    }
    const bool cancelled = (co_await raises<simloop::CancelledError>(t)).has_value();
    if (was_done) {
      SIMLOOP_PROP_ASSERT(!accepted && !cancelled && ran_past, "a finished task was cancelled");
    } else if (accepted) {
      // Accepted while not done: even when its sleep already completed and
      // only the wakeup was queued, the task ends cancelled at that co_await.
      SIMLOOP_PROP_ASSERT(cancelled, "an accepted cancel did not cancel the task");
      SIMLOOP_PROP_ASSERT(!ran_past, "the task ran past the co_await it was cancelled at");
    } else {
      SIMLOOP_PROP_ASSERT(!cancelled && ran_past, "a refused cancel still cancelled the task");
    }
  });
}

namespace {

// A scenario whose run depends on every kind of choice: timers, tasks, the
// test's own choices; it logs what happened.
Coro<void> logger(std::vector<std::uint64_t>* log, std::uint64_t id, Duration d) {
  co_await simloop::sleep(d);
  log->push_back(id * 1000 + simloop::sim::choose(7));
  co_await simloop::sleep(Duration{0});
  log->push_back(id);
}

simloop::sim::Scenario logging_scenario(std::shared_ptr<std::vector<std::uint64_t>> log, int tasks) {
  return [log, tasks](SimLoop& loop) -> Coro<void> {
    std::vector<Task<void>> ts;
    for (int i = 0; i < tasks; ++i) {
      ts.push_back(
          loop.create_task(logger(log.get(), static_cast<std::uint64_t>(i), std::chrono::microseconds(100 * (i % 3)))));
    }
    for (auto& t : ts) co_await t;
    log->push_back(static_cast<std::uint64_t>(loop.time().count()));
  };
}

}  // namespace

// The same seed gives the same choice list (and the same run) for the
// seeded strategies, in both fidelities.
SIMLOOP_PROPERTY(LoopProperty, SameSeedGivesTheSameChoiceList, 200, ()) {
  const auto seed = *rc::gen::arbitrary<std::uint64_t>();
  const auto strategy = *rc::gen::element(simloop::sim::Strategy::Random, simloop::sim::Strategy::Pct);
  const auto fidelity = *props::fidelity();
  const int tasks = *rc::gen::inRange(1, 8);
  auto log = std::make_shared<std::vector<std::uint64_t>>();
  const auto scenario = logging_scenario(log, tasks);
  simloop::sim::RunnerOptions o;
  o.strategy = strategy;
  o.sim.fidelity = fidelity;
  o.sim.busy_probability = 0.3;
  o.log = nullptr;
  const simloop::sim::RunContext ctx{&o, seed, 0, 1};
  std::vector<simloop::sim::Choice> c1, c2;
  std::vector<std::uint64_t> d1, d2;
  const auto r1 = simloop::sim::run_one(scenario, o, ctx, &c1, &d1);
  const auto log1 = *log;
  log->clear();
  const auto r2 = simloop::sim::run_one(scenario, o, ctx, &c2, &d2);
  RC_ASSERT(!r1.failed());
  RC_ASSERT(c1 == c2);
  RC_ASSERT(d1 == d2);
  RC_ASSERT(log1 == *log);
}

namespace {
// Replays a list of choices through the runner.
class ListObserver final : public simloop::sim::RunObserver {
 public:
  explicit ListObserver(std::vector<simloop::sim::Choice> c) : choices_(std::move(c)) {}
  std::unique_ptr<simloop::sim::SimScheduler> make_scheduler(const simloop::sim::RunContext& ctx) override {
    auto s = std::make_unique<simloop::sim::ListStrategy>(choices_, ctx.options->sim);
    list_ = s.get();
    return s;
  }
  // The list strategy dies with the run's loop: read it at the run's end.
  std::string on_run_end(const simloop::sim::RunContext&, const simloop::sim::RunOutcome&) override {
    diverged = list_->divergence().has_value();
    list_ = nullptr;
    return {};
  }
  bool diverged = false;

 private:
  simloop::sim::ListStrategy* list_ = nullptr;
  std::vector<simloop::sim::Choice> choices_;
};
}  // namespace

// The choices rapidcheck drew are a complete description of the run:
// replaying them as a list reproduces the run exactly (same choices, same log).
SIMLOOP_PROPERTY(LoopProperty, RapidcheckScheduleReplaysExactlyAsAList, 200, ()) {
  const int tasks = *rc::gen::inRange(1, 8);
  auto log = std::make_shared<std::vector<std::uint64_t>>();
  const auto scenario = logging_scenario(log, tasks);
  props::PropertyOptions options;
  options.bias = props::Bias::uniform();  // many deviations: a demanding replay
  const props::PropertyRun first = props::run(scenario, options);
  const auto log1 = *log;
  log->clear();

  simloop::sim::RunnerOptions o;
  o.sim.fidelity = first.fidelity;
  o.log = nullptr;
  ListObserver replay(first.choices);
  o.observers.push_back(&replay);
  std::vector<simloop::sim::Choice> again;
  const auto r = simloop::sim::run_one(scenario, o, simloop::sim::RunContext{&o, 0, 0, 1}, &again);
  RC_ASSERT(!r.failed());
  RC_ASSERT(!replay.diverged);
  RC_ASSERT(again == first.choices);
  RC_ASSERT(log1 == *log);
}

namespace {
Coro<void> failing_worker(std::uint64_t fail_at) {
  for (std::uint64_t i = 0;; ++i) {
    co_await simloop::sleep(std::chrono::microseconds(10 * (1 + simloop::sim::choose(3))));
    if (i == fail_at) throw std::runtime_error("deliberate failure");
  }
}
}  // namespace

// A failing run written to a replay file replays from that file exactly:
// the same choices, the same digests, the same failure.
SIMLOOP_PROPERTY(LoopProperty, ReplayedFileReproducesTheRunsDigests, 40, ()) {
  const auto seed = *rc::gen::inRange<std::uint64_t>(1, 1'000'000);
  const auto fail_at = *rc::gen::inRange<std::uint64_t>(0, 20);
  const auto fidelity = *props::fidelity();
  const simloop::sim::Scenario scenario = [fail_at](SimLoop& loop) -> Coro<void> {
    Task<void> a = loop.create_task(failing_worker(fail_at));
    Task<void> b = loop.create_task(failing_worker(fail_at + 3));
    co_await a;
    co_await b;
  };
  simloop::sim::RunnerOptions o;
  o.seed = seed;
  o.runs = 1;
  o.sim.fidelity = fidelity;
  o.sim.busy_probability = 0.2;
  o.test_name = "LoopProperty.ReplayedFileReproducesTheRunsDigests";
  o.log = nullptr;
  simloop::replay::ReplayEnv env;
  env.dir = (std::filesystem::path(simloop::replay::default_replay_dir()) / "property-replay-check").string();
  env.minimize_runs = 0;
  const auto result = simloop::replay::explore(scenario, o, env);
  RC_ASSERT(!result.ok());
  const std::string file = result.failure->files.replay_path;
  RC_ASSERT(file == simloop::replay::replay_path(env.dir, o.test_name, "random", simloop::sim::to_string(fidelity),
                                                 seed, false));
  RC_ASSERT(std::filesystem::exists(file));

  simloop::replay::ReplayEnv again = env;
  again.replay_file = file;
  simloop::sim::RunnerOptions o2 = o;
  simloop::replay::ReplayObserver observer(o2, again);
  o2.observers.push_back(&observer);
  const auto replayed = simloop::sim::explore(scenario, o2);
  RC_ASSERT(!replayed.ok());
  RC_ASSERT(observer.reproduced());
  std::filesystem::remove(file);
}
