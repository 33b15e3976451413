#include <simloop/properties/rapidcheck.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include <simloop/replay/explore.hpp>
#include <simloop/replay/session.hpp>
#include <simloop/sim/random.hpp>

namespace simloop::sim {
void showValue(Fidelity f, std::ostream& os) { os << to_string(f); }
}  // namespace simloop::sim

namespace simloop::properties {

namespace {

constexpr std::uint32_t kMillion = 1'000'000;

thread_local std::string t_current_name;

// Hands the runner a RapidcheckStrategy for the run (and keeps a pointer to
// read its counters afterwards).
class RapidcheckObserver final : public sim::RunObserver {
 public:
  RapidcheckObserver(const sim::SimOptions& options, const Bias& bias) : options_(options), bias_(bias) {}
  std::unique_ptr<sim::SimScheduler> make_scheduler(const sim::RunContext&) override {
    auto s = std::make_unique<RapidcheckStrategy>(options_, bias_);
    strategy_ = s.get();
    return s;
  }
  // Valid while the run's loop lives (read in on_run_end).
  std::uint64_t nonzero = 0;
  std::string on_run_end(const sim::RunContext&, const sim::RunOutcome&) override {
    if (strategy_ != nullptr) nonzero = strategy_->nonzero();
    strategy_ = nullptr;
    return {};
  }

