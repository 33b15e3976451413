#include <simloop/sim/runner.hpp>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <thread>

#include <fmt/format.h>

#include <simloop/detail/source_path.hpp>
#include <simloop/primitive_errors.hpp>
#include <simloop/sim/bounded.hpp>
#include <simloop/sim/crash.hpp>
#include <simloop/sim/variables.hpp>
#include <simloop/task.hpp>
#include <simloop/version.hpp>

#include "worker_pool.hpp"

namespace simloop::sim {

const char* to_string(FailureKind kind) noexcept {
  switch (kind) {
    case FailureKind::None: return "none";
    case FailureKind::Exception: return "exception";
    case FailureKind::Assertion: return "assertion failed";
    case FailureKind::Deadlock: return "deadlock";
    case FailureKind::StepBudget: return "step budget exceeded";
    case FailureKind::TimeBudget: return "virtual-time budget exceeded";
    case FailureKind::PendingTasks: return "tasks pending at end of run";
    case FailureKind::LiveTimers: return "timers armed at end of run";
    case FailureKind::HandlerReport: return "error reported to the exception handler";
    case FailureKind::Nondeterminism: return "nondeterminism";
    case FailureKind::Divergence: return "replay divergence";
    case FailureKind::Leaks: return "leaks";
    case FailureKind::Crash: return "crash";
    case FailureKind::SyncBudget: return "synchronous-resumption budget exceeded";
    case FailureKind::LostWakeup: return "lost wakeup";
  }
  return "unknown";
}

const char* to_string(ReplayVerdict verdict) noexcept {
  switch (verdict) {
    case ReplayVerdict::None: return "none";
    case ReplayVerdict::Reproduced: return "reproduced exactly";
    case ReplayVerdict::FailedDifferently: return "followed the recording, failed differently";
    case ReplayVerdict::Passed: return "followed the recording, passed";
    case ReplayVerdict::DivergedFailing: return "diverged, still failing";
    case ReplayVerdict::DivergedPassing: return "diverged, passing";
  }
  return "unknown";
}

int exit_status(const ExploreResult& r) noexcept {
  switch (r.replay_verdict) {
    case ReplayVerdict::None: return r.ok() ? 0 : 1;
    case ReplayVerdict::Reproduced: return 1;
    case ReplayVerdict::Passed: return 0;
    case ReplayVerdict::FailedDifferently: return 3;
    case ReplayVerdict::DivergedFailing: return 4;
    case ReplayVerdict::DivergedPassing: return 5;
  }
  return 1;
}

// ---- durations and the environment -----------------------------------------------

std::optional<Duration> parse_duration(std::string_view text) {
  std::uint64_t value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [end, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || end == first) return std::nullopt;
  const std::string_view unit(end, static_cast<std::size_t>(last - end));
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1'000'000'000;
  } else if (unit == "ns") {
    scale = 1;
  } else if (unit == "us") {
    scale = 1'000;
  } else if (unit == "ms") {
    scale = 1'000'000;
  } else if (unit == "m") {
    scale = 60'000'000'000;
  } else if (unit == "h") {
    scale = 3'600'000'000'000;
  } else {
    return std::nullopt;
  }
  const auto max = static_cast<std::uint64_t>(Duration::max().count());
  if (value > max / scale) return std::nullopt;
  return Duration{static_cast<Duration::rep>(value * scale)};
}

std::string format_duration(Duration d) {
  const auto ns = d.count();
  if (ns != 0 && ns % 3'600'000'000'000 == 0) return fmt::format("{}h", ns / 3'600'000'000'000);
  if (ns != 0 && ns % 60'000'000'000 == 0) return fmt::format("{}m", ns / 60'000'000'000);
  if (ns != 0 && ns % 1'000'000'000 == 0) return fmt::format("{}s", ns / 1'000'000'000);
  if (ns != 0 && ns % 1'000'000 == 0) return fmt::format("{}ms", ns / 1'000'000);
  if (ns != 0 && ns % 1'000 == 0) return fmt::format("{}us", ns / 1'000);
  return fmt::format("{}ns", ns);
}

namespace {

std::uint64_t parse_count(const char* name, const char* text, std::uint64_t min) {
  std::uint64_t value = 0;
  const std::string_view view(text);
  auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), value);
  if (ec == std::errc::result_out_of_range && end == view.data() + view.size()) {
    throw ConfigError(fmt::format("{}='{}': too large (at most {})", name, text, UINT64_MAX));
  }
  if (view.empty() || ec != std::errc() || end != view.data() + view.size()) {
    throw ConfigError(fmt::format("{}='{}': not a non-negative integer (e.g. {}={})", name, text, name, min + 41));
  }
  if (value < min) throw ConfigError(fmt::format("{}='{}': must be at least {}", name, text, min));
  return value;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::vector<std::string> unknown_variable_warnings(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& name : names) {
    if (!name.starts_with("SIMLOOP_")) continue;
    // The known names are the documented ones (variables.hpp), SIMLOOP_HELP=1 prints them.
    const auto known = documented_variables();
    if (std::any_of(known.begin(), known.end(), [&](const VariableDoc& v) { return v.name == name; })) continue;
    std::string_view best;
    std::size_t best_distance = SIZE_MAX;
    for (const VariableDoc& v : known) {
      const std::size_t d = edit_distance(name, v.name);
      if (d < best_distance) best_distance = d, best = v.name;
    }
    out.push_back(
        best_distance <= 3
            ? fmt::format("{} is not a simloop variable (did you mean {}?)", name, best)
            : fmt::format("{} is not a simloop variable (SIMLOOP_HELP=1 and docs/environment.md list them)", name));
  }
  std::sort(out.begin(), out.end());  // the environment's own order is the process's, not ours
  return out;
}

namespace {
std::vector<std::string> environment_names() {
  std::vector<std::string> names;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view kv(*e);
    names.emplace_back(kv.substr(0, kv.find('=')));
  }
  return names;
}
}  // namespace

RunnerOptions options_from_env(RunnerOptions base) {
  // SIMLOOP_HELP=1: the table of every variable, then exit, before any run.
  if (help_requested(std::getenv("SIMLOOP_HELP"))) {
    std::fputs(help_text().c_str(), stdout);
    std::fflush(stdout);
    std::exit(0);
  }
  // A misspelt variable would silently do nothing: say so, once per process.
  static const bool warned = [] {
    for (const std::string& w : unknown_variable_warnings(environment_names()))
      std::fprintf(stderr, "simloop: warning: %s\n", w.c_str());
    return true;
  }();
  (void)warned;
  return options_from_env(std::move(base), [](const char* name) { return std::getenv(name); });
}

