// Exceptions raised by simloop, named after asyncio's.
//
// Contract:
//  - CancelledError does NOT derive from std::exception, as asyncio's derives
//    from BaseException: `catch (const std::exception&)` never swallows a
//    cancellation. Catch it by name, and rethrow it unless you mean to
//    swallow the cancel request (then call Task::uncancel()).
//  - Every misuse of the API raises its own type, derived from simloop::Error,
//    with a message that says what was wrong and what to do instead.
//  - describe_exception(e) names any exception in one line, whatever its
//    type (C++ lets a program throw an int or a string as well).
#pragma once

#include <exception>
#include <stdexcept>
#include <string>

namespace simloop {

// Raised inside a task at the co_await where its cancellation lands.
class CancelledError {
 public:
  CancelledError() = default;
  explicit CancelledError(std::string message) : message_(std::move(message)) {}
  // The message given to cancel(msg); empty when none was given.
  const std::string& message() const noexcept { return message_; }
  const char* what() const noexcept { return message_.empty() ? "CancelledError" : message_.c_str(); }

 private:
  std::string message_;
};

// Base of every error simloop raises for misuse or failure (not cancellation).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// asyncio.InvalidStateError: an operation not allowed in the future's state.
class InvalidStateError : public Error {
 public:
  using Error::Error;
};
// set_result / set_exception on a future that is already done.
class FutureAlreadyDoneError : public InvalidStateError {
 public:
  using InvalidStateError::InvalidStateError;
};
// result() / exception() on a future that is still pending.
class FutureNotDoneError : public InvalidStateError {
 public:
  using InvalidStateError::InvalidStateError;
};

// Any operation that needs an open loop, on a closed one.
class LoopClosedError : public Error {
 public:
  using Error::Error;
};
// run_forever / run_until_complete while the loop is already running.
class LoopRunningError : public Error {
 public:
  using Error::Error;
};
// run_until_complete returned because stop() was called before its future finished.
class LoopStoppedError : public Error {
 public:
  using Error::Error;
};
// Awaiting a future or task that belongs to another event loop.
class ForeignLoopError : public Error {
 public:
  using Error::Error;
};
// A task awaiting its own completion.
class SelfAwaitError : public Error {
 public:
  using Error::Error;
};
// co_await on a simloop future, task or primitive outside of any running task.
class NoRunningTaskError : public Error {
 public:
  using Error::Error;
};
// asyncio.TimeoutError (an alias of the builtin TimeoutError since 3.11).
class TimeoutError : public Error {
 public:
  using Error::Error;
};
// The simulated loop has nothing ready, no timer and no pending external work,
// while the awaited task is not done: nothing can ever happen again.
class DeadlockError : public Error {
 public:
  using Error::Error;
};
// One step of a task resumed its coroutines synchronously more often than
// EventLoop::max_sync_resumes() allows: a loop of co_awaits that all complete
// at once never yields, and would run forever inside one callback.
class SyncResumeBudgetError : public Error {
 public:
  using Error::Error;
};

// One line naming the exception `e` holds and what it says:
//  - a std::exception: "<its dynamic type>: <what()>", e.g.
//    "std::runtime_error: boom" or "simloop::TimeoutError: ...", the type of
//    a std::throw_with_nested wrapper being the type it wraps, followed by
//    " (caused by <the nested exception described>)";
//  - a CancelledError: "CancelledError(<message>)";
//  - an arithmetic value, a C string or a std::string: its type and value,
//    e.g. "an exception of type int: 42", "an exception of type const char*:
//    \"oops\"" (strings quoted and escaped as C literals);
//  - anything else: "an exception of type <its type>", e.g. "an exception of
//    type simloop::sim::AssertionFailed" (the type is named where the C++
//    runtime can, else "an exception of unknown type");
//  - a null exception_ptr: "no exception".
// Type names are demangled where the C++ runtime can, with the library's
// inline namespaces (std::__cxx11, std::__1) left out.
std::string describe_exception(const std::exception_ptr& e);

}  // namespace simloop
