// Replay in a test binary (session.hpp).
#include <simloop/replay/session.hpp>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

namespace simloop::replay {

namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::string shell_quote(const std::string& s) {
  bool plain = !s.empty();
  for (char ch : s) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '/' ||
                    ch == '.' || ch == '_' || ch == '-' || ch == '=' || ch == ':' || ch == '+';
    if (!ok) plain = false;
  }
  if (plain) return s;
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'') {
      out += "'\\''";
    } else {
      out.push_back(ch);
    }
  }
  return out + "'";
}

std::string this_binary() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) return p.string();
  return "<test binary>";
}

}  // namespace

// Relative to the working directory of the test (no path of simloop's own
// build is baked into the library).
std::string default_replay_dir() { return "simloop-replays"; }

std::string locate_replay_file(const std::string& file, const std::string& replay_dir) {
  std::error_code ec;
  if (std::filesystem::path(file).is_absolute() || std::filesystem::exists(file, ec)) return file;
  const std::filesystem::path in_dir = std::filesystem::path(replay_dir) / file;
  return std::filesystem::exists(in_dir, ec) ? in_dir.string() : file;
}

ReplayEnv ReplayEnv::from_environment() {
  ReplayEnv e;
  // Absolute, so the printed replay commands work from any directory.
  e.dir = std::filesystem::absolute(default_replay_dir()).string();
  if (auto d = env("SIMLOOP_REPLAY_DIR")) {
    if (d->empty()) throw std::invalid_argument("SIMLOOP_REPLAY_DIR is set but empty: give a directory");
    e.dir = *d;
  }
  if (auto f = env("SIMLOOP_REPLAY")) {
    if (f->empty()) throw std::invalid_argument("SIMLOOP_REPLAY is set but empty: give a replay file");
    e.replay_file = *f;
  }
  if (e.replay_file) e.replay_file = locate_replay_file(*e.replay_file, e.dir);
  if (auto c = env("SIMLOOP_REPLAY_CONTINUE")) {
    if (*c == "1") {
      e.continue_after_divergence = true;
    } else if (*c != "0" && !c->empty()) {
      throw std::invalid_argument("SIMLOOP_REPLAY_CONTINUE='" + *c + "' is not 0 or 1");
    }
  }
  if (auto m = env("SIMLOOP_MINIMIZE_RUNS")) {
    std::size_t v = 0;
    bool ok = !m->empty() && m->size() <= 9;
    for (char ch : *m) {
      if (ch < '0' || ch > '9') ok = false;
    }
    if (ok) v = static_cast<std::size_t>(std::stoull(*m));
    if (!ok) throw std::invalid_argument("SIMLOOP_MINIMIZE_RUNS='" + *m + "' is not a run count (0 to 999999999)");
    e.minimize_runs = v;
  }
  return e;
}

namespace {
std::string file_name_part(const std::string& text, const char* if_empty) {
  std::string name;
  for (char ch : text) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                    ch == '_' || ch == '-';
    name.push_back(ok ? ch : '_');
  }
  return name.empty() ? std::string(if_empty) : name;
}
}  // namespace

std::string replay_path(const std::string& dir, const std::string& test, const std::string& strategy,
                        const std::string& fidelity, std::uint64_t seed, bool minimized) {
  return (std::filesystem::path(dir) / fmt::format("{}-{}-{}-seed{}{}.simloop-replay", file_name_part(test, "test"),
                                                   file_name_part(strategy, "strategy"),
                                                   file_name_part(fidelity, "fidelity"), seed, minimized ? ".min" : ""))
      .string();
}

std::string reproduce_command(const std::string& file, const std::string& test) {
  return "SIMLOOP_REPLAY=" + shell_quote(file) + " " + shell_quote(this_binary()) +
         " --gtest_filter=" + shell_quote(test);
}

