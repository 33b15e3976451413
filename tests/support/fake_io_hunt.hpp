// Hunting a bug in user code through the fakes: run a scenario under the
// seeded random strategy over seeds 1..n, keep the first failing run's
// choices, save them as a replay file, load it back and replay it.
//
// Contract:
//  - A scenario signals the bug by raising BugFound; any other exception
//    propagates (a broken test, not a found bug). Exceptions that handlers
//    report to the loop's exception handler are expected (injected faults)
//    and silenced.
//  - hunt() runs seeds 1..runs with the random strategy (SimOptions `sim`,
//    default: the strategy's defaults, no cancellation injection) and the
//    fakes configured by `io`; it records the choices of the first failing
//    run.
//  - replay_through_file() writes that run as a replay file in a temporary
//    directory, reads it back, replays it with a ListStrategy and returns
//    the replayed run's BugFound message; the replay must neither diverge
//    nor leave recorded choices unused (checked with EXPECT).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <simloop/fakes/fakes.hpp>
#include <simloop/replay/format.hpp>
#include <simloop/simloop.hpp>

#include "support/temp_dir.hpp"

namespace simloop::testing::fake_io_hunt {

// What a scenario raises when the user code's assumption breaks.
struct BugFound : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Scenario = Coro<void> (*)(EventLoop*);

struct Hunt {
  std::optional<std::uint64_t> seed;  // the first failing seed
  std::uint64_t failures = 0;         // failing seeds among those run
  std::string failure;
  std::vector<sim::Choice> choices;  // of the first failing run
};

// Runs `scenario` once under `scheduler`; returns the BugFound message, or "".
// `after` sees the scheduler before the loop (which owns it) goes.
inline std::string run_once(Scenario scenario, std::unique_ptr<Scheduler> scheduler, const fakes::SimIoOptions& io,
                            const std::function<void(Scheduler&)>& after = {}) {
  auto loop = fakes::make_sim_loop(std::move(scheduler), io);
  struct After {
    EventLoop& loop;
    const std::function<void(Scheduler&)>& fn;
    ~After() {
      if (fn) fn(loop.scheduler());
    }
  } call_after{*loop, after};
  loop->set_exception_handler([](EventLoop&, const ExceptionContext&) {});
  try {
    loop->run_until_complete(scenario(loop.get()));
  } catch (const BugFound& e) {
    return e.what();
  }
  return {};
}

// Seeds 1..runs under random; `stop_at_first` ends the hunt at the first failure.
inline Hunt hunt(Scenario scenario, const fakes::SimIoOptions& io, std::uint64_t runs, bool stop_at_first,
                 const sim::SimOptions& options = {}) {
  Hunt h;
  for (std::uint64_t seed = 1; seed <= runs; ++seed) {
    sim::ChoiceRecorder recorder;  // outlives the loop that reports to it
    auto strategy = sim::make_strategy(sim::Strategy::Random, seed, options);
    strategy->add_observer(&recorder);
    std::string failure = run_once(scenario, std::move(strategy), io);
    if (failure.empty()) continue;
    ++h.failures;
    if (!h.seed) {
      h.seed = seed;
      h.failure = failure;
      h.choices = recorder.take();
    }
    if (stop_at_first) break;
  }
  return h;
}

// Saves the failing run as a replay file, loads it back and replays it.
inline std::string replay_through_file(Scenario scenario, const fakes::SimIoOptions& io, const Hunt& h,
                                       const std::string& test_name) {
  replay::Trace trace;
  trace.simloop_version = "0.1.0";
  trace.test = test_name;
  trace.strategy = "random";
  trace.fidelity = "asyncio";
  trace.seed = *h.seed;
  trace.failure = h.failure;
  for (const auto& c : h.choices) {
    trace.choices.push_back(replay::Choice{c.n, c.value, 0, static_cast<std::uint8_t>(c.kind)});
  }
  const ScopedTempDir tmp("fake-io-hunt");
  const std::string path = (tmp.path() / "hunt.simloop-replay").string();
  replay::save_trace(trace, path);
  replay::Trace loaded = replay::load_trace(path);
  std::vector<sim::Choice> choices;
  for (const auto& c : loaded.choices) {
    choices.push_back(sim::Choice{static_cast<ChoiceKind>(c.kind), c.n, c.value});
  }
  auto list = std::make_unique<sim::ListStrategy>(std::move(choices));
  return run_once(scenario, std::move(list), io, [](Scheduler& s) {
    auto& replayer = static_cast<sim::ListStrategy&>(s);
    EXPECT_FALSE(replayer.divergence().has_value()) << replayer.divergence()->describe();
    EXPECT_TRUE(replayer.exhausted()) << "the replay used only part of the recorded choices";
  });
}

}  // namespace simloop::testing::fake_io_hunt
