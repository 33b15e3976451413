// GoogleTest glue for simloop properties: SIMLOOP_PROPERTY(Suite, Name, runs, (args)).
//
// Contract:
//  - SIMLOOP_PROPERTY is RC_GTEST_PROP (rapidcheck/gtest.h) with a run
//    count: the property checks resolve_runs(runs) generated cases
//    (rapidcheck's max_success; SIMLOOP_PROPERTY_RUNS raises it for soak
//    runs, see rapidcheck.hpp). A malformed SIMLOOP_PROPERTY_RUNS fails the
//    test with a message naming the variable.
//  - Seeds: deterministic by default (a hash of the test id, or
//    SIMLOOP_SEED mixed in when set), so CI runs the same cases every time;
//    an explicit RC_PARAMS seed=... wins. The seed is printed.
//  - Test ids are "Suite/Name", as with RC_GTEST_PROP, so
//    RC_PARAMS="reproduce=..." from a failure report works the same, and
//    properties::run() names its replay files "Suite.Name".
//  - A failing property fails the gtest test with rapidcheck's report: the
//    shrunk counterexample (every generated value, the schedule's choices
//    folded into one "simloop schedule" line), the failure message run()
//    gave, and the reproduce string.
#pragma once

#include <iostream>
#include <sstream>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <simloop/properties/rapidcheck.hpp>

namespace simloop::properties::detail {

template <typename Testable>
void check_gtest(Testable&& testable, int runs) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  rc::detail::TestMetadata metadata;
  metadata.id = std::string(info->test_suite_name()) + "/" + info->name();
  metadata.description = info->name();
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  try {
    params.maxSuccess = resolve_runs(runs);
    params.seed = resolve_seed(metadata.id, params.seed);
  } catch (const sim::ConfigError& e) {
    GTEST_MESSAGE_AT_(info->file(), info->line(), e.what(), ::testing::TestPartResult::kFatalFailure);
    return;
  }
  std::cout << "simloop property " << metadata.id << ": " << params.maxSuccess << " cases, rapidcheck seed "
            << params.seed << std::endl;
  struct NameScope {
    explicit NameScope(std::string n) { set_current_name(std::move(n)); }
    ~NameScope() { set_current_name({}); }
  } scope(std::string(info->test_suite_name()) + "." + info->name());
  auto result = rc::detail::checkTestable(std::forward<Testable>(testable), metadata, params);
  if (result.template is<rc::detail::FailureResult>()) {
    compact_schedule(result.template get<rc::detail::FailureResult>().counterExample);
  }
  if (!result.template is<rc::detail::SuccessResult>()) {
    std::ostringstream ss;
    rc::detail::printResultMessage(result, ss);
    // At the property's own line, not at this header's.
    GTEST_MESSAGE_AT_(info->file(), info->line(), ss.str().c_str(), ::testing::TestPartResult::kFatalFailure);
  }
}

}  // namespace simloop::properties::detail

// A property checked over `runs` generated cases (see the header).
#define SIMLOOP_PROPERTY(Suite, Name, runs, ArgList)                                                           \
  void simloopProperty_##Suite##_##Name ArgList;                                                               \
  TEST(Suite, Name) { ::simloop::properties::detail::check_gtest(&simloopProperty_##Suite##_##Name, (runs)); } \
  void simloopProperty_##Suite##_##Name ArgList
