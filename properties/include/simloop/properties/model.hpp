// Model-based testing of concurrent code with rc::state commands, run as
// concurrent tasks on a generated schedule and checked against a sequential
// model.
//
// Contract:
//  - A command (rc::state::Command<Model, Sut>) is generated against the
//    model as usual (rc::state::gen::commands, preconditions with RC_PRE).
//    Its run(model, sut) is synchronous and runs INSIDE the scenario, on the
//    running loop: it starts the command's operations there (as tasks, which
//    may block: a get on an empty queue, an acquire of a held lock) or calls
//    non-blocking operations directly, and may cancel pending operations in
//    the same step (the window between a wakeup and the woken task's next
//    step). It checks with SIMLOOP_PROP_ASSERT, never RC_ASSERT.
//  - run_commands() then lets the loop settle (settle(): every callback that
//    is ready runs, on the generated schedule, until nothing is ready: the
//    started operations ran as far as they can), applies the command to the
//    model, and calls sut.check(model), which compares the system (its
//    state, each operation's outcome so far) with the model. The model is
//    sequential: it predicts the settled state after each command, which
//    asyncio's FIFO waiters make unique whatever the schedule did inside the
//    settling (under chaos too).
//  - Afterwards sut.finish() (a Coro<void>) must leave no task pending
//    (cancel and await what is still blocked), as the runner's detectors
//    require.
//  - run_model(initial, gen_command, make_sut, options) does all of it in one
//    line inside a property: generates the command list (shrunk by
//    rapidcheck with the schedule), runs it with properties::run().
#pragma once

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>

#include <rapidcheck.h>
#include <rapidcheck/state.h>

#include <simloop/coro.hpp>
#include <simloop/event_loop.hpp>
#include <simloop/properties/rapidcheck.hpp>
#include <simloop/sim/runner.hpp>
#include <simloop/sleep.hpp>

namespace simloop::properties {

// Yields (one iteration each) until, when this task runs, no other callback
// is ready. Raises sim::AssertionFailed after `max_iterations` (a livelock).
inline Coro<void> settle(std::size_t max_iterations = 100'000) {
  EventLoop& loop = EventLoop::running_or_throw("properties::settle");
  for (std::size_t i = 0;; ++i) {
    co_await sleep(Duration{0});
    if (loop.ready_count() == 0) co_return;
    if (i >= max_iterations) {
      throw sim::AssertionFailed("properties::settle: the loop never became quiet (a livelock?)");
    }
  }
}

// Runs `commands` against `*sut` with the model (see the header).
template <class Cmd>
Coro<void> run_commands(std::shared_ptr<const rc::state::Commands<Cmd>> commands, typename Cmd::Model model,
                        typename Cmd::Sut* sut) {
  for (const auto& command : *commands) {
    command->run(model, *sut);
    co_await settle();
    command->apply(model);
    sut->check(model);
  }
  co_await sut->finish();
}

// Generates a command list from `initial` with `gen_command` (a function of
// the model returning a generator of commands, as for
// rc::state::gen::commands), then runs it in a scenario on a fresh loop
// under a generated schedule: make_sut(loop) builds the system (a
// std::unique_ptr<Sut>) inside the run.
template <class Model, class GenCommand, class MakeSut>
PropertyRun run_model(const Model& initial, GenCommand&& gen_command, MakeSut make_sut,
                      const PropertyOptions& options = {}) {
  auto commands = std::make_shared<const decltype(*rc::state::gen::commands(initial, gen_command))>(
      *rc::state::gen::commands(initial, std::forward<GenCommand>(gen_command)));
  using Cmd = std::remove_const_t<typename std::decay_t<decltype(*commands)>::value_type::element_type>;
  return run(
      [&](sim::SimLoop& loop) -> Coro<void> {
        auto sut = make_sut(loop);
        co_await run_commands<Cmd>(commands, initial, sut.get());
      },
      options);
}

}  // namespace simloop::properties
