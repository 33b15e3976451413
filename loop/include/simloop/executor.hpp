// Executor: where blocking work runs (asyncio's run_in_executor).
//
// Contract: submit(job) runs `job` off the loop's critical path: on another
// thread for a real executor, at a seeded virtual time for a simulated one.
// The job reports its own completion to the loop through
// EventLoop::call_soon_threadsafe, as asyncio's _chain_future does.
// outstanding() counts jobs submitted and not yet finished; shutdown() waits
// for them and refuses new ones. attach(loop) is called once by the
// EventLoop constructor that takes the executor, before any other call.
#pragma once

#include <cstddef>
#include <functional>

namespace simloop {

class EventLoop;

class Executor {
 public:
  virtual ~Executor() = default;
  virtual void attach(EventLoop& loop) { (void)loop; }
  virtual void submit(std::function<void()> job) = 0;
  virtual std::size_t outstanding() const = 0;
  virtual void shutdown() = 0;
};

}  // namespace simloop
