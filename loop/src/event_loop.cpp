#include <simloop/detail/source_path.hpp>
#include <simloop/event_loop.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>

#include <fmt/format.h>

#include <simloop/task.hpp>

namespace simloop {

namespace {

using detail::t_running_loop;

// Timers are ordered by (deadline, sequence): a min-heap through std::*_heap.
struct TimerLater {
  template <class E>
  bool operator()(const E& a, const E& b) const noexcept {
    if (a.when != b.when) return a.when > b.when;
    return a.sequence > b.sequence;
  }
};

// A selector for loops without I/O: it only waits (really) for the timeout,
// and can be woken from another thread.
class SleepingSelector final : public Selector {
 public:
  void select(std::optional<Duration> timeout, std::vector<HandleRef>&) override {
    std::unique_lock lock(mutex_);
    if (timeout) {
      woken_.wait_for(lock, *timeout, [this] { return wake_; });
    } else {
      woken_.wait(lock, [this] { return wake_; });
    }
    wake_ = false;
  }
  bool quiescent() const override { return false; }
  void wakeup() noexcept override {
    std::lock_guard lock(mutex_);
    wake_ = true;
    woken_.notify_one();
  }
  void add_reader(int fd, HandleRef) override { refuse(fd); }
  bool remove_reader(int) override { return false; }
  void add_writer(int fd, HandleRef) override { refuse(fd); }
  bool remove_writer(int) override { return false; }

 private:
  [[noreturn]] static void refuse(int fd) {
    throw Error(fmt::format("add_reader/add_writer(fd={}): this loop has no I/O selector; build it with one", fd));
  }
  std::mutex mutex_;
  std::condition_variable woken_;
  bool wake_ = false;
};

}  // namespace

// ---- Handle ----------------------------------------------------------------

std::string Handle::describe() const {
  return fmt::format("callback at {}:{}", detail::display_file(where_.file_name()), where_.line());
}

std::string TimerHandle::describe() const {
  return fmt::format("timer (due {}ns) at {}:{}", when_.count(), detail::display_file(where().file_name()),
                     where().line());
}

void TimerHandle::on_cancel() noexcept {
  if (in_heap_) loop_->timer_cancelled();
}

void detail::raise_empty_timer_handle(const char* operation) {
  throw InvalidStateError(fmt::format("{}: the timer handle is empty (default-constructed or moved from)", operation));
}

const char* to_string(ChoiceKind kind) noexcept {
  switch (kind) {
    case ChoiceKind::ReadyOrder: return "ready_order";
    case ChoiceKind::CallbackCost: return "callback_cost";
    case ChoiceKind::TimerTie: return "timer_tie";
    case ChoiceKind::ExternalOrder: return "external_order";
    case ChoiceKind::ExternalDelay: return "external_delay";
    case ChoiceKind::Test: return "test";
    case ChoiceKind::Buggify: return "buggify";
    case ChoiceKind::Cancel: return "cancel";
    case ChoiceKind::Io: return "io";
    case ChoiceKind::Executor: return "executor";
    case ChoiceKind::CancelVictim: return "cancel_victim";
  }
  return "unknown";
}

const char* to_string(Injection kind) noexcept {
  switch (kind) {
    case Injection::Suspend: return "suspend";
    case Injection::Granted: return "granted";
    case Injection::Callback: return "callback";
    case Injection::Timer: return "timer";
  }
  return "unknown";
}

// ---- SteadyClock -------------------------------------------------------------

SteadyClock::SteadyClock()
    : origin_(std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now().time_since_epoch())) {}

Duration SteadyClock::now() const noexcept {
  return std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now().time_since_epoch()) - origin_;
}

// ---- EventLoop ---------------------------------------------------------------

namespace {
// The last loop id handed out. Relaxed: uniqueness needs only the atomicity
// of the increment, and no other memory is published through it.
std::atomic<std::uint64_t> g_last_loop_id{0};
}  // namespace

