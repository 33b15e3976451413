// simloop-micro: Google Benchmark micro-benchmarks of the loop's hot paths.
//
// Each benchmark reports items per second for one operation:
//  - CallSoonRun:          call_soon of a trivial callback, then running it;
//  - FutureCompleteWakeup: a task awaits a pending future, a callback
//                          completes it, the task wakes up;
//  - TaskCreateComplete:   create_task of a trivial coroutine, awaited to its end;
//  - TimerInsertPop:       call_at with a seeded deadline, then firing it;
//  - ChoiceDraw:           one choice from the seeded random strategy (and the
//                          bare PRNG draw under it);
//  - RecordChoice:         one choice drawn through the replay recorder.
// Run from a Release build; the figures of an unoptimized one mean nothing.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <vector>

#include <simloop/sim/random.hpp>
#include <simloop/sim/sim_loop.hpp>
#include <simloop/sim/strategy.hpp>
#include <simloop/sleep.hpp>
#include <simloop/task.hpp>

#ifdef SIMLOOP_BENCH_HAVE_REPLAY
#include <simloop/replay/recorder.hpp>
#endif

namespace {

using simloop::Coro;
using simloop::Duration;
using simloop::sim::SimLoop;

// call_soon + run: a batch of callbacks queued, then one iteration runs them.
void CallSoonRun(benchmark::State& state) {
  SimLoop loop;
  const auto batch = static_cast<std::size_t>(state.range(0));
  std::uint64_t ran = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch; ++i) loop.call_soon([&ran] { ++ran; });
    loop.run_once();
  }
  if (ran != batch * state.iterations()) state.SkipWithError("a callback did not run");
  state.SetItemsProcessed(static_cast<std::int64_t>(ran));
}
BENCHMARK(CallSoonRun)->Arg(1)->Arg(64)->Arg(1024);

// Future completion + wakeup: the task suspends on a future, a callback
// completes it, the task's step runs (two handles per round).
Coro<void> await_futures(benchmark::State* state) {
  simloop::EventLoop& loop = simloop::EventLoop::running_or_throw("bench");
  std::int64_t rounds = 0;
  while (state->KeepRunning()) {
    auto f = simloop::Future<int>::create(loop);
    loop.call_soon([f] { f.set_result(1); });
    rounds += co_await f;
  }
  state->SetItemsProcessed(rounds);
}
void FutureCompleteWakeup(benchmark::State& state) {
  SimLoop loop;
  loop.run_until_complete(await_futures(&state));
}
BENCHMARK(FutureCompleteWakeup);

// Task creation and completion: a task whose coroutine returns at once,
// awaited by the benchmark's task.
Coro<int> trivial(int v) { co_return v; }
Coro<void> create_tasks(benchmark::State* state) {
  std::int64_t sum = 0;
  while (state->KeepRunning()) sum += co_await simloop::create_task(trivial(1));
  state->SetItemsProcessed(sum);
}
void TaskCreateComplete(benchmark::State& state) {
  SimLoop loop;
  loop.run_until_complete(create_tasks(&state));
}
BENCHMARK(TaskCreateComplete);

// Timer insert and pop: a batch of timers with seeded deadlines, then the
// iterations that fire them all (virtual time jumps to each).
void TimerInsertPop(benchmark::State& state) {
  SimLoop loop;
  simloop::sim::Prng rng(7);
  const auto batch = static_cast<std::size_t>(state.range(0));
  std::uint64_t fired = 0;
  for (auto _ : state) {
    const Duration now = loop.time();
    for (std::size_t i = 0; i < batch; ++i) {
      loop.call_at(now + Duration(static_cast<std::int64_t>(rng.bounded(1'000'000'000))), [&fired] { ++fired; });
    }
    while (loop.timer_count() > 0) loop.run_once();
  }
  if (fired != batch * state.iterations()) state.SkipWithError("a timer did not fire");
  state.SetItemsProcessed(static_cast<std::int64_t>(fired));
}
BENCHMARK(TimerInsertPop)->Arg(1)->Arg(1024);

// A choice draw: the bare PRNG, then the random strategy's full path
// (range check, shaping, reporting to no observer).
void PrngBounded(benchmark::State& state) {
  simloop::sim::Prng rng(1);
  std::uint64_t acc = 0;
  for (auto _ : state) acc += rng.bounded(7);
  benchmark::DoNotOptimize(acc);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(PrngBounded);

void ChoiceDraw(benchmark::State& state) {
  simloop::sim::SimOptions options;
  options.fidelity = simloop::sim::Fidelity::Chaos;
  simloop::sim::RandomStrategy strategy(1, options);
  std::uint64_t acc = 0;
  for (auto _ : state) acc += strategy.choose(simloop::ChoiceKind::ReadyOrder, 7);
  benchmark::DoNotOptimize(acc);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(ChoiceDraw);

#ifdef SIMLOOP_BENCH_HAVE_REPLAY
// Recording a choice: the recorder's append alone, then a draw through the
// recording scheduler (draw + record).
void RecordChoice(benchmark::State& state) {
  simloop::replay::Recorder recorder;
  std::uint64_t n = 0;
  for (auto _ : state) {
    recorder.record_choice(0, 7, n % 7);
    if (++n == 1'000'000) {
      state.PauseTiming();
      recorder.reset();
      n = 0;
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(RecordChoice);

void RecordedChoiceDraw(benchmark::State& state) {
  simloop::sim::SimOptions options;
  options.fidelity = simloop::sim::Fidelity::Chaos;
  simloop::replay::Recorder recorder;
  simloop::replay::RecordingScheduler scheduler(std::make_unique<simloop::sim::RandomStrategy>(1, options), recorder);
  std::uint64_t acc = 0;
  std::uint64_t n = 0;
  for (auto _ : state) {
    acc += scheduler.choose(simloop::ChoiceKind::ReadyOrder, 7);
    if (++n == 1'000'000) {
      state.PauseTiming();
      recorder.reset();
      n = 0;
      state.ResumeTiming();
    }
  }
  benchmark::DoNotOptimize(acc);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(RecordedChoiceDraw);
#endif

}  // namespace

BENCHMARK_MAIN();
