// GoogleTest integration: SIMLOOP_TEST(Suite, Name) { ...coroutine body... }
//
// Contract:
//  - The body is a coroutine (Coro<void>) given `loop`, a fresh SimLoop, and
//    run under the exploration runner (runner.hpp) for every seed of the
//    configuration: RunnerOptions defaults (or those SIMLOOP_TEST_OPTIONS
//    gives), overridden by the SIMLOOP_* environment variables.
//  - A failed EXPECT_* inside the body fails that run (checked when the body
//    ends); SIMLOOP_ASSERT(cond) / SIMLOOP_ASSERT_EQ(a, b) stop the run at
//    once (ASSERT_* cannot be used: they `return`, which a coroutine may
//    not). The first failing run stops the test, which fails with the
//    runner's report: seed, strategy, fidelity, task dump and the one-line
//    reproduce command (this binary, --gtest_filter=Suite.Name).
//  - A bad SIMLOOP_* variable fails the test with the runner's message,
//    before any run.
//  - Under GoogleTest sharding (GTEST_TOTAL_SHARDS=N), each SIMLOOP_TEST is
//    registered N times ("Name", "Name/seed_shard_1", ...), so that every
//    shard runs one copy and explores its part of the seeds: together the N
//    shards cover every seed once (see register_simloop_test).
//  - `loop` is a reference: the runner owns the loop for the whole run, so
//    it outlives the body.
//  - The runner function is sim::explore unless set_gtest_explorer()
//    installed another one with the same contract (replay's explore, which
//    also records runs and writes replay files, plugs in here: sim/ cannot
//    depend on replay/).
#pragma once

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simloop/sim/runner.hpp>

namespace simloop::sim {

using Explorer = std::function<ExploreResult(const Scenario&, RunnerOptions)>;

namespace detail {
inline Explorer& gtest_explorer_slot() {
  static Explorer explorer;
  return explorer;
}
}  // namespace detail

// The runner SIMLOOP_TEST uses from now on (null: sim::explore again).
inline void set_gtest_explorer(Explorer explorer) { detail::gtest_explorer_slot() = std::move(explorer); }

}  // namespace simloop::sim

namespace simloop::sim::detail {

inline std::string self_program() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "<test binary>";
  return std::string(buf, static_cast<std::size_t>(n));
}

// GoogleTest failures recorded so far by the running test.
inline int gtest_failure_count() {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  if (info == nullptr) return 0;
  const ::testing::TestResult* result = info->result();
  int failed = 0;
  for (int i = 0; i < result->total_part_count(); ++i) failed += result->GetTestPartResult(i).failed() ? 1 : 0;
  return failed;
}

// Runs the body, then fails the run if a gtest assertion failed during it.
// Each run is judged on the failures it added (HasFailure() is cumulative
// over the test, so later runs would inherit an earlier run's failure).
// On a thread of a parallel batch (SIMLOOP_JOBS) the run's failures are
// caught on that thread alone and judge that run only; a failing run is
// run again on the test's thread, where they are reported as usual.
inline Coro<void> gtest_checked(Coro<void> (*body)(SimLoop&), SimLoop* loop) {
  if (in_parallel_batch()) {
    ::testing::TestPartResultArray caught;
    bool failed = false;
    {
      const ::testing::ScopedFakeTestPartResultReporter intercept(
          ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &caught);
      co_await body(*loop);
      for (int i = 0; i < caught.size(); ++i) failed = failed || caught.GetTestPartResult(i).failed();
    }
    // The same text as below: a run fails the same way on any thread.
    if (failed) throw AssertionFailed("a GoogleTest assertion failed during this run (its message is printed above)");
    co_return;
  }
  const int failures_before = gtest_failure_count();
  co_await body(*loop);
  if (gtest_failure_count() > failures_before) {
    throw AssertionFailed("a GoogleTest assertion failed during this run (its message is printed above)");
  }
}

// Fails the running test with `text`, at the test's own file and line when
// known (not at a line of simloop's header, which says nothing to a user).
inline void report_test_failure(const char* file, int line, const std::string& text) {
  if (file != nullptr) {
    GTEST_MESSAGE_AT_(file, line, text.c_str(), ::testing::TestPartResult::kNonFatalFailure);
  } else {
    ADD_FAILURE() << text;
  }
}