RunnerOptions options_from_env(RunnerOptions o, const std::function<const char*(const char*)>& getenv) {
  auto get = [&](const char* name) -> const char* {
    const char* v = getenv(name);
    if (v != nullptr) o.from_env.push_back(fmt::format("{}={}", name, v));
    return v;
  };
  if (const char* v = get("SIMLOOP_SEED")) o.seed = parse_count("SIMLOOP_SEED", v, 0);
  if (const char* v = get("SIMLOOP_RUNS")) o.runs = parse_count("SIMLOOP_RUNS", v, 1);
  if (o.runs - 1 > UINT64_MAX - o.seed) {
    throw ConfigError(fmt::format(
        "SIMLOOP_SEED={} with SIMLOOP_RUNS={}: the seeds would pass {} (the largest seed); lower one of them", o.seed,
        o.runs, UINT64_MAX));
  }
  if (const char* v = get("SIMLOOP_STRATEGY")) {
    auto s = parse_strategy(v);
    if (!s) {
      throw ConfigError(fmt::format("SIMLOOP_STRATEGY='{}': unknown strategy (use fifo, random, pct or bounded)", v));
    }
    if (*s == Strategy::Bytes) {
      throw ConfigError(fmt::format(
          "SIMLOOP_STRATEGY='{}': the bytes strategy reads a fuzzer's input and cannot be chosen by name (use fifo, "
          "random, pct or bounded; fuzz with a SIMLOOP_FUZZ_TARGET, docs/fuzzing.md)",
          v));
    }
    if (*s == Strategy::List) {
      throw ConfigError(fmt::format(
          "SIMLOOP_STRATEGY='{}': the list strategy replays a recorded run and cannot be chosen by name (use fifo, "
          "random, pct or bounded; replay a run from its replay file)",
          v));
    }
    o.strategy = *s;
    // bounded enumerates until exhausted unless SIMLOOP_RUNS limits it.
    if (*s == Strategy::Bounded && getenv("SIMLOOP_RUNS") == nullptr) o.runs = UINT64_MAX - o.seed + (o.seed > 0);
  }
  if (const char* v = get("SIMLOOP_MAX_DEVIATIONS")) {
    const std::uint64_t k = parse_count("SIMLOOP_MAX_DEVIATIONS", v, 0);
    if (k > 64) throw ConfigError(fmt::format("SIMLOOP_MAX_DEVIATIONS='{}': must be at most 64", v));
    o.max_deviations = static_cast<std::uint32_t>(k);
  }
  if (const char* v = get("SIMLOOP_FIDELITY")) {
    auto f = parse_fidelity(v);
    if (!f) throw ConfigError(fmt::format("SIMLOOP_FIDELITY='{}': unknown fidelity (use asyncio or chaos)", v));
    o.sim.fidelity = *f;
  }
  if (const char* v = get("SIMLOOP_PCT_DEPTH")) {
    const std::uint64_t d = parse_count("SIMLOOP_PCT_DEPTH", v, 1);
    if (d > 64) throw ConfigError(fmt::format("SIMLOOP_PCT_DEPTH='{}': must be at most 64", v));
    o.sim.pct_depth = static_cast<std::uint32_t>(d);
  }
  if (const char* v = get("SIMLOOP_MAX_STEPS")) o.max_steps = parse_count("SIMLOOP_MAX_STEPS", v, 0);
  if (const char* v = get("SIMLOOP_MAX_SYNC_RESUMES")) {
    o.max_sync_resumes = parse_count("SIMLOOP_MAX_SYNC_RESUMES", v, 0);
  }
  if (const char* v = get("SIMLOOP_MAX_VTIME")) {
    auto d = parse_duration(v);
    if (!d) {
      throw ConfigError(fmt::format(
          "SIMLOOP_MAX_VTIME='{}': not a duration (a non-negative integer with an optional unit ns, us, ms, s, m "
          "or h; bare numbers are seconds)",
          v));
    }
    o.max_vtime = *d;
  }
  if (const char* v = get("SIMLOOP_CHECK_DETERMINISM")) {
    const std::string_view t(v);
    if (t == "1") {
      o.check_determinism = true;
    } else if (t == "0") {
      o.check_determinism = false;
    } else {
      throw ConfigError(fmt::format("SIMLOOP_CHECK_DETERMINISM='{}': use 0 or 1", v));
    }
  }
  if (const char* v = get("SIMLOOP_CHECK_LIVENESS")) {
    const std::string_view t(v);
    if (t != "0" && t != "1") {
      throw ConfigError(fmt::format(
          "SIMLOOP_CHECK_LIVENESS='{}': use 1 (a task parked on a primitive that could admit it fails the run) or 0",
          v));
    }
    o.check_liveness = t == "1";
  }
  if (const char* v = get("SIMLOOP_ISOLATE")) {
    const std::string_view t(v);
    if (t == "fork") {
      o.isolation = Isolation::Fork;
    } else if (t == "none") {
      o.isolation = Isolation::None;
    } else {
      throw ConfigError(fmt::format("SIMLOOP_ISOLATE='{}': use fork (each run in a forked child) or none", v));
    }
  }
  if (const char* v = get("SIMLOOP_ALLOW_BACKGROUND_TASKS")) {
    const std::string_view t(v);
    if (t != "0" && t != "1") throw ConfigError(fmt::format("SIMLOOP_ALLOW_BACKGROUND_TASKS='{}': use 0 or 1", v));
    o.fail_on_pending_tasks = t == "0";
  }
  if (const char* v = get("SIMLOOP_CANCEL")) {
    // A probability per await point, as a fraction "p" in [0, 1].
    char* end = nullptr;
    const double p = std::strtod(v, &end);
    if (*v == '\0' || end == nullptr || *end != '\0' || !(p >= 0.0 && p <= 1.0)) {
      throw ConfigError(fmt::format("SIMLOOP_CANCEL='{}': not a probability between 0 and 1 (e.g. 0.05)", v));
    }
    o.sim.cancel_probability = p;
  }
  if (const char* v = get("SIMLOOP_MAX_CANCELS")) {
    const std::uint64_t n = parse_count("SIMLOOP_MAX_CANCELS", v, 0);
    if (n > 1'000'000) throw ConfigError(fmt::format("SIMLOOP_MAX_CANCELS='{}': must be at most 1000000", v));
    o.sim.max_injected_cancels = static_cast<std::uint32_t>(n);
  }
  if (const char* v = get("SIMLOOP_CANCEL_KINDS")) {
    auto kinds = parse_injections(v);
    if (!kinds) {
      throw ConfigError(fmt::format(
          "SIMLOOP_CANCEL_KINDS='{}': not a comma-separated list of suspend, granted, callback, timer (or all)", v));
    }
    o.sim.injection_kinds = *kinds;
  }
  if (const char* v = get("SIMLOOP_CANCEL_HORIZON")) {
    o.sim.cancel_horizon = parse_count("SIMLOOP_CANCEL_HORIZON", v, 1);
  }
  if (const char* v = get("SIMLOOP_TIME_BUDGET")) {
    auto d = parse_duration(v);
    if (!d || *d <= Duration{0}) {
      throw ConfigError(fmt::format(
          "SIMLOOP_TIME_BUDGET='{}': not a positive duration of wall-clock time (e.g. 90s, 10m, 1h; bare numbers are "
          "seconds)",
          v));
    }
    o.time_budget = std::chrono::duration_cast<std::chrono::nanoseconds>(*d);
  }
  if (const char* v = get("SIMLOOP_REPORT_SWALLOWED_CANCEL")) {
    const std::string_view t(v);
    if (t != "0" && t != "1") {
      throw ConfigError(fmt::format(
          "SIMLOOP_REPORT_SWALLOWED_CANCEL='{}': use 1 (a task that swallows its cancellation fails the run) or 0", v));
    }
    o.report_swallowed_cancel = t == "1";
  }
  if (const char* v = get("SIMLOOP_KEEP_GOING")) {
    const std::string_view t(v);
    if (t != "0" && t != "1") {
      throw ConfigError(fmt::format("SIMLOOP_KEEP_GOING='{}': use 1 (run every seed, counting failures) or 0", v));
    }
    o.keep_going = t == "1";
  }
  if (const char* v = get("SIMLOOP_JOBS")) {
    const std::uint64_t n = parse_count("SIMLOOP_JOBS", v, 0);
    if (n > 1024) throw ConfigError(fmt::format("SIMLOOP_JOBS='{}': must be at most 1024 (0: one per CPU)", v));
    o.jobs = n == 0 ? std::max(1u, std::thread::hardware_concurrency()) : static_cast<std::uint32_t>(n);
  }
  if (o.strategy == Strategy::Bounded && o.isolation == Isolation::Fork) {
    throw ConfigError(
        "SIMLOOP_ISOLATE=fork with SIMLOOP_STRATEGY=bounded: not supported (the enumeration needs each run's choices "
        "in this process); use SIMLOOP_ISOLATE=none");
  }
  if (o.strategy == Strategy::Bounded && o.seed == 0) {
    throw ConfigError("SIMLOOP_SEED=0 with SIMLOOP_STRATEGY=bounded: bounded runs are numbered from 1");
  }
  // Sharding: SIMLOOP_* win over GTEST_* (gtest shards whole tests by the
  // latter; the former split one test's seeds without gtest noticing).
  const char* total_name = "SIMLOOP_TOTAL_SHARDS";
  const char* index_name = "SIMLOOP_SHARD_INDEX";
  const char* total = getenv(total_name);
  const char* index = getenv(index_name);
  if (total == nullptr && index == nullptr) {
    total_name = "GTEST_TOTAL_SHARDS";
    index_name = "GTEST_SHARD_INDEX";
    total = getenv(total_name);
    index = getenv(index_name);
  }
  if ((total == nullptr) != (index == nullptr)) {
    throw ConfigError(fmt::format("{} and {} must be set together (found only {})", total_name, index_name,
                                  total != nullptr ? total_name : index_name));
  }
  if (total != nullptr) {
    o.total_shards = parse_count(total_name, total, 1);
    o.shard_index = parse_count(index_name, index, 0);
    if (o.shard_index >= o.total_shards) {
      throw ConfigError(fmt::format("{}={} must be less than {}={}", index_name, index, total_name, total));
    }
  }
  return o;
}

