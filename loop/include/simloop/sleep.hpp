// sleep(delay[, value]): asyncio.sleep.
//
// Contract:
//  - sleep(d) with d <= 0 yields exactly one iteration: the task's next step
//    is scheduled with call_soon (asyncio's bare `yield`).
//  - sleep(d) with d > 0 arms a timer at time() + d whose callback completes
//    a future the task awaits (unless it was cancelled), so the task resumes
//    the iteration after the timer fires, at virtual time >= start + d. The
//    timer is cancelled when the task resumes, whatever the reason.
//  - sleep(d, value) returns value. Cancelling the sleeping task raises
//    CancelledError at the co_await.
#pragma once

#include <chrono>
#include <coroutine>
#include <optional>
#include <source_location>
#include <type_traits>

#include <simloop/task.hpp>

namespace simloop {

namespace detail {
// Schedules the running task's next step (state 3 -> 2) and returns the task.
TaskBase* yield_current_task(std::coroutine_handle<> resume_at);

// The future a sleep(d > 0) waits on, with the timer that completes it
// embedded: one pooled object per sleep, not a future plus a timer callback
// holding a reference to it. The timer's references are the future's.
class SleepFuture final : public FutureState<void> {
 public:
  SleepFuture(EventLoop& loop, Duration when, std::source_location where) noexcept
      : FutureState<void>(loop), timer_(*this, loop, when, where) {}
  TimerHandle& timer() noexcept { return timer_; }

 private:
  class Timer final : public TimerHandle {
   public:
    Timer(SleepFuture& owner, EventLoop& loop, Duration when, std::source_location where) noexcept
        : TimerHandle(loop, when, where), owner_(&owner) {
      set_embedded();
    }

   private:
    void run() override {
      if (!owner_->done()) owner_->set_result();  // futures._set_result_unless_cancelled
    }
    void on_first_ref() noexcept override { owner_->add_ref(); }
    void on_last_ref() noexcept override { owner_->release(); }
    SleepFuture* owner_;
  };
  Timer timer_;
};
}  // namespace detail

template <class T = void>
class [[nodiscard]] Sleep {
 public:
  template <class... V>
  explicit Sleep(Duration delay, V&&... value) : delay_(delay) {
    if constexpr (!std::is_void_v<T>) value_.emplace(std::forward<V>(value)...);
  }
  Sleep(Sleep&&) noexcept = default;
  ~Sleep() { cancel_timer(); }

  // A sleep always suspends the task (sleep(0) for one iteration).
  bool counts_as_sync_resume() const noexcept { return false; }
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    if (delay_ <= Duration{0}) {
      task_ = detail::yield_current_task(h);
      return;
    }
    EventLoop& loop = EventLoop::running_or_throw("sleep");
    auto* sleep = new detail::SleepFuture(loop, loop.time() + delay_, std::source_location::current());
    future_ = Future<void>::from_state(sleep);
    loop.schedule_timer(&sleep->timer());
    try {
      task_ = detail::suspend_current_task_on(*sleep, h);
    } catch (...) {
      cancel_timer();
      throw;
    }
  }
  T await_resume() {
    cancel_timer();
    if (task_ != nullptr) task_->deliver_pending_cancel();
    if (future_) future_.result();
    if constexpr (!std::is_void_v<T>) return std::move(*value_);
  }

 private:
  void cancel_timer() noexcept {
    if (future_) static_cast<detail::SleepFuture*>(future_.state())->timer().cancel();
  }

  Duration delay_;
  Future<void> future_;
  detail::TaskBase* task_ = nullptr;
  [[no_unique_address]] std::conditional_t<std::is_void_v<T>, std::nullptr_t, std::optional<T>> value_{};
};

template <class Rep, class Period>
Duration to_duration(std::chrono::duration<Rep, Period> d) {
  if constexpr (std::is_floating_point_v<Rep>) {
    return std::chrono::round<Duration>(d);
  } else {
    return std::chrono::duration_cast<Duration>(d);
  }
}

template <class Rep, class Period>
Sleep<void> sleep(std::chrono::duration<Rep, Period> delay) {
  return Sleep<void>(to_duration(delay));
}
template <class Rep, class Period, class V>
Sleep<std::decay_t<V>> sleep(std::chrono::duration<Rep, Period> delay, V&& value) {
  return Sleep<std::decay_t<V>>(to_duration(delay), std::forward<V>(value));
}

}  // namespace simloop
