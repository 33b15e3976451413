// Selector: how the loop waits for the outside world (asyncio's selectors).
//
// Contract:
//  - select(timeout, ready) waits for I/O readiness at most `timeout`
//    (nullopt: without limit) and appends the handles of ready I/O callbacks
//    to `ready`, each once. A simulated selector advances the virtual clock by
//    the timeout instead of sleeping.
//  - quiescent() is true when no event can arrive unless the loop runs more
//    callbacks; a select() without timeout would then wait forever. The loop
//    reports that as a deadlock instead of hanging. A real selector is never
//    quiescent (another thread may always call call_soon_threadsafe).
//  - wakeup() may be called from any thread; it makes a blocked select() return.
//  - Reader and writer callbacks are keyed by file descriptor (or a simulated
//    endpoint's id); adding one for a key that has one replaces it.
//  - attach(loop) is called once by the EventLoop constructor that takes the
//    selector, before any other call; a simulated selector takes the loop's
//    clock and scheduler from it.
#pragma once

#include <optional>
#include <vector>

#include <simloop/handle.hpp>

namespace simloop {

class EventLoop;

class Selector {
 public:
  virtual ~Selector() = default;
  virtual void attach(EventLoop& loop) { (void)loop; }
  virtual void select(std::optional<Duration> timeout, std::vector<HandleRef>& ready) = 0;
  virtual bool quiescent() const = 0;
  virtual void wakeup() noexcept {}

  virtual void add_reader(int fd, HandleRef callback) = 0;
  virtual bool remove_reader(int fd) = 0;
  virtual void add_writer(int fd, HandleRef callback) = 0;
  virtual bool remove_writer(int fd) = 0;
};

}  // namespace simloop