// ---- reports ----------------------------------------------------------------------

std::string describe_config(const RunnerOptions& o) {
  std::string line = fmt::format("simloop: {} strategy={} fidelity={}", o.test_name.empty() ? "exploring" : o.test_name,
                                 to_string(o.strategy), to_string(o.sim.fidelity));
  if (o.strategy == Strategy::Pct)
    line += fmt::format(" pct_depth={} pct_horizon={}", o.sim.pct_depth, o.sim.pct_horizon);
  if (o.strategy == Strategy::Bounded) {
    line +=
        fmt::format(" max_deviations={} runs=#{}..{}", o.max_deviations, o.seed,
                    o.runs - 1 == UINT64_MAX - o.seed ? std::string("all") : fmt::format("#{}", o.seed + o.runs - 1));
  } else if (o.strategy == Strategy::Bytes) {
    line += o.fuzz_input.empty() ? std::string(" input=libFuzzer's") : fmt::format(" input={}", o.fuzz_input);
  } else {
    line += fmt::format(" seeds={}..{} runs={}", o.seed, o.seed + o.runs - 1, o.runs);
  }
  if (o.total_shards > 1) line += fmt::format(" shard={}/{}", o.shard_index, o.total_shards);
  line += fmt::format(" max_steps={} max_vtime={}", o.max_steps, format_duration(o.max_vtime));
  if (o.max_sync_resumes != RunnerOptions{}.max_sync_resumes)
    line += fmt::format(" max_sync_resumes={}", o.max_sync_resumes);
  if (o.sim.cancel_probability > 0) {
    line += fmt::format(" cancel={} max_cancels={} cancel_kinds={}", o.sim.cancel_probability,
                        o.sim.max_injected_cancels, describe_injections(o.sim.injection_kinds));
    if (o.sim.cancel_horizon > 0) line += fmt::format(" cancel_horizon={}", o.sim.cancel_horizon);
  }
  if (o.check_determinism) line += " check_determinism=1";
  if (!o.check_liveness) line += " check_liveness=0";
  if (o.isolation == Isolation::Fork) line += " isolate=fork";
  if (o.time_budget) line += fmt::format(" time_budget={}", format_duration(*o.time_budget));
  if (o.keep_going) line += " keep_going=1";
  if (o.jobs > 1) line += fmt::format(" jobs={}", o.jobs);
  if (o.report_swallowed_cancel) line += " report_swallowed_cancel=1";
  line += " (simloop " SIMLOOP_VERSION ")";
  return line;
}

namespace {
// A fuzzer's input reproduces its run on the fuzz target's own binary.
std::string reproduce_input_command(const RunnerOptions& o) {
  std::string cmd =
      fmt::format("SIMLOOP_REPLAY_INPUT={}", o.fuzz_input.empty() ? "<the crash file libFuzzer writes>" : o.fuzz_input);
  for (const std::string& kv : o.from_env) {
    if (!kv.starts_with("SIMLOOP_REPLAY_INPUT=")) cmd += ' ' + kv;
  }
  return cmd + ' ' + (o.program.empty() ? std::string("<fuzz target binary>") : o.program);
}
}  // namespace