EventLoop::EventLoop(LoopParts parts)
    : id_(g_last_loop_id.fetch_add(1, std::memory_order_relaxed) + 1),
      clock_(std::move(parts.clock)),
      selector_(std::move(parts.selector)),
      executor_(std::move(parts.executor)),
      scheduler_(std::move(parts.scheduler)) {
  if (!clock_) clock_ = std::make_unique<SteadyClock>();
  if (!selector_) selector_ = std::make_unique<SleepingSelector>();
  if (!scheduler_) scheduler_ = std::make_unique<FifoScheduler>();
  points_ = scheduler_->points();
  watched_.prev = watched_.next = &watched_;
  selector_->attach(*this);
  if (executor_) executor_->attach(*this);
}

EventLoop::~EventLoop() {
  if (running_) {
    std::fputs("simloop: an EventLoop was destroyed while running; this is a bug in the caller\n", stderr);
  }
  running_ = false;
  close();
  // Primitives that outlive the loop must not unlink from a dead list.
  unwatch_all();
}

EventLoop& EventLoop::running_or_throw(const char* what) {
  if (t_running_loop == nullptr) {
    throw NoRunningTaskError(
        fmt::format("{}: no event loop is running in this thread; call it from a coroutine run by a loop", what));
  }
  return *t_running_loop;
}

void EventLoop::raise_closed(const char* what) {
  throw LoopClosedError(fmt::format("{}: the event loop is closed", what));
}

void EventLoop::push_timer_to_heap(TimerHandle* t) {
  t->add_ref();
  t->sequence_ = timer_sequence_++;
  t->in_heap_ = true;
  timers_.push_back({t->when_, t->sequence_, t});
  std::push_heap(timers_.begin(), timers_.end(), TimerLater{});
}

std::optional<Duration> EventLoop::next_timer() const noexcept {
  // The heap top may be a cancelled timer; scan for the earliest live one.
  std::optional<Duration> best;
  for (const TimerEntry& e : timers_) {
    if (!e.timer->cancelled() && (!best || e.when < *best)) best = e.when;
  }
  return best;
}

void EventLoop::drop_cancelled_timers() {
  // CPython's rule: rebuild the heap when more than half of over 100 timers are cancelled.
  constexpr std::size_t kMinScheduledForRebuild = 100;
  if (timers_.size() > kMinScheduledForRebuild && cancelled_timers_ * 2 > timers_.size()) {
    std::vector<TimerEntry> live;
    live.reserve(timers_.size() - cancelled_timers_);
    for (const TimerEntry& e : timers_) {
      if (e.timer->cancelled()) {
        e.timer->in_heap_ = false;
        e.timer->release();
      } else {
        live.push_back(e);
      }
    }
    timers_ = std::move(live);
    std::make_heap(timers_.begin(), timers_.end(), TimerLater{});
    cancelled_timers_ = 0;
    return;
  }
  while (!timers_.empty() && timers_.front().timer->cancelled()) {
    std::pop_heap(timers_.begin(), timers_.end(), TimerLater{});
    TimerHandle* t = timers_.back().timer;
    timers_.pop_back();
    t->in_heap_ = false;
    --cancelled_timers_;
    t->release();
  }
}

