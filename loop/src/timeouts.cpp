// Timeout: see timeouts.hpp. Follows CPython 3.13's Lib/asyncio/timeouts.py.
#include <simloop/timeouts.hpp>

#include <fmt/format.h>

namespace simloop {

namespace {
const char* state_name(Timeout::State s) noexcept {
  switch (s) {
    case Timeout::State::Created: return "created";
    case Timeout::State::Entered: return "active";
    case Timeout::State::Expiring: return "expiring";
    case Timeout::State::Expired: return "expired";
    case Timeout::State::Exited: return "finished";
  }
  return "?";
}
}  // namespace

Timeout timeout(std::optional<Duration> delay) {
  if (!delay) return Timeout(std::nullopt);
  return Timeout(EventLoop::running_or_throw("timeout").time() + *delay);
}

void Timeout::reschedule(std::optional<Duration> when) {
  if (state_ != State::Entered) {
    if (state_ == State::Created) throw TimeoutStateError("Timeout.reschedule: the timeout has not been entered");
    throw TimeoutStateError(
        fmt::format("Timeout.reschedule: cannot change the state of a {} timeout", state_name(state_)));
  }
  when_ = when;
  handler_.cancel();
  handler_ = HandleRef();
  if (!when) return;
  EventLoop& loop = EventLoop::running_or_throw("Timeout.reschedule");
  if (*when <= loop.time()) {
    handler_ = loop.call_soon([this] { on_timeout(); });
  } else {
    handler_ = loop.call_at(*when, [this] { on_timeout(); });
  }
}

void Timeout::enter() {
  if (state_ != State::Created) throw TimeoutStateError("Timeout.enter: the timeout has already been entered");
  AnyTask task = current_task();
  if (!task) throw NoRunningTaskError("Timeout.enter: a timeout must be used inside a task");
  state_ = State::Entered;
  task_ = task;
  cancelling_ = task_.cancelling();
  reschedule(when_);
}

void Timeout::on_timeout() {
  // The handler only runs while active: exit() and reschedule() cancel it.
  task_.cancel();
  state_ = State::Expiring;
}

void Timeout::exit(std::exception_ptr error) {
  if (state_ != State::Entered && state_ != State::Expiring) {
    throw TimeoutStateError(fmt::format("Timeout.exit: the timeout is not active (it is {})", state_name(state_)));
  }
  handler_.cancel();
  handler_ = HandleRef();
  if (state_ == State::Expiring) {
    state_ = State::Expired;
    // Only the cancellation this timeout asked for becomes TimeoutError; if
    // someone else also cancelled the task, the count stays above and the
    // CancelledError goes on.
    if (task_.uncancel() <= cancelling_ && error && detail::is_cancelled_error(error)) {
      try {
        std::rethrow_exception(error);
      } catch (const CancelledError&) {
        std::throw_with_nested(TimeoutError("timeout expired"));
      }
    }
  } else {
    state_ = State::Exited;
  }
  if (error) std::rethrow_exception(error);
}

std::string Timeout::repr() const {
  if (state_ == State::Entered) {
    return fmt::format("<Timeout [{}] when={}>", state_name(state_),
                       when_ ? fmt::format("{}", when_->count()) : "None");
  }
  return fmt::format("<Timeout [{}]>", state_name(state_));
}

}  // namespace simloop
