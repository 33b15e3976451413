// Replay wired into the exploration runner (explore.hpp).
#include <simloop/replay/explore.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

#include <simloop/replay/format.hpp>
#include <simloop/sim/crash.hpp>
#include <simloop/version.hpp>

namespace simloop::replay {

namespace {

std::vector<sim::Choice> to_sim(const std::vector<Choice>& choices) {
  std::vector<sim::Choice> out;
  out.reserve(choices.size());
  for (const Choice& c : choices) out.push_back(sim::Choice{static_cast<ChoiceKind>(c.kind), c.n, c.value});
  return out;
}

std::string failure_text(const sim::RunOutcome& outcome) {
  return fmt::format("{}: {}", sim::to_string(outcome.failure), outcome.message);
}

std::uint64_t parse_u64(const std::string& key, const std::string& v) {
  if (v.empty() || v.size() > 20 || v.find_first_not_of("0123456789") != std::string::npos) {
    throw std::invalid_argument("replay options: " + key + "=" + v + " is not an unsigned number");
  }
  errno = 0;
  const unsigned long long x = std::strtoull(v.c_str(), nullptr, 10);
  if (errno == ERANGE) throw std::invalid_argument("replay options: " + key + "=" + v + " does not fit in 64 bits");
  return x;
}

double parse_probability(const std::string& key, const std::string& v) {
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || !(x >= 0.0 && x <= 1.0)) {
    throw std::invalid_argument("replay options: " + key + "=" + v + " is not a probability in [0, 1]");
  }
  return x;
}

}  // namespace

std::string format_options(const sim::RunnerOptions& o) {
  const sim::SimOptions& s = o.sim;
  // %.17g round-trips a double exactly.
  return fmt::format(
      "max_callback_cost_ns={} busy_probability={:.17g} max_external_delay={} external_delay_probability={:.17g} "
      "cancel_probability={:.17g} max_injected_cancels={} buggify={} pct_depth={} pct_horizon={} max_steps={} "
      "max_vtime_ns={} max_sync_resumes={} cancel_kinds={} cancel_horizon={}{}{}{}",
      s.max_callback_cost.count(), s.busy_probability, s.max_external_delay, s.external_delay_probability,
      s.cancel_probability, s.max_injected_cancels, s.buggify ? 1 : 0, s.pct_depth, s.pct_horizon, o.max_steps,
      o.max_vtime.count(), o.max_sync_resumes, sim::describe_injections(s.injection_kinds), s.cancel_horizon,
      o.report_swallowed_cancel ? " report_swallowed_cancel=1" : "", o.check_liveness ? "" : " check_liveness=0",
      // A bounded run's number means that run only for K at least its
      // deviations: the file keeps the exploration's K for its reproduce line.
      o.strategy == sim::Strategy::Bounded ? fmt::format(" max_deviations={}", o.max_deviations) : std::string());
}

