// The minimizer (minimize.hpp).
#include <simloop/replay/minimize.hpp>

#include <algorithm>
#include <utility>

#include <simloop/sim/runner.hpp>

namespace simloop::replay {

namespace {

// Smaller is simpler to read: fewer deviations from asyncio's order, then a
// shorter run, then smaller values (a first tie instead of a fourth, 1us of
// callback cost instead of 100ms).
struct Size {
  std::size_t nonzero;
  std::size_t length;
  std::uint64_t values;
  friend bool operator<(const Size& a, const Size& b) {
    if (a.nonzero != b.nonzero) return a.nonzero < b.nonzero;
    if (a.length != b.length) return a.length < b.length;
    return a.values < b.values;
  }
};

Size size_of(const Trace& t) {
  std::uint64_t values = 0;
  for (const Choice& c : t.choices) values += std::min<std::uint64_t>(c.value, UINT64_MAX - values);
  return {t.nonzero_choices(), t.choices.size(), values};
}

// Pairs of non-zero choices are tried only in runs with at most this many
// (k * (k - 1) / 2 runs).
constexpr std::size_t kMaxPairNonzero = 16;

class Shrinker {
 public:
  Shrinker(const Trace& failing, const Oracle& oracle, MinimizeOptions options)
      : best_(failing), oracle_(oracle), options_(options) {}

  MinimizeResult run() {
    MinimizeResult r;
    r.original_size = best_.nonzero_choices();
    if (r.original_size > 0) {
      try_guide({});  // everything natural
      bool progress = true;
      while (progress && !exhausted()) {
        const Size before = size_of(best_);
        zero_chunks();
        drop_runs();
        zero_pairs();
        lower_values();
        progress = size_of(best_) < before;
      }
    }
    r.runs = runs_;
    r.budget_exhausted = exhausted();
    r.minimized_size = best_.nonzero_choices();
    r.best = std::move(best_);
    return r;
  }

 private:
  bool exhausted() const { return runs_ >= options_.max_runs; }

  // Runs `guide`; keeps the run if it fails the same way and is smaller.
  bool try_guide(const std::vector<Choice>& guide) {
    if (exhausted()) return false;
    ++runs_;
    std::optional<Trace> t = oracle_(guide);
    if (!t || !(size_of(*t) < size_of(best_))) return false;
    best_ = std::move(*t);
    return true;
  }

  void zero_chunks() {
    std::vector<std::size_t> nz = nonzero_positions();
    for (std::size_t chunk = std::max<std::size_t>(nz.size() / 2, 1); chunk >= 1 && !exhausted(); chunk /= 2) {
      std::size_t start = 0;
      while (start < nz.size() && !exhausted()) {
        std::vector<Choice> guide = best_.choices;
        const std::size_t end = std::min(start + chunk, nz.size());
        for (std::size_t i = start; i < end; ++i) {
          if (nz[i] < guide.size()) guide[nz[i]].value = 0;
        }
        if (try_guide(guide)) {
          nz = nonzero_positions();  // the run may have taken another path: start over at this size
          start = 0;
        } else {
          start = end;
        }
      }
      if (chunk == 1) break;
    }
  }

  void drop_runs() {
    for (std::size_t chunk = std::max<std::size_t>(best_.choices.size() / 2, 1); chunk >= 1 && !exhausted();
         chunk /= 2) {
      std::size_t start = 0;
      while (start < best_.choices.size() && !exhausted()) {
        const std::size_t end = std::min(start + chunk, best_.choices.size());
        // Dropping only zeros gains nothing unless it shortens a tail; skip them.
        const bool any_nonzero = std::any_of(best_.choices.begin() + static_cast<std::ptrdiff_t>(start),
                                             best_.choices.begin() + static_cast<std::ptrdiff_t>(end),
                                             [](const Choice& c) { return c.value != 0; });
        if (!any_nonzero) {
          start = end;
          continue;
        }
        std::vector<Choice> guide = best_.choices;
        guide.erase(guide.begin() + static_cast<std::ptrdiff_t>(start),
                    guide.begin() + static_cast<std::ptrdiff_t>(end));
        if (!try_guide(guide)) start = end;
      }
      if (chunk == 1) break;
    }
  }

  // Two choices that only go together: zeroing either alone sends the run
  // elsewhere, zeroing both keeps the failure.
  void zero_pairs() {
    std::vector<std::size_t> nz = nonzero_positions();
    if (nz.size() < 2 || nz.size() > kMaxPairNonzero) return;
    for (std::size_t i = 0; i + 1 < nz.size() && !exhausted(); ++i) {
      for (std::size_t j = i + 1; j < nz.size() && !exhausted(); ++j) {
        std::vector<Choice> guide = best_.choices;
        guide[nz[i]].value = 0;
        guide[nz[j]].value = 0;
        if (try_guide(guide)) {
          nz = nonzero_positions();
          if (nz.size() < 2) return;
          i = 0;
          j = 0;  // ++j: start over from the first pair of the smaller run
        }
      }
    }
  }

  // Each remaining deviation as small as it can be: value 1, else half.
  void lower_values() {
    for (std::size_t pos : nonzero_positions()) {
      if (exhausted() || pos >= best_.choices.size()) return;
      const std::uint64_t v = best_.choices[pos].value;
      if (v <= 1) continue;
      for (std::uint64_t lower : {std::uint64_t{1}, v / 2}) {
        if (lower == 0 || lower >= v || exhausted()) continue;
        std::vector<Choice> guide = best_.choices;
        guide[pos].value = lower;
        if (try_guide(guide)) break;
      }
    }
  }

  std::vector<std::size_t> nonzero_positions() const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < best_.choices.size(); ++i) {
      if (best_.choices[i].value != 0) out.push_back(i);
    }
    return out;
  }

  Trace best_;
  const Oracle& oracle_;
  MinimizeOptions options_;
  std::size_t runs_ = 0;
};

}  // namespace

MinimizeResult minimize(const Trace& failing, const Oracle& oracle, MinimizeOptions options) {
  return Shrinker(failing, oracle, options).run();
}

bool same_failure(const std::string& a, const std::string& b) {
  return sim::failure_signature(a) == sim::failure_signature(b);
}

}  // namespace simloop::replay
