// Coverage-guided fuzzing of schedules (fuzz.hpp).
#include <simloop/fuzz/fuzz.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include <simloop/replay/explore.hpp>
#include <simloop/replay/format.hpp>
#include <simloop/replay/render.hpp>
#include <simloop/sim/bytes.hpp>

namespace simloop::fuzz {

namespace {

// What initialize() settled, for every input after it.
struct Session {
  sim::RunnerOptions options;
  replay::ReplayEnv env;
};
std::optional<Session>& session() {
  static std::optional<Session> s;
  return s;
}

[[noreturn]] void bad_input(const std::string& what) {
  std::fprintf(stderr, "simloop: %s\n", what.c_str());
  std::fflush(stderr);
  std::exit(sim::kExitBadInput);
}

// "<dir>/x.min.simloop-replay" -> "<dir>/x.min.input".
std::string input_path_of(const std::string& replay_file) {
  const std::string suffix = ".simloop-replay";
  std::string base = replay_file;
  if (base.size() >= suffix.size() && base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0) {
    base.resize(base.size() - suffix.size());
  }
  return base + ".input";
}

std::vector<sim::Choice> sim_choices(const replay::Trace& t) {
  std::vector<sim::Choice> out;
  out.reserve(t.choices.size());
  for (const replay::Choice& c : t.choices) out.push_back(sim::Choice{static_cast<ChoiceKind>(c.kind), c.n, c.value});
  return out;
}

// The minimized run as an input file; returns the report's line.
std::string write_minimized_input(const std::string& minimized_file, const sim::SimOptions& options) {
  try {
    const replay::Trace t = replay::load_trace(minimized_file);
    const std::vector<std::uint8_t> bytes = sim::encode_choices(sim_choices(t), options);
    const std::string path = input_path_of(minimized_file);
    if (!write_input(path, bytes)) return fmt::format("  minimized input: could not be written to {}\n", path);
    return fmt::format("  minimized input: {} ({} bytes; a corpus entry, or SIMLOOP_REPLAY_INPUT)\n", path,
                       bytes.size());
  } catch (const std::exception& e) {
    return fmt::format("  minimized input: not written: {}\n", e.what());
  }
}

// Records each run's choices and writes every passing run as an input.
class CorpusWriter final : public sim::RunObserver {
 public:
  explicit CorpusWriter(std::string dir) : dir_(std::move(dir)) {}
  void on_run_start(const sim::RunContext&, sim::SimLoop&, sim::SimScheduler& scheduler) override {
    recorder_.clear();
    scheduler.add_observer(&recorder_);
  }
  std::string on_run_end(const sim::RunContext& ctx, const sim::RunOutcome& outcome) override {
    if (outcome.failed() || ctx.attempt != 1) return {};
    const std::vector<std::uint8_t> bytes = sim::encode_choices(recorder_.choices(), ctx.options->sim);
    const std::string path = fmt::format("{}/{}-seed{}.input", dir_, sim::to_string(ctx.options->strategy), ctx.seed);
    if (!write_input(path, bytes)) {
      throw std::invalid_argument(fmt::format("SIMLOOP_FUZZ_CORPUS={}: cannot write {}", dir_, path));
    }
    ++written_;
    return {};
  }
  std::uint64_t written() const noexcept { return written_; }

