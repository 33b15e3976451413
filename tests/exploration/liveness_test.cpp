// The liveness detector (RunnerOptions::check_liveness, SIMLOOP_CHECK_LIVENESS):
//  - for each primitive kind, the state a lost wakeup leaves (a Semaphore
//    subclass whose release() forgets to wake; for the others the buggy half
//    of release/set/put/get/shutdown/task_done from support/primitive_faults)
//    fails the run as a lost wakeup naming the primitive, where it was made
//    and the parked tasks: found while a timer is armed, where the loop would
//    deadlock, and when the scenario returns with the tasks parked. With the
//    detector off, the deadlock's report names the primitive; the same
//    scenario with the real operation passes;
//  - correct use of every primitive by contending workers, under seeded
//    cancellation injection, random and pct, asyncio and chaos fidelity,
//    never trips it (nor any other detector) over 500 seeds each;
//  - replay files carry the switch.
#include <gtest/gtest.h>

#include <functional>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <simloop/detail/source_path.hpp>
#include <simloop/replay/explore.hpp>
#include <simloop/replay/format.hpp>
#include <simloop/simloop.hpp>

#include "support/contended_workloads.hpp"
#include "support/primitive_faults.hpp"
#include "support/quiet_runner.hpp"
#include "support/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::Task;
using simloop::detail::PrimitiveFaults;
namespace sim = simloop::sim;

// What the main task does once the primitive is broken: wait for a timer
// (the loop idles with a timer armed), await the parked tasks (nothing can
// run: the loop would deadlock), or return with them parked.
enum class Ending { Sleep, Await, Return };

Coro<void> end_as(Ending ending, std::vector<Task<void>> parked) {
  if (ending == Ending::Return) co_return;
  if (ending == Ending::Sleep) co_await simloop::sleep(10ms);
  for (Task<void>& t : parked) co_await t;
}

// A user's semaphore whose release() only counts the permit: it forgets to
// wake a waiter (when `forget`).
class ForgetfulSemaphore final : public simloop::Semaphore {
 public:
  explicit ForgetfulSemaphore(long value, std::source_location where = std::source_location::current())
      : Semaphore(value, where) {}
  void release() override {
    if (!forget) return Semaphore::release();
    ++value_;
  }
  bool forget = true;
};

Coro<void> take_lock(simloop::Lock* lock) {
  co_await lock->acquire();
  lock->release();
}
Coro<void> wait_event(simloop::Event* event) { co_await event->wait(); }
template <class S>
Coro<void> take_permit(S* semaphore) {
  co_await semaphore->acquire();
}
template <class S>
Coro<void> take_and_give_permit(S* semaphore) {
  co_await semaphore->acquire();
  semaphore->release();
}
template <class Q>
Coro<void> get_one(Q* queue) {
  (void)co_await queue->get();
}
template <class Q>
Coro<void> put_one(Q* queue, int item) {
  co_await queue->put(item);
}
template <class Q>
Coro<void> get_unless_shut_down(Q* queue) {
  try {
    (void)co_await queue->get();
  } catch (const simloop::QueueShutDown&) {
  }
}
template <class Q>
Coro<void> join(Q* queue) {
  co_await queue->join();
}

// One case: a scenario that parks tasks on a primitive, then breaks it
// (`faulty`) or does the real operation, and what the report must say.
struct Case {
  const char* name;
  const char* kind;    // the primitive's kind in the report
  const char* reason;  // a fragment of the reason
  const char* parked;  // the parked tasks, as the report lists them
  std::function<sim::Scenario(Ending, bool faulty, unsigned* line)> scenario;
};

