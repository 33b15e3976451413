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
//  - SIMLOOP_REPLAY_TEST (end of file) turns a replay file into a
//    regression test.
#pragma once

#include <gtest/gtest-spi.h>

#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include <simloop/replay/explore.hpp>
#include <simloop/sim/gtest.hpp>

namespace simloop::replay {

namespace detail {

// While an exploration runs, gtest's results are captured here instead of
// printed: the minimizer re-runs a failing test dozens of times, and each
// re-run's EXPECT_* would print again. The failing run's own results are
// reported once the exploration ends (gtest_explore).
struct CapturedParts {
  ::testing::TestPartResultArray parts;
  int failing_begin = -1;  // [begin, end) of parts: the first run that failed
  int failing_end = -1;
};

inline CapturedParts*& captured_parts() {
  static thread_local CapturedParts* slot = nullptr;
  return slot;
}

// The results of the running test so far: the capture, else gtest's own.
inline int gtest_part_count() {
  if (const CapturedParts* c = captured_parts()) return c->parts.size();
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info == nullptr ? 0 : info->result()->total_part_count();
}

inline const ::testing::TestPartResult& gtest_part(int i) {
  if (const CapturedParts* c = captured_parts()) return c->parts.GetTestPartResult(i);
  return ::testing::UnitTest::GetInstance()->current_test_info()->result()->GetTestPartResult(i);
}

inline int gtest_failed_parts() {
  int n = 0;
  for (int i = 0; i < gtest_part_count(); ++i) n += gtest_part(i).failed() ? 1 : 0;
  return n;
}

inline std::string gtest_failure_text(int index) {
  int seen = 0;
  for (int i = 0; i < gtest_part_count(); ++i) {
    const ::testing::TestPartResult& part = gtest_part(i);
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
  const int parts_before = gtest_part_count();
  struct MarkFailingRun {
    int parts_before;
    int failed_before;
    ~MarkFailingRun() {
      CapturedParts* c = captured_parts();
      if (c != nullptr && c->failing_begin < 0 && gtest_failed_parts() > failed_before) {
        c->failing_begin = parts_before;
        c->failing_end = gtest_part_count();
      }
    }
  } mark{parts_before, before};
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
    detail::CapturedParts captured;
    sim::ExploreResult result;
    {
      ::testing::ScopedFakeTestPartResultReporter capture(
          ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &captured.parts);
      detail::captured_parts() = &captured;
      struct Release {
        ~Release() { detail::captured_parts() = nullptr; }
      } release;
      result = replay::explore(checked, std::move(options));
    }
    // The failing run's own gtest results, once (not the minimizer's re-runs').
    for (int i = captured.failing_begin; i >= 0 && i < captured.failing_end; ++i) {
      const ::testing::TestPartResult& part = captured.parts.GetTestPartResult(i);
      if (part.failed()) GTEST_MESSAGE_AT_(part.file_name(), part.line_number(), part.message(), part.type());
    }
    return result;
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

// SIMLOOP_REPLAY_TEST's body: replays `file` on `scenario` once and judges
// the verdict as a regression test does (see the macro).
inline void replay_regression(const char* suite, const char* name, const sim::Scenario& scenario,
                              const std::string& file, const char* source_file, int line) {
  const std::string test = std::string(suite) + "." + name;
  if (const auto replayed = replayed_test_name(); replayed && *replayed != test) {
    const std::string why =
        "SIMLOOP_REPLAY names a run of " + *replayed + ", not of this test: skipped while replaying it";
    GTEST_MESSAGE_(why.c_str(), ::testing::TestPartResult::kSkip);
    return;
  }
  const std::string head = "SIMLOOP_REPLAY_TEST(" + test + ", " + file + "): ";
  sim::RunnerOptions options;
  ReplayEnv env;
  try {
    options = sim::options_from_env();
    env = ReplayEnv::from_environment();
  } catch (const std::exception& e) {
    sim::detail::report_test_failure(source_file, line, head + e.what());
    return;
  }
  options.test_name = test;
  options.program = sim::detail::self_program();
  options.program_args = "--gtest_filter=" + test;
  options.log_failure = false;
  env.replay_file = locate_replay_file(file, env.dir);  // as SIMLOOP_REPLAY's
  env.minimize_runs = 0;
  env.accept_other_test = true;
  env.continue_after_divergence = false;
  sim::ExploreResult result;
  try {
    const sim::Scenario checked = [inner = &scenario](sim::SimLoop& loop) { return gtest_run_checked(inner, &loop); };
    result = replay::explore(checked, options, env);
  } catch (const std::exception& e) {
    sim::detail::report_test_failure(source_file, line, head + "cannot replay it: " + e.what());
    return;
  }
  const std::string report = result.failure ? result.failure->report : std::string();
  switch (result.replay_verdict) {
    case sim::ReplayVerdict::Passed: return;
    case sim::ReplayVerdict::DivergedPassing: {
      // Passing: the fix may well be what changed the schedule. Said plainly,
      // since the test no longer pins the recorded interleaving.
      std::string notice = head +
                           "passed, but the schedule no longer applies: the code changed since it was recorded, so "
                           "this test no longer replays that interleaving (re-record it from the exploration that "
                           "found it, or delete it)\n";
      if (const std::size_t at = report.find("  replay diverged"); at != std::string::npos) {
        const std::size_t end = report.find("\n  replay:", at);  // the divergence and what was running
        notice += report.substr(at, end == std::string::npos ? std::string::npos : end + 1 - at);
      }
      std::printf("%s", notice.c_str());
      std::fflush(stdout);
      return;
    }
    case sim::ReplayVerdict::Reproduced:
      sim::detail::report_test_failure(source_file, line, head + "the recorded failure happens again\n" + report);
      return;
    case sim::ReplayVerdict::FailedDifferently:
      sim::detail::report_test_failure(
          source_file, line, head + "the recorded schedule still applies and the run fails, differently\n" + report);
      return;
    case sim::ReplayVerdict::DivergedFailing:
      sim::detail::report_test_failure(source_file, line,
                                       head +
                                           "the schedule no longer applies (the code changed since it was recorded: "
                                           "the first choice that differs is below), and the run fails\n" +
                                           report);
      return;
    case sim::ReplayVerdict::None: break;
  }
  if (!result.ok()) sim::detail::report_test_failure(source_file, line, head + report);
}

}  // namespace detail

namespace detail {
inline const bool gtest_explorer_installed = (install_gtest_explorer(), true);
}  // namespace detail

}  // namespace simloop::replay

// A found bug as a regression test, in one line:
//
//   SIMLOOP_REPLAY_TEST(Bank, Seed7, never_overdraws, "Bank.NeverOverdraws-seed7.min.simloop-replay");
//
// replays the checked-in replay file (absolute, relative to the working
// directory, or to the replay directory) on `scenario` (a
// Coro<void>(sim::SimLoop&) function, typically the body the original
// SIMLOOP_TEST calls) once. It fails while the recorded failure happens
// (or another failure does) and passes once it no longer happens. When the
// code changed so that the recorded schedule no longer applies, it says so
// plainly with the first choice that differs: failing if the run fails,
// passing with that notice if it passes (the fix may be what changed it).
#define SIMLOOP_REPLAY_TEST(Suite, Name, scenario, replay_file)                                                    \
  TEST(Suite, Name) {                                                                                              \
    ::simloop::replay::detail::replay_regression(#Suite, #Name, ::simloop::sim::Scenario(scenario), (replay_file), \
                                                 __FILE__, __LINE__);                                              \
  }