void EventLoop::move_due_timers() {
  if (timers_.empty()) return;
  const Duration now = clock_->now();
  std::size_t first_new = ready_.size();
  while (!timers_.empty() && timers_.front().when <= now) {
    std::pop_heap(timers_.begin(), timers_.end(), TimerLater{});
    TimerHandle* t = timers_.back().timer;
    timers_.pop_back();
    t->in_heap_ = false;
    if (t->cancelled()) {
      --cancelled_timers_;
      t->release();
      continue;
    }
    ready_.push_back(t);  // the heap's reference moves to the ready queue
  }
  if (!tied_cancels_.empty()) queue_tied_cancels(first_new);
  if (!points_.timer_ties) return;
  // Timers due at the same instant: their relative order is a choice.
  std::vector<Handle*> group;
  std::size_t i = first_new;
  while (i < ready_.size()) {
    std::size_t j = i + 1;
    const Duration when = static_cast<TimerHandle*>(ready_[i])->when();
    while (j < ready_.size() && static_cast<TimerHandle*>(ready_[j])->when() == when) ++j;
    if (j - i > 1) {
      group.clear();
      for (std::size_t k = i; k < j; ++k) group.push_back(ready_[k]);
      for (std::size_t k = i; k < j; ++k) {
        std::size_t pick = scheduler_->pick(ChoiceKind::TimerTie, group);
        ready_[k] = group[pick];
        group.erase(group.begin() + static_cast<std::ptrdiff_t>(pick));
      }
    }
    i = j;
  }
}

void EventLoop::enqueue_threadsafe(Handle* h) {
  h->add_ref();
  {
    std::lock_guard lock(threadsafe_mutex_);
    if (closed_) {
      h->release();
      throw LoopClosedError("call_soon_threadsafe: the event loop is closed");
    }
    threadsafe_.push_back(h);
    threadsafe_pending_.store(true, std::memory_order_release);
  }
  selector_->wakeup();
}

void EventLoop::drain_threadsafe() {
  // Unlocked look first: a write that lands after it also wakes the
  // selector, so the next iteration sees it.
  if (!threadsafe_pending_.load(std::memory_order_acquire)) return;
  std::vector<Handle*> arrived;
  {
    std::lock_guard lock(threadsafe_mutex_);
    if (!threadsafe_pending_.load(std::memory_order_relaxed)) return;
    arrived.swap(threadsafe_);
    threadsafe_pending_.store(false, std::memory_order_relaxed);
  }
  // Thread-safe calls arrived before the select returned: they go first, as
  // in asyncio where call_soon_threadsafe appends to the ready queue at once.
  std::vector<HandleRef> refs;
  refs.reserve(arrived.size() + io_events_.size());
  for (Handle* h : arrived) {
    refs.emplace_back(h);
    h->release();
  }
  for (HandleRef& h : io_events_) refs.push_back(std::move(h));
  io_events_.swap(refs);
}

bool EventLoop::quiescent() const {
  if (!selector_->quiescent()) return false;
  if (executor_ && executor_->outstanding() > 0) return false;
  std::lock_guard lock(const_cast<std::mutex&>(threadsafe_mutex_));
  return !threadsafe_pending_;
}

void EventLoop::raise_deadlock() {
  // A lost wakeup usually ends here: say which primitive lost it.
  std::string lost;
  for (const LostWakeup& w : lost_wakeups()) lost += fmt::format("  {}\n", w.describe());
  if (!lost.empty()) lost = "Lost wakeups (a primitive could admit a task parked on it):\n" + lost;
  throw DeadlockError(fmt::format(
      "deadlock at virtual time {}ns: nothing is ready, no timer is armed and no external event can arrive, "
      "but run_until_complete's future is not done. Pending tasks:\n{}{}",
      clock_->now().count(), dump_tasks(), lost));
}

void EventLoop::run_once() {
  // run_once may be called directly (tests, tools): the loop is the running
  // one while it iterates, as inside run_forever.
  struct RunningHere {
    bool set = false;
    explicit RunningHere(EventLoop* loop) {
      if (t_running_loop == loop) return;
      if (t_running_loop != nullptr) {
        throw LoopRunningError("run_once: another event loop is running in this thread; run loops one at a time");
      }
      t_running_loop = loop;
      set = true;
    }
    ~RunningHere() {
      if (set) t_running_loop = nullptr;
    }
  } running_here(this);
  check_open("run_once");
  halting_ = false;  // halt() ends the iteration it is called in, not this one
  ++iterations_;
  drop_cancelled_timers_if_any();
  if (ready_.empty() && observer_ != nullptr) observer_->on_idle(*this);

  std::optional<Duration> timeout;
  if (!ready_.empty() || stopping_ || !held_external_.empty()) {
    timeout = Duration{0};
  } else if (!timers_.empty()) {
    timeout = std::max(Duration{0}, timers_.front().when - clock_->now());
  }
  if (!timeout && quiescent()) raise_deadlock();

  io_events_.clear();
  selector_->select(timeout, io_events_);
  drain_threadsafe();
  if (points_.external_events) {
    queue_external_events();
  } else {
    for (HandleRef& h : io_events_) enqueue(h.get());
  }
  io_events_.clear();

  move_due_timers();
  run_ready_batch();
}