std::vector<Case> cases() {
  std::vector<Case> out;
  out.push_back({"Lock", "Lock", "it is free, yet acquirers are parked", "parked: 'w1', 'w2'",
                 [](Ending ending, bool faulty, unsigned* line) -> sim::Scenario {
                   return [=](sim::SimLoop& loop) -> Coro<void> {
                     *line = __LINE__ + 1;
                     auto& lock = loop.keep<simloop::Lock>(std::source_location::current());
                     co_await lock.acquire();
                     std::vector<Task<void>> parked{loop.create_task(take_lock(&lock), "w1"),
                                                    loop.create_task(take_lock(&lock), "w2")};
                     co_await simloop::sleep(1ms);
                     if (faulty) {
                       PrimitiveFaults::release_without_wakeup(lock);
                     } else {
                       lock.release();
                     }
                     co_await end_as(ending, parked);
                   };
                 }});
  out.push_back({"Event", "Event", "it is set, yet waiters are parked", "parked: 'w1', 'w2'",
                 [](Ending ending, bool faulty, unsigned* line) -> sim::Scenario {
                   return [=](sim::SimLoop& loop) -> Coro<void> {
                     *line = __LINE__ + 1;
                     auto& event = loop.keep<simloop::Event>(std::source_location::current());
                     std::vector<Task<void>> parked{loop.create_task(wait_event(&event), "w1"),
                                                    loop.create_task(wait_event(&event), "w2")};
                     co_await simloop::sleep(1ms);
                     if (faulty) {
                       PrimitiveFaults::set_without_wakeup(event);
                     } else {
                       event.set();
                     }
                     co_await end_as(ending, parked);
                   };
                 }});
  out.push_back({"Semaphore", "Semaphore", "2 permit(s) free, yet waiters are parked", "parked: 'w1', 'w2'",
                 [](Ending ending, bool faulty, unsigned* line) -> sim::Scenario {
                   return [=](sim::SimLoop& loop) -> Coro<void> {
                     *line = __LINE__ + 1;
                     auto& semaphore = loop.keep<ForgetfulSemaphore>(0, std::source_location::current());
                     semaphore.forget = faulty;
                     std::vector<Task<void>> parked{loop.create_task(take_permit(&semaphore), "w1"),
                                                    loop.create_task(take_permit(&semaphore), "w2")};
                     co_await simloop::sleep(1ms);
                     semaphore.release();
                     semaphore.release();
                     co_await end_as(ending, parked);
                   };
                 }});
  out.push_back({"BoundedSemaphore", "BoundedSemaphore", "1 permit(s) free, yet waiters are parked",
                 "parked: 'w1', 'w2'", [](Ending ending, bool faulty, unsigned* line) -> sim::Scenario {
                   return [=](sim::SimLoop& loop) -> Coro<void> {
                     *line = __LINE__ + 1;
                     auto& semaphore = loop.keep<simloop::BoundedSemaphore>(1, std::source_location::current());
                     co_await semaphore.acquire();
                     std::vector<Task<void>> parked{loop.create_task(take_and_give_permit(&semaphore), "w1"),
                                                    loop.create_task(take_and_give_permit(&semaphore), "w2")};
                     co_await simloop::sleep(1ms);
                     if (faulty) {
                       PrimitiveFaults::release_without_wakeup(semaphore);
                     } else {
                       semaphore.release();
                     }
                     co_await end_as(ending, parked);
                   };
                 }});
  out.push_back({"QueueGetters", "Queue", "it holds 2 item(s), yet getters are parked", "parked: 'w1', 'w2'",
                 [](Ending ending, bool faulty, unsigned* line) -> sim::Scenario {
                   return [=](sim::SimLoop& loop) -> Coro<void> {
                     using Q = simloop::Queue<int>;
                     *line = __LINE__ + 1;
                     auto& queue = loop.keep<Q>(0, std::source_location::current());
                     std::vector<Task<void>> parked{loop.create_task(get_one(&queue), "w1"),
                                                    loop.create_task(get_one(&queue), "w2")};
                     co_await simloop::sleep(1ms);
                     for (int item : {1, 2}) {
                       if (faulty) {
                         PrimitiveFaults::put_without_wakeup(queue, item);
                       } else {
                         queue.put_nowait(item);
                       }
                     }
                     co_await end_as(ending, parked);
                   };
                 }});
  out.push_back({"PriorityQueueGetters", "PriorityQueue", "it holds 1 item(s), yet getters are parked", "parked: 'w1'",
                 [](Ending ending, bool faulty, unsigned* line) -> sim::Scenario {
                   return [=](sim::SimLoop& loop) -> Coro<void> {
                     using Q = simloop::PriorityQueue<int>;
                     *line = __LINE__ + 1;
                     auto& queue = loop.keep<Q>(0, std::source_location::current());
                     std::vector<Task<void>> parked{loop.create_task(get_one(&queue), "w1")};
                     co_await simloop::sleep(1ms);
                     if (faulty) {
                       PrimitiveFaults::put_without_wakeup(queue, 7);
                     } else {
                       queue.put_nowait(7);
                     }
                     co_await end_as(ending, parked);
                   };
                 }});
  out.push_back({"LifoQueuePutters", "LifoQueue", "it is not full, yet putters are parked", "parked: 'w1'",
                 [](Ending ending, bool faulty, unsigned* line) -> sim::Scenario {
                   return [=](sim::SimLoop& loop) -> Coro<void> {
                     using Q = simloop::LifoQueue<int>;
                     *line = __LINE__ + 1;
                     auto& queue = loop.keep<Q>(1, std::source_location::current());
                     queue.put_nowait(1);
                     std::vector<Task<void>> parked{loop.create_task(put_one(&queue, 2), "w1")};
                     co_await simloop::sleep(1ms);
                     if (faulty) {
                       (void)PrimitiveFaults::get_without_wakeup(queue);
                     } else {
                       (void)queue.get_nowait();
                     }
                     co_await end_as(ending, parked);
                   };
                 }});
  out.push_back({"QueueShutdown", "Queue", "it is shut down, yet getters are parked", "parked: 'w1'",
                 [](Ending ending, bool faulty, unsigned* line) -> sim::Scenario {
                   return [=](sim::SimLoop& loop) -> Coro<void> {
                     using Q = simloop::Queue<int>;
                     *line = __LINE__ + 1;
                     auto& queue = loop.keep<Q>(0, std::source_location::current());
                     std::vector<Task<void>> parked{loop.create_task(get_unless_shut_down(&queue), "w1")};
                     co_await simloop::sleep(1ms);
                     if (faulty) {
                       PrimitiveFaults::shutdown_without_wakeup(queue);
                     } else {
                       queue.shutdown();
                     }
                     co_await end_as(ending, parked);
                   };
                 }});
  // join() waits on the queue's own event, which records the queue's place.
  out.push_back({"QueueJoin", "Event", "it is set, yet waiters are parked", "parked: 'w1'",
                 [](Ending ending, bool faulty, unsigned* line) -> sim::Scenario {
                   return [=](sim::SimLoop& loop) -> Coro<void> {
                     using Q = simloop::Queue<int>;
                     *line = __LINE__ + 1;
                     auto& queue = loop.keep<Q>(0, std::source_location::current());
                     queue.put_nowait(1);
                     std::vector<Task<void>> parked{loop.create_task(join(&queue), "w1")};
                     co_await simloop::sleep(1ms);
                     (void)queue.get_nowait();
                     if (faulty) {
                       PrimitiveFaults::finish_without_wakeup(queue);
                     } else {
                       queue.task_done();
                     }
                     co_await end_as(ending, parked);
                   };
                 }});
  return out;
}

