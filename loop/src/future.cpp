#include <simloop/future.hpp>

#include <vector>

#include <fmt/format.h>

#include <simloop/task.hpp>

namespace simloop::detail {

void CallbackList::push_back(Handle* h) {
  h->add_ref();
  if (first_ == nullptr && (!rest_ || rest_->empty())) {
    first_ = h;
    return;
  }
  if (!rest_) rest_ = std::make_unique<std::vector<Handle*>>();
  rest_->push_back(h);
}

std::size_t CallbackList::remove(Handle* h) noexcept {
  std::size_t removed = 0;
  if (rest_) {
    auto& v = *rest_;
    auto kept = v.begin();
    for (Handle* x : v) {
      if (x == h) {
        ++removed;
        x->release();
      } else {
        *kept++ = x;
      }
    }
    v.erase(kept, v.end());
  }
  if (first_ == h) {
    ++removed;
    first_->release();
    first_ = nullptr;
    if (rest_ && !rest_->empty()) {
      first_ = rest_->front();
      rest_->erase(rest_->begin());
    }
  }
  return removed;
}

void CallbackList::clear() noexcept {
  if (first_ != nullptr) std::exchange(first_, nullptr)->release();
  if (rest_) {
    for (Handle* h : *rest_) h->release();
    rest_.reset();
  }
}

void raise_empty_handle(const char* operation) {
  throw InvalidStateError(
      fmt::format("{}: the future or task is empty (default-constructed or moved from)", operation));
}

FutureBase::~FutureBase() {
  if (state_ == State::Finished && exception_ && !exception_retrieved_) {
    try {
      loop_->call_exception_handler({"Future exception was never retrieved", exception_, FutureBase::repr()});
    } catch (...) {
      EventLoop::default_exception_handler(*loop_,
                                           {"Future exception was never retrieved", exception_, FutureBase::repr()});
    }
  }
}

const char* FutureBase::state_name() const noexcept {
  switch (state_) {
    case State::Pending: return "pending";
    case State::Finished: return "finished";
    case State::Cancelled: return "cancelled";
  }
  return "?";
}

std::string FutureBase::repr() const { return fmt::format("<Future {}>", state_name()); }

bool FutureBase::cancel(std::string message) {
  if (state_ != State::Pending) return false;
  mark_cancelled(std::make_exception_ptr(CancelledError(std::move(message))));
  return true;
}

void FutureBase::mark_cancelled(std::exception_ptr cancelled_error) {
  state_ = State::Cancelled;
  exception_ = std::move(cancelled_error);
  schedule_callbacks();
}

void FutureBase::require_pending(const char* operation) const {
  if (state_ != State::Pending) {
    throw FutureAlreadyDoneError(
        fmt::format("{}: the future is already done ({}); a future completes once", operation, repr()));
  }
}

void FutureBase::require_value(const char* operation) {
  switch (state_) {
    case State::Pending:
      throw FutureNotDoneError(
          fmt::format("{}: the future is still pending ({}); await it or check done() first", operation, repr()));
    case State::Cancelled: std::rethrow_exception(exception_);
    case State::Finished:
      if (exception_) {
        exception_retrieved_ = true;
        std::rethrow_exception(exception_);
      }
      return;
  }
}

void FutureBase::set_exception(std::exception_ptr e) {
  require_pending("set_exception");
  if (!e) throw InvalidStateError("set_exception: the exception_ptr is null");
  exception_ = std::move(e);
  exception_retrieved_ = false;
  state_ = State::Finished;
  finish();
}

std::exception_ptr FutureBase::exception() {
  if (state_ == State::Cancelled) std::rethrow_exception(exception_);
  if (state_ == State::Pending) {
    throw FutureNotDoneError(fmt::format("exception(): the future is still pending ({})", repr()));
  }
  exception_retrieved_ = true;
  return exception_;
}

void FutureBase::add_done_handle(Handle* cb) {
  if (state_ != State::Pending) {
    loop_->check_open("add_done_callback");
    cb->on_future_done(this);
    loop_->enqueue(cb);
    return;
  }
  callbacks_.push_back(cb);
}

void FutureBase::schedule_callbacks() {
  if (callbacks_.empty()) return;
  loop_->check_open("completing a future");
  if (loop_->points_.injects(Injection::Granted) && state_ == State::Finished) [[unlikely]] {
    schedule_callbacks_offering_grants();
    return;
  }
  callbacks_.drain([this](Handle* cb) {
    cb->on_future_done(this);
    loop_->enqueue(cb);
    cb->release();  // the list's reference; the ready queue holds its own
  });
}

void FutureBase::schedule_callbacks_offering_grants() {
  // Injection after grant: the awaiting tasks whose wakeups were queued
  // here are offered to the scheduler once every callback is queued (the
  // offer may raise, e.g. a replay that diverged; the queue stays whole).
  std::vector<FutureBase*> granted;
  callbacks_.drain([&](Handle* cb) {
    cb->on_future_done(this);
    if (auto* step = dynamic_cast<StepHandle*>(cb)) {
      step->owner()->future().add_ref();
      granted.push_back(&step->owner()->future());
    }
    loop_->enqueue(cb);
    cb->release();
  });
  std::size_t i = 0;
  try {
    for (; i < granted.size(); ++i) {
      if (TaskBase* t = granted[i]->as_task()) t->maybe_inject_cancel_after_grant(*this);
      granted[i]->release();
    }
  } catch (...) {  // not swallowed: the references are dropped, then it goes on
    for (std::size_t j = i; j < granted.size(); ++j) granted[j]->release();
    throw;
  }
}

}  // namespace simloop::detail
