#include <simloop/sim/strategy.hpp>

#include <algorithm>

#include <fmt/format.h>

#include <simloop/task.hpp>

namespace simloop::sim {

const char* to_string(Fidelity f) noexcept {
  switch (f) {
    case Fidelity::Asyncio: return "asyncio";
    case Fidelity::Chaos: return "chaos";
  }
  return "unknown";
}

const char* to_string(Strategy s) noexcept {
  switch (s) {
    case Strategy::Fifo: return "fifo";
    case Strategy::Random: return "random";
    case Strategy::Pct: return "pct";
    case Strategy::List: return "list";
    case Strategy::Bounded: return "bounded";
    case Strategy::Bytes: return "bytes";
  }
  return "unknown";
}

std::optional<Fidelity> parse_fidelity(std::string_view text) noexcept {
  if (text == "asyncio") return Fidelity::Asyncio;
  if (text == "chaos") return Fidelity::Chaos;
  return std::nullopt;
}

std::optional<Strategy> parse_strategy(std::string_view text) noexcept {
  if (text == "fifo") return Strategy::Fifo;
  if (text == "random") return Strategy::Random;
  if (text == "pct") return Strategy::Pct;
  if (text == "list") return Strategy::List;
  if (text == "bounded") return Strategy::Bounded;
  if (text == "bytes") return Strategy::Bytes;
  return std::nullopt;
}

std::string to_string(const Choice& c) { return fmt::format("{}({})={}", simloop::to_string(c.kind), c.n, c.value); }

ChoicePoints choice_points(const SimOptions& options) noexcept {
  ChoicePoints p;
  p.callback_cost = options.max_callback_cost > Duration{0};
  p.timer_ties = true;
  p.external_events = true;
  p.ready_order = options.fidelity == Fidelity::Chaos;
  if (options.cancel_probability > 0.0 && options.max_injected_cancels > 0) p.injections = options.injection_kinds;
  return p;
}

std::string describe_injections(InjectionSet kinds) {
  std::string out;
  for (int i = 0; i < kInjectionCount; ++i) {
    const auto kind = static_cast<Injection>(i);
    if ((kinds & injection_bit(kind)) == 0) continue;
    if (!out.empty()) out += ',';
    out += to_string(kind);
  }
  return out.empty() ? "none" : out;
}

std::optional<InjectionSet> parse_injections(std::string_view text) {
  if (text == "all") return kAllInjections;
  InjectionSet kinds = 0;
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view name = text.substr(0, comma);
    bool known = false;
    for (int i = 0; i < kInjectionCount && !known; ++i) {
      const auto kind = static_cast<Injection>(i);
      if (name == to_string(kind)) {
        kinds |= injection_bit(kind);
        known = true;
      }
    }
    if (!known) return std::nullopt;
    if (comma == std::string_view::npos) return kinds;
    text.remove_prefix(comma + 1);
  }
}

// ---- SimScheduler --------------------------------------------------------------

SimScheduler::SimScheduler(SimOptions options)
    : options_(options),
      busy_(options.busy_probability),
      external_delay_(options.external_delay_probability),
      cancel_(options.cancel_probability) {
  points_ = choice_points(options_);
  // Cost levels: 0, then 1us, 10us, ... while <= max_callback_cost.
  cost_levels_ = 1;
  for (Duration level = std::chrono::microseconds(1); level <= options_.max_callback_cost; level *= 10) {
    ++cost_levels_;
  }
}

void SimScheduler::report(ChoiceKind kind, std::uint64_t n, std::uint64_t value) {
  ++choices_made_;
  for (ChoiceObserver* o : observers_) o->on_choice(kind, n, value);
}

std::uint64_t SimScheduler::choose(ChoiceKind kind, std::uint64_t n) {
  if (n == 0) {
    throw Error(fmt::format("choose({}, 0): a choice needs at least one option", simloop::to_string(kind)));
  }
  if (n == 1) return 0;
  const std::uint64_t value = draw(kind, n);
  report(kind, n, value);
  return value;
}

std::size_t SimScheduler::pick(ChoiceKind kind, std::span<Handle* const> candidates) {
  if (candidates.size() < 2) return 0;
  const std::size_t value = draw_pick(kind, candidates);
  report(kind, candidates.size(), value);
  return value;
}

Duration SimScheduler::cost_of(std::uint64_t value) const noexcept {
  if (value == 0) return Duration{0};
  Duration d = std::chrono::microseconds(1);
  for (std::uint64_t i = 1; i < value; ++i) d *= 10;
  return d;
}

Duration SimScheduler::callback_cost() { return cost_of(choose(ChoiceKind::CallbackCost, cost_levels_)); }

