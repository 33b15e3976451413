// EventLoop: asyncio's event loop, on any clock, selector, executor and scheduler.
//
// Contract (CPython's base_events.py, with DESIGN.md §1's timer-tie rule):
//  - run_once() is the only place where callbacks are called. One iteration:
//      1. drop cancelled timers (lazily; the heap is rebuilt when most are cancelled);
//      2. timeout = 0 if anything is ready, an external event is held back
//         or a stop is pending, else the time to the earliest timer, else none;
//      3. select(timeout) and queue the callbacks of ready I/O and of
//         call_soon_threadsafe (a virtual clock jumps instead of sleeping);
//         under a scheduler with external_events on, each may be held back
//         some iterations, and those queued together are ordered by it;
//      4. queue every due timer, in (deadline, sequence) order;
//      5. run exactly the handles that were ready when step 5 began; handles
//         they schedule wait for the next iteration.
//    Every seeded decision (the Scheduler) is taken here and nowhere else.
//  - call_soon is FIFO. An exception escaping a callback goes to the exception
//    handler with its context; it never stops the loop.
//  - stop() lets the current iteration finish, then run_forever returns.
//    halt() (simloop's own) ends the iteration after the callback running
//    now: the rest of the batch stays queued and never runs unless the loop
//    is run again. The runner halts the instant the scenario finishes, so no
//    task runs after the scenario's locals are gone.
//  - close() refuses further work, reports every pending task (creation
//    order, as asyncio's "Task was destroyed but it is pending!"), destroys
//    their coroutine frames newest first (a child's frame goes before the
//    frame of the task that made it, as locals unwind), drops queued handles
//    and timers, then destroys what keep() holds (newest first), and shuts
//    the executor down. The destructor closes a loop that is still open.
//  - keep<T>(args...) makes a T that lives until close() has destroyed every
//    task frame: state that tasks point at and that must outlive the
//    coroutine that made it (docs/loop.md, "Lifetimes").
//  - Futures and tasks must not outlive the EventLoop object they belong to
//    (they may outlive close()).
//  - One step of a task may resume its coroutines synchronously at most
//    max_sync_resumes() times (default 10'000'000; 0: no limit). A
//    synchronous resumption is a co_await that goes on without suspending
//    the task: of a Coro, of a future or task already done, of any other
//    awaitable but sleep(). The next one raises SyncResumeBudgetError at its
//    co_await, as any exception raised there (the task fails with it unless
//    caught), and so does each further max_sync_resumes() ones in the step.
//    The count is the task's own code path, so it is deterministic; it is no
//    seeded decision. set_max_sync_resumes takes effect at the next step.
//  - lost_wakeups() is the liveness check of simloop's own primitives (Lock,
//    Event, Semaphore, BoundedSemaphore and the queues; docs/primitives.md,
//    "Liveness"): each primitive that could admit a task parked on it. A
//    primitive joins the loop's list when it first parks a task (the list is
//    in that order), and leaves it when destroyed; primitives outliving the
//    loop are let go when it is destroyed. raise_deadlock's DeadlockError
//    names what lost_wakeups() finds, and LoopObserver::on_idle runs at the
//    start of every iteration that finds nothing ready.
//  - id() is unique in the process: each loop takes the next value of one
//    process-wide counter, so a loop built where a destroyed one lived has
//    another id. Ids are never reused (64 bits do not wrap) and are part of
//    no seeded decision: they differ between runs of one seed, and nothing
//    a run prints or records depends on them.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <source_location>
#include <string>
#include <type_traits>
#include <vector>

#include <simloop/clock.hpp>
#include <simloop/detail/ring.hpp>
#include <simloop/errors.hpp>
#include <simloop/executor.hpp>
#include <simloop/handle.hpp>
#include <simloop/scheduler.hpp>
#include <simloop/selector.hpp>