void apply_options(const std::string& text, sim::RunnerOptions& o) {
  // Files written before the injection kinds existed injected at suspensions only.
  o.sim.injection_kinds = injection_bit(Injection::Suspend);
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string pair = text.substr(start, end - start);
    start = end + 1;
    const std::size_t eq = pair.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("replay options: '" + pair + "' is not key=value");
    const std::string key = pair.substr(0, eq), v = pair.substr(eq + 1);
    auto u32 = [&](std::uint32_t& dst) {
      const std::uint64_t x = parse_u64(key, v);
      if (x > 0xffffffffu) throw std::invalid_argument("replay options: " + key + "=" + v + " is too large");
      dst = static_cast<std::uint32_t>(x);
    };
    auto ns = [&](Duration& dst) {
      const std::uint64_t x = parse_u64(key, v);
      if (x > static_cast<std::uint64_t>(INT64_MAX))
        throw std::invalid_argument("replay options: " + key + " too large");
      dst = Duration{static_cast<Duration::rep>(x)};
    };
    if (key == "max_callback_cost_ns") {
      ns(o.sim.max_callback_cost);
    } else if (key == "busy_probability") {
      o.sim.busy_probability = parse_probability(key, v);
    } else if (key == "max_external_delay") {
      u32(o.sim.max_external_delay);
    } else if (key == "external_delay_probability") {
      o.sim.external_delay_probability = parse_probability(key, v);
    } else if (key == "cancel_probability") {
      o.sim.cancel_probability = parse_probability(key, v);
    } else if (key == "max_injected_cancels") {
      u32(o.sim.max_injected_cancels);
    } else if (key == "buggify") {
      if (v != "0" && v != "1") throw std::invalid_argument("replay options: buggify=" + v + " is not 0 or 1");
      o.sim.buggify = v == "1";
    } else if (key == "pct_depth") {
      // The same range as SIMLOOP_PCT_DEPTH: pct allocates per level.
      u32(o.sim.pct_depth);
      if (o.sim.pct_depth < 1 || o.sim.pct_depth > 64) {
        throw std::invalid_argument("replay options: pct_depth=" + v + " is outside 1..64 (as SIMLOOP_PCT_DEPTH)");
      }
    } else if (key == "pct_horizon") {
      o.sim.pct_horizon = parse_u64(key, v);
    } else if (key == "max_steps") {
      o.max_steps = parse_u64(key, v);
    } else if (key == "max_vtime_ns") {
      ns(o.max_vtime);
    } else if (key == "max_sync_resumes") {
      o.max_sync_resumes = parse_u64(key, v);
    } else if (key == "cancel_kinds") {
      if (v == "none") {
        o.sim.injection_kinds = 0;
      } else if (auto kinds = sim::parse_injections(v)) {
        o.sim.injection_kinds = *kinds;
      } else {
        throw std::invalid_argument("replay options: cancel_kinds=" + v +
                                    " is not a list of suspend, granted, callback, timer");
      }
    } else if (key == "cancel_horizon") {
      o.sim.cancel_horizon = parse_u64(key, v);
    } else if (key == "max_deviations") {
      u32(o.max_deviations);
      if (o.max_deviations > 64) {
        throw std::invalid_argument("replay options: max_deviations=" + v + " is above 64 (as SIMLOOP_MAX_DEVIATIONS)");
      }
    } else if (key == "report_swallowed_cancel") {
      if (v != "0" && v != "1") {
        throw std::invalid_argument("replay options: report_swallowed_cancel=" + v + " is not 0 or 1");
      }
      o.report_swallowed_cancel = v == "1";
    } else if (key == "check_liveness") {
      if (v != "0" && v != "1") throw std::invalid_argument("replay options: check_liveness=" + v + " is not 0 or 1");
      o.check_liveness = v == "1";
    } else {
      throw std::invalid_argument("replay options: unknown setting '" + key + "'");
    }
  }
}

namespace {

// Refuses, before any run, a replay directory that cannot take a file: a
// failure found later must not lose its replay file.
void check_writable_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    throw std::invalid_argument(
        fmt::format("SIMLOOP_REPLAY_DIR={}: cannot create the directory for replay files: {}", dir, ec.message()));
  }
  if (!fs::is_directory(dir, ec)) {
    throw std::invalid_argument(fmt::format("SIMLOOP_REPLAY_DIR={}: not a directory", dir));
  }
  const std::string probe = (fs::path(dir) / ".simloop-write-check").string();
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw std::invalid_argument(
        fmt::format("SIMLOOP_REPLAY_DIR={}: cannot write replay files there: {}", dir, std::strerror(errno)));
  }
  ::close(fd);
  ::unlink(probe.c_str());
}

// Saves `t`; on failure returns the line that says why (the report keeps
// everything else).
std::string try_save(const Trace& t, const std::string& path) {
  try {
    save_trace(t, path);
    return {};
  } catch (const std::exception& e) {
    return fmt::format("  replay file: could not be written: {}\n", e.what());
  }
}

// Writes a replay file of `choices` with write(2) only (crash handlers).
bool write_choices_file(const char* path, const std::string& prefix, std::uint64_t seed, const char* failure,
                        const std::vector<Choice>& choices) {
  const int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  sim::crash::SafeWriter out(fd);
  out.text(prefix).text("seed ").number(seed).text("\nfailure \"").text(failure).text("\"\nchoices ");
  out.number(choices.size()).text("\n");
  std::uint64_t last_step = 0;
  for (const Choice& ch : choices) {
    // Steps never go backwards in a valid file.
    last_step = ch.step > last_step ? ch.step : last_step;
    out.text("c ").number(last_step).text(" ").text(kind_name(ch.kind)).text(" ").number(ch.n).text(" ");
    out.number(ch.value).text("\n");
  }
  out.text("digests 0\nevents 0\ninjections 0\n");
  const std::uint64_t sum = out.hash();
  out.text("checksum ").hex16(sum).text("\n");
  out.flush();
  const bool ok = out.ok();
  ::close(fd);
  return ok;
}

