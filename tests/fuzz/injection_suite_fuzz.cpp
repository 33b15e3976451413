// A libFuzzer target over the workloads of workloads.hpp: FUZZ_WORKLOAD=<name>
// picks one (default lock_drops_grant), FUZZ_VARIANT=fixed or simloop runs a
// suite bug's fixed user code or simloop's own primitive instead (which must
// never fail). The rest is SIMLOOP_FUZZ_SCENARIO's (docs/fuzzing.md).
#include "workloads.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

#include <simloop/fuzz/fuzz.hpp>

namespace {

fuzz_workloads::Workload selected() {
  const char* variant_text = std::getenv("FUZZ_VARIANT");
  const std::string v = variant_text != nullptr ? variant_text : "buggy";
  fuzz_workloads::Variant variant = fuzz_workloads::Variant::Buggy;
  if (v == "fixed") {
    variant = fuzz_workloads::Variant::Fixed;
  } else if (v == "simloop") {
    variant = fuzz_workloads::Variant::Simloop;
  } else if (v != "buggy") {
    std::fprintf(stderr, "FUZZ_VARIANT='%s': use buggy, fixed or simloop\n", v.c_str());
    std::exit(2);
  }
  const char* name_text = std::getenv("FUZZ_WORKLOAD");
  const std::string name = name_text != nullptr ? name_text : "lock_drops_grant";
  std::string known;
  for (fuzz_workloads::Workload& w : fuzz_workloads::workloads(variant)) {
    if (w.name == name) return w;
    known += " " + w.name;
  }
  std::fprintf(stderr, "FUZZ_WORKLOAD='%s' (FUZZ_VARIANT=%s): not one of:%s\n", name.c_str(), v.c_str(), known.c_str());
  std::exit(2);
}

const fuzz_workloads::Workload& workload() {
  static const fuzz_workloads::Workload w = selected();
  return w;
}

simloop::sim::RunnerOptions workload_options() { return workload().options; }

}  // namespace

SIMLOOP_FUZZ_SCENARIO(injection_suite, workload().scenario, workload_options())
