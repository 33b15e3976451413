// The SIMLOOP_* variables (variables.hpp). docs/environment.md repeats this
// table row for row; the unit test environment_doc_test compares the two.
#include <simloop/sim/variables.hpp>

#include <array>

#include <fmt/format.h>

#include <simloop/sim/runner.hpp>

namespace simloop::sim {

namespace {

constexpr std::string_view kRunner = "runner";
constexpr std::string_view kRunnerAndProperties = "runner, properties";
constexpr std::string_view kReplay = "replay";

constexpr std::array kVariables = {
    // The runner: sim::options_from_env, so every SIMLOOP_TEST.
    VariableDoc{"SIMLOOP_SEED",
                "the first seed explored: the runs use seeds SEED, SEED+1, ...; in a SIMLOOP_PROPERTY it is mixed "
                "with the property's name into rapidcheck's seed (unless RC_PARAMS sets seed=)",
                "1", "an integer from 0 to 2^64-1; SEED+RUNS-1 must not pass 2^64-1", kRunnerAndProperties},
    VariableDoc{"SIMLOOP_RUNS",
                "how many seeds to run, over all shards; under bounded, the most runs of the enumeration to run "
                "(from run number SIMLOOP_SEED)",
                "100 (the demo bug_hunt: 1000; bounded: every run)", "an integer, at least 1", kRunner},
    VariableDoc{"SIMLOOP_STRATEGY",
                "how a run answers the loop's choices: fifo always takes the natural one (asyncio's own order), "
                "random draws them from a PRNG seeded by the run's seed, pct is probabilistic concurrency testing, "
                "bounded runs every run with at most SIMLOOP_MAX_DEVIATIONS non-zero choices (a run's seed is then "
                "its run number)",
                "random", "fifo, random, pct or bounded", kRunner},
    VariableDoc{"SIMLOOP_FIDELITY",
                "which choice points are explored: asyncio only what a real asyncio loop can do; chaos also "
                "reorders each iteration's ready callbacks (orders asyncio never produces)",
                "asyncio", "asyncio or chaos", kRunner},
    VariableDoc{"SIMLOOP_PCT_DEPTH", "the bug depth d the pct strategy targets (d-1 priority change points per run)",
                "3", "an integer from 1 to 64", kRunner},
    VariableDoc{"SIMLOOP_MAX_DEVIATIONS",
                "the bounded strategy's K: it runs every run with at most K non-zero choices (deviations from "
                "asyncio's order), K = 0, 1, ... up to this",
                "2", "an integer from 0 to 64", kRunner},
    VariableDoc{"SIMLOOP_MAX_STEPS", "callbacks per run before the run fails as a livelock (the step budget)",
                "1000000", "an integer; 0 means no limit", kRunner},
    VariableDoc{"SIMLOOP_MAX_VTIME", "virtual time per run before the run fails (the virtual-time budget)", "8760h",
                "a duration: an integer with an optional unit ns, us, ms, s, m or h (a bare number is seconds), "
                "e.g. 500ms, 30s, 10m; 0 means no limit",
                kRunner},
    VariableDoc{"SIMLOOP_MAX_SYNC_RESUMES",
                "co_awaits that complete without suspending, within one task step, before the run fails (a "
                "livelock that never yields to the loop)",
                "10000000", "an integer; 0 means no limit", kRunner},
    VariableDoc{"SIMLOOP_CHECK_DETERMINISM",
                "1 runs every seed twice and fails if the two runs differ (their choices or per-step digests)", "0",
                "0 or 1", kRunner},
    VariableDoc{"SIMLOOP_CHECK_LIVENESS",
                "1: a task parked on a Lock, Semaphore, Event or Queue that could admit it (free, with permits, set, "
                "with items or room) while no wakeup is in flight fails the run as a lost wakeup, naming the "
                "primitive and the parked tasks; 0 turns the check off",
                "1", "0 or 1", kRunner},
    VariableDoc{"SIMLOOP_CANCEL",
                "seeded cancellation injection: p per opportunity (a task other than the main one suspending at a "
                "co_await, woken by a completed future, between two callbacks, arming a timer); a run makes "
                "min(SIMLOOP_MAX_CANCELS, Binomial(H, p)) cancels at opportunities drawn uniformly from the first H "
                "(SIMLOOP_CANCEL_HORIZON)",
                "0 (off)", "a number from 0 to 1, e.g. 0.05", kRunner},
    VariableDoc{"SIMLOOP_MAX_CANCELS",
                "the most cancellations SIMLOOP_CANCEL injects in one run (SimOptions::max_injected_cancels); 0 "
                "injects none",
                "2", "an integer from 0 to 1000000", kRunner},
    VariableDoc{"SIMLOOP_CANCEL_KINDS",
                "which injection opportunities SIMLOOP_CANCEL uses: suspend (at a co_await), granted (after the "
                "awaited future completed, before the wakeup runs), callback (from a plain callback between two "
                "callbacks), timer (a cancel tied with a timer the task armed)",
                "all", "a comma-separated list of suspend, granted, callback, timer, or all", kRunner},
    VariableDoc{"SIMLOOP_CANCEL_HORIZON",
                "the opportunities H over which SIMLOOP_CANCEL spreads a run's cancels; unset, the runner counts "
                "those of one run in asyncio's order (fifo) before the first seed, and reproduce lines carry it",
                "counted", "an integer, at least 1", kRunner},
    VariableDoc{"SIMLOOP_ALLOW_BACKGROUND_TASKS",
                "1: a task still pending when the scenario ends is destroyed without failing the run (deliberate "
                "background tasks); 0: it fails the run",
                "0", "0 or 1", kRunner},
    VariableDoc{"SIMLOOP_ISOLATE",
                "fork runs each seed in a forked child, so that a crash (a signal) is reported and minimized like "
                "any failure; none runs every seed in this process",
                "none", "fork or none", kRunner},
    VariableDoc{"SIMLOOP_TOTAL_SHARDS",
                "the number of shards the seeds are split into (run i belongs to shard i % total); wins over "
                "GTEST_TOTAL_SHARDS and, unlike it, does not make GoogleTest shard the tests",
                "GTEST_TOTAL_SHARDS, else 1", "an integer, at least 1; set together with SIMLOOP_SHARD_INDEX", kRunner},
    VariableDoc{"SIMLOOP_SHARD_INDEX", "this process's shard, from 0; wins over GTEST_SHARD_INDEX",
                "GTEST_SHARD_INDEX, else 0", "an integer below SIMLOOP_TOTAL_SHARDS; set together with it", kRunner},
    VariableDoc{"SIMLOOP_TIME_BUDGET",
                "a wall-clock bound on how many seeds run: once it has passed no new seed starts, and a run in "
                "progress is never cut short; the seed range covered is printed so that the next job can continue "
                "from it",
                "none (no bound)", "a positive duration, written as for SIMLOOP_MAX_VTIME, e.g. 90s, 10m, 1h", kRunner},
    VariableDoc{"SIMLOOP_REPORT_SWALLOWED_CANCEL",
                "1: a task that catches its CancelledError and finishes normally without uncancel() is reported to "
                "the loop's exception handler, which fails the run (a cancellation the code under test lost)",
                "0", "0 or 1", kRunner},
    VariableDoc{"SIMLOOP_KEEP_GOING",
                "1 runs every seed instead of stopping at the first failure, and prints the statistics: runs, "
                "failures, hit rate, first failing seed, each distinct failure with its count (one replay file and "
                "one minimized file per distinct failure)",
                "0", "0 or 1", kRunner},
    VariableDoc{"SIMLOOP_JOBS",
                "threads that run seeds side by side, each run on its own loop; the report, the statistics and the "
                "replay files are those of SIMLOOP_JOBS=1 whatever the threads' timing (the lowest failing seed is "
                "reported); 0 means one per CPU; 1 whenever a replay or a bounded enumeration supplies the runs, or "
                "under SIMLOOP_ISOLATE=fork",
                "1", "an integer from 0 to 1024", kRunner},
    VariableDoc{"SIMLOOP_HELP", "1 prints this table and ends the program with status 0, before any run", "0", "0 or 1",
                kRunner},
    // Replay: replay::ReplayEnv::from_environment, so SIMLOOP_TEST with the
    // replay glue and replay::explore.
    VariableDoc{"SIMLOOP_REPLAY",
                "replays that replay file's run alone (its seed, strategy, fidelity and options replace the "
                "configured ones); in a binary of many tests only the test the file names runs, the others are "
                "skipped",
                "none (seeds are explored)",
                "a replay file; a relative path not found from the working directory is looked up in "
                "SIMLOOP_REPLAY_DIR",
                kReplay},
    VariableDoc{"SIMLOOP_REPLAY_DIR", "where the replay files of a failing run (and its minimized run) are written",
                "simloop-replays in the working directory (under ctest: the test's build directory)",
                "a directory, created if missing, that must be writable", kReplay},
    VariableDoc{"SIMLOOP_REPLAY_CONTINUE",
                "after a replay diverges from its file, 1 carries on under the file's seeded strategy, 0 with "
                "natural choices",
                "0", "0 or 1 (empty counts as 0)", kReplay},
    VariableDoc{"SIMLOOP_MINIMIZE_RUNS", "the minimizer's budget, in runs, for shrinking a failing schedule", "500",
                "an integer from 0 to 999999999; 0 does not minimize", kReplay},
    // Fuzz targets: SIMLOOP_FUZZ_TARGET (fuzz/).
    VariableDoc{"SIMLOOP_REPLAY_INPUT",
                "on a fuzz target's binary: runs that input file (a libFuzzer crash file, or any corpus entry) "
                "alone instead of fuzzing: the report, its replay file and minimized file, and the timeline; exit "
                "status 1 when it fails, 0 when it passes",
                "none (libFuzzer fuzzes)", "a file of any bytes (the empty file is asyncio's own order)", "fuzz"},
    VariableDoc{"SIMLOOP_FUZZ_CORPUS",
                "on a fuzz target's binary: writes a seed corpus there instead of fuzzing, one input per passing run "
                "of SIMLOOP_STRATEGY (random, pct or fifo) over SIMLOOP_SEED and SIMLOOP_RUNS; failing runs are "
                "reported and left out (exit status 1)",
                "none (libFuzzer fuzzes)", "a directory, created if missing", "fuzz"},
    // The properties: SIMLOOP_PROPERTY.
    VariableDoc{"SIMLOOP_PROPERTY_RUNS", "how many cases each SIMLOOP_PROPERTY runs (wins over RC_PARAMS max_success)",
                "the count the SIMLOOP_PROPERTY gives", "an integer from 1 to 1000000000", "properties"},
    // Scripts of the repository.
    VariableDoc{
        "SIMLOOP_BUILDS",
        "which builds tests/run_all.sh configures, builds and tests, each in a directory of build/ named after it",
        "release debug asan clang",
        "names among release, debug, asan (sanitizers) and clang (a clang 16 Release build), separated by spaces",
        "tests/run_all.sh"},
    VariableDoc{"SIMLOOP_BUILD_JOBS", "parallel jobs for the builds and ctest runs of tests/run_all.sh",
                "the number of CPUs (nproc)", "an integer, at least 1", "tests/run_all.sh"},
    VariableDoc{"SIMLOOP_PYTHON",
                "the interpreter the CPython.* conformance tests and tests/conformance/regenerate_expected.py run",
                "pyenv's 3.13, else python3.13 or python3 on the PATH",
                "a path to CPython 3.13 (another version: the CPython.* tests are skipped, saying why)",
                "conformance tests"},
    VariableDoc{"SIMLOOP_FUZZ_SEED", "the seed of the replay parser's fuzzer", "1", "an integer",
                "replay/fuzz/run_parser_fuzz.sh"},
    VariableDoc{"SIMLOOP_FUZZ_RUNS", "how many inputs the replay parser's fuzzer tries", "200000", "an integer",
                "replay/fuzz/run_parser_fuzz.sh"},
    VariableDoc{"SIMLOOP_BENCH", "the simloop-bench binary bench/compare measures (--bench wins)",
                "build/bench-release/bench/simloop-bench", "a path", "bench/compare"},
    VariableDoc{"SIMLOOP_BENCH_ANCHORS",
                "the directory holding the benchmark's reference anchors, asyncio_anchor.py and asio_anchor.cpp "
                "(--anchors wins)",
                "../shared/bench from the repository root", "a directory", "bench/compare"},
    VariableDoc{"SIMLOOP_BENCH_TOKIO", "the tokio anchor's binary bench/compare measures (--tokio wins)",
                "built by tokio_anchor/build.sh in the anchors' directory", "a path", "bench/compare"},
};

// Appends `text` after `indent`, wrapped at 79 columns.
void append_wrapped(std::string& out, std::string_view indent, std::string_view text) {
  constexpr std::size_t kWidth = 79;
  std::size_t column = 0;
  while (!text.empty()) {
    const std::size_t space = text.find(' ');
    const std::string_view word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
    if (column != 0 && column + 1 + word.size() > kWidth) {
      out += '\n';
      column = 0;
    }
    if (column == 0) {
      out += indent;
      column = indent.size();
    } else {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
  }
  out += '\n';
}

}  // namespace

std::span<const VariableDoc> documented_variables() noexcept { return kVariables; }

std::string help_text() {
  std::string out;
  append_wrapped(out, "",
                 "simloop's environment variables (docs/environment.md has the same table). Options set in code "
                 "replace a default; a variable that is set wins over both.");
  for (const VariableDoc& v : kVariables) {
    out += fmt::format("\n{}  ({})\n", v.name, v.read_by);
    append_wrapped(out, "    ", v.meaning);
    append_wrapped(out, "    ", fmt::format("default: {}", v.default_value));
    append_wrapped(out, "    ", fmt::format("accepted: {}", v.accepted));
  }
  return out;
}

bool help_requested(const char* value) {
  if (value == nullptr) return false;
  const std::string_view v(value);
  if (v.empty() || v == "0") return false;
  if (v == "1") return true;
  throw ConfigError(fmt::format("SIMLOOP_HELP='{}': use 1 (print every SIMLOOP_* variable and exit) or 0", v));
}

}  // namespace simloop::sim