 private:
  std::string dir_;
  sim::ChoiceRecorder recorder_;
  std::uint64_t written_ = 0;
};

}  // namespace

std::unique_ptr<sim::SimScheduler> InputSource::make_scheduler(const sim::RunContext& ctx) {
  return std::make_unique<sim::BytesStrategy>(input_, ctx.options->sim);
}

bool write_input(const std::string& path, std::span<const std::uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  return static_cast<bool>(out);
}

std::uint64_t input_hash(std::span<const std::uint8_t> input) noexcept {
  std::uint64_t h = replay::kFnvOffset;
  for (std::uint8_t b : input) {
    h ^= b;
    h *= replay::kFnvPrime;
  }
  return h;
}

std::vector<std::uint8_t> read_input(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(fmt::format("SIMLOOP_REPLAY_INPUT={}: cannot open the file", path));
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::invalid_argument(fmt::format("SIMLOOP_REPLAY_INPUT={}: cannot read the file", path));
  return bytes;
}

sim::RunnerOptions input_options(const Target& target, const char* program) {
  sim::RunnerOptions base = target.options();
  base.check_determinism = base.check_determinism || target.determinism_check_by_default;
  sim::RunnerOptions o = sim::options_from_env(std::move(base));
  o.test_name = target.name;
  o.program = program != nullptr ? program : "";
  o.strategy = sim::Strategy::Bytes;
  o.seed = 0;
  o.runs = 1;
  o.total_shards = 1;
  o.shard_index = 0;
  o.keep_going = false;
  o.time_budget.reset();
  o.isolation = sim::Isolation::None;  // libFuzzer itself catches a crash and keeps its input
  o.log = stderr;
  return o;
}

sim::ExploreResult write_corpus(const sim::Scenario& scenario, sim::RunnerOptions seeded, const std::string& dir) {
  if (seeded.strategy != sim::Strategy::Random && seeded.strategy != sim::Strategy::Pct &&
      seeded.strategy != sim::Strategy::Fifo) {
    throw std::invalid_argument(fmt::format("SIMLOOP_FUZZ_CORPUS: strategy {} cannot seed a corpus (use random or pct)",
                                            sim::to_string(seeded.strategy)));
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    throw std::invalid_argument(fmt::format("SIMLOOP_FUZZ_CORPUS={}: cannot create the directory{}{}", dir,
                                            ec ? ": " : "", ec ? ec.message() : std::string()));
  }
  CorpusWriter writer(dir);
  seeded.observers.push_back(&writer);
  seeded.keep_going = true;
  const sim::ExploreResult r = sim::explore(scenario, seeded);
  if (seeded.log != nullptr) {
    fmt::print(seeded.log, "simloop: wrote {} input(s) of passing {} runs to {}{}\n", writer.written(),
               sim::to_string(seeded.strategy), dir,
               r.failures > 0 ? fmt::format("; {} run(s) failed and are not in it (reported above)", r.failures)
                              : std::string());
    std::fflush(seeded.log);
  }
  return r;
}

sim::RunOutcome run_input(const sim::Scenario& scenario, const sim::RunnerOptions& options,
                          std::span<const std::uint8_t> input) {
  InputSource source(input);
  sim::RunnerOptions o = options;
  o.observers.insert(o.observers.begin(), &source);
  const sim::RunContext ctx{&o, input_hash(input), 0, 1};
  return sim::run_checked(scenario, o, ctx);
}

sim::ExploreResult record_input(const sim::Scenario& scenario, sim::RunnerOptions options,
                                std::span<const std::uint8_t> input, replay::ReplayEnv env) {
  InputSource source(input);
  options.observers.insert(options.observers.begin(), &source);
  options.seed = input_hash(input);
  options.runs = 1;
  options.strategy = sim::Strategy::Bytes;
  sim::ExploreResult result = replay::explore(scenario, options, std::move(env));
  if (result.failure && !result.failure->files.minimized_path.empty()) {
    const std::string line = write_minimized_input(result.failure->files.minimized_path, options.sim);
    if (options.log != nullptr) {
      fmt::print(options.log, "{}", line);
      std::fflush(options.log);
    }
    result.failure->report += line;
  }
  return result;
}

int initialize(const Target& target, int* argc, char*** argv) {
  const char* program = argc != nullptr && *argc > 0 && argv != nullptr ? (*argv)[0] : nullptr;
  sim::RunnerOptions options;
  replay::ReplayEnv env;
  try {
    options = input_options(target, program);
    env = replay::ReplayEnv::from_environment();
  } catch (const std::exception& e) {
    bad_input(e.what());
  }
  if (const char* corpus = std::getenv("SIMLOOP_FUZZ_CORPUS")) {
    int status = 0;
    try {
      if (*corpus == '\0') bad_input("SIMLOOP_FUZZ_CORPUS is set but empty: give a directory");
      sim::RunnerOptions seeded = sim::options_from_env(target.options());
      seeded.test_name = target.name;
      seeded.program = options.program;
      seeded.log = stdout;
      status = write_corpus(target.scenario, seeded, corpus).ok() ? 0 : 1;
    } catch (const std::exception& e) {
      bad_input(e.what());
    }
    std::fflush(stdout);
    std::exit(status);
  }
  const char* input_file = std::getenv("SIMLOOP_REPLAY_INPUT");
  if (input_file != nullptr && env.replay_file) {
    bad_input("SIMLOOP_REPLAY_INPUT and SIMLOOP_REPLAY are both set: give one (an input file, or a replay file)");
  }
  if (env.replay_file) {
    // A replay file of a finding: replayed as on a test binary.
    int status = 0;
    try {
      sim::RunnerOptions o = options;
      o.strategy = sim::Strategy::Bytes;
      status = sim::exit_status(replay::explore(target.scenario, o, env));
    } catch (const std::exception& e) {
      bad_input(e.what());
    }
    std::fflush(stderr);
    std::exit(status);
  }
  if (input_file != nullptr) {
    int status = 0;
    try {
      if (*input_file == '\0') bad_input("SIMLOOP_REPLAY_INPUT is set but empty: give an input file");
      const std::vector<std::uint8_t> input = read_input(input_file);
      options.fuzz_input = input_file;
      options.log = stdout;
      const sim::ExploreResult r = record_input(target.scenario, options, input, env);
      if (r.failure) {
        const sim::FailureFiles& files = r.failure->files;
        const std::string shown = !files.minimized_path.empty() ? files.minimized_path : files.replay_path;
        if (!shown.empty()) {
          fmt::print("simloop: timeline of {}:\n{}", shown, replay::timeline(replay::load_trace(shown)));
        }
      } else {
        fmt::print("simloop: {}: the input passes ({} bytes)\n", input_file, input.size());
      }
      status = sim::exit_status(r);
    } catch (const std::exception& e) {
      bad_input(e.what());
    }
    std::fflush(stdout);
    std::exit(status);
  }
  fmt::print(stderr, "{} (each input is a schedule: docs/fuzzing.md)\n", sim::describe_config(options));
  session() = Session{std::move(options), std::move(env)};
  return 0;
}

int test_one_input(const Target& target, const std::uint8_t* data, std::size_t size) {
  if (!session()) {
    // A driver that skips LLVMFuzzerInitialize: settle the options now.
    int argc = 0;
    char** argv = nullptr;
    initialize(target, &argc, &argv);
  }
  const Session& s = *session();
  const std::span<const std::uint8_t> input(data, size);
  const sim::RunOutcome outcome = run_input(target.scenario, s.options, input);
  if (!outcome.failed()) return 0;
  // Run it again, recorded (a run is a function of its input): the report,
  // the replay file and the minimized run.
  const sim::ExploreResult r = record_input(target.scenario, s.options, input, s.env);
  if (!r.failure) {
    fmt::print(stderr,
               "simloop: {}: an input failed ({}: {}), then passed when run again: the scenario keeps state between "
               "runs (statics, globals, real time); SIMLOOP_CHECK_DETERMINISM=1 shows where\n",
               target.name, sim::to_string(outcome.failure), outcome.message);
  }
  fmt::print(stderr,
             "simloop: {} failed on this input; libFuzzer writes it as a crash file (its path follows), and "
             "SIMLOOP_REPLAY_INPUT=<that file> {} replays it\n",
             target.name, s.options.program.empty() ? "<this binary>" : s.options.program);
  std::fflush(stderr);
  std::abort();
}

}  // namespace simloop::fuzz