void EventLoop::queue_external_events() {
  if (held_external_.empty() && io_events_.empty()) return;
  // Held-back events whose delay has run out arrived earlier: they come first.
  std::vector<HandleRef> pending;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < held_external_.size(); ++i) {
    auto& entry = held_external_[i];
    if (--entry.first == 0) {
      pending.push_back(std::move(entry.second));
    } else {
      held_external_[kept++] = std::move(entry);
    }
  }
  held_external_.resize(kept);
  // Each new arrival may be held back some iterations: a choice.
  for (HandleRef& h : io_events_) {
    const std::uint32_t delay = scheduler_->external_delay();
    if (delay > 0) {
      held_external_.emplace_back(delay, std::move(h));
    } else {
      pending.push_back(std::move(h));
    }
  }
  // Events queued together: their order is a choice.
  if (pending.size() < 2) {
    for (HandleRef& h : pending) enqueue(h.get());
    return;
  }
  std::vector<Handle*> left;
  left.reserve(pending.size());
  for (HandleRef& h : pending) left.push_back(h.get());
  while (!left.empty()) {
    const std::size_t pick = left.size() > 1 ? scheduler_->pick(ChoiceKind::ExternalOrder, left) : 0;
    enqueue(left[pick]);
    left.erase(left.begin() + static_cast<std::ptrdiff_t>(pick));
  }
}

void EventLoop::run_ready_batch() {
  // Exactly the handles ready now; what they schedule waits for the next iteration.
  const std::size_t ntodo = ready_.size();
  const bool offer = points_.injects(Injection::Callback);
  if (!points_.ready_order || ntodo < 2) {
    for (std::size_t i = 0; i < ntodo && !halting_; ++i) {
      if (offer) [[unlikely]]
        offer_callback_injection();
      run_handle(ready_.pop_front());
    }
    return;
  }
  std::vector<Handle*> batch;
  for (std::size_t left = ntodo; left > 0 && !halting_; --left) {
    if (offer) [[unlikely]]
      offer_callback_injection();
    std::size_t pick = 0;
    if (left > 1) {
      batch.clear();
      for (std::size_t k = 0; k < left; ++k) batch.push_back(ready_[k]);
      pick = scheduler_->pick(ChoiceKind::ReadyOrder, batch);
    }
    run_handle(ready_.take(pick));
  }
}

// ---- seeded cancellation injection ------------------------------------------------

void EventLoop::inject_cancel(detail::TaskBase& victim, Injection kind, std::string where) {
  InjectedCancel& record = injected_.emplace_back();
  record.kind = kind;
  record.task_id = victim.id();
  record.task = victim.name();
  record.where = std::move(where);
  record.step = steps_;
  record.time = clock_->now();
  if (observer_ != nullptr) observer_->on_injected_cancel(*this, record);
  victim.request_cancel(fmt::format("injected by simloop's seeded cancellation ({})", to_string(kind)));
}

