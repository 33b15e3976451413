#include <simloop/sim/bounded.hpp>

#include <algorithm>
#include <memory>
#include <utility>

#include <fmt/format.h>

#include <simloop/sim/crash.hpp>

namespace simloop::sim {

std::vector<std::uint64_t> deviation_values(ChoiceKind kind, std::uint64_t n) {
  std::vector<std::uint64_t> out;
  if (n < 2) return out;
  switch (kind) {
    case ChoiceKind::ReadyOrder:
    case ChoiceKind::TimerTie:
    case ChoiceKind::ExternalOrder:
      // Orders: each value puts another candidate first, a different schedule.
      for (std::uint64_t v = 1; v < n; ++v) out.push_back(v);
      return out;
    case ChoiceKind::Buggify:
      // Only 1 enables or fires a site; 2 and 3 mean what 0 means.
      out.push_back(1);
      return out;
    default: break;
  }
  if (n <= 4) {
    for (std::uint64_t v = 1; v < n; ++v) out.push_back(v);
    return out;
  }
  // Wide: the smallest deviation, a middle one and the largest (n >= 5, so
  // 1 < n / 2 < n - 1 and the three are distinct).
  out = {1, n / 2, n - 1};
  return out;
}

std::string describe_deviations(const std::vector<Deviation>& deviations) {
  if (deviations.empty()) return "none";
  std::string out;
  for (const Deviation& d : deviations) {
    if (!out.empty()) out += ", ";
    out += fmt::format("choice #{} {}({})={}", d.index, simloop::to_string(d.kind), d.n, d.value);
  }
  return out;
}

// ---- BoundedStrategy ------------------------------------------------------------

BoundedStrategy::BoundedStrategy(std::vector<Deviation> deviations, SimOptions options)
    : SimScheduler(options), deviations_(std::move(deviations)) {}

std::uint64_t BoundedStrategy::draw(ChoiceKind kind, std::uint64_t n) {
  const std::uint64_t at = position_++;
  if (next_ < deviations_.size() && deviations_[next_].index == at) {
    const Deviation& d = deviations_[next_++];
    if (d.kind == kind && d.n == n && d.value < n) return d.value;
    if (!mismatch_) {
      mismatch_ = fmt::format("choice #{}: the parent run asked {}({}) there, this run asked {}({})", at,
                              simloop::to_string(d.kind), d.n, simloop::to_string(kind), n);
    }
    return 0;
  }
  if (next_ == deviations_.size()) asked_.push_back(AskedChoice{kind, n});
  return 0;
}

void BoundedStrategy::check_complete() {
  if (next_ < deviations_.size() && !mismatch_) {
    mismatch_ = fmt::format("the run ended after {} choices, before choice #{} where its parent deviated", position_,
                            deviations_[next_].index);
  }
}

// ---- the enumeration --------------------------------------------------------------

namespace {

struct Node {
  std::vector<Deviation> deviations;
  bool known = false;                // its choices are recorded (or not needed)
  std::vector<AskedChoice> asked;    // after its last deviation
  std::uint64_t first_recorded = 0;  // index of asked[0]
};

// Supplies one quiet run's strategy and keeps it for reading afterwards.
class QuietRun final : public RunObserver {
 public:
  explicit QuietRun(const std::vector<Deviation>& deviations) : deviations_(deviations) {}
  std::unique_ptr<SimScheduler> make_scheduler(const RunContext& ctx) override {
    auto s = std::make_unique<BoundedStrategy>(deviations_, ctx.options->sim);
    strategy_ = s.get();
    return s;
  }
  std::string on_run_end(const RunContext&, const RunOutcome&) override {
    strategy_->check_complete();
    asked_ = strategy_->asked_after_last();
    mismatch_ = strategy_->mismatch();
    strategy_ = nullptr;
    return {};
  }
  std::vector<AskedChoice> asked_;
  std::optional<std::string> mismatch_;

 private:
  const std::vector<Deviation>& deviations_;
  BoundedStrategy* strategy_ = nullptr;
};

// The runs, level by level (level K: runs with K deviations), built lazily:
// level K + 1 is built from the choices of every run of level K, the runs
// this shard did not run being re-run quietly.
class Enumeration {
 public:
  Enumeration(const Scenario& scenario, const RunnerOptions& options) : scenario_(scenario), options_(options) {
    levels_.emplace_back();
    levels_[0].push_back(Node{});
    starts_.push_back(0);
  }

  // The run with global index g (run number g + 1), or null past the end.
  Node* run(std::uint64_t g) {
    while (g >= total() && !complete_) build_next();
    if (g >= total()) return nullptr;
    const std::size_t level = level_of(g);
    return &levels_[level][g - starts_[level]];
  }

  std::size_t level_of(std::uint64_t g) const {
    const auto it = std::upper_bound(starts_.begin(), starts_.end(), g);
    return static_cast<std::size_t>(it - starts_.begin()) - 1;
  }