std::string reproduce_command(const RunnerOptions& o, std::uint64_t seed) {
  if (o.strategy == Strategy::Bytes) return reproduce_input_command(o);
  std::string cmd = fmt::format("SIMLOOP_SEED={} SIMLOOP_RUNS=1 SIMLOOP_STRATEGY={} SIMLOOP_FIDELITY={}", seed,
                                to_string(o.strategy), to_string(o.sim.fidelity));
  if (o.strategy == Strategy::Pct) cmd += fmt::format(" SIMLOOP_PCT_DEPTH={}", o.sim.pct_depth);
  // The horizon the run's cancels were spread over (counted once per
  // exploration when not given): the one run needs no counting run.
  const bool injecting = o.sim.cancel_probability > 0 && o.sim.max_injected_cancels > 0;
  if (injecting && o.sim.cancel_horizon > 0) cmd += fmt::format(" SIMLOOP_CANCEL_HORIZON={}", o.sim.cancel_horizon);
  if (o.strategy == Strategy::Bounded) cmd += fmt::format(" SIMLOOP_MAX_DEVIATIONS={}", o.max_deviations);
  // Other settings taken from the environment come along; the seed range and
  // the shards do not (one seed, one process).
  for (const std::string& kv : o.from_env) {
    static constexpr std::string_view skip[] = {
        "SIMLOOP_SEED=",           "SIMLOOP_RUNS=",           "SIMLOOP_STRATEGY=",
        "SIMLOOP_FIDELITY=",       "SIMLOOP_PCT_DEPTH=",      "SIMLOOP_KEEP_GOING=",
        "SIMLOOP_CANCEL_HORIZON=", "SIMLOOP_MAX_DEVIATIONS=", "SIMLOOP_JOBS="};
    if (std::none_of(std::begin(skip), std::end(skip), [&](std::string_view p) { return kv.starts_with(p); })) {
      cmd += ' ';
      cmd += kv;
    }
  }
  if (o.total_shards > 1)
    cmd += " GTEST_TOTAL_SHARDS=1 GTEST_SHARD_INDEX=0 SIMLOOP_TOTAL_SHARDS=1 SIMLOOP_SHARD_INDEX=0";
  cmd += ' ';
  cmd += o.program.empty() ? std::string("<test binary>") : o.program;
  if (!o.program_args.empty()) {
    cmd += ' ';
    cmd += o.program_args;
  }
  return cmd;
}

// ---- one run ----------------------------------------------------------------------

namespace {

// One line for an exception that ended a run: an ExceptionGroup lists each
// sub-exception (type and message, nested groups inside brackets), so two
// failures with different causes never compare equal.
std::string describe_failure(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const ExceptionGroup& group) {
    std::string out = fmt::format("{}: [", group.what());
    for (std::size_t i = 0; i < group.exceptions().size(); ++i) {
      if (i > 0) out += "; ";
      out += describe_failure(group.exceptions()[i]);
    }
    return out + "]";
  } catch (const AssertionFailed& a) {
    return a.message();
  } catch (...) {
    return describe_exception(e);
  }
}

std::string describe_context(const ExceptionContext& c) {
  const std::string what = c.exception ? describe_failure(c.exception) : std::string();
  std::string out = c.message;
  if (!c.source.empty()) out += fmt::format(" [{}]", c.source);
  if (!what.empty()) out += fmt::format(": {}", what);
  return out;
}

std::string describe_step(const Handle& h) {
  if (const auto* step = dynamic_cast<const detail::StepHandle*>(&h)) {
    const detail::TaskBase* t = step->owner();
    return fmt::format("step of {} (suspended at {}:{})", t->name(),
                       detail::display_file(t->await_location().file_name()), t->await_location().line());
  }
  return h.describe();
}

// "Lock created at x.cpp:3 <Lock [unlocked, waiters:1]>: it is free, yet ...;
// parked: 'w1' (found when nothing was ready)", then one line per further
// finding. The first line, the failure's signature, names the primitive.
std::string describe_lost_wakeups(const std::vector<LostWakeup>& found, const char* when) {
  std::string out = fmt::format("{} (found when {})", found.front().describe(), when);
  for (std::size_t i = 1; i < found.size(); ++i) out += fmt::format("\n    also: {}", found[i].describe());
  return out;
}

// Budgets, observers, the liveness check and (on request) per-step digests.
class RunGuard final : public LoopObserver {
 public:
  RunGuard(SimLoop& loop, const RunnerOptions& o, std::vector<std::uint64_t>* digests, std::vector<std::string>* names)
      : loop_(loop), o_(o), digests_(digests), names_(names) {}

  void before_callback(const EventLoop& l, const Handle& h, std::uint64_t step) override {
    if (exceeded_ == FailureKind::None) {
      if (o_.max_steps != 0 && step > o_.max_steps) {
        exceeded_ = FailureKind::StepBudget;
        loop_.stop();  // stopping, not throwing: the loop stays consistent
      } else if (o_.max_vtime > Duration{0} && l.time() > o_.max_vtime) {
        exceeded_ = FailureKind::TimeBudget;
        loop_.stop();
      }
    }
    for (RunObserver* obs : o_.observers) obs->before_callback(l, h, step);
    if (names_ != nullptr) names_->push_back(describe_step(h));
  }

  void on_injected_cancel(const EventLoop& l, const InjectedCancel& injected) override {
    for (RunObserver* obs : o_.observers) obs->on_injected_cancel(l, injected);
  }

  void after_callback(const EventLoop& l, const Handle& h, std::uint64_t step) override {
    if (scenario_ != nullptr && scenario_->done()) loop_.halt();
    for (RunObserver* obs : o_.observers) obs->after_callback(l, h, step);
    if (digests_ != nullptr) {
      // A chained digest of what ran and the loop's visible state after it.
      auto mix = [](std::uint64_t x) {
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        return x;
      };
      digest_ = mix(digest_ ^ step);
      digest_ = mix(digest_ ^ stable_handle_key(h));
      digest_ = mix(digest_ ^ static_cast<std::uint64_t>(l.time().count()));
      digest_ = mix(digest_ ^ l.ready_count() ^ (std::uint64_t{l.timer_count()} << 32));
      digests_->push_back(digest_);
    }
  }

  // Nothing is ready, so no wakeup is in flight: a task parked on a primitive
  // that could admit it was forgotten. The run halts at once (nothing else
  // runs); the deadlock that usually follows would hide which primitive.
  void on_idle(EventLoop& l) override {
    if (!o_.check_liveness || exceeded_ != FailureKind::None) return;
    std::vector<LostWakeup> found = l.lost_wakeups();
    if (found.empty()) return;
    exceeded_ = FailureKind::LostWakeup;
    lost_wakeup_ = describe_lost_wakeups(found, "nothing was ready");
    loop_.halt();
  }