void EventLoop::offer_callback_injection() {
  // As loop.call_soon(task.cancel) queued earlier would: the cancel runs
  // between two callbacks, not inside any task's step.
  if (!scheduler_->inject_cancel(Injection::Callback, 0)) return;
  std::vector<std::uint64_t> ids;
  std::vector<detail::TaskBase*> tasks;
  for (detail::TaskBase* t = tasks_head_; t != nullptr; t = t->next_) {
    if (t->future().done()) continue;
    ids.push_back(t->id());
    tasks.push_back(t);
  }
  const std::size_t victim = scheduler_->injection_victim(ids);
  if (victim >= tasks.size()) return;
  std::string where = ready_.empty() ? std::string("between two callbacks")
                                     : fmt::format("between two callbacks, before {}", ready_[0]->describe());
  inject_cancel(*tasks[victim], Injection::Callback, std::move(where));
}

void EventLoop::offer_timer_injection(const TimerHandle& t) {
  detail::TaskBase& task = *current_task_;
  if (!scheduler_->inject_cancel(Injection::Timer, task.id())) return;
  tied_cancels_.emplace_back(t.sequence(), task.id());
}

void EventLoop::queue_tied_cancels(std::size_t first_due) {
  // A tied cancel is a timer armed for the same instant right after the one
  // it is tied with: it follows it in natural order, and the tie choice
  // (when both fire in one iteration) may put it first.
  for (std::size_t i = first_due; i < ready_.size(); ++i) {
    auto* timer = static_cast<TimerHandle*>(ready_[i]);
    auto tied = std::find_if(tied_cancels_.begin(), tied_cancels_.end(),
                             [&](const auto& entry) { return entry.first == timer->sequence(); });
    if (tied == tied_cancels_.end()) continue;
    const std::uint64_t task_id = tied->second;
    tied_cancels_.erase(tied);
    std::string where = fmt::format("tied with the timer due at t={}ns armed at {}:{}", timer->when().count(),
                                    detail::display_file(timer->where().file_name()), timer->where().line());
    auto cancel = [this, task_id, where = std::move(where)]() mutable {
      for (detail::TaskBase* t = tasks_head_; t != nullptr; t = t->next_) {
        if (t->id() != task_id) continue;
        if (!t->future().done()) inject_cancel(*t, Injection::Timer, std::move(where));
        return;
      }
    };
    auto* h = new detail::TimerCallbackHandle<decltype(cancel)>(*this, timer->when(), std::move(cancel),
                                                                std::source_location::current());
    h->add_ref();
    ready_.insert_at(i + 1, h);
    ++i;
  }
}

void EventLoop::run_handle(Handle* h) {
  if (h->cancelled()) {
    h->release();
    return;
  }
  ++steps_;
  if (observer_ != nullptr) observer_->before_callback(*this, *h, steps_);
  try {
    h->run();
  } catch (...) {
    // asyncio's Handle._run: anything escaping a callback goes to the handler
    // (a CancelledError included: it is reported there, not lost).
    call_exception_handler({"Exception in callback", std::current_exception(), h->describe()});
  }
  if (observer_ != nullptr) observer_->after_callback(*this, *h, steps_);
  if (points_.callback_cost) {
    Duration cost = scheduler_->callback_cost();
    if (cost > Duration{0}) clock_->advance(cost);
  }
  h->release();
}

void EventLoop::run_forever() {
  check_open("run_forever");
  if (running_) throw LoopRunningError("run_forever: this event loop is already running");
  if (t_running_loop != nullptr) {
    throw LoopRunningError("run_forever: another event loop is running in this thread; run loops one at a time");
  }
  struct Running {
    EventLoop& loop;
    explicit Running(EventLoop& l) : loop(l) {
      loop.running_ = true;
      t_running_loop = &loop;
    }
    ~Running() {
      loop.running_ = false;
      loop.stopping_ = false;
      loop.halting_ = false;
      t_running_loop = nullptr;
    }
  } running(*this);
  for (;;) {
    run_once();
    if (stopping_) break;
  }
}

void EventLoop::call_exception_handler(const ExceptionContext& context) {
  if (exception_handler_) {
    try {
      exception_handler_(*this, context);
      return;
    } catch (...) {
      // A failing handler must not kill the loop: report both the
      // original error and the handler's own through the default handler.
      default_exception_handler(*this,
                                {"Unhandled error in exception handler", std::current_exception(), context.source});
    }
  }
  default_exception_handler(*this, context);
}