namespace simloop {

namespace detail {
class FutureBase;
class TaskBase;
class Watched;
// A node of a loop's circular list of watched primitives (the loop holds
// the sentinel). Unlinked: both null.
struct WatchLink {
  WatchLink* prev = nullptr;
  WatchLink* next = nullptr;
};
// The loop running on this thread (EventLoop::running()). Constant-initialized
// and trivially destructible, so reading it is a plain thread-local load.
inline thread_local EventLoop* t_running_loop = nullptr;
// The counted co_awaits a step may make under max_sync_resumes() == limit
// (EventLoop's contract): `limit`, or for 0 (and past 2^63 - 1) more than
// can ever happen.
constexpr std::int64_t sync_resume_budget(std::uint64_t limit) noexcept {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(limit != 0 && limit < kMax ? limit : kMax);
}
}  // namespace detail

template <class T>
class Coro;
template <class T>
class Future;
template <class T>
class Task;

// What the exception handler receives (asyncio's context dict).
struct ExceptionContext {
  std::string message;           // what happened, e.g. "Exception in callback"
  std::exception_ptr exception;  // may be null
  std::string source;            // the handle, future or task concerned
};
using ExceptionHandler = std::function<void(EventLoop&, const ExceptionContext&)>;

// A cancellation that seeded injection made (Scheduler::inject_cancel):
// failure reports and timelines name each one.
struct InjectedCancel {
  Injection kind = Injection::Suspend;
  std::uint64_t task_id = 0;
  std::string task;        // the victim's name
  std::string where;       // what the victim was at: its await, the future that completed, ...
  std::uint64_t step = 0;  // callbacks run before it (the step it happened in, if one was running)
  Duration time{0};
};

// Watches the loop run (traces, recorders, digests). Called on the loop thread.
class LoopObserver {
 public:
  virtual ~LoopObserver() = default;
  // Just before run_once calls `handle`; `step` counts handles run by this loop.
  virtual void before_callback(const EventLoop& loop, const Handle& handle, std::uint64_t step) = 0;
  virtual void after_callback(const EventLoop& loop, const Handle& handle, std::uint64_t step) = 0;
  // Seeded injection has just cancelled a task.
  virtual void on_injected_cancel(const EventLoop& loop, const InjectedCancel& injected) { (void)loop, (void)injected; }
  // At the start of an iteration that finds nothing ready (the loop is about
  // to wait for a timer or an external event, or would deadlock): no wakeup
  // is queued. It may stop() or halt() the loop.
  virtual void on_idle(EventLoop& loop) { (void)loop; }
};

// A primitive that could admit a task parked on it, which nothing will wake
// (EventLoop::lost_wakeups()).
struct LostWakeup {
  std::string primitive;           // kind and where it was made: "Lock created at tests/x.cpp:12"
  std::string state;               // its repr, e.g. "<Lock [unlocked, waiters:1]>"
  std::string reason;              // e.g. "it is free, yet acquirers are parked on it"
  std::vector<std::string> tasks;  // the parked tasks' names, in the order they parked
  // One line: "<primitive> <state>: <reason>; parked: 'a', 'b'".
  std::string describe() const;
};

// The four parts a loop is built from. Null parts get defaults: a steady
// clock, no I/O (a selector that only sleeps), no executor, FifoScheduler.
struct LoopParts {
  std::unique_ptr<Clock> clock;
  std::unique_ptr<Selector> selector;
  std::unique_ptr<Executor> executor;
  std::unique_ptr<Scheduler> scheduler;
};

class EventLoop {
 public:
  explicit EventLoop(LoopParts parts);
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  virtual ~EventLoop();