  FailureKind exceeded() const noexcept { return exceeded_; }
  const std::string& lost_wakeup() const noexcept { return lost_wakeup_; }
  // The run ends the instant `scenario` is done: no later callback of that
  // iteration runs (they could touch the scenario's destroyed locals).
  void end_with(const detail::FutureBase* scenario) noexcept { scenario_ = scenario; }

 private:
  SimLoop& loop_;
  const RunnerOptions& o_;
  std::vector<std::uint64_t>* digests_;
  std::vector<std::string>* names_;
  const detail::FutureBase* scenario_ = nullptr;
  std::uint64_t digest_ = 0;
  FailureKind exceeded_ = FailureKind::None;
  std::string lost_wakeup_;
};

// "task 'bob' outlived the scenario: ..." for the tasks still pending.
std::string describe_outlivers(const EventLoop& loop) {
  std::vector<std::string> names;
  for (auto* t = loop.first_pending_task(); t != nullptr; t = t->next_pending()) names.push_back(t->name());
  constexpr std::size_t kShown = 8;
  std::string list;
  for (std::size_t i = 0; i < names.size() && i < kShown; ++i)
    list += fmt::format("{}'{}'", i == 0 ? "" : ", ", names[i]);
  if (names.size() > kShown) list += fmt::format(" and {} more", names.size() - kShown);
  const char* allow =
      " (tasks meant to outlive it: SIMLOOP_ALLOW_BACKGROUND_TASKS=1 or RunnerOptions::fail_on_pending_tasks = "
      "false; they are destroyed without being resumed)";
  if (names.size() == 1)
    return fmt::format("task {} outlived the scenario: await it, or use a TaskGroup{}", list, allow);
  return fmt::format("{} tasks outlived the scenario ({}): await them, or use a TaskGroup{}", names.size(), list,
                     allow);
}

}  // namespace

RunOutcome run_one(const Scenario& scenario, const RunnerOptions& options, const RunContext& ctx,
                   std::vector<Choice>* choices, std::vector<std::uint64_t>* digests,
                   std::vector<std::string>* step_names) {
  RunOutcome out;
  std::unique_ptr<SimScheduler> owned;
  for (RunObserver* obs : options.observers) {
    if (!owned) owned = obs->make_scheduler(ctx);
  }
  if (!owned) owned = make_strategy(options.strategy, ctx.seed, options.sim);
  SimScheduler& scheduler = *owned;
  ChoiceRecorder recorder;
  if (choices != nullptr) scheduler.add_observer(&recorder);
  std::vector<std::string> reports;  // declared before the loop: its handler writes here until the loop dies

  std::unique_ptr<SimLoop> owned_loop =
      options.make_loop ? options.make_loop(std::move(owned)) : std::make_unique<SimLoop>(std::move(owned));
  SimLoop& loop = *owned_loop;
  loop.set_exception_handler(
      [&reports](EventLoop&, const ExceptionContext& c) { reports.push_back(describe_context(c)); });
  loop.set_max_sync_resumes(options.max_sync_resumes);
  loop.set_report_swallowed_cancel(options.report_swallowed_cancel);
  RunGuard guard(loop, options, digests, step_names);
  loop.set_observer(&guard);
  for (RunObserver* obs : options.observers) obs->on_run_start(ctx, loop, scheduler);

  auto fail = [&](FailureKind kind, std::string message) {
    out.failure = kind;
    out.message = std::move(message);
  };
  bool finished = false;
  Task<void> main;
  try {
    main = loop.create_task(scenario(loop), "main");
    scheduler.spare_task(main.base()->id());
    guard.end_with(&main.base()->future());
    loop.run_until_complete(Future<void>(main));
    finished = true;
  } catch (const DeadlockError& e) {
    fail(FailureKind::Deadlock, e.what());
  } catch (const LoopStoppedError& e) {
    if (guard.exceeded() == FailureKind::StepBudget) {
      fail(FailureKind::StepBudget,
           fmt::format("more than {} callbacks ran (SIMLOOP_MAX_STEPS); a livelock?", options.max_steps));
    } else if (guard.exceeded() == FailureKind::LostWakeup) {
      fail(FailureKind::LostWakeup, guard.lost_wakeup());
    } else if (guard.exceeded() == FailureKind::TimeBudget) {
      fail(FailureKind::TimeBudget,
           fmt::format("virtual time passed {} (SIMLOOP_MAX_VTIME); a livelock?", format_duration(options.max_vtime)));
    } else {
      fail(FailureKind::Exception, fmt::format("the scenario stopped the loop: {}", e.what()));
    }
  } catch (const CancelledError& e) {
    fail(FailureKind::Exception,
         fmt::format("CancelledError escaped the scenario{}{}", e.message().empty() ? "" : ": ", e.message()));
  } catch (const AssertionFailed& e) {
    fail(FailureKind::Assertion, e.message());
  } catch (const SyncResumeBudgetError& e) {
    fail(FailureKind::SyncBudget, e.what());
  } catch (...) {
    fail(FailureKind::Exception, fmt::format("the scenario raised: {}", describe_failure(std::current_exception())));
  }

  guard.end_with(nullptr);
  std::size_t pending = 0;
  for (auto* t = loop.first_pending_task(); t != nullptr; t = t->next_pending()) ++pending;
  std::vector<LostWakeup> lost =
      finished && options.check_liveness && pending > 0 ? loop.lost_wakeups() : std::vector<LostWakeup>{};
  if (finished) {
    if (!lost.empty()) {
      fail(FailureKind::LostWakeup, describe_lost_wakeups(lost, "the scenario finished"));
    } else if (options.fail_on_pending_tasks && pending > 0) {
      fail(FailureKind::PendingTasks, describe_outlivers(loop));
    } else if (options.fail_on_live_timers && pending == 0 && loop.timer_count() > 0) {
      fail(FailureKind::LiveTimers,
           fmt::format("{} timer(s) still armed when the main task finished (next due at {})", loop.timer_count(),
                       format_duration(loop.next_timer().value_or(Duration{0}))));
    } else if (std::vector<std::string> leaks =
                   options.find_leaks ? options.find_leaks(loop) : std::vector<std::string>{};
               !leaks.empty()) {
      std::string all;
      for (const std::string& l : leaks) all += fmt::format("\n    {}", l);
      fail(FailureKind::Leaks, fmt::format("{} leak(s) at the end of the run:{}", leaks.size(), all));
    } else if (options.fail_on_handler_reports && !reports.empty()) {
      std::string all;
      for (const std::string& r : reports) all += fmt::format("\n    {}", r);
      fail(FailureKind::HandlerReport,
           fmt::format("{} error(s) reached the loop's exception handler:{}", reports.size(), all));
    }
  }
  if (auto* list = dynamic_cast<ListStrategy*>(&scheduler); list != nullptr && list->divergence()) {
    if (!out.failed()) fail(FailureKind::Divergence, list->divergence()->describe());
  }
  if (out.failed()) {
    out.task_dump = loop.dump_tasks();
    if (pending > 0) {
      out.notes += fmt::format(
          "  the {} task(s) above were still pending when the run ended: destroyed without being resumed\n", pending);
    }
    // Other errors of the run help explain the failure (a detector already
    // reports them when they are the failure).
    if (out.failure != FailureKind::HandlerReport && !reports.empty()) {
      out.notes += "  also reported to the loop's exception handler:\n";
      for (const std::string& r : reports) out.notes += fmt::format("    {}\n", r);
    }
  }
  out.steps = loop.steps();
  out.vtime = loop.time();
  out.choices = scheduler.choices_made();
  out.injected_cancels = scheduler.injected_cancels();
  out.cancel_opportunities = scheduler.cancel_opportunities();
  for (const InjectedCancel& c : loop.injected_cancels()) {
    out.injections += fmt::format("    {} at step {}, t={}: task '{}' {}\n", to_string(c.kind), c.step,
                                  format_duration(c.time), c.task, c.where);
  }
  for (RunObserver* obs : options.observers) out.notes += obs->on_run_end(ctx, out);
  loop.set_observer(nullptr);
  if (choices != nullptr) {
    scheduler.remove_observer(&recorder);
    *choices = recorder.take();
  }
  return out;
}