// A minimizer run in a forked child that crashes writes its choices here.
struct GuideCrashCapture {
  const std::string* prefix;
  const Recorder* recorder;
  std::string path;
};

void write_guide_crash(void* context, const char* failure, std::uint64_t seed) {
  const auto* cap = static_cast<const GuideCrashCapture*>(context);
  (void)write_choices_file(cap->path.c_str(), *cap->prefix, seed, failure, cap->recorder->choices());
}

}  // namespace

ReplayObserver::ReplayObserver(sim::RunnerOptions& options, ReplayEnv env) : env_(std::move(env)) {
  info_ = RunInfo{options.test_name, sim::to_string(options.strategy), sim::to_string(options.sim.fidelity), 0};
  if (!env_.replay_file) {
    check_writable_dir(env_.dir);
    return;
  }
  Trace t = load_trace(*env_.replay_file);
  if (!env_.accept_other_test && !options.test_name.empty() && t.test != options.test_name) {
    throw std::invalid_argument(fmt::format("SIMLOOP_REPLAY={}: this file records test '{}', not '{}'",
                                            *env_.replay_file, t.test, options.test_name));
  }
  auto strategy = sim::parse_strategy(t.strategy);
  auto fidelity = sim::parse_fidelity(t.fidelity);
  if (!strategy || !fidelity) {
    throw std::invalid_argument(fmt::format("SIMLOOP_REPLAY={}: unknown strategy '{}' or fidelity '{}'",
                                            *env_.replay_file, t.strategy, t.fidelity));
  }
  try {
    apply_options(t.options, options);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("SIMLOOP_REPLAY={}: {}", *env_.replay_file, e.what()));
  }
  options.seed = t.seed;
  options.runs = 1;
  options.total_shards = 1;
  options.shard_index = 0;
  options.check_determinism = false;
  if (*strategy != sim::Strategy::List) options.strategy = *strategy;
  options.sim.fidelity = *fidelity;
  info_ = RunInfo{t.test, t.strategy, t.fidelity, t.seed};
  if (options.log != nullptr) {
    fmt::print(options.log, "simloop: replaying {} ({} choices, {} non-zero){}\n", *env_.replay_file, t.choices.size(),
               t.nonzero_choices(),
               env_.continue_after_divergence ? "; on divergence, carrying on under the seeded strategy" : "");
  }
  replay_ = std::move(t);
}

std::unique_ptr<sim::SimScheduler> ReplayObserver::make_scheduler(const sim::RunContext& ctx) {
  if (!replay_) return nullptr;
  const sim::RunnerOptions& o = *ctx.options;
  auto list = std::make_unique<sim::ListStrategy>(to_sim(replay_->choices), o.sim);
  // A bounded run takes the natural choice wherever it does not deviate, and
  // a bytes run past its input: carrying on after a divergence is the
  // list's own natural choices.
  if (env_.continue_after_divergence && o.strategy != sim::Strategy::List && o.strategy != sim::Strategy::Bounded &&
      o.strategy != sim::Strategy::Bytes) {
    list->set_fallback(sim::make_strategy(o.strategy, ctx.seed, o.sim));
  }
  divergence_context_.clear();
  list->on_divergence([this](const sim::ListStrategy::Divergence&) {
    divergence_context_ = recorder_.context();
    divergence_step_ = recorder_.step();
  });
  list_ = list.get();
  return list;
}

