// SIMLOOP_TEST with replay: including this header (in any one translation
// unit of a test binary) makes every SIMLOOP_TEST of the binary run through
// replay::explore instead of sim::explore, so a failing test writes its
// replay file and a minimized one, its report carries the one-line
// SIMLOOP_REPLAY command, and SIMLOOP_REPLAY=<file> replays a file.
//
// Contract:
//  - install_gtest_explorer() sets sim::set_gtest_explorer; the inline
//    variable below calls it during static initialization, before main.
//  - Each run fails on the GoogleTest failures that run added (with the
//    first one's text as its message), so the minimizer's re-runs are judged
//    on their own, not on the test's earlier failures.
//  - A bad SIMLOOP_REPLAY* variable or a bad replay file fails the test with
//    the error (file, line, offset, problem), before any run.
//  - Under SIMLOOP_REPLAY=<file>, the test the file records is replayed and
//    every other SIMLOOP_TEST of the binary is skipped, saying why.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <utility>

#include <simloop/replay/explore.hpp>
#include <simloop/sim/gtest.hpp>

namespace simloop::replay {

namespace detail {

inline int gtest_failed_parts() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr) return 0;
  const ::testing::TestResult* r = info->result();
  int n = 0;
  for (int i = 0; i < r->total_part_count(); ++i) n += r->GetTestPartResult(i).failed() ? 1 : 0;
  return n;
}

inline std::string gtest_failure_text(int index) {
  const ::testing::TestResult* r = ::testing::UnitTest::GetInstance()->current_test_info()->result();
  int seen = 0;
  for (int i = 0; i < r->total_part_count(); ++i) {
    const ::testing::TestPartResult& part = r->GetTestPartResult(i);
    if (!part.failed()) continue;
    if (seen++ < index) continue;
    std::string text = part.summary();
    const std::size_t nl = text.find('\n');
    if (nl != std::string::npos) text = text.substr(0, nl) + " " + text.substr(nl + 1);
    return std::string(part.file_name() != nullptr ? part.file_name() : "?") + ":" +
           std::to_string(part.line_number()) + ": " + text;
  }
  return "a GoogleTest assertion failed";
}

// A run fails on the gtest failures *it* added, whatever earlier runs of the
// same test added: the minimizer re-runs a test that has already failed, and
// must not take an earlier run's failure for this run's.
inline Coro<void> gtest_run_checked(const sim::Scenario* inner, sim::SimLoop* loop) {
  const int before = gtest_failed_parts();
  std::optional<std::string> thrown;
  try {
    co_await (*inner)(*loop);
  } catch (const sim::AssertionFailed& e) {
    thrown = e.message();
  }
  if (gtest_failed_parts() > before) throw sim::AssertionFailed(gtest_failure_text(before));
  // sim's glue raises this one whenever the *test* has failed so far, so it
  // says nothing about this run; any other assertion is this run's own.
  if (thrown && thrown->rfind("a GoogleTest assertion failed during this run", 0) != 0) {
    throw sim::AssertionFailed(*thrown);
  }
}

// The test a SIMLOOP_REPLAY file records (read once per process), or
// nothing when no file is set.
inline std::optional<std::string> replayed_test_name() {
  static const std::optional<std::string> name = []() -> std::optional<std::string> {
    try {
      const ReplayEnv env = ReplayEnv::from_environment();
      if (!env.replay_file) return std::nullopt;
      return load_trace(*env.replay_file).test;
    } catch (const std::exception&) {
      return std::nullopt;  // each test then reports the bad file itself
    }
  }();
  return name;
}

}  // namespace detail

inline sim::ExploreResult gtest_explore(const sim::Scenario& scenario, sim::RunnerOptions options) {
  // SIMLOOP_REPLAY on a binary of many tests replays the one its file
  // records; the others are skipped, saying why.
  if (const auto replayed = detail::replayed_test_name(); replayed && *replayed != options.test_name) {
    const std::string why =
        "SIMLOOP_REPLAY names a run of " + *replayed + ", not of this test: skipped while replaying it";
    GTEST_MESSAGE_(why.c_str(), ::testing::TestPartResult::kSkip);
    return {};
  }
  try {
    const sim::Scenario checked = [inner = &scenario](sim::SimLoop& loop) {
      return detail::gtest_run_checked(inner, &loop);
    };
    return replay::explore(checked, std::move(options));
  } catch (const std::exception& e) {
    // Refused before any run: report it as the test's failure.
    sim::ExploreResult refused;
    sim::Failure f;
    f.outcome.failure = sim::FailureKind::Exception;
    f.outcome.message = e.what();
    f.report = std::string("simloop: replay setup failed: ") + e.what() + "\n";
    refused.failure = std::move(f);
    return refused;
  }
}

inline void install_gtest_explorer() { sim::set_gtest_explorer(&gtest_explore); }

namespace detail {
inline const bool gtest_explorer_installed = (install_gtest_explorer(), true);
}  // namespace detail

}  // namespace simloop::replay