// ---- exploration ------------------------------------------------------------------

std::string build_report(const RunnerOptions& o, std::uint64_t seed, std::uint64_t runs_done, const RunOutcome& r,
                         const std::string& reproduce) {
  std::string out =
      fmt::format("simloop: FAILED {} after {} run(s)\n", o.test_name.empty() ? "exploration" : o.test_name, runs_done);
  out += fmt::format("  failure:  {}: {}\n", to_string(r.failure), r.message);
  if (o.strategy == Strategy::Bytes) {
    out += fmt::format("  input:    {} (hash {})   strategy: bytes   fidelity: {}\n",
                       o.fuzz_input.empty() ? std::string("libFuzzer's current input") : o.fuzz_input, seed,
                       to_string(o.sim.fidelity));
  } else {
    out += fmt::format("  seed:     {}   strategy: {}   fidelity: {}\n", seed, to_string(o.strategy),
                       to_string(o.sim.fidelity));
  }
  out += fmt::format("  run:      {} callbacks, virtual time {}, {} choices, {} injected cancellation(s)\n", r.steps,
                     format_duration(r.vtime), r.choices, r.injected_cancels);
  if (!r.injections.empty()) out += "  injected:\n" + r.injections;
  out += "  tasks:\n";
  for (std::size_t start = 0; start < r.task_dump.size();) {
    std::size_t end = r.task_dump.find('\n', start);
    if (end == std::string::npos) end = r.task_dump.size();
    out += fmt::format("  {}\n", std::string_view(r.task_dump).substr(start, end - start));
    start = end + 1;
  }
  if (!r.notes.empty()) {
    out += r.notes;
    if (r.notes.back() != '\n') out += '\n';
  }
  out += fmt::format("  reproduce: {}\n", reproduce);
  return out;
}

namespace {

// The first difference of two runs of the same seed, or nothing.
std::optional<std::string> compare_runs(const std::vector<Choice>& c1, const std::vector<Choice>& c2,
                                        const std::vector<std::uint64_t>& d1, const std::vector<std::uint64_t>& d2,
                                        const std::vector<std::string>& n1, const std::vector<std::string>& n2) {
  std::optional<std::string> step_text;
  const std::size_t steps = std::min(d1.size(), d2.size());
  std::size_t step = steps;
  for (std::size_t i = 0; i < steps; ++i) {
    if (d1[i] != d2[i]) {
      step = i;
      break;
    }
  }
  if (step < steps || d1.size() != d2.size()) {
    auto name = [](const std::vector<std::string>& n, std::size_t i) {
      return i < n.size() ? n[i] : std::string("(nothing: the run had ended)");
    };
    if (step < steps && name(n1, step) == name(n2, step)) {
      step_text = fmt::format("first differing step: #{}, both runs ran {} but the loop's state after it differs",
                              step + 1, name(n1, step));
    } else {
      step_text = fmt::format("first differing step: #{}: the first run ran {}; the second ran {}", step + 1,
                              name(n1, step), name(n2, step));
    }
  }
  std::optional<std::string> choice_text;
  const std::size_t nc = std::min(c1.size(), c2.size());
  std::size_t ci = nc;
  for (std::size_t i = 0; i < nc; ++i) {
    if (!(c1[i] == c2[i])) {
      ci = i;
      break;
    }
  }
  if (ci < nc || c1.size() != c2.size()) {
    choice_text = fmt::format("first differing choice: #{}: {} vs {}", ci,
                              ci < c1.size() ? to_string(c1[ci]) : std::string("(none)"),
                              ci < c2.size() ? to_string(c2[ci]) : std::string("(none)"));
  }
  if (!step_text && !choice_text) return std::nullopt;
  std::string out =
      "the same seed ran differently twice (user code reads real time, addresses, unordered "
      "containers, threads or state left by an earlier run)";
  if (step_text) out += "; " + *step_text;
  if (choice_text) out += "; " + *choice_text;
  return out;
}

}  // namespace

RunOutcome run_checked(const Scenario& scenario, const RunnerOptions& options, const RunContext& ctx,
                       std::uint64_t* final_digest) {
  RunOutcome outcome;
  if (options.check_determinism) {
    std::vector<Choice> c1, c2;
    std::vector<std::uint64_t> d1, d2;
    std::vector<std::string> n1, n2;
    outcome = run_one(scenario, options, ctx, &c1, &d1, &n1);
    RunContext ctx2 = ctx;
    ctx2.attempt = 2;
    RunOutcome second = run_one(scenario, options, ctx2, &c2, &d2, &n2);
    if (final_digest != nullptr) *final_digest = d1.empty() ? 0 : d1.back();
    if (auto diff = compare_runs(c1, c2, d1, d2, n1, n2)) {
      outcome.failure = FailureKind::Nondeterminism;
      outcome.message = *diff;
    } else if (outcome.failed() != second.failed() || outcome.message != second.message) {
      outcome.failure = FailureKind::Nondeterminism;
      outcome.message =
          fmt::format("the same seed ended differently twice: '{}' then '{}'",
                      outcome.failed() ? outcome.message : "passed", second.failed() ? second.message : "passed");
    }
  } else if (final_digest != nullptr) {
    std::vector<std::uint64_t> digests;
    outcome = run_one(scenario, options, ctx, nullptr, &digests);
    *final_digest = digests.empty() ? 0 : digests.back();
  } else {
    outcome = run_one(scenario, options, ctx);
  }
  return outcome;
}