void ReplayObserver::prepare_crash_file(const sim::RunnerOptions& options) {
  crash_.ready = true;
  if (replay_) {
    crash_.replaying = fmt::format("  replaying {}; this reproduces the crash: {}\n", *env_.replay_file,
                                   replay_command(*env_.replay_file, options.program, options.program_args));
    return;
  }
  Trace header;
  header.simloop_version = SIMLOOP_VERSION;
  header.test = info_.test;
  header.strategy = info_.strategy;
  header.fidelity = info_.fidelity;
  header.options = format_options(options);
  const std::string text = serialize(header);
  crash_.prefix = text.substr(0, text.find("\nseed ") + 1);
  // Split the file's path and its replay command around the seed's digits.
  const std::string marker = "SIMLOOPSEEDMARK";  // plain characters: quoting treats it like digits
  const std::string path = replay_path(env_.dir, info_.test, info_.strategy, info_.fidelity, 0, false);
  const std::size_t at = path.rfind("seed0");
  crash_.path_before = path.substr(0, at + 4);
  crash_.path_after = path.substr(at + 5);
  const std::string cmd =
      replay_command(crash_.path_before + marker + crash_.path_after, options.program, options.program_args);
  const std::size_t m = cmd.find(marker);
  crash_.command_before = cmd.substr(0, m);
  crash_.command_after = cmd.substr(m + marker.size());
}

// Runs inside the crash handler: write(2) and integer formatting only.
void ReplayObserver::write_crash_file(void* context, const char* failure, std::uint64_t seed) {
  auto* self = static_cast<ReplayObserver*>(context);
  const CrashFile& c = self->crash_;
  if (!c.replaying.empty()) {
    sim::crash::SafeWriter(STDERR_FILENO).text(c.replaying);
    return;
  }
  char path[4096];
  std::size_t n = 0;
  auto append = [&](const char* s, std::size_t len) {
    for (std::size_t i = 0; i < len && n + 1 < sizeof path; ++i) path[n++] = s[i];
  };
  append(c.path_before.data(), c.path_before.size());
  char digits[20];
  append(digits, sim::crash::format_decimal(seed, digits));
  append(c.path_after.data(), c.path_after.size());
  path[n] = '\0';
  const std::vector<Choice>& choices = self->recorder_.choices();
  const bool written = write_choices_file(path, c.prefix, seed, failure, choices);
  sim::crash::SafeWriter err(STDERR_FILENO);
  if (written) {
    err.text("  replay file: ").text(path).text(" (").number(choices.size()).text(" choices made before the crash)\n");
    err.text("  replay it: ").text(c.command_before);
    err.number(seed).text(c.command_after).text("\n");
  } else {
    err.text("  replay file: could not write ").text(path).text("\n");
  }
}

std::string ReplayObserver::on_run_crashed(const sim::RunContext& ctx, const sim::RunOutcome& outcome) {
  if (replay_) {
    // The replayed run crashed in its child: the recorded crash, if the
    // signal is the one recorded (the child could not check the choices).
    auto signal_of = [](const std::string& text) {
      const std::size_t at = text.find("SIG");
      return at == std::string::npos ? std::string() : text.substr(at, text.find_first_of(" )", at) - at);
    };
    const std::string now = signal_of(outcome.message);
    const bool same = !now.empty() && replay_->failure.rfind("crash: ", 0) == 0 && signal_of(replay_->failure) == now;
    verdict_kind_ = same ? sim::ReplayVerdict::Reproduced : sim::ReplayVerdict::FailedDifferently;
    verdict_ = same ? fmt::format("  replay: reproduced: the run crashed again with {} (in a forked child)\n", now)
                    : fmt::format("  replay: the run crashed ({}) but the recording failed otherwise (recorded: {})\n",
                                  now, replay_->failure);
    return *verdict_;
  }
  // The child's crash handler wrote the choices it had made (count-all
  // mode: each crashing child writes its own; the first of a signature is
  // the one kept here).
  std::string signature = sim::failure_signature(outcome);
  if (saved_of(signature) != nullptr) return {};
  const std::string path = replay_path(env_.dir, info_.test, info_.strategy, info_.fidelity, ctx.seed, false);
  try {
    Trace t = load_trace(path);
    saved_.push_back(SavedRun{std::move(signature), std::move(t), sim::FailureKind::Crash, path});
  } catch (const std::exception& e) {
    return fmt::format("  replay file: the crashed child left none readable: {}\n", e.what());
  }
  return fmt::format("  replay file: {} ({} choices made before the crash, written by the child)\n  replay it: {}\n",
                     path, saved_.back().trace.choices.size(),
                     replay_command(path, ctx.options->program, ctx.options->program_args));
}

void ReplayObserver::on_run_start(const sim::RunContext& ctx, sim::SimLoop& loop, sim::SimScheduler& scheduler) {
  recorder_.reset();
  recorder_.begin(loop);
  scheduler.add_observer(&recorder_);
  info_.seed = ctx.seed;
  if (replay_) recorder_.expect_digests(replay_->digests);
  if (!crash_.ready) prepare_crash_file(*ctx.options);
  sim::crash::set_extra(&ReplayObserver::write_crash_file, this);
}

