// Coroutines that finish after a virtual delay with a value or an error,
// and the check that an error is timeout()'s TimeoutError: the building
// blocks of the gather, wait, timeout and async_with tests.
#pragma once

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>

#include <simloop/simloop.hpp>

namespace simloop::testing {

inline Coro<int> value_after(std::chrono::milliseconds d, int v) {
  co_await simloop::sleep(d);
  co_return v;
}
inline Coro<std::string> text_after(std::chrono::milliseconds d, std::string v) {
  co_await simloop::sleep(d);
  co_return v;
}
inline Coro<void> fail_after(std::chrono::milliseconds d, std::string what) {
  co_await simloop::sleep(d);
  throw std::runtime_error(what);
}

// True if `e` is a TimeoutError with a nested CancelledError (its cause).
inline bool timeout_with_cancel_cause(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const simloop::TimeoutError& t) {
    try {
      std::rethrow_if_nested(t);
    } catch (const simloop::CancelledError&) {
      return true;
    } catch (...) {
      return false;
    }
    return false;
  } catch (...) {
    return false;
  }
}

}  // namespace simloop::testing