  // A run's choices, from the runner's run or a quiet one.
  void record(std::uint64_t g, const BoundedStrategy& s) {
    Node* node = run(g);
    if (node == nullptr || node->known) return;
    node->known = true;
    // The last level's runs have no children: nothing to keep.
    if (level_of(g) < options_.max_deviations) {
      node->asked = s.asked_after_last();
      node->first_recorded = s.first_recorded_index();
    }
  }

  void note_mismatch(std::uint64_t g, const std::string& what) {
    ++mismatches_;
    if (!first_mismatch_) first_mismatch_ = fmt::format("run #{}: {}", g + 1, what);
  }

  std::uint64_t total() const noexcept { return starts_.back() + levels_.back().size(); }
  bool complete() const noexcept { return complete_; }
  // The tree itself ran out (a level came out empty) before max_deviations.
  bool tree_ended() const noexcept { return levels_.back().empty(); }
  std::uint64_t mismatches() const noexcept { return mismatches_; }
  const std::optional<std::string>& first_mismatch() const noexcept { return first_mismatch_; }
  std::vector<std::uint64_t> runs_per_level() const {
    std::vector<std::uint64_t> out;
    for (const auto& level : levels_) out.push_back(level.size());
    if (tree_ended()) out.pop_back();
    return out;
  }

 private:
  void build_next() {
    const std::size_t last = levels_.size() - 1;
    if (last >= options_.max_deviations || levels_[last].empty()) {
      complete_ = true;
      return;
    }
    std::vector<Node>& parents = levels_[last];
    for (std::size_t i = 0; i < parents.size(); ++i) {
      if (!parents[i].known) run_quietly(starts_[last] + i);
    }
    std::vector<Node> children;
    for (Node& parent : parents) {
      for (std::size_t j = 0; j < parent.asked.size(); ++j) {
        const AskedChoice& a = parent.asked[j];
        for (std::uint64_t v : deviation_values(a.kind, a.n)) {
          Node child;
          child.deviations = parent.deviations;
          child.deviations.push_back(Deviation{parent.first_recorded + j, v, a.kind, a.n});
          children.push_back(std::move(child));
        }
      }
      parent.asked = {};  // its children hold all that is needed of it
    }
    starts_.push_back(total());
    levels_.push_back(std::move(children));
    if (levels_.back().empty()) complete_ = true;
  }

  // Another shard's run (or one before the window): run for its choices
  // alone, reporting nothing.
  void run_quietly(std::uint64_t g) {
    const std::size_t level = level_of(g);
    Node& node = levels_[level][g - starts_[level]];
    QuietRun quiet(node.deviations);
    RunnerOptions q = options_;
    q.observers = {&quiet};
    q.log = nullptr;
    q.check_determinism = false;
    crash::set_run(g + 1, g + 1);
    const RunContext ctx{&q, g + 1, g, 1};
    (void)run_one(scenario_, q, ctx);
    node.known = true;
    node.asked = std::move(quiet.asked_);
    node.first_recorded = node.deviations.empty() ? 0 : node.deviations.back().index + 1;
    if (quiet.mismatch_) note_mismatch(g, *quiet.mismatch_);
  }

  const Scenario& scenario_;
  const RunnerOptions& options_;
  std::vector<std::vector<Node>> levels_;
  std::vector<std::uint64_t> starts_;  // global index of each level's first run
  bool complete_ = false;
  std::uint64_t mismatches_ = 0;
  std::optional<std::string> first_mismatch_;
};

// Drives the runner's loop: which runs exist, each run's strategy, and
// each run's choices back into the tree.
class BoundedObserver final : public RunObserver {
 public:
  BoundedObserver(Enumeration& e, std::uint64_t first_number) : e_(e), first_number_(first_number) {}

  bool has_run(const RunContext& ctx) override {
    const bool exists = e_.run(first_number_ - 1 + ctx.run_index) != nullptr;
    if (!exists) ran_out_ = true;
    return exists;
  }

  std::unique_ptr<SimScheduler> make_scheduler(const RunContext& ctx) override {
    Node* node = e_.run(ctx.seed - 1);
    if (node == nullptr) throw ConfigError(fmt::format("bounded: there is no run #{}", ctx.seed));
    auto s = std::make_unique<BoundedStrategy>(node->deviations, ctx.options->sim);
    current_ = s.get();
    return s;
  }

  std::string on_run_end(const RunContext& ctx, const RunOutcome& outcome) override {
    if (current_ == nullptr) return {};
    BoundedStrategy& s = *current_;
    current_ = nullptr;
    s.check_complete();
    const std::uint64_t g = ctx.seed - 1;
    if (ctx.attempt == 1) {
      e_.record(g, s);
      if (s.mismatch()) e_.note_mismatch(g, *s.mismatch());
    }
    std::string note;
    if (outcome.failed()) {
      note = fmt::format("  bounded: run #{}, {} deviation(s) from asyncio's order: {}\n", ctx.seed,
                         s.deviations().size(), describe_deviations(s.deviations()));
    }
    if (s.mismatch()) {
      note += fmt::format(
          "  bounded: this run did not follow its parent's choices ({}): the program is not a "
          "function of its choices\n",
          *s.mismatch());
    }
    return note;
  }

