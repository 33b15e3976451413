// The minimizer (minimize.hpp).
#include <simloop/replay/minimize.hpp>

#include <algorithm>
#include <utility>

#include <simloop/sim/runner.hpp>

namespace simloop::replay {

namespace {

struct Size {
  std::size_t nonzero;
  std::size_t length;
  friend bool operator<(const Size& a, const Size& b) {
    return a.nonzero != b.nonzero ? a.nonzero < b.nonzero : a.length < b.length;
  }
};

Size size_of(const Trace& t) { return {t.nonzero_choices(), t.choices.size()}; }

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