void EventLoop::default_exception_handler(EventLoop& loop, const ExceptionContext& context) {
  const std::string what = context.exception ? describe_exception(context.exception) : std::string();
  std::string line = fmt::format("simloop [t={}ns]: {}", loop.time().count(), context.message);
  if (!context.source.empty()) line += fmt::format("\n  source: {}", context.source);
  if (!what.empty()) line += fmt::format("\n  exception: {}", what);
  line += '\n';
  std::fputs(line.c_str(), stderr);
}

void EventLoop::register_task(detail::TaskBase* task) noexcept {
  task->future().add_ref();
  task->id_ = ++tasks_created_;
  task->prev_ = tasks_tail_;
  task->next_ = nullptr;
  if (tasks_tail_ != nullptr) {
    tasks_tail_->next_ = task;
  } else {
    tasks_head_ = task;
  }
  tasks_tail_ = task;
}

void EventLoop::unregister_task(detail::TaskBase* task) noexcept {
  if (task->prev_ != nullptr) {
    task->prev_->next_ = task->next_;
  } else {
    tasks_head_ = task->next_;
  }
  if (task->next_ != nullptr) {
    task->next_->prev_ = task->prev_;
  } else {
    tasks_tail_ = task->prev_;
  }
  task->prev_ = task->next_ = nullptr;
  task->future().release();
}

void EventLoop::destroy_kept() noexcept {
  std::vector<std::unique_ptr<KeptBase>> kept;
  kept.swap(kept_);
  while (!kept.empty()) kept.pop_back();
}

std::string EventLoop::dump_tasks() const {
  std::string out;
  for (detail::TaskBase* t = tasks_head_; t != nullptr; t = t->next_) {
    out += "  ";
    out += t->task_repr();
    out += '\n';
  }
  if (out.empty()) out = "  (no pending task)\n";
  return out;
}

void EventLoop::close() {
  if (running_) throw LoopRunningError("close: cannot close a running event loop; call stop() and let it return first");
  if (closed_) return;
  // Destroying frames runs destructors that may schedule more work or even
  // create tasks; repeat until nothing is left, then refuse new work.
  while (tasks_head_ != nullptr || !ready_.empty() || !timers_.empty() || !kept_.empty()) {
    std::vector<detail::TaskBase*> pending;
    for (detail::TaskBase* t = tasks_head_; t != nullptr; t = t->next_) {
      t->future().add_ref();
      pending.push_back(t);
    }
    for (detail::TaskBase* t : pending) {
      if (!t->frame_destroyed_) {
        call_exception_handler({"Task was destroyed but it is pending!", nullptr, t->task_repr()});
      }
    }
    // Newest first: a task's frame may point at the frame of the task that
    // created it (its parent's locals), never the other way round.
    for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
      if (!(*it)->frame_destroyed_) (*it)->destroy_pending();
    }
    for (detail::TaskBase* t : pending) {
      if (t->prev_ != nullptr || tasks_head_ == t) unregister_task(t);
      t->future().release();
    }
    while (!ready_.empty()) ready_.pop_front()->release();
    std::vector<TimerEntry> timers;
    timers.swap(timers_);
    cancelled_timers_ = 0;
    for (const TimerEntry& e : timers) {
      e.timer->in_heap_ = false;
      e.timer->release();
    }
    // Kept state goes only once no frame can point at it.
    if (tasks_head_ == nullptr && ready_.empty() && timers_.empty()) destroy_kept();
  }
  held_external_.clear();
  std::vector<Handle*> threadsafe;
  {
    std::lock_guard lock(threadsafe_mutex_);
    closed_ = true;
    threadsafe.swap(threadsafe_);
    threadsafe_pending_ = false;
  }
  for (Handle* h : threadsafe) h->release();
  if (executor_) executor_->shutdown();
}

}  // namespace simloop
