// Strategies and fidelities: the choice stream, its observers, the loop's
// choice points (timer ties, external order and delay, callback cost, ready
// order), cancellation injection, buggify and the test-side choices.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <simloop/simloop.hpp>

using namespace std::chrono_literals;
using simloop::ChoiceKind;
using simloop::Coro;
using simloop::Duration;
using simloop::sim::Choice;
using simloop::sim::ChoiceRecorder;
using simloop::sim::Fidelity;
using simloop::sim::SimLoop;
using simloop::sim::SimOptions;
using simloop::sim::Strategy;

namespace {

std::unique_ptr<simloop::sim::SimScheduler> strategy(Strategy s, std::uint64_t seed, SimOptions o = {}) {
  return simloop::sim::make_strategy(s, seed, o);
}

// A loop whose scheduler's choices are recorded into `rec`.
struct Rig {
  simloop::sim::SimScheduler* sched;
  SimLoop loop;
  Rig(std::unique_ptr<simloop::sim::SimScheduler> s, ChoiceRecorder* rec) : sched(s.get()), loop(std::move(s)) {
    if (rec != nullptr) sched->add_observer(rec);
  }
};

}  // namespace

TEST(SimStrategy, FifoAlwaysAnswersZeroAndReportsEveryRealChoice) {
  auto s = strategy(Strategy::Fifo, 1);
  ChoiceRecorder rec;
  s->add_observer(&rec);
  EXPECT_EQ(s->choose(ChoiceKind::Test, 10), 0u);
  EXPECT_EQ(s->choose(ChoiceKind::Test, 1), 0u);  // nothing to choose: not reported
  EXPECT_EQ(s->callback_cost(), Duration{0});
  EXPECT_EQ(s->external_delay(), 0u);
  ASSERT_EQ(rec.choices().size(), 3u);
  EXPECT_EQ(rec.choices()[0], (Choice{ChoiceKind::Test, 10, 0}));
  EXPECT_EQ(rec.choices()[1].kind, ChoiceKind::CallbackCost);
  EXPECT_EQ(rec.choices()[2], (Choice{ChoiceKind::ExternalDelay, 4, 0}));
  EXPECT_THROW(s->choose(ChoiceKind::Test, 0), simloop::Error);
}

TEST(SimStrategy, FidelityDecidesTheChoicePoints) {
  SimOptions o;
  auto a = simloop::sim::choice_points(o);
  EXPECT_FALSE(a.ready_order);
  EXPECT_TRUE(a.timer_ties && a.external_events && a.callback_cost);
  EXPECT_EQ(a.injections, 0);
  o.fidelity = Fidelity::Chaos;
  o.cancel_probability = 0.1;
  auto c = simloop::sim::choice_points(o);
  EXPECT_TRUE(c.ready_order && c.timer_ties && c.external_events && c.callback_cost);
  EXPECT_EQ(c.injections, simloop::kAllInjections);
  // The same for every strategy: the list of choices asked cannot depend on it.
  EXPECT_EQ(strategy(Strategy::Fifo, 1, o)->points().ready_order, strategy(Strategy::Pct, 1, o)->points().ready_order);
}

TEST(SimStrategy, RandomIsSeededAndInRange) {
  auto a = strategy(Strategy::Random, 5);
  auto b = strategy(Strategy::Random, 5);
  auto c = strategy(Strategy::Random, 6);
  bool differ = false;
  for (std::uint64_t n = 2; n < 200; ++n) {
    const std::uint64_t va = a->choose(ChoiceKind::Test, n);
    EXPECT_LT(va, n);
    EXPECT_EQ(va, b->choose(ChoiceKind::Test, n));
    differ = differ || va != c->choose(ChoiceKind::Test, n);
  }
  EXPECT_TRUE(differ);
}

TEST(SimStrategy, TimingChoicesAreMostlyNatural) {
  SimOptions o;
  o.busy_probability = 0.05;
  auto s = strategy(Strategy::Random, 3, o);
  int busy = 0;
  std::set<Duration> costs;
  for (int i = 0; i < 20000; ++i) {
    const Duration d = s->callback_cost();
    if (d > Duration{0}) {
      ++busy;
      costs.insert(d);
    }
  }
  EXPECT_GT(busy, 800);
  EXPECT_LT(busy, 1200);
  // The log scale 1us .. 100ms, all reached.
  EXPECT_EQ(costs, (std::set<Duration>{1us, 10us, 100us, 1ms, 10ms, 100ms}));
}