  // ---- scheduling callbacks -------------------------------------------------
  template <class F>
  HandleRef call_soon(F fn, std::source_location where = std::source_location::current()) {
    check_open("call_soon");
    auto* h = new detail::CallbackHandle<F>(std::move(fn), where);
    HandleRef ref(h);
    enqueue(h);
    return ref;
  }
  // asyncio's call_later / call_at: fn() runs once the loop time reaches the
  // deadline (time() + delay, or `when`). The handle's when() is that deadline.
  template <class F>
  TimerHandleRef call_later(Duration delay, F fn, std::source_location where = std::source_location::current()) {
    return call_at(time() + delay, std::move(fn), where);
  }
  template <class F>
  TimerHandleRef call_at(Duration when, F fn, std::source_location where = std::source_location::current()) {
    check_open("call_at");
    auto* h = new detail::TimerCallbackHandle<F>(*this, when, std::move(fn), where);
    TimerHandleRef ref(h);
    push_timer(h);
    return ref;
  }
  // May be called from any thread; wakes the loop's selector.
  template <class F>
  void call_soon_threadsafe(F fn, std::source_location where = std::source_location::current()) {
    enqueue_threadsafe(new detail::CallbackHandle<F>(std::move(fn), where));
  }
  // Arms an existing timer (it gains a reference). Used by sleep.
  void schedule_timer(TimerHandle* t) {
    check_open("call_at");
    push_timer(t);
  }
  // Queues an existing handle (it gains a reference). Used by futures and tasks.
  void enqueue(Handle* h) {
    h->add_ref();
    ready_.push_back(h);
  }

  // ---- I/O readiness (asyncio's add_reader / add_writer) ----------------------
  // fn() is called (through the ready queue) each time `fd` is readable /
  // writable, until removed; adding one for an fd that has one replaces it.
  // remove_* cancels the callback (a queued run is skipped) and says whether
  // one was registered. `fd` is a file descriptor, or a simulated endpoint's
  // id under a FakeSelector.
  template <class F>
  void add_reader(int fd, F fn, std::source_location where = std::source_location::current()) {
    check_open("add_reader");
    selector_->add_reader(fd, HandleRef(new detail::CallbackHandle<F>(std::move(fn), where)));
  }
  template <class F>
  void add_writer(int fd, F fn, std::source_location where = std::source_location::current()) {
    check_open("add_writer");
    selector_->add_writer(fd, HandleRef(new detail::CallbackHandle<F>(std::move(fn), where)));
  }
  bool remove_reader(int fd) { return selector_->remove_reader(fd); }
  bool remove_writer(int fd) { return selector_->remove_writer(fd); }

  // ---- blocking work (asyncio's run_in_executor; defined in future.hpp) -------
  // Runs fn() on the loop's executor and returns a future of its result, as
  // asyncio's _chain_future does: the job's completion reaches the loop
  // through call_soon_threadsafe; an exception in fn() finishes the future
  // with it; cancelling the future cancels the job if it has not started
  // (a running job runs to the end and its result is dropped).
  template <class F>
  auto run_in_executor(F fn) -> Future<std::invoke_result_t<F&>>;

  // ---- identity ---------------------------------------------------------------
  // This loop's process-unique id (see the contract), from 1 up.
  std::uint64_t id() const noexcept { return id_; }

  // ---- time -----------------------------------------------------------------
  // The loop's clock: virtual nanoseconds under simulation.
  Duration time() const noexcept { return clock_->now(); }
  Clock& clock() noexcept { return *clock_; }

  // ---- running --------------------------------------------------------------
  void run_forever();
  // Wraps the awaitable in a task, runs until it is done, returns its result
  // (defined in task.hpp).
  template <class T>
  T run_until_complete(Coro<T> coro);
  template <class T>
  T run_until_complete(Future<T> future);
  void stop() noexcept { stopping_ = true; }
  // Ends the current iteration after the running callback (see the contract).
  void halt() noexcept {
    stopping_ = true;
    halting_ = true;
  }
  void close();
  bool is_running() const noexcept { return running_; }
  bool is_closed() const noexcept { return closed_; }
  // One iteration (see the contract above). Public for tests and tools.
  void run_once();

  // ---- tasks ----------------------------------------------------------------
  template <class T>
  Task<T> create_task(Coro<T> coro, std::string name = {},
                      std::source_location where = std::source_location::current());  // task.hpp
  // The task whose step is running now, or null.
  detail::TaskBase* current_task_base() const noexcept { return current_task_; }
  // The synchronous resumptions one step may make (see the contract); 0: no limit.
  static constexpr std::uint64_t kDefaultMaxSyncResumes = 10'000'000;
  void set_max_sync_resumes(std::uint64_t limit) noexcept {
    max_sync_resumes_ = limit;
    sync_resume_budget_ = detail::sync_resume_budget(limit);
  }
  std::uint64_t max_sync_resumes() const noexcept { return max_sync_resumes_; }

