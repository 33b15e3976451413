// The fuzzing comparison's workloads (workloads.hpp).
#include "workloads.hpp"

#include "deep_bug.hpp"
#include "exploration/injection_suite.hpp"
#include "exploration/racy_bugs.hpp"

namespace fuzz_workloads {

namespace {

sim::RunnerOptions racy_options(sim::Fidelity fidelity, double cancel) {
  sim::RunnerOptions o;
  o.sim.fidelity = fidelity;
  o.sim.cancel_probability = cancel;
  o.log = nullptr;
  return o;
}

}  // namespace

std::vector<Workload> workloads(Variant v) {
  const injection_suite::Variant variant = v == Variant::Buggy   ? injection_suite::Variant::Buggy
                                           : v == Variant::Fixed ? injection_suite::Variant::Fixed
                                                                 : injection_suite::Variant::Simloop;
  std::vector<Workload> all;
  for (const injection_suite::Bug& bug : injection_suite::bugs()) {
    all.push_back({bug.name, bug.workload(variant), injection_suite::suite_options(sim::Strategy::Random, 1)});
  }
  if (v != Variant::Buggy) return all;
  all.push_back({"double_withdrawal", racy::double_withdrawal, racy_options(sim::Fidelity::Asyncio, 0.0)});
  all.push_back({"lost_update", racy::lost_update, racy_options(sim::Fidelity::Asyncio, 0.0)});
  all.push_back({"dropped_item", racy::dropped_item, racy_options(sim::Fidelity::Asyncio, 0.0)});
  all.push_back({"busy_loop_expiry", racy::busy_loop_expiry, racy_options(sim::Fidelity::Asyncio, 0.0)});
  all.push_back({"start_order", racy::start_order, racy_options(sim::Fidelity::Chaos, 0.0)});
  all.push_back({"leaky_pool", racy::leaky_pool, racy_options(sim::Fidelity::Asyncio, 0.2)});
  all.push_back({"leader_history", deep_bug::leader_history, racy_options(sim::Fidelity::Asyncio, 0.0)});
  return all;
}

}  // namespace fuzz_workloads