std::string ReplayObserver::on_run_end(const sim::RunContext& ctx, const sim::RunOutcome& outcome) {
  sim::crash::clear_extra();
  recorder_.finish();
  if (ctx.attempt != 1) return {};
  if (replay_) {
    std::string v;
    bool exact = true;
    if (list_ != nullptr && list_->divergence()) {
      exact = false;
      v += fmt::format("  replay diverged at step {}: {}\n    running: {}\n", divergence_step_,
                       list_->divergence()->describe(), divergence_context_);
    } else if (list_ != nullptr && !list_->exhausted()) {
      exact = false;
      v += fmt::format("  replay diverged: the run ended at step {} having used {} of the {} recorded choices\n",
                       outcome.steps, list_->position(), replay_->choices.size());
    }
    if (exact && recorder_.digest_mismatch()) {
      exact = false;
      v += "  replay diverged: " + *recorder_.digest_mismatch() + "\n";
    }
    const std::string now = outcome.failed() ? failure_text(outcome) : std::string();
    // A divergence alone is not the program failing.
    const bool failing = outcome.failed() && outcome.failure != sim::FailureKind::Divergence;
    reproduced_ = exact && failing && same_failure(now, replay_->failure);
    if (reproduced_) {
      verdict_kind_ = sim::ReplayVerdict::Reproduced;
      v += replay_->digests.empty()
               ? fmt::format("  replay: reproduced exactly ({} choices; the file holds no digests to check)\n",
                             replay_->choices.size())
               : fmt::format("  replay: reproduced exactly ({} choices, digests match)\n", replay_->choices.size());
    } else if (exact && !failing) {
      verdict_kind_ = sim::ReplayVerdict::Passed;
      v += "  replay: followed the recording exactly and passed: the recorded failure no longer happens (recorded: " +
           replay_->failure + ")\n";
    } else if (exact) {
      verdict_kind_ = sim::ReplayVerdict::FailedDifferently;
      v += "  replay: followed the recording exactly but failed differently (recorded: " + replay_->failure + ")\n";
    } else if (failing) {
      verdict_kind_ = sim::ReplayVerdict::DivergedFailing;
      v += "  replay: diverged from the recording (above) and still fails: " + now + " (recorded: " + replay_->failure +
           ")\n";
    } else {
      verdict_kind_ = sim::ReplayVerdict::DivergedPassing;
      v += "  replay: diverged from the recording (above) and passed: the recorded failure no longer happens "
           "(recorded: " +
           replay_->failure + "); the program changed since the file was written\n";
    }
    verdict_ = v;
    list_ = nullptr;
    if (env_.continue_after_divergence && !exact && outcome.failed() &&
        outcome.failure != sim::FailureKind::Divergence) {
      // The continued run failed on its own: a schedule worth keeping.
      std::string path = replay_path(env_.dir, info_.test, info_.strategy, info_.fidelity, info_.seed, false);
      path.insert(path.size() - std::string_view(".simloop-replay").size(), ".continued");
      Trace t = recorder_.trace(info_, now);
      t.options = replay_->options;
      const std::string problem = try_save(t, path);
      v += problem.empty() ? "  the continued run was saved to " + path + "\n" : problem;
      verdict_ = v;
    }
    return v;
  }
  if (!outcome.failed()) return {};
  std::string signature = sim::failure_signature(outcome);
  if (saved_of(signature) != nullptr) return {};  // count-all mode: one file per signature
  Trace t = recorder_.trace(info_, failure_text(outcome));
  t.options = format_options(*ctx.options);
  std::string path = replay_path(env_.dir, t.test, t.strategy, t.fidelity, t.seed, false);
  const std::string problem = try_save(t, path);
  if (!problem.empty()) path.clear();
  saved_.push_back(SavedRun{std::move(signature), std::move(t), outcome.failure, path});
  if (!problem.empty()) return problem;
  const Trace& saved = saved_.back().trace;
  return fmt::format("  replay file: {} ({} choices, {} non-zero)\n  replay it: {}\n", path, saved.choices.size(),
                     saved.nonzero_choices(), replay_command(path, ctx.options->program, ctx.options->program_args));
}