sim::RunOutcome run(const sim::Scenario& scenario, bool check_liveness) {
  sim::RunnerOptions o = simloop::testing::quiet_fifo_runner();
  o.check_liveness = check_liveness;
  sim::ExploreResult r = sim::explore(scenario, o);
  return r.failure ? r.failure->outcome : sim::RunOutcome{};
}

std::string made_at(const Case& c, unsigned line) {
  return fmt::format("{} created at {}:{}", c.kind, simloop::detail::display_file(__FILE__), line);
}

TEST(Liveness, EachKindOfLostWakeupIsReportedWithThePrimitiveAndTheParkedTasks) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    for (Ending ending : {Ending::Sleep, Ending::Await, Ending::Return}) {
      SCOPED_TRACE(static_cast<int>(ending));
      unsigned line = 0;
      const sim::RunOutcome out = run(c.scenario(ending, true, &line), true);
      ASSERT_EQ(out.failure, sim::FailureKind::LostWakeup) << sim::to_string(out.failure) << ": " << out.message;
      const std::string first_line = out.message.substr(0, out.message.find('\n'));
      EXPECT_EQ(first_line.find(made_at(c, line)), 0u) << out.message;
      EXPECT_NE(first_line.find(c.reason), std::string::npos) << out.message;
      EXPECT_NE(first_line.find(c.parked), std::string::npos) << out.message;
      const char* when =
          ending == Ending::Return ? "(found when the scenario finished)" : "(found when nothing was ready)";
      EXPECT_NE(first_line.find(when), std::string::npos) << out.message;
    }
  }
}

