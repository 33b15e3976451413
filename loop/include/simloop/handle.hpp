// Handle and TimerHandle: a scheduled callback, as asyncio.Handle / TimerHandle.
//
// Contract:
//  - A Handle is created by EventLoop::call_soon / call_later / call_at and
//    run at most once, by EventLoop::run_once (the only place callbacks run).
//  - cancel() marks it; the loop skips a cancelled handle when its turn comes
//    (timers are dropped from the heap lazily).
//  - Handles are intrusively reference counted (single-threaded); HandleRef is
//    the owning pointer. The ready queue and the timer heap each hold a ref.
//  - where() is the source location that scheduled it; traces and task dumps
//    use it to say what ran.
//  - call_later / call_at return a TimerHandleRef: a HandleRef (it converts
//    to one, so code that keeps a HandleRef is unchanged) that also offers
//    when(), the deadline, as asyncio.TimerHandle.when(). when() of an empty
//    TimerHandleRef raises InvalidStateError.
#pragma once

#include <chrono>
#include <cstdint>
#include <source_location>
#include <string>
#include <utility>

#include <simloop/detail/small_alloc.hpp>

namespace simloop {

class EventLoop;
namespace detail {
class FutureBase;
}

// Virtual or real time, always integer nanoseconds.
using Duration = std::chrono::nanoseconds;

class Handle : public detail::Pooled {
 public:
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  virtual ~Handle() = default;

  void cancel() noexcept {
    if (cancelled_) return;
    cancelled_ = true;
    on_cancel();
  }
  bool cancelled() const noexcept { return cancelled_; }
  // A TimerHandle (without a dynamic_cast: observers ask for every callback).
  bool is_timer() const noexcept { return timer_; }
  const std::source_location& where() const noexcept { return where_; }
  // One line saying what this handle runs, e.g. "callback at foo.cpp:12" or "step of Task-3".
  virtual std::string describe() const;

  void add_ref() noexcept {
    if (refs_++ == 0 && embedded_) on_first_ref();
  }
  void release() noexcept {
    if (--refs_ == 0) on_last_ref();
  }

 protected:
  explicit Handle(std::source_location where) noexcept : where_(where) {}
  // An embedded handle calls this in its constructor; on_first_ref() is only
  // called for such handles (it saves an indirect call per call_soon).
  void set_embedded() noexcept { embedded_ = true; }
  void set_timer() noexcept { timer_ = true; }

  virtual void run() = 0;
  // A handle embedded in another object (a task's step) forwards its
  // lifetime to the owner through these two; a free-standing one deletes itself.
  virtual void on_first_ref() noexcept {}
  virtual void on_last_ref() noexcept { delete this; }
  virtual void on_cancel() noexcept {}
  // Called when the future this handle is a done-callback of completes,
  // just before the handle is queued.
  virtual void on_future_done(detail::FutureBase* future) noexcept { (void)future; }

 private:
  friend class EventLoop;
  friend class detail::FutureBase;
  std::source_location where_;
  std::uint32_t refs_ = 0;
  bool cancelled_ = false;
  bool embedded_ = false;
  bool timer_ = false;
};

// Owning pointer to a Handle.
class HandleRef {
 public:
  HandleRef() noexcept = default;
  explicit HandleRef(Handle* h) noexcept : h_(h) {
    if (h_ != nullptr) h_->add_ref();
  }
  HandleRef(const HandleRef& o) noexcept : HandleRef(o.h_) {}
  HandleRef(HandleRef&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  HandleRef& operator=(HandleRef o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~HandleRef() {
    if (h_ != nullptr) h_->release();
  }
  Handle* get() const noexcept { return h_; }
  Handle* operator->() const noexcept { return h_; }
  Handle& operator*() const noexcept { return *h_; }
  explicit operator bool() const noexcept { return h_ != nullptr; }
  // Hands the reference over to the caller, who must release() it.
  Handle* detach() noexcept { return std::exchange(h_, nullptr); }
  void cancel() const noexcept {
    if (h_ != nullptr) h_->cancel();
  }
  bool cancelled() const noexcept { return h_ != nullptr && h_->cancelled(); }
  friend bool operator==(const HandleRef& a, const HandleRef& b) noexcept { return a.h_ == b.h_; }

 private:
  Handle* h_ = nullptr;
};

// A handle with a deadline. Timers fire in (deadline, sequence) order: ties
// fire in arming order (DESIGN.md §1 explains the difference from CPython).
class TimerHandle : public Handle {
 public:
  Duration when() const noexcept { return when_; }
  std::uint64_t sequence() const noexcept { return sequence_; }
  std::string describe() const override;

 protected:
  TimerHandle(EventLoop& loop, Duration when, std::source_location where) noexcept
      : Handle(where), loop_(&loop), when_(when) {
    set_timer();
  }
  void on_cancel() noexcept override;

 private:
  friend class EventLoop;
  EventLoop* loop_;
  Duration when_;
  std::uint64_t sequence_ = 0;
  bool in_heap_ = false;
};

namespace detail {
// Raises InvalidStateError: `operation` was used on an empty TimerHandleRef.
[[noreturn]] void raise_empty_timer_handle(const char* operation);
}  // namespace detail

// Owning pointer to a TimerHandle, as call_later / call_at return it: a
// HandleRef (cancel(), cancelled(), comparison, conversion to HandleRef)
// that also gives the timer's deadline.
class TimerHandleRef : public HandleRef {
 public:
  TimerHandleRef() noexcept = default;
  explicit TimerHandleRef(TimerHandle* h) noexcept : HandleRef(h) {}
  TimerHandle* get() const noexcept { return static_cast<TimerHandle*>(HandleRef::get()); }
  TimerHandle* operator->() const noexcept { return get(); }
  TimerHandle& operator*() const noexcept { return *get(); }
  // Hands the reference over to the caller, who must release() it.
  TimerHandle* detach() noexcept { return static_cast<TimerHandle*>(HandleRef::detach()); }
  // asyncio.TimerHandle.when(): the loop time the callback is due at (the
  // call_at deadline, or time() + delay for call_later). Raises
  // InvalidStateError for an empty handle.
  Duration when() const {
    if (get() == nullptr) [[unlikely]]
      detail::raise_empty_timer_handle("TimerHandleRef::when()");
    return get()->when();
  }
};

namespace detail {

template <class F>
class CallbackHandle final : public Handle {
 public:
  CallbackHandle(F&& fn, std::source_location where) : Handle(where), fn_(std::move(fn)) {}

 private:
  void run() override { fn_(); }
  F fn_;
};

template <class F>
class TimerCallbackHandle final : public TimerHandle {
 public:
  TimerCallbackHandle(EventLoop& loop, Duration when, F&& fn, std::source_location where)
      : TimerHandle(loop, when, where), fn_(std::move(fn)) {}

 private:
  void run() override { fn_(); }
  F fn_;
};

}  // namespace detail
}  // namespace simloop