namespace {
thread_local bool t_in_parallel_batch = false;
}  // namespace

bool in_parallel_batch() noexcept { return t_in_parallel_batch; }

namespace {
// "seeds 2..1000, one in 3 (shard 1/3)": the seeds of the first `runs` runs of this shard.
std::string covered_seeds(const RunnerOptions& o, std::uint64_t runs) {
  const std::uint64_t first = o.seed + o.shard_index;
  const std::uint64_t last = first + (runs - 1) * o.total_shards;
  if (o.total_shards == 1) return fmt::format("seeds {}..{}", first, last);
  return fmt::format("seeds {}..{}, one in {} (shard {}/{})", first, last, o.total_shards, o.shard_index,
                     o.total_shards);
}
}  // namespace

std::string failure_signature(std::string_view failure_text) {
  std::string out;
  bool in_digits = false;
  for (char ch : failure_text) {
    if (ch == '\n') break;
    if (ch >= '0' && ch <= '9') {
      if (!in_digits) out.push_back('#');
      in_digits = true;
    } else {
      out.push_back(ch);
      in_digits = false;
    }
  }
  return out;
}

std::string failure_signature(const RunOutcome& outcome) {
  return failure_signature(fmt::format("{}: {}", to_string(outcome.failure), outcome.message));
}

std::string describe_statistics(const ExploreResult& r, const RunnerOptions& o) {
  const std::string test = o.test_name.empty() ? "exploration" : o.test_name;
  if (r.runs == 0) return fmt::format("simloop: {}: no run started\n", test);
  std::string out = fmt::format("simloop: {}: {} runs ({}), {} failed ({:.2f}%)", test, r.runs,
                                covered_seeds(o, r.runs), r.failures, 100.0 * r.hit_rate());
  if (!r.failure) return out + "\n";
  out += fmt::format(", first failing seed {}; {} distinct failure(s):\n", r.failure->seed, r.classes.size());
  for (const FailureClass& c : r.classes) {
    out += fmt::format("  {:>6} x  {}\n          first seed {}; reproduce: {}\n", c.count, c.first.signature,
                       c.first.seed, c.first.reproduce);
    const FailureFiles& files = c.first.files;
    if (!files.replay_path.empty()) {
      out += fmt::format("          replay file: {} ({} non-zero choices)\n", files.replay_path, files.nonzero_choices);
    }
    if (!files.minimized_path.empty()) {
      out += fmt::format("          minimized file: {} ({} non-zero choices)\n", files.minimized_path,
                         files.minimized_nonzero);
    }
  }
  return out;
}

std::string failure_report(const ExploreResult& r, const RunnerOptions& o) {
  if (!r.failure) return {};
  if (!o.keep_going) return r.failure->report;
  std::string out;
  for (const FailureClass& c : r.classes) out += c.first.report;
  return out + describe_statistics(r, o);
}

namespace {
// The horizon injection spreads its cancels over, when not given: the
// opportunities of one run in asyncio's order (fifo: every choice 0, so
// nothing is injected and every opportunity is offered), PCT's way of
// estimating a run's length. A function of the program and the options,
// so every seed, and its reproduce line, sees the same horizon.
std::uint64_t count_cancel_horizon(const Scenario& scenario, const RunnerOptions& options) {
  RunnerOptions natural = options;
  natural.strategy = Strategy::Fifo;
  natural.observers.clear();
  natural.check_determinism = false;
  RunContext ctx{&natural, options.seed, 0, 1};
  crash::set_run(options.seed, 0);
  crash::set_note(
      "while counting the cancellation horizon: one run in asyncio's order (SIMLOOP_STRATEGY=fifo) crashed; "
      "SIMLOOP_CANCEL_HORIZON=<n> skips that run");
  RunOutcome outcome = options.isolation == Isolation::Fork
                           ? run_in_child([&] { return run_one(scenario, natural, ctx); })
                           : run_one(scenario, natural, ctx);
  crash::set_note({});
  return outcome.cancel_opportunities > 0 ? outcome.cancel_opportunities : kDefaultCancelHorizon;
}
}  // namespace

ExploreResult explore(const Scenario& scenario, const RunnerOptions& options) {
  if (options.strategy == Strategy::Bounded &&
      std::none_of(options.observers.begin(), options.observers.end(),
                   [](const RunObserver* obs) { return obs->supplies_every_run(); })) {
    return explore_bounded(scenario, options);
  }
  return explore_runs(scenario, options);
}

