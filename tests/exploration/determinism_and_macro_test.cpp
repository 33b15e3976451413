// Same seed => same choice list (1,000 seeds), the rates at which each racy
// scenario is found (the figures docs/exploration.md quotes), and the
// SIMLOOP_TEST GoogleTest integration, including its failure report.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include <simloop/sim/gtest.hpp>

#include "racy_bugs.hpp"

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::sim::Choice;
using simloop::sim::Fidelity;
using simloop::sim::RunnerOptions;
using simloop::sim::Scenario;
using simloop::sim::Strategy;

namespace {

// Several kinds of choices at once: ties, external events, chaos order,
// callback cost, cancellation injection, test choices and buggify.
Coro<void> busy_mix(racy::SimLoop& loop) {
  racy::Store store;
  auto a = loop.create_task(racy::increment_now(&loop, &store));
  auto b = loop.create_task(racy::increment_after_handshake(&loop, &store));
  racy::Bank bank;
  auto c = loop.create_task(racy::withdraw(&bank, 10, simloop::sim::duration(0ms, 3ms), 1ms));
  if (simloop::sim::buggify()) co_await simloop::sleep(simloop::sim::choose(3) * 1ms);
  for (simloop::Task<void>* t : {&a, &b, &c}) {
    try {
      co_await *t;
    } catch (const simloop::CancelledError&) {
    }
  }
}

struct ChoiceSpy final : simloop::sim::RunObserver {
  simloop::sim::ChoiceRecorder rec;
  std::vector<std::vector<Choice>> runs;
  void on_run_start(const simloop::sim::RunContext&, racy::SimLoop&, simloop::sim::SimScheduler& s) override {
    rec.clear();
    s.add_observer(&rec);
  }
  std::string on_run_end(const simloop::sim::RunContext&, const simloop::sim::RunOutcome&) override {
    runs.push_back(rec.take());
    return {};
  }
};

}  // namespace

TEST(ExplorationDeterminism, SameSeedSameChoiceListAcrossAThousandSeeds) {
  for (Strategy s : {Strategy::Random, Strategy::Pct}) {
    RunnerOptions o;
    o.strategy = s;
    o.sim.fidelity = Fidelity::Chaos;
    o.sim.cancel_probability = 0.05;
    o.runs = 1000;
    o.log = nullptr;
    o.fail_on_handler_reports = false;
    ChoiceSpy first, second;
    o.observers = {&first};
    auto r1 = simloop::sim::explore(busy_mix, o);
    o.observers = {&second};
    auto r2 = simloop::sim::explore(busy_mix, o);
    ASSERT_TRUE(r1.ok()) << r1.failure->report;
    ASSERT_TRUE(r2.ok()) << r2.failure->report;
    ASSERT_EQ(first.runs.size(), 1000u);
    ASSERT_EQ(second.runs.size(), 1000u);
    std::size_t distinct_neighbours = 0;
    for (std::size_t i = 0; i < 1000; ++i) {
      ASSERT_FALSE(first.runs[i].empty());
      ASSERT_EQ(first.runs[i], second.runs[i]) << "seed " << (o.seed + i);
      if (i > 0 && first.runs[i] != first.runs[i - 1]) ++distinct_neighbours;
    }
    EXPECT_GT(distinct_neighbours, 900u);  // seeds really differ
    // The runner's own check (choices and per-step digests) agrees.
    o.observers.clear();
    o.check_determinism = true;
    o.runs = 200;
    auto checked = simloop::sim::explore(busy_mix, o);
    EXPECT_TRUE(checked.ok()) << checked.failure->report;
  }
}

TEST(ExplorationRates, HowOftenEachBugIsHit) {
  // Fraction of 1,000 seeds that hit each bug; 1/rate is the expected number
  // of runs to find it. The floors are what docs/exploration.md promises.
  struct Row {
    const char* name;
    Scenario scenario;
    Fidelity fidelity;
    double cancel;
    double floor;
  };
  const Row rows[] = {
      {"double withdrawal", racy::double_withdrawal, Fidelity::Asyncio, 0.0, 0.2},
      {"lost update", racy::lost_update, Fidelity::Asyncio, 0.0, 0.2},
      {"dropped item", racy::dropped_item, Fidelity::Asyncio, 0.0, 0.2},
      {"busy-loop expiry", racy::busy_loop_expiry, Fidelity::Asyncio, 0.0, 0.2},
      {"start order (chaos)", racy::start_order, Fidelity::Chaos, 0.0, 0.2},
      {"cancellation-unsafe pool", racy::leaky_pool, Fidelity::Asyncio, 0.2, 0.2},
  };
  for (const Row& row : rows) {
    for (Strategy s : {Strategy::Random, Strategy::Pct}) {
      RunnerOptions o;
      o.strategy = s;
      o.sim.fidelity = row.fidelity;
      o.sim.cancel_probability = row.cancel;
      int hits = 0;
      for (std::uint64_t seed = 1; seed <= 1000; ++seed) {
        simloop::sim::RunContext ctx{&o, seed, seed - 1, 1};
        if (simloop::sim::run_one(row.scenario, o, ctx).failed()) ++hits;
      }
      const double rate = hits / 1000.0;
      std::printf("  %-26s %-6s %-7s hit rate %5.1f%%\n", row.name, simloop::sim::to_string(s),
                  simloop::sim::to_string(row.fidelity), rate * 100);
      EXPECT_GE(rate, row.floor) << row.name << " under " << simloop::sim::to_string(s);
    }
  }
}