TEST(Liveness, OffTheDeadlockReportStillNamesThePrimitive) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    for (Ending ending : {Ending::Sleep, Ending::Await}) {
      unsigned line = 0;
      const sim::RunOutcome out = run(c.scenario(ending, true, &line), false);
      ASSERT_EQ(out.failure, sim::FailureKind::Deadlock) << sim::to_string(out.failure) << ": " << out.message;
      const std::size_t lost =
          out.message.find("Lost wakeups (a primitive could admit a task parked on it):\n  " + made_at(c, line));
      ASSERT_NE(lost, std::string::npos) << out.message;
      EXPECT_NE(out.message.find(c.parked, lost), std::string::npos) << out.message;
    }
    // Returning with the tasks parked: the pending-tasks detector's report.
    unsigned line = 0;
    EXPECT_EQ(run(c.scenario(Ending::Return, true, &line), false).failure, sim::FailureKind::PendingTasks);
  }
}

TEST(Liveness, TheRealOperationPasses) {
  for (const Case& c : cases()) {
    unsigned line = 0;
    const sim::RunOutcome out = run(c.scenario(Ending::Await, false, &line), true);
    EXPECT_FALSE(out.failed()) << c.name << ": " << sim::to_string(out.failure) << ": " << out.message;
  }
}

TEST(Liveness, TheReportNamesTheFailureKindAndTheOptionShowsWhenOff) {
  unsigned line = 0;
  sim::RunnerOptions o = simloop::testing::quiet_fifo_runner();
  o.test_name = "liveness";
  const sim::ExploreResult r = sim::explore(cases().front().scenario(Ending::Await, true, &line), o);
  ASSERT_TRUE(r.failure);
  EXPECT_NE(r.failure->report.find("  failure:  lost wakeup: Lock created at"), std::string::npos) << r.failure->report;
  EXPECT_EQ(sim::describe_config(o).find("check_liveness"), std::string::npos);
  o.check_liveness = false;
  EXPECT_NE(sim::describe_config(o).find(" check_liveness=0"), std::string::npos);
}

TEST(Liveness, EnvironmentVariable) {
  auto env_of = [](const char* value) {
    return [value](const char* name) -> const char* {
      return std::string_view(name) == "SIMLOOP_CHECK_LIVENESS" ? value : nullptr;
    };
  };
  EXPECT_TRUE(sim::RunnerOptions{}.check_liveness) << "on by default";
  EXPECT_TRUE(sim::options_from_env({}, env_of("1")).check_liveness);
  EXPECT_FALSE(sim::options_from_env({}, env_of("0")).check_liveness);
  EXPECT_THROW(sim::options_from_env({}, env_of("yes")), sim::ConfigError);
  const sim::RunnerOptions o = sim::options_from_env({}, env_of("0"));
  EXPECT_NE(sim::reproduce_command(o, 3).find("SIMLOOP_CHECK_LIVENESS=0"), std::string::npos);
}

// A replay file carries the switch when it is off, so a deadlock recorded
// without the detector replays as that deadlock; a lost wakeup replays as one.
TEST(Liveness, ReplayFilesCarryTheSwitch) {
  simloop::testing::ScopedTempDir tmp("liveness-replay");
  simloop::replay::ReplayEnv env;
  env.dir = (tmp.path() / "replays").string();
  env.minimize_runs = 0;
  unsigned line = 0;
  const sim::Scenario scenario = cases().front().scenario(Ending::Await, true, &line);
  for (bool check : {false, true}) {
    SCOPED_TRACE(check);
    sim::RunnerOptions o = simloop::testing::quiet_fifo_runner();
    o.test_name = check ? "Liveness.ReplayOn" : "Liveness.ReplayOff";
    o.check_liveness = check;
    const sim::ExploreResult r = simloop::replay::explore(scenario, o, env);
    ASSERT_TRUE(r.failure);
    EXPECT_EQ(r.failure->outcome.failure, check ? sim::FailureKind::LostWakeup : sim::FailureKind::Deadlock);
    const simloop::replay::Trace t = simloop::replay::load_trace(r.failure->files.replay_path);
    EXPECT_EQ(t.options.find("check_liveness=0") != std::string::npos, !check) << t.options;
    simloop::replay::ReplayEnv again = env;
    again.replay_file = r.failure->files.replay_path;
    sim::RunnerOptions plain;
    plain.log = nullptr;
    plain.test_name = o.test_name;
    const sim::ExploreResult replayed = simloop::replay::explore(scenario, plain, again);
    EXPECT_EQ(replayed.replay_verdict, sim::ReplayVerdict::Reproduced);
  }
}

