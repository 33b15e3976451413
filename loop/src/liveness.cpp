// The liveness check of simloop's own primitives (EventLoop::lost_wakeups()):
// the loop's list of watched primitives and the findings' text.
#include <simloop/awaitables.hpp>
#include <simloop/detail/source_path.hpp>
#include <simloop/event_loop.hpp>

#include <fmt/format.h>

#include <simloop/task.hpp>

namespace simloop {

std::string LostWakeup::describe() const {
  std::string out = fmt::format("{} {}: {}; parked:", primitive, state, reason);
  for (std::size_t i = 0; i < tasks.size(); ++i) out += fmt::format("{} '{}'", i == 0 ? "" : ",", tasks[i]);
  return out;
}

void EventLoop::watch(detail::Watched& primitive) noexcept {
  detail::WatchLink& link = primitive;
  link.prev = watched_.prev;
  link.next = &watched_;
  watched_.prev->next = &link;
  watched_.prev = &link;
}

void EventLoop::unwatch_all() noexcept {
  detail::WatchLink* link = watched_.next;
  while (link != &watched_) {
    detail::WatchLink* next = link->next;
    link->prev = link->next = nullptr;
    link = next;
  }
  watched_.prev = watched_.next = &watched_;
}

std::vector<LostWakeup> EventLoop::lost_wakeups() const {
  std::vector<LostWakeup> out;
  // A task whose step is queued may be a woken waiter (its future already
  // has a result, or it was cancelled): running it may hand the admission
  // on, so no verdict yet. Every step is queued in ready_, so an empty ready
  // queue needs no look at the tasks.
  if (!ready_.empty()) {
    for (const detail::TaskBase* t = tasks_head_; t != nullptr; t = t->next_pending()) {
      if (t->step_scheduled()) return out;
    }
  }
  for (const detail::WatchLink* link = watched_.next; link != &watched_; link = link->next) {
    static_cast<const detail::Watched*>(link)->check_liveness(*this, out);
  }
  return out;
}

namespace detail {

void Watched::add_finding(const EventLoop& loop, std::vector<LostWakeup>& out, const char* kind, std::string state,
                          std::string reason, const std::deque<Future<void>>& waiters) const {
  LostWakeup found;
  found.primitive = fmt::format("{} created at {}:{}", kind, display_file(created_at_.file_name()), created_at_.line());
  found.state = std::move(state);
  found.reason = std::move(reason);
  for (const Future<void>& waiter : waiters) {
    if (waiter.done()) continue;
    // The task parked on a waiter is the one whose step is that future's
    // done-callback: the task waiting for it (task.hpp's invariant, case 1).
    const FutureBase* future = waiter.state();
    const TaskBase* parked = nullptr;
    for (const TaskBase* t = loop.first_pending_task(); t != nullptr && parked == nullptr; t = t->next_pending()) {
      if (t->waiting_for() == future) parked = t;
    }
    found.tasks.push_back(parked != nullptr ? parked->name() : std::string("(a waiter no task awaits)"));
  }
  out.push_back(std::move(found));
}

}  // namespace detail

}  // namespace simloop