// ---- SIMLOOP_TEST -----------------------------------------------------------------

// A correct withdrawal (check and act with no await between): never overdraws
// under any schedule. The body runs for every seed of the configuration.
SIMLOOP_TEST(ExplorationMacro, CorrectBankNeverOverdraws) {
  racy::Bank bank;
  auto safe = [](racy::Bank* b, int amount) -> Coro<void> {
    co_await simloop::sleep(simloop::sim::duration(0ms, 10ms));
    if (b->balance >= amount) b->balance -= amount;  // no await between check and act
    co_await simloop::sleep(1ms);                    // the ledger write, after the debit
  };
  auto a = loop.create_task(safe(&bank, 80));
  auto b = loop.create_task(safe(&bank, 80));
  co_await a;
  co_await b;
  EXPECT_EQ(bank.balance, 20);
  SIMLOOP_ASSERT(bank.balance >= 0);
}

SIMLOOP_TEST_OPTIONS(ExplorationMacro, ChaosOptionsFromCode, ([] {
                       RunnerOptions o;
                       o.sim.fidelity = Fidelity::Chaos;
                       o.runs = 50;
                       return o;
                     }())) {
  EXPECT_EQ(dynamic_cast<simloop::sim::SimScheduler&>(loop.scheduler()).fidelity(), Fidelity::Chaos);
  co_await simloop::sleep(1ms);
}

namespace {
Coro<void> overdraws(racy::SimLoop& loop) { co_await racy::double_withdrawal(loop); }
Coro<void> asserts_on_choice(racy::SimLoop&) {
  co_await simloop::sleep(1ms);
  SIMLOOP_ASSERT(simloop::sim::choose(4) != 3);
}
}  // namespace

TEST(ExplorationMacro, AFailingRunFailsTheTestWithSeedAndReproduceCommand) {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    RunnerOptions o;
    o.log = nullptr;
    simloop::sim::detail::gtest_explore("Fake", "Overdraws", overdraws, o);
    simloop::sim::detail::gtest_explore("Fake", "Asserts", asserts_on_choice, o);
  }
  std::vector<std::string> messages;
  for (int i = 0; i < results.size(); ++i) messages.push_back(results.GetTestPartResult(i).message());
  auto any = [&](const std::string& needle) {
    for (const std::string& m : messages) {
      if (m.find(needle) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(any("double withdrawal"));
  EXPECT_TRUE(any("Value of: simloop::sim::choose(4) != 3"));
  EXPECT_TRUE(any("--gtest_filter=Fake.Overdraws"));
  EXPECT_TRUE(any("--gtest_filter=Fake.Asserts"));
  EXPECT_TRUE(any("reproduce: SIMLOOP_SEED="));
  EXPECT_TRUE(any("strategy: random   fidelity: asyncio"));
}

TEST(ExplorationMacro, ABadEnvironmentVariableFailsBeforeAnyRun) {
  ::testing::TestPartResultArray results;
  int runs = 0;
  static int* counter = nullptr;
  counter = &runs;
  auto body = [](racy::SimLoop&) -> Coro<void> {
    ++*counter;
    co_return;
  };
  ::setenv("SIMLOOP_STRATEGY", "bfs", 1);
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    simloop::sim::detail::gtest_explore("Fake", "Env", +body, RunnerOptions{});
  }
  ::unsetenv("SIMLOOP_STRATEGY");
  ASSERT_EQ(results.size(), 1);
  EXPECT_NE(std::string(results.GetTestPartResult(0).message()).find("SIMLOOP_STRATEGY='bfs'"), std::string::npos);
  EXPECT_EQ(runs, 0);
}

TEST(ExplorationMacro, AnotherExplorerCanBePluggedIn) {
  // How replay's explore takes over SIMLOOP_TEST: same contract, extra work.
  static int calls = 0;
  simloop::sim::set_gtest_explorer([](const Scenario& s, RunnerOptions o) {
    ++calls;
    o.runs = 3;
    return simloop::sim::explore(s, o);
  });
  RunnerOptions o;
  o.log = nullptr;
  auto body = [](racy::SimLoop&) -> Coro<void> { co_await simloop::sleep(1ms); };
  simloop::sim::detail::gtest_explore("Fake", "Plugged", +body, o);
  simloop::sim::set_gtest_explorer(nullptr);
  simloop::sim::detail::gtest_explore("Fake", "Plugged", +body, o);
  EXPECT_EQ(calls, 1);
}
