// Runs of a seeded strategy to the first failure, for the comparison with
// libFuzzer in docs/fuzzing.md (tools/fuzz_comparison.sh drives it).
//
//   fuzz_runs_to_failure --list
//   fuzz_runs_to_failure <workload> <random|pct> <first seed> <most runs>
//
// Prints the number of runs up to and including the first failing one
// (seeds first, first + 1, ...), or "none" when none of them failed.
// The options are the workload's (workloads.hpp), as the fuzz target's.
#include "../workloads.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

namespace sim = simloop::sim;

bool parse(const char* text, std::uint64_t& out) {
  char* end = nullptr;
  out = std::strtoull(text, &end, 10);
  return *text != '\0' && end != nullptr && *end == '\0';
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--list") {
    for (const fuzz_workloads::Workload& w : fuzz_workloads::workloads()) std::printf("%s\n", w.name.c_str());
    return 0;
  }
  std::uint64_t first = 0, most = 0;
  if (argc != 5 || !parse(argv[3], first) || !parse(argv[4], most) || most == 0) {
    std::fprintf(stderr, "usage: %s --list | <workload> <random|pct> <first seed> <most runs>\n", argv[0]);
    return 2;
  }
  const auto strategy = sim::parse_strategy(argv[2]);
  if (!strategy || (*strategy != sim::Strategy::Random && *strategy != sim::Strategy::Pct)) {
    std::fprintf(stderr, "%s: strategy '%s': use random or pct\n", argv[0], argv[2]);
    return 2;
  }
  for (const fuzz_workloads::Workload& w : fuzz_workloads::workloads()) {
    if (w.name != argv[1]) continue;
    sim::RunnerOptions o = w.options;
    o.strategy = *strategy;
    o.seed = first;
    o.runs = most;
    o.log = nullptr;
    const sim::ExploreResult r = sim::explore(w.scenario, o);
    if (r.failure) {
      std::printf("%llu\n", static_cast<unsigned long long>(r.failure->seed - first + 1));
    } else {
      std::printf("none\n");
    }
    return 0;
  }
  std::fprintf(stderr, "%s: no workload '%s' (--list lists them)\n", argv[0], argv[1]);
  return 2;
}