TEST(SimStrategy, PctChangePointsAndStrictPriorityWithoutThem) {
  SimOptions o;
  o.pct_depth = 4;
  o.pct_horizon = 50;
  simloop::sim::PctStrategy pct(11, o);
  ASSERT_EQ(pct.change_points().size(), 3u);
  for (std::uint64_t p : pct.change_points()) {
    EXPECT_GE(p, 1u);
    EXPECT_LE(p, 50u);
  }
  // Depth 1: no change point, so under chaos the same task always goes first
  // among the same set of ready tasks.
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    SimOptions d1;
    d1.pct_depth = 1;
    d1.fidelity = Fidelity::Chaos;
    d1.max_callback_cost = Duration{0};
    SimLoop loop(std::make_unique<simloop::sim::PctStrategy>(seed, d1));
    std::vector<std::string> order;
    auto worker = [](std::vector<std::string>* out, std::string name) -> Coro<void> {
      for (int i = 0; i < 5; ++i) {
        out->push_back(name);
        co_await simloop::sleep(0s);
      }
    };
    auto main = [&]() -> Coro<void> {
      auto a = loop.create_task(worker(&order, "a"));
      auto b = loop.create_task(worker(&order, "b"));
      auto c = loop.create_task(worker(&order, "c"));
      co_await a;
      co_await b;
      co_await c;
    };
    loop.run_until_complete(main());
    ASSERT_EQ(order.size(), 15u);
    for (std::size_t i = 3; i < 15; ++i) EXPECT_EQ(order[i], order[i % 3]) << "seed " << seed;
  }
}

TEST(SimStrategy, ListReplaysARecordedRunAndReportsDivergence) {
  ChoiceRecorder rec;
  auto r = strategy(Strategy::Random, 8);
  r->add_observer(&rec);
  std::vector<std::uint64_t> values;
  for (std::uint64_t n = 2; n < 40; ++n) values.push_back(r->choose(ChoiceKind::Test, n));
  simloop::sim::ListStrategy list(rec.choices());
  ChoiceRecorder rec2;
  list.add_observer(&rec2);
  for (std::uint64_t n = 2; n < 40; ++n) EXPECT_EQ(list.choose(ChoiceKind::Test, n), values[n - 2]);
  EXPECT_EQ(rec2.choices(), rec.choices());
  EXPECT_TRUE(list.exhausted());
  EXPECT_EQ(list.choose(ChoiceKind::Test, 9), 0u);  // past the end: natural
  EXPECT_FALSE(list.divergence());

  // Asked another kind than recorded: a divergence, never an exception.
  simloop::sim::ListStrategy other(rec.choices());
  bool heard = false;
  other.on_divergence([&](const simloop::sim::ListStrategy::Divergence&) { heard = true; });
  EXPECT_EQ(other.choose(ChoiceKind::Test, 2), values[0]);
  EXPECT_EQ(other.choose(ChoiceKind::TimerTie, 3), 0u);
  ASSERT_TRUE(other.divergence());
  EXPECT_TRUE(heard);
  EXPECT_EQ(other.divergence()->index, 1u);
  EXPECT_NE(other.divergence()->describe().find("timer_tie(3)"), std::string::npos);

  // With a fallback, the run carries on under it.
  simloop::sim::ListStrategy carry(rec.choices());
  carry.set_fallback(strategy(Strategy::Random, 99));
  carry.choose(ChoiceKind::Buggify, 4);
  EXPECT_TRUE(carry.divergence());
  auto twin = strategy(Strategy::Random, 99);
  twin->choose(ChoiceKind::Test, 1000);  // the fallback answered one draw already
  for (int i = 0; i < 10; ++i) EXPECT_EQ(carry.choose(ChoiceKind::Test, 1000), twin->choose(ChoiceKind::Test, 1000));

  // Values only: no kind check, clamped to the range.
  auto values_only = simloop::sim::ListStrategy::from_values({5, 1, 7});
  EXPECT_EQ(values_only->choose(ChoiceKind::ReadyOrder, 3), 2u);
  EXPECT_EQ(values_only->choose(ChoiceKind::Test, 3), 1u);
  EXPECT_EQ(values_only->choose(ChoiceKind::Test, 100), 7u);
  EXPECT_FALSE(values_only->divergence());
}