std::uint32_t SimScheduler::external_delay() {
  return static_cast<std::uint32_t>(choose(ChoiceKind::ExternalDelay, std::uint64_t{options_.max_external_delay} + 1));
}

bool SimScheduler::spared(std::uint64_t task_id) const noexcept {
  return std::find(spared_.begin(), spared_.end(), task_id) != spared_.end();
}

bool SimScheduler::inject_cancel(Injection kind, std::uint64_t task_id) {
  if (injected_cancels_ >= options_.max_injected_cancels) return false;
  if (kind != Injection::Callback && spared(task_id)) return false;
  ++cancel_opportunities_;
  if (choose(ChoiceKind::Cancel, 2) == 0) return false;
  // A callback's cancel counts once its victim is chosen.
  if (kind != Injection::Callback) ++injected_cancels_;
  return true;
}

std::size_t SimScheduler::injection_victim(std::span<const std::uint64_t> task_ids) {
  std::vector<std::size_t> eligible;
  for (std::size_t i = 0; i < task_ids.size(); ++i) {
    if (!spared(task_ids[i])) eligible.push_back(i);
  }
  if (eligible.empty()) return task_ids.size();
  ++injected_cancels_;
  return eligible[choose(ChoiceKind::CancelVictim, eligible.size())];
}

void SimScheduler::draw_cancel_plan(Prng& prng) {
  const std::uint64_t horizon = options_.cancel_horizon > 0 ? options_.cancel_horizon : kDefaultCancelHorizon;
  // How many: the successes of `horizon` trials at p, capped (the trials
  // stop at the cap: only the count is used). Where: that many distinct
  // opportunities, uniform over the horizon, so a late await is as likely
  // a victim as an early one.
  std::uint32_t count = 0;
  for (std::uint64_t i = 0; i < horizon && count < options_.max_injected_cancels; ++i) {
    if (prng.chance(cancel_)) ++count;
  }
  std::vector<std::uint64_t> plan;
  while (plan.size() < count) {
    const std::uint64_t at = prng.bounded(horizon);
    auto pos = std::lower_bound(plan.begin(), plan.end(), at);
    if (pos == plan.end() || *pos != at) plan.insert(pos, at);
  }
  cancel_plan_ = std::move(plan);
}

bool SimScheduler::buggify(const std::source_location& where) {
  if (!options_.buggify) return false;
  auto [it, first_hit] =
      buggify_sites_.try_emplace(std::make_tuple(std::string(where.file_name()), where.line(), where.column()), false);
  // Value 1 of 4 (not 0: 0 is natural, "off") gives the 25% of both rules.
  if (first_hit) it->second = choose(ChoiceKind::Buggify, 4) == 1;
  if (!it->second) return false;
  return choose(ChoiceKind::Buggify, 4) == 1;
}

void SimScheduler::add_observer(ChoiceObserver* observer) {
  if (observer != nullptr) observers_.push_back(observer);
}

void SimScheduler::remove_observer(ChoiceObserver* observer) noexcept {
  observers_.erase(std::remove(observers_.begin(), observers_.end(), observer), observers_.end());
}

std::uint64_t SimScheduler::draw_shaped(Prng& prng, ChoiceKind kind, std::uint64_t n) {
  // Timing choices are mostly natural: a busy callback, a held-back event or
  // a cancellation is rare on a real loop, and a run where every callback is
  // slow explores less, not more.
  switch (kind) {
    case ChoiceKind::CallbackCost: return prng.chance(busy_) ? 1 + prng.bounded(n - 1) : 0;
    case ChoiceKind::ExternalDelay: return prng.chance(external_delay_) ? 1 + prng.bounded(n - 1) : 0;
    case ChoiceKind::Cancel: {
      if (!cancel_plan_) draw_cancel_plan(prng);
      const std::uint64_t opportunity = cancel_opportunities_ - 1;
      const bool planned = std::binary_search(cancel_plan_->begin(), cancel_plan_->end(), opportunity);
      return planned ? 1 + prng.bounded(n - 1) : 0;
    }
    default: return prng.bounded(n);
  }
}

// ---- PctStrategy ----------------------------------------------------------------

PctStrategy::PctStrategy(std::uint64_t seed, SimOptions options) : SimScheduler(options), prng_(seed) {
  const std::uint32_t depth = std::max<std::uint32_t>(options.pct_depth, 1);
  const std::uint64_t horizon = std::max<std::uint64_t>(options.pct_horizon, 1);
  for (std::uint32_t i = 1; i < depth; ++i) change_points_.push_back(1 + prng_.bounded(horizon));
  std::sort(change_points_.begin(), change_points_.end());
}