  // ---- run-scoped state -------------------------------------------------------
  // A T built from args, alive until close() has destroyed every task frame
  // (then destroyed, newest first). The reference stays valid until then.
  template <class T, class... A>
  T& keep(A&&... args) {
    check_open("keep");
    auto holder = std::make_unique<Kept<T>>(std::forward<A>(args)...);
    T& value = holder->value;
    kept_.push_back(std::move(holder));
    return value;
  }

  // ---- errors ---------------------------------------------------------------
  void set_exception_handler(ExceptionHandler handler) { exception_handler_ = std::move(handler); }
  void call_exception_handler(const ExceptionContext& context);
  // The default handler: one line to stderr, plus the exception's text.
  static void default_exception_handler(EventLoop& loop, const ExceptionContext& context);

  // ---- parts and observation -----------------------------------------------
  Selector& selector() noexcept { return *selector_; }
  Executor* executor() noexcept { return executor_.get(); }
  Scheduler& scheduler() noexcept { return *scheduler_; }
  void set_observer(LoopObserver* observer) noexcept { observer_ = observer; }
  // When on, a task that caught a CancelledError and finished normally while
  // its cancel request still stood (cancelling() > 0: nobody called
  // uncancel()) is reported to the exception handler: the cancel was
  // swallowed, which timeout() and TaskGroup rely on never happening.
  void set_report_swallowed_cancel(bool on) noexcept { report_swallowed_cancel_ = on; }
  bool report_swallowed_cancel() const noexcept { return report_swallowed_cancel_; }
  // Handles run so far (the step number traces use) and iterations so far.
  std::uint64_t steps() const noexcept { return steps_; }
  std::uint64_t iterations() const noexcept { return iterations_; }
  std::size_t ready_count() const noexcept { return ready_.size(); }
  std::size_t timer_count() const noexcept { return timers_.size() - cancelled_timers_; }
  // The earliest live timer's deadline, if any.
  std::optional<Duration> next_timer() const noexcept;
  // The oldest pending task (follow TaskBase::next_pending() for the rest).
  detail::TaskBase* first_pending_task() const noexcept { return tasks_head_; }
  // Every pending task, one line each, like asyncio's Task repr.
  std::string dump_tasks() const;
  // Tasks created on this loop so far (names are "Task-<n>").
  std::uint64_t tasks_created() const noexcept { return tasks_created_; }
  // The cancellations seeded injection made so far, in order.
  const std::vector<InjectedCancel>& injected_cancels() const noexcept { return injected_; }
  // The liveness check (see the contract): every watched primitive that
  // could admit a task parked on it, in the order the primitives joined the
  // list. Empty while some pending task's step is scheduled: a wakeup in
  // flight may be the one that admits the parked task. It costs one look at
  // each watched primitive (and its waiters when it has any).
  std::vector<LostWakeup> lost_wakeups() const;

  // The loop running on this thread, or null (asyncio.get_running_loop()).
  static EventLoop* running() noexcept { return detail::t_running_loop; }
  // Like running(), but raises NoRunningTaskError naming `what` when none.
  static EventLoop& running_or_throw(const char* what);

 private:
  friend class TimerHandle;
  friend class detail::TaskBase;
  friend class detail::FutureBase;
  friend class detail::Watched;