TEST(SimChoicePoints, TimerTiesAreExploredAndFifoKeepsArmingOrder) {
  std::set<std::string> orders;
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    for (Strategy s : {Strategy::Fifo, Strategy::Random}) {
      SimOptions o;
      o.max_callback_cost = Duration{0};  // isolate the tie choices
      SimLoop loop(strategy(s, seed, o));
      std::string order;
      for (char c : std::string("abc")) loop.call_later(5ms, [&order, c] { order += c; });
      loop.call_later(6ms, [&loop] { loop.stop(); });
      loop.run_forever();
      if (s == Strategy::Fifo) {
        EXPECT_EQ(order, "abc");
      } else {
        orders.insert(order);
      }
      EXPECT_EQ(loop.time(), 6ms);  // ties reorder; time is untouched
    }
  }
  EXPECT_EQ(orders.size(), 6u);  // every permutation of three tied timers
}

TEST(SimChoicePoints, ExternalEventsAreOrderedAndDelayedInIterations) {
  std::set<std::string> orders;
  std::set<std::uint64_t> delays;
  for (std::uint64_t seed = 0; seed < 60; ++seed) {
    for (Strategy s : {Strategy::Fifo, Strategy::Random}) {
      SimOptions o;
      o.external_delay_probability = 0.5;
      o.max_callback_cost = Duration{0};  // isolate the external choices
      SimLoop loop(strategy(s, seed, o));
      std::string order;
      std::uint64_t posted_at = 0, last_run_at = 0;
      loop.call_soon([&] {
        posted_at = loop.iterations();
        // Three external events arriving together (as from other threads).
        for (char c : std::string("xyz")) {
          loop.call_soon_threadsafe([&, c] {
            order += c;
            last_run_at = loop.iterations();
            if (order.size() == 3) loop.stop();
          });
        }
      });
      loop.run_forever();
      const std::uint64_t waited = last_run_at - posted_at;
      if (s == Strategy::Fifo) {
        EXPECT_EQ(order, "xyz");
        EXPECT_EQ(waited, 1u);  // natural: they arrive at the next iteration
      } else {
        orders.insert(order);
        delays.insert(waited);
        EXPECT_LE(waited, 1u + o.max_external_delay);
      }
      EXPECT_EQ(loop.time(), Duration{0});  // delays are iterations, not time
    }
  }
  EXPECT_EQ(orders.size(), 6u);
  EXPECT_EQ(delays, (std::set<std::uint64_t>{1, 2, 3, 4}));
}

TEST(SimChoicePoints, CallbackCostAdvancesTimeButTimersNeverFireEarly) {
  SimOptions o;
  o.busy_probability = 1.0;
  SimLoop loop(strategy(Strategy::Random, 4, o));
  Duration fired_at{-1};
  loop.call_later(10ms, [&] { fired_at = loop.time(); });
  int spins = 0;
  std::function<void()> spin = [&] {
    if (++spins < 50) loop.call_soon(spin);
  };
  loop.call_soon(spin);
  loop.call_later(1h, [&] { loop.stop(); });
  loop.run_forever();
  EXPECT_EQ(spins, 50);
  EXPECT_GE(fired_at, 10ms);
  EXPECT_GT(loop.time(), 1h);  // the stop callback's own cost
}

TEST(SimChoicePoints, ChaosPermutesTheReadyBatchAsyncioNever) {
  std::set<std::string> chaos_orders;
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    for (Fidelity f : {Fidelity::Asyncio, Fidelity::Chaos}) {
      SimOptions o;
      o.fidelity = f;
      SimLoop loop(strategy(Strategy::Random, seed, o));
      std::string order;
      for (char c : std::string("abcd")) loop.call_soon([&order, c] { order += c; });
      loop.call_soon([&loop] { loop.stop(); });
      loop.run_forever();
      if (f == Fidelity::Asyncio) {
        EXPECT_EQ(order, "abcd") << "call_soon FIFO must hold under asyncio fidelity";
      } else {
        chaos_orders.insert(order);
      }
    }
  }
  EXPECT_GT(chaos_orders.size(), 10u);
}