std::string replay_command(const std::string& file, const std::string& program, const std::string& program_args) {
  std::string cmd =
      "SIMLOOP_REPLAY=" + shell_quote(file) + " " + shell_quote(program.empty() ? this_binary() : program);
  if (!program_args.empty()) cmd += " " + program_args;
  return cmd;
}

Oracle make_oracle(const Trace& failing, RunOnce run_once, MakeStrategy seeded) {
  RunInfo info{failing.test, failing.strategy, failing.fidelity, failing.seed};
  std::string failure = failing.failure;
  return [info, failure, run_once = std::move(run_once),
          seeded = std::move(seeded)](const std::vector<Choice>& guide) -> std::optional<Trace> {
    RunRecording rec = RunRecording::guided(info, guide, seeded());
    std::string got = run_once(rec);
    if (got.empty() || !same_failure(got, failure)) return std::nullopt;
    return rec.trace(std::move(got));
  };
}

std::string SavedFailure::report() const {
  std::string out =
      fmt::format("replay file: {}\n  replay it: {}\n", original_path, reproduce_command(original_path, test));
  if (!minimized_path.empty()) {
    out += fmt::format("minimized ({} non-zero choices, from {}; {} runs{}): {}\n  replay it: {}\n", minimized_size,
                       original_size, minimize_runs, budget_exhausted ? ", budget exhausted" : "", minimized_path,
                       reproduce_command(minimized_path, test));
  }
  return out;
}

SavedFailure save_failure(const ReplayEnv& env, const Trace& failing, RunOnce run_once, MakeStrategy seeded) {
  SavedFailure s;
  s.test = failing.test;
  s.original_path = replay_path(env.dir, failing.test, failing.strategy, failing.fidelity, failing.seed, false);
  s.original_size = failing.nonzero_choices();
  s.minimized_size = s.original_size;
  save_trace(failing, s.original_path);
  if (env.minimize_runs == 0) return s;
  MinimizeResult m = minimize(failing, make_oracle(failing, std::move(run_once), std::move(seeded)),
                              MinimizeOptions{env.minimize_runs});
  s.minimized_path = replay_path(env.dir, failing.test, failing.strategy, failing.fidelity, failing.seed, true);
  s.minimized_size = m.minimized_size;
  s.minimize_runs = m.runs;
  s.budget_exhausted = m.budget_exhausted;
  save_trace(m.best, s.minimized_path);
  return s;
}

std::string ReplayOutcome::report(const Trace& recorded) const {
  std::string out;
  if (!problem.empty()) out += problem + "\n";
  if (reproduced) {
    out += fmt::format("replay reproduced the failure exactly ({} choices): {}\n", trace.choices.size(), failure);
  } else if (failure.empty()) {
    out += "replay did NOT reproduce the failure: the run passed (recorded failure: " + recorded.failure + ")\n";
  } else if (!same_failure(failure, recorded.failure)) {
    out += "replay failed differently: " + failure + "\n  (recorded failure: " + recorded.failure + ")\n";
  } else {
    out += "replay failed the same way, but not on the recorded schedule: " + failure + "\n";
  }
  return out;
}

ReplayOutcome replay_trace(const Trace& recorded, RunOnce run_once, std::unique_ptr<Scheduler> seeded,
                           bool continue_after_divergence) {
  RunRecording rec = RunRecording::replay(recorded, std::move(seeded),
                                          continue_after_divergence ? ReplayMode::StrictContinue : ReplayMode::Strict);
  ReplayOutcome o;
  o.failure = run_once(rec);
  o.problem = rec.replay_problem();
  o.reproduced = o.problem.empty() && !o.failure.empty() && same_failure(o.failure, recorded.failure);
  o.trace = rec.trace(o.failure);
  return o;
}

Trace load_replay_for(const std::string& file, const std::string& test) {
  Trace t = load_trace(file);
  if (t.test != test) {
    throw std::invalid_argument(fmt::format("{}: this replay file records test '{}', not '{}'", file, t.test, test));
  }
  return t;
}

}  // namespace simloop::replay
