// SIMLOOP_ASSERT* inside a scenario: gtest's failure text (file:line, what
// was expected, both values), a streamed message, and the run stopped at
// once with the same text in the runner's report.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <simloop/sim/gtest.hpp>
#include <simloop/simloop.hpp>

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::sim::RunnerOptions;
using simloop::sim::SimLoop;

namespace {

bool g_after_assert = false;

Coro<void> assert_true(SimLoop&) {
  const int balance = -60;
  co_await simloop::sleep(1ms);
  SIMLOOP_ASSERT(balance >= 0) << "the account was overdrawn by " << -balance;
  g_after_assert = true;
}
Coro<void> assert_eq(SimLoop&) {
  const std::vector<int> seen{1, 2};
  SIMLOOP_ASSERT_EQ(seen.size(), 3u) << "one item lost";
  g_after_assert = true;
  co_return;
}
Coro<void> assert_lt(SimLoop&) {
  const int waiters = 4;
  SIMLOOP_ASSERT_LT(waiters, 2);
  g_after_assert = true;
  co_return;
}
Coro<void> all_pass(SimLoop&) {
  SIMLOOP_ASSERT(true) << "never printed";
  SIMLOOP_ASSERT_EQ(1, 1);
  SIMLOOP_ASSERT_NE(1, 2);
  SIMLOOP_ASSERT_LT(1, 2);
  SIMLOOP_ASSERT_LE(2, 2);
  SIMLOOP_ASSERT_GT(3, 2);
  SIMLOOP_ASSERT_GE(3, 3);
  if (false)
    SIMLOOP_ASSERT(false);  // no dangling else
  else
    g_after_assert = true;
  co_return;
}

// The gtest failures and the runner's failure message of one exploration.
struct Reported {
  std::vector<std::string> gtest;
  std::string report;
};

Reported explore_reporting(Coro<void> (*body)(SimLoop&)) {
  Reported out;
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    RunnerOptions o;
    o.log = nullptr;
    o.runs = 1;
    simloop::sim::detail::gtest_explore("Fake", "Asserts", body, o);
  }
  for (int i = 0; i < results.size(); ++i) out.gtest.push_back(results.GetTestPartResult(i).message());
  return out;
}

}  // namespace

TEST(AssertMacros, AssertReadsLikeGtestAndStreamsItsMessage) {
  g_after_assert = false;
  const Reported r = explore_reporting(assert_true);
  EXPECT_FALSE(g_after_assert) << "the run went on after a failed SIMLOOP_ASSERT";
  ASSERT_GE(r.gtest.size(), 2u);
  EXPECT_EQ(r.gtest[0], "Value of: balance >= 0\n  Actual: false\nExpected: true\nthe account was overdrawn by 60");
  // The test's failure (the runner's report) carries the same, on one line, with file and line.
  EXPECT_NE(r.gtest[1].find("assertion failed: tests/exploration/assert_macros_test.cpp:"), std::string::npos)
      << r.gtest[1];
  EXPECT_NE(r.gtest[1].find("Value of: balance >= 0   Actual: false Expected: true the account was overdrawn by 60"),
            std::string::npos)
      << r.gtest[1];
}

TEST(AssertMacros, ComparisonsPrintBothValues) {
  g_after_assert = false;
  const Reported eq = explore_reporting(assert_eq);
  EXPECT_FALSE(g_after_assert);
  ASSERT_FALSE(eq.gtest.empty());
  EXPECT_EQ(eq.gtest[0],
            "Expected equality of these values:\n  seen.size()\n    Which is: 2\n  3u\n    Which is: 3\none item lost");
  const Reported lt = explore_reporting(assert_lt);
  EXPECT_FALSE(g_after_assert);
  ASSERT_FALSE(lt.gtest.empty());
  EXPECT_EQ(lt.gtest[0], "Expected: (waiters) < (2), actual: 4 vs 2");
}

TEST(AssertMacros, PassingChecksDoNothing) {
  g_after_assert = false;
  const Reported r = explore_reporting(all_pass);
  EXPECT_TRUE(r.gtest.empty()) << r.gtest.front();
  EXPECT_TRUE(g_after_assert);
}