namespace {
Coro<void> parked(simloop::Future<int> f, int* cancelled) {
  try {
    co_await f;
  } catch (const simloop::CancelledError&) {
    ++*cancelled;
    throw;
  }
}
}  // namespace

TEST(SimChoicePoints, CancellationInjectionCancelsAtAwaitPointsButSparesTheMainTask) {
  SimOptions o;
  o.cancel_probability = 1.0;
  o.max_injected_cancels = 2;
  // Suspensions only, over a horizon of the three parked tasks' awaits (the
  // main task's are spared, so not opportunities): two of the three are cancelled.
  o.injection_kinds = simloop::injection_bit(simloop::Injection::Suspend);
  o.cancel_horizon = 3;
  auto owned = strategy(Strategy::Random, 1, o);
  auto* sched = owned.get();
  SimLoop loop(std::move(owned));
  int cancelled = 0;
  auto main = [&]() -> Coro<int> {
    // One future each: cancelling a task cancels the future it awaits, as in asyncio.
    std::vector<simloop::Future<int>> fs;
    std::vector<simloop::Task<void>> tasks;
    for (int i = 0; i < 3; ++i) {
      fs.push_back(simloop::Future<int>::create(loop));
      tasks.push_back(loop.create_task(parked(fs.back(), &cancelled)));
    }
    co_await simloop::sleep(1ms);
    for (auto& f : fs) {
      if (!f.done()) f.set_result(1);
    }
    int done_ok = 0;
    for (auto& t : tasks) {
      try {
        co_await t;
        ++done_ok;
      } catch (const simloop::CancelledError&) {
      }
    }
    co_return done_ok;
  };
  auto task = loop.create_task(main());
  sched->spare_task(task.base()->id());
  EXPECT_EQ(loop.run_until_complete(simloop::Future<int>(task)), 1);
  EXPECT_EQ(cancelled, 2);
  EXPECT_EQ(sched->injected_cancels(), 2u);

  // Off (probability 0): the choice point is never asked.
  SimLoop quiet(strategy(Strategy::Random, 1));
  ChoiceRecorder rec;
  dynamic_cast<simloop::sim::SimScheduler&>(quiet.scheduler()).add_observer(&rec);
  auto body = [&]() -> Coro<void> { co_await simloop::sleep(1ms); };
  quiet.run_until_complete(body());
  for (const Choice& c : rec.choices()) EXPECT_NE(c.kind, ChoiceKind::Cancel);
}

TEST(SimChoices, TestSideChoicesAreRecordedAndNaturalUnderFifo) {
  for (Strategy s : {Strategy::Fifo, Strategy::Random}) {
    ChoiceRecorder rec;
    Rig rig(strategy(s, 21), &rec);
    std::vector<std::uint64_t> seen;
    Duration d{};
    bool c = false;
    auto body = [&]() -> Coro<void> {
      seen.push_back(simloop::sim::choose(7));
      c = simloop::sim::coin();
      d = simloop::sim::duration(2ms, 3ms);
      co_return;
    };
    rig.loop.run_until_complete(body());
    std::vector<Choice> tests;
    for (const Choice& ch : rec.choices()) {
      if (ch.kind == ChoiceKind::Test) tests.push_back(ch);
    }
    ASSERT_EQ(tests.size(), 3u);
    EXPECT_EQ(tests[0].n, 7u);
    EXPECT_EQ(tests[1].n, 2u);
    EXPECT_EQ(tests[2].n, 1'000'001u);
    EXPECT_GE(d, 2ms);
    EXPECT_LE(d, 3ms);
    if (s == Strategy::Fifo) {
      EXPECT_EQ(seen[0], 0u);
      EXPECT_FALSE(c);
      EXPECT_EQ(d, 2ms);
    }
  }
  EXPECT_THROW(simloop::sim::choose(3), simloop::NoRunningTaskError);
  EXPECT_FALSE(simloop::sim::buggify());  // no loop: production code path
}

