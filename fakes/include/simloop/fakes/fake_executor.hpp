// FakeExecutor: run_in_executor under simulation.
//
// Contract:
//  - Pass it to a SimLoop whose selector is a FakeSelector (the executor
//    schedules its completions there; attaching to another selector raises
//    simloop::Error).
//  - submit(job) draws the job's duration as choose(ChoiceKind::Executor,
//    steps) * unit (0, the natural choice: it completes at once, in the next
//    select) and runs the whole job on the loop thread, inside select(), when
//    virtual time reaches its completion. Why there: the job then runs at one
//    deterministic point of the run, whatever the machine, and its completion
//    reaches the loop exactly as a thread's would, through
//    call_soon_threadsafe (run_in_executor's _chain_future). What it cannot
//    show: a job's side effects interleaving with the loop's callbacks while
//    it runs (they all happen at its completion time), so share nothing but
//    the job's arguments and result with it, as asyncio asks anyway.
//  - Jobs due at the same virtual time complete in submission order; with
//    different durations they complete out of submission order.
//  - outstanding() counts jobs not yet run: the loop is not quiescent while
//    one is pending. shutdown() (the loop's close()) drops pending jobs
//    without running them and refuses new ones.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <simloop/event_loop.hpp>
#include <simloop/executor.hpp>

namespace simloop::fakes {

class FakeSelector;

struct ExecutorOptions {
  Duration unit = std::chrono::milliseconds(1);
  std::uint64_t steps = 10;  // a job takes choose(Executor, steps) * unit; 1: always 0
};

class FakeExecutor final : public Executor {
 public:
  explicit FakeExecutor(ExecutorOptions options = {});
  ~FakeExecutor() override;

  // The FakeExecutor of `loop`; raises simloop::Error if it has another (or none).
  static FakeExecutor& of(EventLoop& loop);

  void attach(EventLoop& loop) override;
  void submit(std::function<void()> job) override;
  std::size_t outstanding() const override { return pending_.size(); }
  void shutdown() override;

  // "job 3 submitted at 1000000ns, due at 5000000ns", one per job not run yet.
  std::vector<std::string> pending_jobs() const;
  std::uint64_t submitted() const noexcept { return submitted_; }
  std::uint64_t completed() const noexcept { return completed_; }

 private:
  struct Pending {
    std::uint64_t event = 0;  // the FakeSelector event that runs it
    Duration submitted_at{0};
    Duration due{0};
  };
  void run(std::uint64_t id, std::function<void()>& job);

  ExecutorOptions options_;
  EventLoop* loop_ = nullptr;
  FakeSelector* selector_ = nullptr;
  std::map<std::uint64_t, Pending> pending_;  // by job id (submission order)
  std::uint64_t submitted_ = 0;
  std::uint64_t completed_ = 0;
  bool shut_ = false;
};

}  // namespace simloop::fakes