const ReplayObserver::SavedRun* ReplayObserver::saved_of(const std::string& signature) const {
  for (const SavedRun& r : saved_) {
    if (r.signature == signature) return &r;
  }
  return nullptr;
}

namespace {

// Runs a guide (values read leniently by ListStrategy::from_values) and records it.
class GuideObserver final : public sim::RunObserver {
 public:
  explicit GuideObserver(const std::vector<Choice>& guide) {
    values_.reserve(guide.size());
    for (const Choice& c : guide) values_.push_back(c.value);
  }
  std::unique_ptr<sim::SimScheduler> make_scheduler(const sim::RunContext& ctx) override {
    return sim::ListStrategy::from_values(values_, ctx.options->sim);
  }
  void on_run_start(const sim::RunContext&, sim::SimLoop& loop, sim::SimScheduler& scheduler) override {
    recorder_.reset();
    recorder_.begin(loop);
    scheduler.add_observer(&recorder_);
  }
  void before_callback(const EventLoop& l, const Handle& h, std::uint64_t step) override {
    recorder_.before_callback(l, h, step);
  }
  void after_callback(const EventLoop& l, const Handle& h, std::uint64_t step) override {
    recorder_.after_callback(l, h, step);
  }
  void on_injected_cancel(const EventLoop& l, const simloop::InjectedCancel& injected) override {
    recorder_.on_injected_cancel(l, injected);
  }
  std::string on_run_end(const sim::RunContext&, const sim::RunOutcome&) override {
    recorder_.finish();
    return {};
  }
  Recorder recorder_;

 private:
  std::vector<std::uint64_t> values_;
};

}  // namespace

