// Measures the minimizer on the injection suite: for each bug, strategy and
// starting seed, the first failure's replay file and its minimized file,
// their sizes (non-zero choices) and the median of each, as reported in
// docs/exploration.md.
//
//   minimized_sizes <replay dir> [starts]     (default 5 starting seeds: 1, 1001, ...)
#include "../injection_suite.hpp"
#include "../racy_bugs.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <simloop/replay/explore.hpp>

namespace {

namespace sim = simloop::sim;
namespace replay = simloop::replay;

double median(std::vector<std::uint64_t> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  const std::size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? static_cast<double>(v[m])
                           : (static_cast<double>(v[m - 1]) + static_cast<double>(v[m])) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: minimized_sizes <replay dir> [starting seeds]\n");
    return 2;
  }
  std::uint64_t starts = 5;
  if (argc > 2) {
    char* end = nullptr;
    starts = std::strtoull(argv[2], &end, 10);
    if (starts == 0 || end == nullptr || *end != '\0') {
      std::fprintf(stderr, "minimized_sizes: '%s' is not a positive count\n", argv[2]);
      return 2;
    }
  }
  replay::ReplayEnv env;
  env.dir = argv[1];
  std::vector<std::uint64_t> before, after;
  auto record = [&](const char* name, sim::Strategy s, const sim::ExploreResult& r) {
    const sim::FailureFiles& f = r.failure->files;
    before.push_back(f.nonzero_choices);
    after.push_back(f.minimized_path.empty() ? f.nonzero_choices : f.minimized_nonzero);
    std::string kinds;
    for (const auto& [kind, n] : f.minimized_by_kind)
      kinds += fmt::format("{}{} {}", kinds.empty() ? "" : ", ", kind, n);
    fmt::print("| {} | {} | {} | {} | {} | {} |\n", name, sim::to_string(s), r.failure->seed, before.back(),
               after.back(), kinds);
    std::fflush(stdout);
  };
  fmt::print(
      "| bug | strategy | first seed | non-zero choices | minimized | minimized by kind "
      "|\n|---|---|---|---|---|---|\n");
  for (const injection_suite::Bug& bug : injection_suite::bugs()) {
    for (sim::Strategy s : {sim::Strategy::Random, sim::Strategy::Pct}) {
      for (std::uint64_t k = 0; k < starts; ++k) {
        sim::RunnerOptions o = injection_suite::suite_options(s, 10'000);
        o.seed = 1 + 1000 * k;
        o.test_name = std::string("suite.") + bug.name;
        const sim::ExploreResult r = replay::explore(bug.workload(injection_suite::Variant::Buggy), o, env);
        if (!r.failure) {
          fmt::print("| {} | {} | none in 10000 | | | |\n", bug.name, sim::to_string(s));
          continue;
        }
        record(bug.name, s, r);
      }
    }
  }
  // The exploration tests' racy programs (bug_finding_test.cpp), with their settings.
  struct Racy {
    const char* name;
    sim::Scenario scenario;
    sim::Fidelity fidelity;
    double cancel;
  };
  const Racy racy_bugs[] = {
      {"double withdrawal", racy::double_withdrawal, sim::Fidelity::Asyncio, 0.0},
      {"lost update", racy::lost_update, sim::Fidelity::Asyncio, 0.0},
      {"dropped item", racy::dropped_item, sim::Fidelity::Asyncio, 0.0},
      {"busy-loop expiry", racy::busy_loop_expiry, sim::Fidelity::Asyncio, 0.0},
      {"start order", racy::start_order, sim::Fidelity::Chaos, 0.0},
      {"cancellation-unsafe pool", racy::leaky_pool, sim::Fidelity::Asyncio, 0.2},
  };
  for (const Racy& bug : racy_bugs) {
    for (sim::Strategy s : {sim::Strategy::Random, sim::Strategy::Pct}) {
      for (std::uint64_t k = 0; k < starts; ++k) {
        sim::RunnerOptions o;
        o.strategy = s;
        o.runs = 10'000;
        o.seed = 1 + 1000 * k;
        o.sim.fidelity = bug.fidelity;
        o.sim.cancel_probability = bug.cancel;
        o.log = nullptr;
        o.test_name = fmt::format("racy.{}", k);
        const sim::ExploreResult r = replay::explore(bug.scenario, o, env);
        if (!r.failure) continue;
        record(bug.name, s, r);
      }
    }
  }
  fmt::print("\n{} failures: median non-zero choices {} before minimizing, {} after (largest {})\n", after.size(),
             median(before), median(after), after.empty() ? 0 : *std::max_element(after.begin(), after.end()));
  return 0;
}
