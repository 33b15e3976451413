// The canary, checked in-process: rapidcheck driving the schedule must find
// the deliberately broken cache (canary/broken_cache.hpp) and shrink it to
// a schedule with at most kCanaryMaxNonzero non-zero choices; the replay file left behind holds that
// shrunk run; and the whole search is deterministic for a fixed seed.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <unordered_map>

#include <rapidcheck.h>
#include <rapidcheck/detail/TestListenerAdapter.h>

#include <simloop/properties/rapidcheck.hpp>
#include <simloop/replay/format.hpp>

#include "canary/broken_cache.hpp"

namespace {

struct CanarySearch {
  bool failed = false;
  std::optional<rc::detail::Reproduce> reproduce;                // rapidcheck's reproduce data
  std::optional<simloop::properties::PropertyRun> last_failure;  // the shrunk run
  std::size_t last_workers = 0;
};

// With `reproduce`, replays that case (as RC_PARAMS="reproduce=..." does)
// instead of searching.
CanarySearch search(std::uint64_t seed, const std::string& name,
                    std::optional<rc::detail::Reproduce> reproduce = std::nullopt) {
  CanarySearch s;
  auto property = [&s] {
    const auto workers = *rc::gen::inRange<std::size_t>(2, 9);
    simloop::properties::PropertyRun r = canary::run_broken_cache(workers, false);
    if (r.outcome.failed()) {
      s.last_failure = r;
      s.last_workers = workers;
      RC_FAIL("the broken cache was fetched twice");
    }
  };
  rc::detail::TestMetadata metadata;
  metadata.id = "PropertyCanary/InProcess";
  rc::detail::TestParams params;
  params.seed = seed;
  params.maxSuccess = 500;
  rc::detail::TestListenerAdapter quiet;
  // Each test its own replay file name: ctest runs tests in parallel.
  simloop::properties::detail::set_current_name(name);
  std::unordered_map<std::string, rc::detail::Reproduce> reproduce_map;
  if (reproduce) reproduce_map.emplace(metadata.id, *reproduce);
  const auto result =
      rc::detail::checkProperty(rc::detail::toProperty(property), metadata, params, quiet, reproduce_map);
  simloop::properties::detail::set_current_name({});
  s.failed = result.template is<rc::detail::FailureResult>();
  if (s.failed) s.reproduce = result.template get<rc::detail::FailureResult>().reproduce;
  return s;
}

}  // namespace

TEST(PropertyCanary, RapidcheckFindsAndShrinksTheBrokenCache) {
  const std::uint64_t seed = simloop::properties::resolve_seed("PropertyCanary/InProcess", 0);
  const CanarySearch s = search(seed, "PropertyCanary.RapidcheckFindsAndShrinksTheBrokenCache");
  ASSERT_TRUE(s.failed) << "the canary property passed: the machinery did not find the deliberate bug";
  ASSERT_TRUE(s.last_failure.has_value());
  const auto& run = *s.last_failure;
  EXPECT_LE(run.nonzero, canary::kCanaryMaxNonzero) << run.report();
  EXPECT_GE(run.nonzero, 1u) << "the bug needs a deviation; a natural schedule cannot show it";
  // The input usually shrinks to 2 workers, but not always: rapidcheck does
  // not revisit an input once later values shrank (69 of 100 seeds reach 2),
  // so only the schedule's size is the canary's bound.
  EXPECT_GE(s.last_workers, 2u);
  // The replay file was rewritten by each failing run: it holds the shrunk one.
  ASSERT_FALSE(run.replay_file.empty());
  const simloop::replay::Trace trace = simloop::replay::load_trace(run.replay_file);
  EXPECT_EQ(trace.nonzero_choices(), run.nonzero);
  EXPECT_EQ(trace.choices.size(), run.choices.size());
}

TEST(PropertyCanary, TheSameSeedGivesTheSameSearchAndTheSameShrunkSchedule) {
  const CanarySearch a = search(12345, "PropertyCanary.TheSameSeed.a");
  const CanarySearch b = search(12345, "PropertyCanary.TheSameSeed.b");
  ASSERT_TRUE(a.failed && b.failed);
  ASSERT_TRUE(a.last_failure && b.last_failure);
  EXPECT_EQ(a.last_failure->choices, b.last_failure->choices);
  EXPECT_EQ(a.last_workers, b.last_workers);
}

// rapidcheck's reproduce data (what RC_PARAMS="reproduce=..." carries)
// replays the shrunk case exactly: the same input and the same schedule.
TEST(PropertyCanary, ReproduceReplaysTheShrunkInputAndSchedule) {
  const CanarySearch found = search(777, "PropertyCanary.Reproduce.search");
  ASSERT_TRUE(found.failed && found.reproduce && found.last_failure);
  const CanarySearch again = search(0, "PropertyCanary.Reproduce.again", found.reproduce);
  ASSERT_TRUE(again.failed) << "the reproduced case passed";
  ASSERT_TRUE(again.last_failure);
  EXPECT_EQ(again.last_workers, found.last_workers);
  EXPECT_EQ(again.last_failure->choices, found.last_failure->choices);
  EXPECT_EQ(again.last_failure->outcome.message, found.last_failure->outcome.message);
}