inline void gtest_explore(const char* suite, const char* name, Coro<void> (*body)(SimLoop&), RunnerOptions base,
                          const char* file = nullptr, int line = 0) {
  RunnerOptions options;
  try {
    options = options_from_env(std::move(base));
  } catch (const ConfigError& e) {
    report_test_failure(file, line, e.what());
    return;
  }
  options.test_name = std::string(suite) + "." + name;
  if (options.program.empty()) options.program = self_program();
  if (options.program_args.empty()) options.program_args = "--gtest_filter=" + options.test_name;
  options.log_failure = false;  // reported once, as the test's failure
  const Scenario scenario = [body](SimLoop& loop) { return gtest_checked(body, &loop); };
  const Explorer& custom = gtest_explorer_slot();
  ExploreResult result = custom ? custom(scenario, options) : explore(scenario, options);
  if (!result.ok()) report_test_failure(file, line, failure_report(result, options));
}

// How many copies of each SIMLOOP_TEST to register: GTEST_TOTAL_SHARDS when
// GoogleTest shards this process (and SIMLOOP_TOTAL_SHARDS does not take
// over the seed split), else 1. The runner's own parsing reads it; a bad
// value registers one copy, whose run then refuses it with the runner's message.
inline std::uint64_t gtest_shard_copies() {
  if (std::getenv("SIMLOOP_TOTAL_SHARDS") != nullptr || std::getenv("SIMLOOP_SHARD_INDEX") != nullptr) return 1;
  try {
    return options_from_env().total_shards;
  } catch (const ConfigError&) {
    return 1;
  }
}

class SimloopGtest final : public ::testing::Test {
 public:
  SimloopGtest(const char* suite, const char* name, Coro<void> (*body)(SimLoop&), RunnerOptions (*options)(),
               const char* file, int line)
      : suite_(suite), name_(name), body_(body), options_(options), file_(file), line_(line) {}
  void TestBody() override { gtest_explore(suite_, name_, body_, options_(), file_, line_); }

 private:
  const char* suite_;
  const char* name_;
  Coro<void> (*body_)(SimLoop&);
  RunnerOptions (*options_)();
  const char* file_;
  int line_;
};