  void drop_cancelled_timers_if_any() {
    if (cancelled_timers_ != 0) drop_cancelled_timers();
  }
  void check_open(const char* what) const {
    if (closed_) [[unlikely]]
      raise_closed(what);
  }
  [[noreturn]] static void raise_closed(const char* what);
  void push_timer(TimerHandle* t) {
    push_timer_to_heap(t);
    if (points_.injects(Injection::Timer) && current_task_ != nullptr) [[unlikely]]
      offer_timer_injection(*t);
  }
  void push_timer_to_heap(TimerHandle* t);
  // Seeded injection (Scheduler::inject_cancel): the opportunities the loop
  // itself offers, and the cancel they make.
  void offer_timer_injection(const TimerHandle& t);
  void queue_tied_cancels(std::size_t first_due);
  void offer_callback_injection();
  void inject_cancel(detail::TaskBase& victim, Injection kind, std::string where);
  void timer_cancelled() noexcept { ++cancelled_timers_; }
  void drop_cancelled_timers();
  void move_due_timers();
  void run_ready_batch();
  void run_handle(Handle* h);
  void enqueue_threadsafe(Handle* h);
  void drain_threadsafe();
  void queue_external_events();
  bool quiescent() const;
  [[noreturn]] void raise_deadlock();

  void register_task(detail::TaskBase* task) noexcept;
  void unregister_task(detail::TaskBase* task) noexcept;
  void destroy_kept() noexcept;
  void watch(detail::Watched& primitive) noexcept;
  void unwatch_all() noexcept;

  struct KeptBase {
    virtual ~KeptBase() = default;
  };
  // C++20 initializes aggregates from parentheses too (keep<Bank>(100)).
  template <class T>
  struct Kept final : KeptBase {
    template <class... A>
    explicit Kept(A&&... args) : value(std::forward<A>(args)...) {}
    T value;
  };

  const std::uint64_t id_;
  std::unique_ptr<Clock> clock_;
  std::unique_ptr<Selector> selector_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<Scheduler> scheduler_;
  ChoicePoints points_;

  detail::Ring<Handle*> ready_;  // each entry holds one reference
  // The timer heap's entries carry the sort key, so sifting compares
  // without touching the handles (a cache miss each in a large heap).
  struct TimerEntry {
    Duration when;
    std::uint64_t sequence;
    TimerHandle* timer;
  };
  std::vector<TimerEntry> timers_;  // min-heap on (when, sequence); each holds one reference
  std::size_t cancelled_timers_ = 0;
  std::uint64_t timer_sequence_ = 0;
  std::vector<HandleRef> io_events_;  // scratch for select()
  // External events held back by Scheduler::external_delay(), in arrival
  // order: (iterations left, handle).
  std::vector<std::pair<std::uint32_t, HandleRef>> held_external_;

  std::mutex threadsafe_mutex_;
  std::vector<Handle*> threadsafe_;  // guarded by threadsafe_mutex_
  // Written under threadsafe_mutex_; read without it by drain_threadsafe,
  // so an iteration with nothing from other threads takes no lock.
  std::atomic<bool> threadsafe_pending_ = false;

  detail::TaskBase* tasks_head_ = nullptr;  // pending tasks, in creation order
  detail::TaskBase* tasks_tail_ = nullptr;
  detail::TaskBase* current_task_ = nullptr;
  std::uint64_t tasks_created_ = 0;
  std::uint64_t max_sync_resumes_ = kDefaultMaxSyncResumes;
  std::int64_t sync_resume_budget_ = detail::sync_resume_budget(kDefaultMaxSyncResumes);  // what a step starts with

  std::vector<std::unique_ptr<KeptBase>> kept_;  // keep(): in order of making
  // The sentinel of the watched primitives' list, in the order they joined.
  detail::WatchLink watched_;

  // Injection tied with a timer: (the timer's sequence, the task to cancel
  // when it fires). At most the scheduler's budget of entries; those of
  // timers cancelled before firing stay, unused, until close().
  std::vector<std::pair<std::uint64_t, std::uint64_t>> tied_cancels_;
  std::vector<InjectedCancel> injected_;

  ExceptionHandler exception_handler_;
  LoopObserver* observer_ = nullptr;
  std::uint64_t steps_ = 0;
  std::uint64_t iterations_ = 0;
  bool report_swallowed_cancel_ = false;
  bool stopping_ = false;
  bool halting_ = false;
  bool running_ = false;
  bool closed_ = false;
};

}  // namespace simloop
