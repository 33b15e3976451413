// Source paths in what a run records are relative to the checkout (CMake's
// -fmacro-prefix-map for simloop's targets; simloop_relative_source_paths()
// for users'): the same source at another path makes the same failure
// messages, task dumps and replay files.
#include <gtest/gtest.h>

#include <source_location>
#include <string>

#include <simloop/simloop.hpp>

using namespace std::chrono_literals;

TEST(RelativePaths, SourceLocationsAreRelativeToTheCheckout) {
  EXPECT_STREQ(std::source_location::current().file_name(), "tests/unit/relative_paths_test.cpp");
  EXPECT_STREQ(__FILE__, "tests/unit/relative_paths_test.cpp");
}

TEST(RelativePaths, FailureReportsNameNoAbsolutePath) {
  simloop::sim::RunnerOptions o;
  o.runs = 1;
  o.log = nullptr;
  auto stuck = [](simloop::sim::SimLoop& loop) -> simloop::Coro<void> {
    auto never = simloop::Future<void>::create(loop);
    co_await never;  // a deadlock: the report dumps main, suspended here
  };
  const auto r = simloop::sim::explore(stuck, o);
  ASSERT_FALSE(r.ok());
  const std::string& report = r.failure->report;
  EXPECT_NE(report.find("tests/unit/relative_paths_test.cpp:"), std::string::npos) << report;
  EXPECT_EQ(report.find(" /"), std::string::npos) << report;
  EXPECT_EQ(report.find("=/"), std::string::npos) << report;
}
