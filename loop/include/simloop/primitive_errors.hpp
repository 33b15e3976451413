// Errors raised by the primitives (locks, queues, timeouts, task groups, ...).
//
// Contract:
//  - Each maps to the exception CPython 3.13's asyncio raises in the same
//    situation (named in the comment), but is its own type derived from
//    simloop::Error, so a caller can catch exactly the misuse it expects.
//  - None derives from CancelledError; none is raised for cancellation.
#pragma once

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include <simloop/errors.hpp>

namespace simloop {

// ValueError: an argument out of range (a negative semaphore value, a
// barrier of fewer than one party, an empty set given to wait(), ...).
class InvalidArgumentError : public Error {
 public:
  using Error::Error;
};

// RuntimeError('Lock is not acquired.'): releasing an unlocked Lock, or
// Condition.wait / notify without holding its lock.
class LockNotAcquiredError : public Error {
 public:
  using Error::Error;
};

// ValueError('BoundedSemaphore released too many times').
class TooManyReleasesError : public Error {
 public:
  using Error::Error;
};

// ValueError('task_done() called too many times').
class TaskDoneTooManyError : public Error {
 public:
  using Error::Error;
};

// asyncio.QueueEmpty: get_nowait() on an empty queue.
class QueueEmpty : public Error {
 public:
  using Error::Error;
};
// asyncio.QueueFull: put_nowait() on a full queue.
class QueueFull : public Error {
 public:
  using Error::Error;
};
// asyncio.QueueShutDown: put on a shut-down queue, or get on one that is
// shut down and empty (or shut down immediately).
class QueueShutDown : public Error {
 public:
  using Error::Error;
};

// asyncio.BrokenBarrierError: the barrier was aborted or reset while waiting.
class BrokenBarrierError : public Error {
 public:
  using Error::Error;
};

// RuntimeError raised by Timeout misuse: entering twice, rescheduling a
// timeout that is not active, exiting one that was never entered.
class TimeoutStateError : public Error {
 public:
  using Error::Error;
};

// RuntimeError raised by TaskGroup misuse: entering twice, create_task
// before enter, after the group finished, or while it is shutting down.
class TaskGroupStateError : public Error {
 public:
  using Error::Error;
};

// ExceptionGroup: every exception the children of a TaskGroup (and its body)
// raised, in the order they were observed. Cancelled children contribute
// nothing. Never holds a CancelledError.
class ExceptionGroup : public Error {
 public:
  ExceptionGroup(std::string message, std::vector<std::exception_ptr> exceptions)
      : Error(describe(message, exceptions.size())), exceptions_(std::move(exceptions)) {}
  const std::vector<std::exception_ptr>& exceptions() const noexcept { return exceptions_; }

 private:
  static std::string describe(const std::string& message, std::size_t n) {
    return message + " (" + std::to_string(n) + (n == 1 ? " sub-exception)" : " sub-exceptions)");
  }
  std::vector<std::exception_ptr> exceptions_;
};

}  // namespace simloop