  bool ran_out() const noexcept { return ran_out_; }

 private:
  Enumeration& e_;
  std::uint64_t first_number_;
  BoundedStrategy* current_ = nullptr;
  bool ran_out_ = false;
};

std::string levels_text(const std::vector<std::uint64_t>& per_level) {
  std::string ks, counts;
  for (std::size_t k = 0; k < per_level.size(); ++k) {
    ks += fmt::format("{}{}", k == 0 ? "" : ", ", k);
    counts += fmt::format("{}{}", k == 0 ? "" : " + ", per_level[k]);
  }
  return fmt::format("K = {}: {}", ks, counts);
}

}  // namespace

ExploreResult explore_bounded(const Scenario& scenario, const RunnerOptions& options, BoundedSummary* summary) {
  if (options.isolation == Isolation::Fork) {
    throw ConfigError(
        "SIMLOOP_ISOLATE=fork with SIMLOOP_STRATEGY=bounded: not supported (the enumeration needs each run's "
        "choices in this process); use SIMLOOP_ISOLATE=none");
  }
  if (options.seed == 0) {
    throw ConfigError("SIMLOOP_SEED=0 with SIMLOOP_STRATEGY=bounded: bounded runs are numbered from 1");
  }
  Enumeration enumeration(scenario, options);
  BoundedObserver observer(enumeration, options.seed);
  RunnerOptions inner = options;
  inner.observers.insert(inner.observers.begin(), &observer);
  ExploreResult result = explore_runs(scenario, inner);

  BoundedSummary s;
  s.max_deviations = options.max_deviations;
  const bool stopped_by_failure = result.failure.has_value() && !options.keep_going;
  bool window_done = observer.ran_out();
  if (!window_done && !stopped_by_failure && !result.budget_spent) {
    // The window (runs) ended: exhausted if the enumeration has no run past it.
    window_done = enumeration.run(options.seed - 1 + options.runs) == nullptr;
  }
  s.mismatches = enumeration.mismatches();
  s.exhausted = window_done && !stopped_by_failure && !result.budget_spent && s.mismatches == 0;
  s.runs_per_level = enumeration.runs_per_level();

  const std::string test = options.test_name.empty() ? "exploration" : options.test_name;
  const std::string k_text =
      fmt::format("{} deviation{}", options.max_deviations, options.max_deviations == 1 ? "" : "s");
  std::string runs_text = fmt::format("{} run{}", result.runs, result.runs == 1 ? "" : "s");
  if (options.total_shards > 1) {
    runs_text +=
        fmt::format(", one in {} (shard {}/{})", options.total_shards, options.shard_index, options.total_shards);
  }
  if (options.seed > 1) runs_text += fmt::format(" from run #{}", options.seed);
  std::string shape = levels_text(s.runs_per_level);
  if (enumeration.tree_ended()) {
    shape += fmt::format("; the whole tree: no run has more than {} deviation(s)", s.runs_per_level.size() - 1);
  }
  if (s.mismatches > 0) {
    s.message = fmt::format(
        "simloop: {}: not exhausted: {} run(s) did not follow their parent's choices, so the program is not a "
        "function of its choices and the tree is not what the runs reveal (first: {})",
        test, s.mismatches, enumeration.first_mismatch().value_or(""));
  } else if (s.exhausted && result.failures == 0) {
    s.message = fmt::format("simloop: {}: exhausted: no failure within {} from asyncio's order ({}; {})", test, k_text,
                            runs_text, shape);
  } else if (s.exhausted) {
    s.message = fmt::format(
        "simloop: {}: exhausted: {} of the runs within {} from asyncio's order failed, {} distinct ({}; {})", test,
        result.failures, k_text, result.classes.size(), runs_text, shape);
  } else if (result.budget_spent) {
    s.message = fmt::format(
        "simloop: {}: not exhausted within {}: the time budget ran out ({}; continue with "
        "SIMLOOP_SEED={})",
        test, k_text, runs_text, result.next_seed);
  } else if (!stopped_by_failure) {
    s.message = fmt::format(
        "simloop: {}: not exhausted within {}: the run limit (SIMLOOP_RUNS={}) ended it with runs "
        "left ({}; continue with SIMLOOP_SEED={})",
        test, k_text, options.runs, runs_text, options.seed + options.runs);
  }
  if (options.log != nullptr && !s.message.empty()) {
    fmt::print(options.log, "{}\n", s.message);
    std::fflush(options.log);
  }
  if (summary != nullptr) *summary = std::move(s);
  return result;
}

}  // namespace simloop::sim