TEST(SimChoices, BuggifyFollowsFoundationDbsRule) {
  // Per run: a site is on with 25% chance; an enabled site fires on 25% of its hits.
  int enabled_runs = 0;
  long fired_total = 0;
  for (std::uint64_t seed = 0; seed < 2000; ++seed) {
    ChoiceRecorder rec;
    Rig rig(strategy(Strategy::Random, seed), &rec);
    int fired = 0;
    auto body = [&]() -> Coro<void> {
      for (int i = 0; i < 20; ++i) {
        if (simloop::sim::buggify()) ++fired;
      }
      co_return;
    };
    rig.loop.run_until_complete(body());
    std::vector<Choice> b;
    for (const Choice& c : rec.choices()) {
      if (c.kind == ChoiceKind::Buggify) b.push_back(c);
    }
    ASSERT_FALSE(b.empty());
    const bool enabled = b[0].value == 1;
    // The site is decided once; only an enabled site asks again, at every hit.
    EXPECT_EQ(b.size(), enabled ? 21u : 1u);
    if (enabled) ++enabled_runs;
    if (!enabled) {
      EXPECT_EQ(fired, 0);
    }
    fired_total += fired;
  }
  EXPECT_GT(enabled_runs, 2000 * 22 / 100);
  EXPECT_LT(enabled_runs, 2000 * 28 / 100);
  const double fire_rate = static_cast<double>(fired_total) / (20.0 * enabled_runs);
  EXPECT_GT(fire_rate, 0.22);
  EXPECT_LT(fire_rate, 0.28);
  // fifo: never.
  SimLoop fifo(strategy(Strategy::Fifo, 0));
  bool any = false;
  auto body = [&]() -> Coro<void> {
    for (int i = 0; i < 100; ++i) any = any || simloop::sim::buggify();
    co_return;
  };
  fifo.run_until_complete(body());
  EXPECT_FALSE(any);
}

namespace {
// A depth-2 ordering bug under chaos: A's first step must run before B's,
// and then B's second step before A's second.
Coro<void> two_steps(std::string* log, char name) {
  *log += name;
  co_await simloop::sleep(0s);
  *log += name;
}
bool depth2_bug(std::string log) { return log == "abba"; }
}  // namespace

TEST(SimStrategy, PctMeetsItsBoundOnADepthTwoBug) {
  // Count the run's picks (k) under fifo, then check pct's hit rate against
  // 1 / (n * k^(d-1)) with d = 2 and n = 3 keys (main, a, b; counting the
  // done-callbacks' call sites too would only lower the bound).
  std::uint64_t k = 0;
  auto run = [&](std::unique_ptr<simloop::sim::SimScheduler> s, ChoiceRecorder* rec) {
    Rig rig(std::move(s), rec);
    std::string log;
    auto main = [&]() -> Coro<void> {
      auto a = rig.loop.create_task(two_steps(&log, 'a'));
      auto b = rig.loop.create_task(two_steps(&log, 'b'));
      co_await a;
      co_await b;
    };
    rig.loop.run_until_complete(main());
    return log;
  };
  SimOptions o;
  o.fidelity = Fidelity::Chaos;
  o.max_callback_cost = Duration{0};
  ChoiceRecorder rec;
  EXPECT_FALSE(depth2_bug(run(strategy(Strategy::Fifo, 0, o), &rec)));
  for (const Choice& c : rec.choices()) k += c.kind == ChoiceKind::ReadyOrder ? 1 : 0;
  ASSERT_GE(k, 2u);
  o.pct_depth = 2;
  o.pct_horizon = k;
  int hits = 0;
  constexpr int kSeeds = 4000;
  for (int seed = 0; seed < kSeeds; ++seed) hits += depth2_bug(run(strategy(Strategy::Pct, seed, o), nullptr)) ? 1 : 0;
  const double bound = 1.0 / (3.0 * static_cast<double>(k));
  EXPECT_GE(hits, static_cast<int>(bound * kSeeds * 0.9)) << "k=" << k << " hits=" << hits;
  std::printf("  pct depth 2: k=%llu picks, hit rate %.3f, bound %.3f\n", static_cast<unsigned long long>(k),
              hits / static_cast<double>(kSeeds), bound);
}