 private:
  sim::SimOptions options_;
  Bias bias_;
  RapidcheckStrategy* strategy_ = nullptr;
};

}  // namespace

Bias Bias::mostly_natural() {
  Bias b;
  b.set(ChoiceKind::ReadyOrder, 100'000)
      .set(ChoiceKind::CallbackCost, 30'000)
      .set(ChoiceKind::TimerTie, 250'000)
      .set(ChoiceKind::ExternalOrder, 250'000)
      .set(ChoiceKind::ExternalDelay, 100'000)
      .set(ChoiceKind::Test, kUniform)
      .set(ChoiceKind::Buggify, kUniform)
      .set(ChoiceKind::Cancel, 20'000)
      .set(ChoiceKind::Io, 100'000)
      .set(ChoiceKind::Executor, 100'000)
      .set(ChoiceKind::CancelVictim, kUniform);
  return b;
}

Bias Bias::uniform() {
  Bias b;
  b.ppm.fill(kUniform);
  return b;
}

rc::Gen<std::uint64_t> choice(std::uint64_t n, std::uint32_t ppm) {
  return rc::Gen<std::uint64_t>([n, ppm](const rc::Random& random, int) {
    // rapidcheck's own splittable generator: deterministic in its seed.
    rc::Random r(random);
    std::uint64_t v = 0;
    if (n >= 2) {
      if (ppm == Bias::kUniform) {
        v = r.next() % n;
      } else if (r.next() % kMillion < ppm) {
        v = 1 + r.next() % (n - 1);
      }
    }
    // 0 (natural) first, then halving toward it: rapidcheck's integer shrink.
    return rc::shrinkable::shrinkRecur(v, [](std::uint64_t x) { return rc::shrink::towards<std::uint64_t>(x, 0); });
  });
}

rc::Gen<sim::Fidelity> fidelity() {
  return rc::Gen<sim::Fidelity>([](const rc::Random& random, int) {
    rc::Random r(random);
    const sim::Fidelity f = (r.next() & 1) != 0 ? sim::Fidelity::Chaos : sim::Fidelity::Asyncio;
    return rc::shrinkable::shrinkRecur(f, [](sim::Fidelity x) {
      return x == sim::Fidelity::Chaos ? rc::seq::just(sim::Fidelity::Asyncio) : rc::Seq<sim::Fidelity>();
    });
  });
}

void compact_schedule(rc::detail::Example& example) {
  std::size_t first = example.size();
  std::size_t count = 0;
  std::string nonzero;
  std::size_t nonzero_count = 0;
  rc::detail::Example kept;
  kept.reserve(example.size());
  for (auto& entry : example) {
    if (entry.first != kScheduleChoiceName) {
      kept.push_back(std::move(entry));
      continue;
    }
    if (first == example.size()) first = kept.size();
    if (entry.second != "0") {
      ++nonzero_count;
      if (nonzero_count <= 64) nonzero += fmt::format(" #{}={}", count, entry.second);
    }
    ++count;
  }
  if (count == 0) return;
  if (nonzero_count > 64) nonzero += fmt::format(" ... ({} more)", nonzero_count - 64);
  std::string line = fmt::format("{} choices, {} non-zero", count, nonzero_count);
  if (nonzero_count > 0) line += ":" + nonzero;
  kept.insert(kept.begin() + static_cast<std::ptrdiff_t>(first), {"simloop schedule", line});
  example = std::move(kept);
}

std::uint64_t RapidcheckStrategy::draw(ChoiceKind kind, std::uint64_t n) {
  // Named, so a counterexample shows the schedule as one line (compact_schedule).
  std::uint64_t v = *choice(n, bias_.of(kind)).as(kScheduleChoiceName);
  // A value rapidcheck recorded for a wider choice (the path changed while
  // shrinking) is clamped into this one's range.
  if (v >= n) v = n - 1;
  if (v != 0) ++nonzero_;
  return v;
}

PropertyOptions& PropertyOptions::inject_cancellations(std::uint32_t ppm, std::uint32_t max) {
  // The probability only switches the choice point on (the strategy's bias
  // draws the value).
  sim.cancel_probability = ppm == 0 ? 0.0 : static_cast<double>(ppm) / kMillion;
  sim.max_injected_cancels = max;
  bias.set(ChoiceKind::Cancel, ppm);
  return *this;
}

std::string PropertyRun::report() const {
  std::string r = fmt::format("{}: {}\n", sim::to_string(outcome.failure), outcome.message);
  r += fmt::format(
      "fidelity: {}; schedule: {} choices, {} non-zero; run: {} callbacks, virtual time {}, {} injected "
      "cancellation(s)\n",
      sim::to_string(fidelity), choices.size(), nonzero, outcome.steps, sim::format_duration(outcome.vtime),
      outcome.injected_cancels);
  if (!replay_file.empty()) {
    r += fmt::format("replay file: {} (view: simloop-trace show {}; reproduce: the RC_PARAMS line below)\n",
                     replay_file, replay_file);
  }
  if (!outcome.task_dump.empty()) r += "tasks:\n" + outcome.task_dump;
  return r;
}

PropertyRun check(const sim::Scenario& scenario, const PropertyOptions& options) {
  PropertyRun out;
  out.fidelity = options.fidelity ? *options.fidelity : *fidelity();

  sim::RunnerOptions ro;
  ro.seed = 0;
  ro.runs = 1;
  ro.strategy = sim::Strategy::List;
  ro.sim = options.sim;
  ro.sim.fidelity = out.fidelity;
  ro.max_steps = options.max_steps;
  ro.max_vtime = options.max_vtime;
  ro.fail_on_pending_tasks = options.fail_on_pending_tasks;
  ro.fail_on_live_timers = options.fail_on_live_timers;
  ro.fail_on_handler_reports = options.fail_on_handler_reports;
  ro.test_name = !options.name.empty() ? options.name : !t_current_name.empty() ? t_current_name : "property";
  ro.log = nullptr;

  RapidcheckObserver rc_observer(ro.sim, options.bias);
  ro.observers.push_back(&rc_observer);
  std::optional<replay::ReplayObserver> recorder;
  if (options.save_replay) {
    replay::ReplayEnv env = replay::ReplayEnv::from_environment();
    // rapidcheck shrinks and reproduces; the file is the record of the run.
    env.replay_file.reset();
    env.minimize_runs = 0;
    recorder.emplace(ro, std::move(env));
    ro.observers.push_back(&*recorder);
  }
  const sim::RunContext ctx{&ro, 0, 0, 1};
  out.outcome = sim::run_one(scenario, ro, ctx, &out.choices);
  out.nonzero = rc_observer.nonzero;
  if (out.outcome.failed() && recorder) out.replay_file = recorder->original_path();
  return out;
}

PropertyRun run(const sim::Scenario& scenario, const PropertyOptions& options) {
  PropertyRun r = check(scenario, options);
  // Thrown as RC_FAIL does, without its file and line: a line of simloop's
  // source says nothing to the user reading the counterexample.
  if (r.outcome.failed()) throw rc::detail::CaseResult(rc::detail::CaseResult::Type::Failure, r.report());
  return r;
}

int resolve_runs(int runs) {
  if (const char* v = std::getenv("SIMLOOP_PROPERTY_RUNS"); v != nullptr && *v != '\0') {
    char* end = nullptr;
    errno = 0;
    const long long n = std::strtoll(v, &end, 10);
    if (end == v || *end != '\0' || errno == ERANGE || n < 1 || n > 1'000'000'000) {
      throw sim::ConfigError(fmt::format("SIMLOOP_PROPERTY_RUNS='{}' is not a number of runs in [1, 1000000000]", v));
    }
    return static_cast<int>(n);
  }
  if (const char* p = std::getenv("RC_PARAMS"); p != nullptr && std::strstr(p, "max_success") != nullptr) {
    return rc::detail::configuration().testParams.maxSuccess;
  }
  return runs;
}

std::uint64_t resolve_seed(const std::string& id, std::uint64_t configured) {
  if (const char* p = std::getenv("RC_PARAMS"); p != nullptr && std::strstr(p, "seed") != nullptr) return configured;
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a over the id's text
  for (unsigned char c : id) h = (h ^ c) * 0x100000001b3ULL;
  if (const char* v = std::getenv("SIMLOOP_SEED"); v != nullptr && *v != '\0') {
    char* end = nullptr;
    errno = 0;
    const unsigned long long s = std::strtoull(v, &end, 10);
    if (end == v || *end != '\0' || errno == ERANGE || *v == '-') {
      throw sim::ConfigError(fmt::format("SIMLOOP_SEED='{}' is not an unsigned 64-bit number", v));
    }
    std::uint64_t state = h ^ s;
    h = sim::splitmix64(state);
  }
  return h;
}

namespace detail {
void set_current_name(std::string name) { t_current_name = std::move(name); }
const std::string& current_name() { return t_current_name; }
}  // namespace detail

}  // namespace simloop::properties