// GoogleTest shards whole tests (test k runs in shard k % N), and the runner
// splits a test's seeds by the same variables: registered once, a
// SIMLOOP_TEST would run in one shard only and explore a 1/N of its seeds.
// So under sharding it is registered N times in a row, "Name" then
// "Name/seed_shard_1" .. "Name/seed_shard_<N-1>": consecutive tests land in
// distinct shards, each copy explores the seeds of the shard it runs in,
// and together they cover every seed once.
// gtest's --gtest_filter syntax: "pos1:pos2-neg1:neg2", patterns with * and ?.
inline bool gtest_glob_matches(std::string_view pattern, std::string_view name) {
  std::size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p, ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++, resume = n;
    } else if (star != std::string_view::npos) {
      p = star + 1, n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

inline bool gtest_patterns_match(std::string_view patterns, std::string_view name) {
  while (true) {
    const std::size_t colon = patterns.find(':');
    if (gtest_glob_matches(patterns.substr(0, colon), name)) return true;
    if (colon == std::string_view::npos) return false;
    patterns.remove_prefix(colon + 1);
  }
}

inline bool gtest_filter_selects(std::string_view filter, std::string_view full_name) {
  const std::size_t dash = filter.find('-');
  std::string_view positive = filter.substr(0, dash);
  if (positive.empty()) positive = "*";
  if (!gtest_patterns_match(positive, full_name)) return false;
  return dash == std::string_view::npos || !gtest_patterns_match(filter.substr(dash + 1), full_name);
}

struct ShardedTest {
  std::string suite;
  std::string name;
  std::uint64_t copies;
};

inline std::vector<ShardedTest>& sharded_tests() {
  static std::vector<ShardedTest> tests;
  return tests;
}

// Under GoogleTest sharding a SIMLOOP_TEST's seeds are split between its
// copies. A filter that selects some copies and not the others (ctest runs
// one test per process, --gtest_filter=Suite.Name) would leave the other
// shards' seeds unexplored in every process; a shard given no test at all
// would pass having run nothing. Either fails the shard, saying what to do.
class ShardCoverageGuard final : public ::testing::EmptyTestEventListener {
 public:
  void OnTestIterationStart(const ::testing::UnitTest& unit, int) override {
    const std::string filter = GTEST_FLAG_GET(filter);
    const char* total = std::getenv("GTEST_TOTAL_SHARDS");
    const char* index = std::getenv("GTEST_SHARD_INDEX");
    const std::string where = std::string("GTEST_TOTAL_SHARDS=") + (total ? total : "?") +
                              " GTEST_SHARD_INDEX=" + (index ? index : "?") + " --gtest_filter=" + filter;
    const std::string remedy =
        "GoogleTest gives each test to one shard; to split a SIMLOOP_TEST's seeds when ctest runs one test per "
        "process, register it with simloop_discover_tests(<target> SHARDS <n>) or set SIMLOOP_TOTAL_SHARDS and "
        "SIMLOOP_SHARD_INDEX instead (docs/ci.md)";
    for (const ShardedTest& test : sharded_tests()) {
      std::uint64_t selected = 0;
      std::string missing;
      for (std::uint64_t k = 0; k < test.copies; ++k) {
        const std::string copy = test.name + (k == 0 ? "" : "/seed_shard_" + std::to_string(k));
        if (gtest_filter_selects(filter, test.suite + "." + copy)) {
          ++selected;
        } else if (missing.empty()) {
          missing = test.suite + "." + copy;
        }
      }
      if (selected != 0 && selected != test.copies) {
        ADD_FAILURE() << "simloop: " << where << " selects " << selected << " of the " << test.copies
                      << " seed shards of " << test.suite << "." << test.name << " (not " << missing
                      << "): the seeds of the others would run in no process. " << remedy;
      }
    }
    if (unit.test_to_run_count() == 0) {
      int selected = 0;
      for (int i = 0; i < unit.total_test_suite_count(); ++i) {
        const ::testing::TestSuite* suite = unit.GetTestSuite(i);
        for (int j = 0; j < suite->total_test_count(); ++j) {
          const ::testing::TestInfo* info = suite->GetTestInfo(j);
          selected += gtest_filter_selects(filter, std::string(info->test_suite_name()) + "." + info->name()) ? 1 : 0;
        }
      }
      if (selected > 0) {
        ADD_FAILURE() << "simloop: " << where << " gives this shard none of the " << selected
                      << " tests the filter selects: it would pass having run nothing. " << remedy;
      }
    }
  }
};

inline int register_simloop_test(const char* suite, const char* name, const char* file, int line,
                                 Coro<void> (*body)(SimLoop&), RunnerOptions (*options)()) {
  const std::uint64_t copies = gtest_shard_copies();
  if (copies > 1) {
    static const bool guard_installed = [] {
      ::testing::UnitTest::GetInstance()->listeners().Append(new ShardCoverageGuard);
      return true;
    }();
    (void)guard_installed;
    sharded_tests().push_back({suite, name, copies});
  }
  for (std::uint64_t k = 0; k < copies; ++k) {
    const std::string test_name = k == 0 ? std::string(name) : std::string(name) + "/seed_shard_" + std::to_string(k);
    ::testing::RegisterTest(suite, test_name.c_str(), nullptr, nullptr, file, line, [=]() -> ::testing::Test* {
      return new SimloopGtest(suite, name, body, options, file, line);
    });
  }
  return static_cast<int>(copies);
}

}  // namespace simloop::sim::detail

