// Prints the hit-rate table of docs/exploration.md: for each bug of the
// injection suite, the share of seeds that fail under random and pct with
// every injection kind, and with each kind alone; then the failures of the
// fixed user code and of simloop's own primitives (which must be 0).
//
//   injection_hit_rates [seeds]     (default 10000)
#include "../injection_suite.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

using injection_suite::Variant;
namespace sim = simloop::sim;

struct Cell {
  std::uint64_t failures = 0;
  std::uint64_t first = 0;  // first failing seed, 0 when none
};

Cell measure(const injection_suite::Bug& bug, Variant v, sim::Strategy strategy, std::uint64_t seeds,
             simloop::InjectionSet kinds) {
  sim::RunnerOptions o = injection_suite::suite_options(strategy, seeds, kinds);
  o.keep_going = true;
  o.print_statistics = false;
  const sim::ExploreResult r = sim::explore(bug.workload(v), o);
  return Cell{r.failures, r.failure ? r.failure->seed : 0};
}

std::string rate(const Cell& c, std::uint64_t seeds) {
  if (c.failures == 0) return "0";
  return fmt::format("{:.2f}% (#{})", 100.0 * static_cast<double>(c.failures) / static_cast<double>(seeds), c.first);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t seeds = 10'000;
  if (argc > 1) {
    char* end = nullptr;
    seeds = std::strtoull(argv[1], &end, 10);
    if (seeds == 0 || end == nullptr || *end != '\0') {
      std::fprintf(stderr, "injection_hit_rates: '%s' is not a positive number of seeds\n", argv[1]);
      return 2;
    }
  }
  const simloop::InjectionSet kinds[] = {
      simloop::kAllInjections,
      simloop::injection_bit(simloop::Injection::Suspend),
      simloop::injection_bit(simloop::Injection::Granted),
      simloop::injection_bit(simloop::Injection::Callback),
      simloop::injection_bit(simloop::Injection::Timer),
  };
  const sim::Strategy strategies[] = {sim::Strategy::Random, sim::Strategy::Pct};
  fmt::print(
      "Seeds 1..{} per cell; SIMLOOP_CANCEL=0.05, SIMLOOP_MAX_CANCELS=2, asyncio fidelity. Each cell: the share "
      "of seeds that fail (the first failing seed).\n\n",
      seeds);
  fmt::print("| bug | strategy | all kinds | suspend | granted | callback | timer | fixed | simloop's {} |\n", "own");
  fmt::print("|---|---|---|---|---|---|---|---|---|\n");
  int dirty = 0;
  for (const injection_suite::Bug& bug : injection_suite::bugs()) {
    for (sim::Strategy s : strategies) {
      std::string line = fmt::format("| {} | {} |", bug.name, sim::to_string(s));
      for (simloop::InjectionSet k : kinds)
        line += fmt::format(" {} |", rate(measure(bug, Variant::Buggy, s, seeds, k), seeds));
      const Cell fixed = measure(bug, Variant::Fixed, s, seeds, simloop::kAllInjections);
      const Cell own = measure(bug, Variant::Simloop, s, seeds, simloop::kAllInjections);
      if (fixed.failures != 0 || own.failures != 0) ++dirty;
      line += fmt::format(" {} | {} ({}) |", fixed.failures, own.failures, bug.primitive);
      fmt::print("{}\n", line);
      std::fflush(stdout);
    }
  }
  return dirty == 0 ? 0 : 1;
}