// A task's steps share its task's key; any other callback its call site's
// (hashed from the file name's text, never an address).
std::uint64_t stable_handle_key(const Handle& h) {
  if (const auto* step = dynamic_cast<const detail::StepHandle*>(&h)) return step->owner()->id();
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a
  for (const char* c = h.where().file_name(); *c != '\0'; ++c) {
    hash = (hash ^ static_cast<unsigned char>(*c)) * 0x100000001b3ULL;
  }
  hash = (hash ^ h.where().line()) * 0x100000001b3ULL;
  return hash | (1ULL << 63);
}

std::uint64_t PctStrategy::priority_of(const Handle& h) {
  auto [it, fresh] = priorities_.try_emplace(stable_handle_key(h), 0);
  // Initial priorities sit above 2^62, far above the change-point
  // priorities (< depth) that demoted keys receive.
  if (fresh) it->second = (prng_.next() >> 2) + (1ULL << 62);
  return it->second;
}

std::size_t PctStrategy::draw_pick(ChoiceKind, std::span<Handle* const> candidates) {
  ++picks_;
  // The highest priority goes first. Candidates sharing a key (callbacks of
  // one call site, e.g. every sleep's timer) share its priority: among those
  // tied at the top, the seed picks, as if each were its own PCT thread.
  std::vector<std::size_t> top;
  auto best_index = [&] {
    top.clear();
    std::uint64_t best_priority = 0;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      const std::uint64_t p = priority_of(*candidates[i]);
      if (top.empty() || p > best_priority) {
        top.assign(1, i);
        best_priority = p;
      } else if (p == best_priority) {
        top.push_back(i);
      }
    }
    return top.size() == 1 ? top[0] : top[prng_.bounded(top.size())];
  };
  std::size_t best = best_index();
  while (next_change_ < change_points_.size() && change_points_[next_change_] == picks_) {
    // The i-th change point (from 1) demotes the leader to priority d - i,
    // below every initial priority.
    ++next_change_;
    priorities_[stable_handle_key(*candidates[best])] = change_points_.size() + 1 - next_change_;
    best = best_index();
  }
  return best;
}

// ---- ListStrategy ---------------------------------------------------------------

std::string ListStrategy::Divergence::describe() const {
  if (!expected) {
    return fmt::format("choice #{}: the program asked {}({}) but the list has no entry there", index,
                       simloop::to_string(kind), n);
  }
  return fmt::format("choice #{}: the list recorded {} but the program asked {}({})", index, to_string(*expected),
                     simloop::to_string(kind), n);
}

ListStrategy::ListStrategy(std::vector<Choice> choices, SimOptions options)
    : SimScheduler(options), choices_(std::move(choices)) {}

std::unique_ptr<ListStrategy> ListStrategy::from_values(std::vector<std::uint64_t> values, SimOptions options) {
  std::unique_ptr<ListStrategy> s(new ListStrategy(options));
  s->check_kinds_ = false;
  s->choices_.reserve(values.size());
  for (std::uint64_t v : values) s->choices_.push_back(Choice{ChoiceKind::Test, 0, v});
  return s;
}

std::uint64_t ListStrategy::draw(ChoiceKind kind, std::uint64_t n) {
  if (divergence_) return fallback_ ? fallback_->draw(kind, n) : 0;
  if (position_ >= choices_.size()) return 0;
  const Choice& entry = choices_[position_];
  if (!check_kinds_) {
    ++position_;
    return std::min(entry.value, n - 1);
  }
  if (entry.kind == kind && entry.n == n && entry.value < n) {
    ++position_;
    return entry.value;
  }
  divergence_ = Divergence{position_, entry, kind, n};
  if (on_divergence_) on_divergence_(*divergence_);
  return fallback_ ? fallback_->draw(kind, n) : 0;
}

std::unique_ptr<SimScheduler> make_strategy(Strategy strategy, std::uint64_t seed, const SimOptions& options) {
  switch (strategy) {
    case Strategy::Fifo: return std::make_unique<FifoStrategy>(options);
    case Strategy::Random: return std::make_unique<RandomStrategy>(seed, options);
    case Strategy::Pct: return std::make_unique<PctStrategy>(seed, options);
    case Strategy::List:
    case Strategy::Bounded:
    case Strategy::Bytes: break;
  }
  throw Error(fmt::format(
      "make_strategy: strategy '{}' cannot be built from a seed; give it its list (bounded: its enumeration builds "
      "each run; bytes: BytesStrategy reads its input)",
      to_string(strategy)));
}

}  // namespace simloop::sim