#define SIMLOOP_TEST_OPTIONS(Suite, Name, options_expr)                                                                \
  static ::simloop::Coro<void> SimloopTestBody_##Suite##_##Name(::simloop::sim::SimLoop& loop);                        \
  static ::simloop::sim::RunnerOptions SimloopTestOptions_##Suite##_##Name() { return (options_expr); }                \
  [[maybe_unused]] static const int SimloopTestRegistered_##Suite##_##Name =                                           \
      ::simloop::sim::detail::register_simloop_test(                                                                   \
          #Suite, #Name, __FILE__, __LINE__, &SimloopTestBody_##Suite##_##Name, &SimloopTestOptions_##Suite##_##Name); \
  static ::simloop::Coro<void> SimloopTestBody_##Suite##_##Name([[maybe_unused]] ::simloop::sim::SimLoop& loop)

#define SIMLOOP_TEST(Suite, Name) SIMLOOP_TEST_OPTIONS(Suite, Name, ::simloop::sim::RunnerOptions{})

namespace simloop::sim::detail {

// What SIMLOOP_ASSERT* stream into (`<< "message"`), as gtest's Message.
class AssertMessage {
 public:
  template <class T>
  AssertMessage& operator<<(const T& value) {
    out_ << value;
    return *this;
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

// Records the failure as gtest's ASSERT_* would (file:line: Failure, then
// what was expected and the streamed message), then stops the run by
// raising AssertionFailed with the same text on one line.
class AssertFailure {
 public:
  AssertFailure(const char* file, int line, std::string what) : file_(file), line_(line), what_(std::move(what)) {}
  [[noreturn]] void operator=(const AssertMessage& message) const {
    std::string text = what_;
    const std::string extra = message.str();
    if (!extra.empty()) text += "\n" + extra;
    GTEST_MESSAGE_AT_(file_, line_, text.c_str(), ::testing::TestPartResult::kNonFatalFailure);
    std::string one_line = std::string(file_) + ":" + std::to_string(line_) + ": ";
    for (char c : text) one_line += c == '\n' ? ' ' : c;
    throw AssertionFailed(one_line);
  }

 private:
  const char* file_;
  int line_;
  std::string what_;
};

inline std::optional<std::string> check_true(bool value, const char* text) {
  if (value) return std::nullopt;
  return std::string("Value of: ") + text + "\n  Actual: false\nExpected: true";
}

template <class A, class B>
std::optional<std::string> check_eq(const char* a_text, const char* b_text, const A& a, const B& b) {
  if (a == b) return std::nullopt;
  return std::string("Expected equality of these values:\n  ") + a_text +
         "\n    Which is: " + ::testing::PrintToString(a) + "\n  " + b_text +
         "\n    Which is: " + ::testing::PrintToString(b);
}

// "Expected: (a) < (b), actual: 3 vs 2", as gtest's ASSERT_LT.
template <class A, class B, class Op>
std::optional<std::string> check_op(const char* op_text, const char* a_text, const char* b_text, const A& a, const B& b,
                                    Op op) {
  if (op(a, b)) return std::nullopt;
  return std::string("Expected: (") + a_text + ") " + op_text + " (" + b_text +
         "), actual: " + ::testing::PrintToString(a) + " vs " + ::testing::PrintToString(b);
}

}  // namespace simloop::sim::detail

// Stops the run at once when the check fails, and fails the test with the
// seed; `<< "message"` adds to the report. They are what a coroutine uses
// instead of gtest's ASSERT_* (which `return`, and a coroutine may not);
// EXPECT_* work as usual and fail the run when its body ends.
#define SIMLOOP_ASSERT_CHECK_(check)                                                        \
  switch (0)                                                                                \
  case 0:                                                                                   \
  default:                                                                                  \
    if (auto simloop_assert_failure_ = (check); !simloop_assert_failure_) {                 \
    } else                                                                                  \
      ::simloop::sim::detail::AssertFailure(__FILE__, __LINE__, *simloop_assert_failure_) = \
          ::simloop::sim::detail::AssertMessage()

#define SIMLOOP_ASSERT(cond) SIMLOOP_ASSERT_CHECK_(::simloop::sim::detail::check_true(static_cast<bool>(cond), #cond))
#define SIMLOOP_ASSERT_EQ(a, b) SIMLOOP_ASSERT_CHECK_(::simloop::sim::detail::check_eq(#a, #b, (a), (b)))
#define SIMLOOP_ASSERT_OP_(op, a, b) \
  SIMLOOP_ASSERT_CHECK_(             \
      ::simloop::sim::detail::check_op(#op, #a, #b, (a), (b), [](const auto& x, const auto& y) { return x op y; }))
#define SIMLOOP_ASSERT_NE(a, b) SIMLOOP_ASSERT_OP_(!=, a, b)
#define SIMLOOP_ASSERT_LT(a, b) SIMLOOP_ASSERT_OP_(<, a, b)
#define SIMLOOP_ASSERT_LE(a, b) SIMLOOP_ASSERT_OP_(<=, a, b)
#define SIMLOOP_ASSERT_GT(a, b) SIMLOOP_ASSERT_OP_(>, a, b)
#define SIMLOOP_ASSERT_GE(a, b) SIMLOOP_ASSERT_OP_(>=, a, b)