// ---- correct use never trips it --------------------------------------------------

struct Workload {
  const char* name;
  std::function<sim::Scenario(simloop::testing::WorkDone*)> scenario;
};

std::vector<Workload> workloads() {
  namespace t = simloop::testing;
  return {
      {"Lock", [](t::WorkDone* d) { return t::contended_hold<simloop::Lock>(d); }},
      {"Semaphore", [](t::WorkDone* d) { return t::contended_hold<simloop::Semaphore>(d, 2); }},
      {"BoundedSemaphore", [](t::WorkDone* d) { return t::contended_hold<simloop::BoundedSemaphore>(d, 2); }},
      {"Event", [](t::WorkDone* d) { return t::contended_event(d); }},
      {"Queue", [](t::WorkDone* d) { return t::contended_queue<simloop::Queue<int>>(d); }},
      {"PriorityQueue", [](t::WorkDone* d) { return t::contended_queue<simloop::PriorityQueue<int>>(d); }},
      {"LifoQueue", [](t::WorkDone* d) { return t::contended_queue<simloop::LifoQueue<int>>(d); }},
      {"Condition", [](t::WorkDone* d) { return t::contended_condition(d); }},
      {"Barrier", [](t::WorkDone* d) { return t::contended_barrier(d); }},
  };
}

TEST(Liveness, CorrectUseOfEveryPrimitiveUnderInjectionNeverTripsIt) {
  constexpr std::uint64_t kSeeds = 500;
  for (const Workload& w : workloads()) {
    for (sim::Strategy strategy : {sim::Strategy::Random, sim::Strategy::Pct}) {
      for (sim::Fidelity fidelity : {sim::Fidelity::Asyncio, sim::Fidelity::Chaos}) {
        SCOPED_TRACE(fmt::format("{} {} {}", w.name, sim::to_string(strategy), sim::to_string(fidelity)));
        sim::RunnerOptions o;
        o.runs = kSeeds;
        o.strategy = strategy;
        o.sim.fidelity = fidelity;
        o.sim.cancel_probability = 0.05;
        o.sim.max_injected_cancels = 4;
        o.keep_going = true;
        o.print_statistics = false;
        o.log = nullptr;
        ASSERT_TRUE(o.check_liveness);
        simloop::testing::WorkDone done;
        const sim::ExploreResult r = sim::explore(w.scenario(&done), o);
        EXPECT_EQ(r.runs, kSeeds);
        EXPECT_EQ(r.failures, 0u) << (r.failure ? r.failure->report : std::string());
        // The workload did contend: work got done, some waits timed out,
        // and injection cancelled workers.
        EXPECT_GT(done.rounds, kSeeds) << w.name;
        EXPECT_GT(done.cancelled, 0u) << w.name;
      }
    }
  }
}

// The workloads reach the states the detector judges: the same workload
// over a semaphore whose release() forgets to wake a waiter is caught.
TEST(Liveness, TheSameWorkloadOverABuggySemaphoreTripsIt) {
  sim::RunnerOptions o;
  o.runs = 100;
  o.keep_going = true;
  o.print_statistics = false;
  o.log = nullptr;
  simloop::testing::WorkDone done;
  const sim::ExploreResult r = sim::explore(simloop::testing::contended_hold<ForgetfulSemaphore>(&done, 2), o);
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->outcome.failure, sim::FailureKind::LostWakeup) << r.failure->report;
  EXPECT_NE(r.failure->outcome.message.find("Semaphore created at tests/support/contended_workloads.hpp:"),
            std::string::npos)
      << r.failure->outcome.message;
  EXPECT_GT(r.failures, 50u);
}

}  // namespace
