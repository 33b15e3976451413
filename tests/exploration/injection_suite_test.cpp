// The injection suite (injection_suite.hpp): every buggy primitive is found
// by seeded cancellation injection alone, within 10,000 seeds, by random and
// by pct under asyncio fidelity; the fixed user code and simloop's own
// primitive never fail under the same workload and seeds.
#include "injection_suite.hpp"

#include <gtest/gtest.h>

#include <cstdio>

namespace {

using injection_suite::Bug;
using injection_suite::Variant;
namespace sim = simloop::sim;

constexpr std::uint64_t kSeeds = 10'000;

class InjectionSuite : public ::testing::TestWithParam<Bug> {};

void expect_found(const Bug& bug, sim::Strategy strategy) {
  const sim::ExploreResult r =
      sim::explore(bug.workload(Variant::Buggy), injection_suite::suite_options(strategy, kSeeds));
  ASSERT_FALSE(r.ok()) << bug.name << ": not found in " << kSeeds << " seeds by " << sim::to_string(strategy);
  const sim::RunOutcome& out = r.failure->outcome;
  EXPECT_GT(out.injected_cancels, 0u) << "only an injected cancel can show this bug\n" << r.failure->report;
  EXPECT_NE(r.failure->report.find("  injected:\n"), std::string::npos) << r.failure->report;
  EXPECT_NE(r.failure->report.find(bug.symptom), std::string::npos) << r.failure->report;
  EXPECT_TRUE(out.failure == sim::FailureKind::Deadlock || out.failure == sim::FailureKind::Assertion ||
              out.failure == sim::FailureKind::HandlerReport)
      << r.failure->report;
  std::printf("[ suite ] %-30s %-6s found at seed %llu (%s)\n", bug.name, sim::to_string(strategy),
              static_cast<unsigned long long>(r.failure->seed), sim::to_string(out.failure));
}

void expect_clean(const Bug& bug, Variant v, sim::Strategy strategy) {
  const sim::ExploreResult r = sim::explore(bug.workload(v), injection_suite::suite_options(strategy, kSeeds));
  EXPECT_TRUE(r.ok()) << bug.name << (v == Variant::Fixed ? " (fixed user code)" : " (simloop's own primitive)")
                      << " failed under " << sim::to_string(strategy) << ":\n"
                      << (r.failure ? r.failure->report : std::string());
  EXPECT_EQ(r.runs, kSeeds);
}

TEST_P(InjectionSuite, RandomFindsTheBug) { expect_found(GetParam(), sim::Strategy::Random); }
TEST_P(InjectionSuite, PctFindsTheBug) { expect_found(GetParam(), sim::Strategy::Pct); }
TEST_P(InjectionSuite, TheFixedUserCodeNeverFails) {
  expect_clean(GetParam(), Variant::Fixed, sim::Strategy::Random);
  expect_clean(GetParam(), Variant::Fixed, sim::Strategy::Pct);
}
TEST_P(InjectionSuite, SimloopsPrimitiveNeverFails) {
  expect_clean(GetParam(), Variant::Simloop, sim::Strategy::Random);
  expect_clean(GetParam(), Variant::Simloop, sim::Strategy::Pct);
}

// Without injection the workloads never fail: the bugs need a cancel.
TEST_P(InjectionSuite, NoInjectionNoFailure) {
  sim::RunnerOptions o = injection_suite::suite_options(sim::Strategy::Random, 2'000);
  o.sim.cancel_probability = 0;
  EXPECT_TRUE(sim::explore(GetParam().workload(Variant::Buggy), o).ok());
}

INSTANTIATE_TEST_SUITE_P(Bugs, InjectionSuite, ::testing::ValuesIn(injection_suite::bugs()),
                         [](const ::testing::TestParamInfo<Bug>& info) { return std::string(info.param.name); });

// Cancels at suspension alone never reach the lock's window: the cancelled
// waiter's future is cancelled with it, and the lock skips it. The grant
// window needs the granted kind (or a callback's cancel landing there).
TEST(InjectionKinds, SuspensionAloneMissesTheLockBugThatGrantedFinds) {
  const Bug& lock = injection_suite::bugs()[0];
  const auto suspend = simloop::injection_bit(simloop::Injection::Suspend);
  const auto granted = simloop::injection_bit(simloop::Injection::Granted);
  EXPECT_TRUE(
      sim::explore(lock.workload(Variant::Buggy), injection_suite::suite_options(sim::Strategy::Random, 2'000, suspend))
          .ok());
  const sim::ExploreResult r = sim::explore(lock.workload(Variant::Buggy),
                                            injection_suite::suite_options(sim::Strategy::Random, 2'000, granted));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.failure->report.find("granted at step"), std::string::npos) << r.failure->report;
}

// The sleep bug needs its cancel in the iteration its timer fires, before
// the timer: a cancel tied with that timer reaches it; one at suspension
// never does (the task's wakeup cancels the timer first).
TEST(InjectionKinds, ATimerTiedCancelFindsTheSleepBugThatSuspensionMisses) {
  const Bug& sleep = injection_suite::bugs()[6];
  const auto suspend = simloop::injection_bit(simloop::Injection::Suspend);
  const auto timer = simloop::injection_bit(simloop::Injection::Timer);
  EXPECT_TRUE(sim::explore(sleep.workload(Variant::Buggy),
                           injection_suite::suite_options(sim::Strategy::Random, 2'000, suspend))
                  .ok());
  const sim::ExploreResult r =
      sim::explore(sleep.workload(Variant::Buggy), injection_suite::suite_options(sim::Strategy::Random, 2'000, timer));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.failure->report.find("timer at step"), std::string::npos) << r.failure->report;
  EXPECT_NE(r.failure->report.find("tied with the timer due at"), std::string::npos) << r.failure->report;
}

}  // namespace