ExploreResult explore_runs(const Scenario& scenario, const RunnerOptions& given) {
  if (given.runs == 0) throw ConfigError("explore: runs must be at least 1");
  if (given.runs - 1 > UINT64_MAX - given.seed) {
    throw ConfigError(
        fmt::format("explore: seed {} with {} runs passes the largest seed, {}", given.seed, given.runs, UINT64_MAX));
  }
  if (given.total_shards == 0 || given.shard_index >= given.total_shards) {
    throw ConfigError(
        fmt::format("explore: shard index {} is not below the shard count {}", given.shard_index, given.total_shards));
  }
  if ((given.strategy == Strategy::List || given.strategy == Strategy::Bytes) && given.observers.empty()) {
    throw ConfigError(fmt::format("explore: the {} strategy needs a RunObserver that supplies each run's {}",
                                  to_string(given.strategy), given.strategy == Strategy::List ? "list" : "input"));
  }
  // A run that kills the process still leaves its seed and reproduce line.
  crash::install();
  crash::begin_exploration(given);
  const bool count_horizon = given.sim.cancel_probability > 0 && given.sim.max_injected_cancels > 0 &&
                             given.sim.cancel_horizon == 0 && given.strategy != Strategy::List &&
                             given.strategy != Strategy::Fifo && given.strategy != Strategy::Bounded &&
                             given.strategy != Strategy::Bytes;
  RunnerOptions with_horizon;
  if (count_horizon) {
    with_horizon = given;
    with_horizon.sim.cancel_horizon = count_cancel_horizon(scenario, given);
    crash::begin_exploration(with_horizon);
  }
  const RunnerOptions& options = count_horizon ? with_horizon : given;
  if (options.log != nullptr) {
    fmt::print(options.log, "{}\n", describe_config(options));
    std::fflush(options.log);
  }
  struct EndExploration {
    ~EndExploration() { crash::end_exploration(); }
  } end_exploration;
  ExploreResult result;
  // Real time decides only how many seeds start, never what a run does.
  const auto started = std::chrono::steady_clock::now();
  // Exploration on threads (file header): a batch of this shard's next
  // runs, run without observers, then taken in order below.
  const bool parallel = options.jobs > 1 && options.isolation == Isolation::None &&
                        std::all_of(options.observers.begin(), options.observers.end(),
                                    [](const RunObserver* obs) { return obs->failing_runs_suffice(); });
  RunnerOptions worker_options;
  if (parallel) {
    worker_options = options;
    worker_options.observers.clear();
    worker_options.run_records = nullptr;
  }
  struct BatchRun {
    RunOutcome outcome;
    std::uint64_t digest = 0;
    std::exception_ptr error;
  };
  std::vector<BatchRun> batch;
  std::uint64_t batch_first = 0;  // run index of batch[0]
  // Batches grow while no run fails: short runs then pay for few thread
  // hand-offs, and a failure found early wastes little of a small batch.
  std::uint64_t batch_size = std::uint64_t{options.jobs} * 64;
  const std::uint64_t max_batch_size = std::uint64_t{options.jobs} * 8192;
  for (std::uint64_t i = options.shard_index; i < options.runs; i += options.total_shards) {
    const std::uint64_t seed = options.seed + i;
    const RunContext ctx{&options, seed, i, 1};
    if (std::any_of(options.observers.begin(), options.observers.end(),
                    [&](RunObserver* obs) { return !obs->has_run(ctx); })) {
      break;
    }
    // Runs go up, so i is never below batch_first; an empty batch starts one.
    const std::size_t in_batch = static_cast<std::size_t>((i - batch_first) / options.total_shards);
    const bool batch_start = !parallel || in_batch >= batch.size();
    if (batch_start && options.time_budget && result.runs > 0 &&
        std::chrono::steady_clock::now() - started >= *options.time_budget) {
      result.budget_spent = true;
      result.next_seed = options.seed + (i - options.shard_index);  // this shard's next run, at the same index
      if (options.log != nullptr) {
        fmt::print(options.log,
                   "simloop: time budget {} spent after {} runs: {} covered; the next job continues with "
                   "SIMLOOP_SEED={}{}\n",
                   format_duration(*options.time_budget), result.runs, covered_seeds(options, result.runs),
                   result.next_seed, options.total_shards > 1 ? " and the same shards" : "");
        if (options.keep_going && options.print_statistics) {
          fmt::print(options.log, "{}", describe_statistics(result, options));
        }
        std::fflush(options.log);
      }
      return result;
    }
    if (parallel && batch_start) {
      // This shard's next runs that exist (an observer may end them early).
      std::vector<std::uint64_t> indices{i};
      for (std::uint64_t j = i + options.total_shards; j < options.runs && indices.size() < batch_size;
           j += options.total_shards) {
        const RunContext next{&options, options.seed + j, j, 1};
        if (std::any_of(options.observers.begin(), options.observers.end(),
                        [&](RunObserver* obs) { return !obs->has_run(next); })) {
          break;
        }
        indices.push_back(j);
      }
      batch.assign(indices.size(), BatchRun{});
      batch_first = i;
      const std::uint64_t runs_before = result.runs;
      const bool want_digest = options.run_records != nullptr;
      const std::function<void(std::size_t)> run_at = [&](std::size_t k) {
        const RunContext at{&worker_options, options.seed + indices[k], indices[k], 1};
        crash::set_run(at.seed, runs_before + 1 + k);
        t_in_parallel_batch = true;
        try {
          batch[k].outcome = run_checked(scenario, worker_options, at, want_digest ? &batch[k].digest : nullptr);
        } catch (...) {
          batch[k].error = std::current_exception();
        }
        t_in_parallel_batch = false;
      };
      workers::WorkerPool::instance().run(options.jobs, indices.size(), run_at);
      batch_size = std::min(batch_size * 2, max_batch_size);
    }
    crash::set_run(seed, result.runs + 1);
    RunOutcome outcome;
    std::uint64_t digest = 0;
    std::uint64_t* digest_out = options.run_records != nullptr ? &digest : nullptr;
    if (parallel) {
      BatchRun& done = batch[batch_start ? 0 : in_batch];
      if (done.error) std::rethrow_exception(done.error);
      outcome = std::move(done.outcome);
      digest = done.digest;
      // A failure to report runs again here, with the observers: a run is a
      // function of its seed, so it fails the same way and they see it.
      if (outcome.failed()) {
        const std::string signature = failure_signature(outcome);
        if (std::none_of(result.classes.begin(), result.classes.end(),
                         [&](const FailureClass& c) { return c.first.signature == signature; })) {
          outcome = run_checked(scenario, options, ctx, digest_out);
        }
      }
    } else if (options.isolation == Isolation::Fork) {
      outcome = run_in_child([&] { return run_checked(scenario, options, ctx); });
      if (outcome.failure == FailureKind::Crash) {
        for (RunObserver* obs : options.observers) outcome.notes += obs->on_run_crashed(ctx, outcome);
      } else if (outcome.failed()) {
        // A run is a function of its seed: it fails the same way here, where
        // the observers see it (replay files, minimization).
        outcome = run_checked(scenario, options, ctx);
      }
    } else {
      outcome = run_checked(scenario, options, ctx, digest_out);
    }
    if (options.run_records != nullptr) {
      options.run_records->push_back(
          RunRecord{seed, outcome.failure, outcome.message, outcome.steps, outcome.vtime, outcome.choices, digest});
    }
    ++result.runs;
    if (outcome.failed()) {
      ++result.failures;
      std::string signature = failure_signature(outcome);
      auto known = std::find_if(result.classes.begin(), result.classes.end(),
                                [&](const FailureClass& c) { return c.first.signature == signature; });
      if (known != result.classes.end()) {
        ++known->count;
        continue;
      }
      Failure f;
      f.seed = seed;
      f.reproduce = reproduce_command(options, seed);
      f.report = build_report(options, seed, result.runs, outcome, f.reproduce);
      f.outcome = std::move(outcome);
      f.signature = std::move(signature);
      if (options.log != nullptr && options.log_failure) {
        fmt::print(options.log, "{}", f.report);
        std::fflush(options.log);
      }
      if (!result.failure) result.failure = f;
      result.classes.push_back(FailureClass{std::move(f), 1});
      if (!options.keep_going) return result;
    }
  }
  if (options.keep_going) {
    if (options.log != nullptr && options.print_statistics) {
      fmt::print(options.log, "{}", describe_statistics(result, options));
      std::fflush(options.log);
    }
    return result;
  }
  if (options.log != nullptr && result.runs > 0) {
    // What this process covered, for merging shards' logs (tests/ci/run_shards.sh).
    fmt::print(options.log, "simloop: {} passed {} runs: {}\n",
               options.test_name.empty() ? "exploration" : options.test_name, result.runs,
               covered_seeds(options, result.runs));
    std::fflush(options.log);
  }
  return result;
}

}  // namespace simloop::sim