std::string ReplayObserver::minimize_and_save(const sim::Scenario& scenario, const sim::RunnerOptions& options,
                                              const std::string& signature, sim::FailureFiles* files) {
  const SavedRun* run = signature.empty() ? (saved_.empty() ? nullptr : &saved_.front()) : saved_of(signature);
  if (run == nullptr) return {};
  if (files != nullptr) {
    files->replay_path = run->path;
    files->nonzero_choices = run->trace.nonzero_choices();
  }
  if (env_.minimize_runs == 0) return {};
  const Trace original = run->trace;
  sim::RunnerOptions guided = options;
  guided.log = nullptr;
  guided.check_determinism = false;
  guided.seed = original.seed;
  const sim::FailureKind kind = run->kind;
  // A candidate run is kept when it fails like the original; it then
  // carries the original's identity (its choices are its own).
  auto keep_if_same = [&](sim::FailureKind got, Trace t) -> std::optional<Trace> {
    if (got != kind || !same_failure(t.failure, original.failure)) return std::nullopt;
    t.test = original.test;
    t.strategy = original.strategy;
    t.fidelity = original.fidelity;
    t.seed = original.seed;
    t.options = original.options;
    return t;
  };
  const std::string guide_file = (std::filesystem::path(env_.dir) / ".minimizer-run.simloop-replay").string();
  // Under isolation each minimizer run is a forked child too: a candidate
  // schedule that crashes kills only its child. The child leaves the run's
  // trace in guide_file (its crash handler, or save_trace).
  Oracle in_child = [&](const std::vector<Choice>& guide) -> std::optional<Trace> {
    ::unlink(guide_file.c_str());
    const sim::RunOutcome out = sim::run_in_child([&] {
      GuideObserver obs(guide);
      guided.observers = {&obs};
      GuideCrashCapture capture{&crash_.prefix, &obs.recorder_, guide_file};
      sim::crash::set_quiet(true);
      sim::crash::set_extra(&write_guide_crash, &capture);
      const sim::RunContext ctx{&guided, original.seed, 0, 1};
      sim::RunOutcome o = sim::run_one(scenario, guided, ctx);
      sim::crash::clear_extra();
      if (o.failed()) {
        Trace t = obs.recorder_.trace(info_, failure_text(o));
        t.options = original.options;
        save_trace(t, guide_file);
      }
      return o;
    });
    if (!out.failed()) return std::nullopt;
    std::optional<Trace> t;
    try {
      t = load_trace(guide_file);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    ::unlink(guide_file.c_str());
    return keep_if_same(out.failure, std::move(*t));
  };
  Oracle in_process = [&](const std::vector<Choice>& guide) -> std::optional<Trace> {
    GuideObserver obs(guide);
    guided.observers = {&obs};
    const sim::RunContext ctx{&guided, original.seed, 0, 1};
    const sim::RunOutcome out = sim::run_one(scenario, guided, ctx);
    guided.observers.clear();
    if (!out.failed()) return std::nullopt;
    return keep_if_same(out.failure, obs.recorder_.trace(info_, failure_text(out)));
  };
  if (!crash_.ready) prepare_crash_file(options);
  const bool isolated = options.isolation == sim::Isolation::Fork || kind == sim::FailureKind::Crash;
  MinimizeResult m = minimize(original, isolated ? in_child : in_process, MinimizeOptions{env_.minimize_runs});
  const std::string path =
      replay_path(env_.dir, original.test, original.strategy, original.fidelity, original.seed, true);
  if (std::string problem = try_save(m.best, path); !problem.empty()) {
    return fmt::format("  minimized: {} non-zero choices (from {}) in {} runs\n{}", m.minimized_size, m.original_size,
                       m.runs, problem);
  }
  if (files != nullptr) {
    files->minimized_path = path;
    files->minimized_nonzero = m.minimized_size;
    std::uint64_t by_kind[kKindCount] = {};
    for (const Choice& c : m.best.choices) {
      if (c.value != 0 && c.kind < kKindCount) ++by_kind[c.kind];
    }
    for (std::uint8_t k = 0; k < kKindCount; ++k) {
      if (by_kind[k] != 0) files->minimized_by_kind.emplace_back(kind_name(k), by_kind[k]);
    }
  }
  return fmt::format(
      "  minimized: {} non-zero choices (from {}; {} of {} choices kept) in {} runs{}\n  minimized file: {}\n  replay "
      "it: {}\n",
      m.minimized_size, m.original_size, m.best.choices.size(), original.choices.size(), m.runs,
      m.budget_exhausted ? " (budget exhausted: SIMLOOP_MINIMIZE_RUNS)" : "", path,
      replay_command(path, options.program, options.program_args));
}

sim::ExploreResult explore(const sim::Scenario& scenario, sim::RunnerOptions options) {
  return explore(scenario, std::move(options), ReplayEnv::from_environment());
}

sim::ExploreResult explore(const sim::Scenario& scenario, sim::RunnerOptions options, ReplayEnv env) {
  ReplayObserver observer(options, std::move(env));
  options.observers.push_back(&observer);
  sim::RunnerOptions run_options = options;
  run_options.print_statistics = false;  // printed below, with the files
  sim::ExploreResult result = sim::explore(scenario, run_options);
  if (result.failure && !observer.replaying()) {
    for (sim::FailureClass& c : result.classes) {
      const sim::Failure& f = c.first;
      const ReplayObserver::SavedRun* saved = nullptr;
      for (const ReplayObserver::SavedRun& r : observer.saved()) {
        if (r.signature == f.signature) saved = &r;
      }
      // A minimizer run that crashes names the failure it was minimizing.
      sim::crash::begin_exploration(options);
      sim::crash::set_run(f.seed, result.runs);
      sim::crash::set_note(
          fmt::format("while minimizing the failure of this seed (saved in {}): a minimizer run crashed",
                      saved != nullptr ? saved->path : std::string("no file")));
      std::string extra = observer.minimize_and_save(scenario, options, f.signature, &c.first.files);
      sim::crash::end_exploration();
      if (options.keep_going && !extra.empty()) extra = fmt::format("  for seed {}: {}\n", f.seed, f.signature) + extra;
      if (!extra.empty()) {
        if (options.log != nullptr && options.log_failure) {
          fmt::print(options.log, "{}", extra);
          std::fflush(options.log);
        }
        c.first.report += extra;
      }
    }
    const sim::Failure& first = result.classes.front().first;
    result.failure->files = first.files;
    result.failure->report = first.report;
  }
  if (options.keep_going && options.print_statistics && options.log != nullptr) {
    fmt::print(options.log, "{}", sim::describe_statistics(result, options));
    std::fflush(options.log);
  }
  if (observer.replaying() && result.ok() && observer.replay_verdict() && options.log != nullptr) {
    fmt::print(options.log, "{}", *observer.replay_verdict());
  }
  result.replay_verdict = observer.verdict();
  return result;
}

}  // namespace simloop::replay
