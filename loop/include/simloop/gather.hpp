// gather(...): asyncio.gather, CPython 3.13 semantics.
//
// Contract:
//  - gather(a, b, c) takes futures, tasks and coroutines of mixed result
//    types (each Coro is wrapped in a new task, in argument order) and
//    returns a Future<std::tuple<A, B, C>> of their results in argument
//    order (Void for a void result). gather(std::vector<A>) returns a
//    Future<std::vector<T>>. gather() with no argument (or an empty vector)
//    returns a future already done with an empty result. The same future
//    given twice is awaited once and appears twice in the results.
//  - Without return_exceptions, the first child to fail (or be cancelled:
//    CancelledError) fails the gather at once with that exception; the other
//    children keep running and their later exceptions are marked retrieved.
//    With return_exceptions (the tag `return_exceptions` as first argument),
//    each result is an Outcome<T>: a value, or the child's exception (a
//    CancelledError for a cancelled child); the gather completes when every
//    child is done.
//  - Cancelling the returned future cancels every child not done yet (it
//    reports success if any child accepted); the gather then completes with
//    CancelledError once the children are done (at the first cancelled child
//    without return_exceptions). The cancellation of one child alone does not
//    cancel the others. The children must share one loop (ForeignLoopError).
//  - An AnyTask child (a task of any result type) gives Void (or an
//    Outcome<void>) in the results: its value stays in the task, to be read
//    through the typed handle. gather({task_int, task_string}) with a braced
//    list gathers a std::vector<AnyTask>.
#pragma once

#include <cstddef>
#include <functional>
#include <tuple>
#include <utility>
#include <vector>

#include <simloop/awaitables.hpp>

namespace simloop {

// Tag: gather(return_exceptions, ...) collects exceptions as results.
struct ReturnExceptions {};
inline constexpr ReturnExceptions return_exceptions{};

namespace detail {

// The outer future of a gather (asyncio's _GatheringFuture): cancel()
// cancels the children instead of the future itself.
template <class R>
class GatheringState final : public FutureState<R> {
 public:
  using Build = std::function<R(const std::vector<FutureBase*>&)>;

  // `children` (argument order, duplicates repeated) each carry one reference
  // that this state takes over.
  GatheringState(EventLoop& loop, std::vector<FutureBase*> children, std::size_t nfuts, bool return_exceptions,
                 Build build)
      : FutureState<R>(loop),
        children_(std::move(children)),
        nfuts_(nfuts),
        return_exceptions_(return_exceptions),
        build_(std::move(build)) {}
  ~GatheringState() override {
    for (FutureBase* c : children_) c->release();
  }

  bool cancel(std::string message) override {
    if (this->done()) return false;
    bool ret = false;
    for (FutureBase* child : children_) {
      if (child->cancel(message)) ret = true;
    }
    if (ret) cancel_requested_ = true;  // the gather ends with CancelledError
    return ret;
  }

  std::string repr() const override { return fmt::format("<_GatheringFuture {}>", this->state_name()); }

  // asyncio's _done_callback, for one child.
  void child_done(FutureBase& fut) {
    ++nfinished_;
    if (this->done()) {
      if (!fut.cancelled()) fut.exception();  // mark it retrieved
      return;
    }
    if (!return_exceptions_) {
      if (fut.cancelled()) {
        this->set_exception(cancelled_error_of(fut));
        return;
      }
      if (std::exception_ptr e = fut.exception()) {
        this->set_exception(std::move(e));
        return;
      }
    }
    if (nfinished_ == nfuts_) {
      if (cancel_requested_) {
        // CPython raises the last child's cancellation (its message, if any).
        this->set_exception(cancelled_error_of(*children_.back()));
      } else {
        this->set_result(build_(children_));
      }
    }
  }

 private:
  std::vector<FutureBase*> children_;
  std::size_t nfuts_;
  std::size_t nfinished_ = 0;
  bool return_exceptions_;
  bool cancel_requested_ = false;
  Build build_;
};

// A child's done-callback: forwards to the gathering state it holds.
class GatherChildCallback final : public DoneCallback {
 public:
  using Fn = void (*)(FutureBase& gathering, FutureBase& child);
  GatherChildCallback(FutureBase& gathering, Fn fn, std::source_location where)
      : DoneCallback(where), gathering_(&gathering), fn_(fn) {
    gathering_->add_ref();
  }
  ~GatherChildCallback() override { gathering_->release(); }

 private:
  void run() override { fn_(*gathering_, *future_); }
  FutureBase* gathering_;
  Fn fn_;
};

// Collects the children of one gather, in argument order.
class GatherBuilder {
 public:
  GatherBuilder() = default;
  GatherBuilder(const GatherBuilder&) = delete;
  GatherBuilder& operator=(const GatherBuilder&) = delete;
  ~GatherBuilder() {
    for (FutureBase* c : children_) c->release();
  }

  template <Awaitable A>
  void add(A aw) {
    future_handle_t<A> f = ensure_future(std::move(aw), loop_);
    if (loop_ == nullptr) loop_ = &f.get_loop();
    FutureBase* state = f.state();
    state->add_ref();
    children_.push_back(state);
  }

  template <class R>
  Future<R> finish(bool return_exceptions, typename GatheringState<R>::Build build) {
    if (children_.empty()) {
      Future<R> outer = Future<R>::create(EventLoop::running_or_throw("gather"));
      outer.set_result(build(children_));
      return outer;
    }
    const std::vector<FutureBase*> unique = first_occurrences(children_);
    auto* g =
        new GatheringState<R>(*loop_, std::exchange(children_, {}), unique.size(), return_exceptions, std::move(build));
    Future<R> outer = Future<R>::from_state(g);
    std::vector<FutureBase*> done;
    for (FutureBase* c : unique) {
      if (c->done()) {
        done.push_back(c);
      } else {
        auto* cb = new GatherChildCallback(
            *g,
            [](FutureBase& gathering, FutureBase& child) {
              static_cast<GatheringState<R>&>(gathering).child_done(child);
            },
            std::source_location::current());
        HandleRef ref(cb);
        c->add_done_handle(cb);
      }
    }
    // Children already done are accounted for at once (CPython does too).
    for (FutureBase* c : done) g->child_done(*c);
    return outer;
  }

 private:
  EventLoop* loop_ = nullptr;
  std::vector<FutureBase*> children_;  // one reference each

  // Each distinct child once, in argument order (a future passed twice is
  // awaited once, as asyncio's arg_to_fut dict does): a mark on each child
  // seen, cleared before returning. Linear, one allocation, and nothing
  // depends on addresses.
  static std::vector<FutureBase*> first_occurrences(const std::vector<FutureBase*>& all) {
    std::vector<FutureBase*> unique;
    unique.reserve(all.size());
    for (FutureBase* c : all) {
      if (!c->gather_mark_) {
        c->gather_mark_ = true;
        unique.push_back(c);
      }
    }
    for (FutureBase* c : unique) c->gather_mark_ = false;
    return unique;
  }
};

template <class... T, std::size_t... I>
std::tuple<value_or_void_t<T>...> gather_values(const std::vector<FutureBase*>& ch, std::index_sequence<I...>) {
  return std::tuple<value_or_void_t<T>...>(value_of<T>(*ch[I])...);
}
template <class... T, std::size_t... I>
std::tuple<Outcome<T>...> gather_outcomes(const std::vector<FutureBase*>& ch, std::index_sequence<I...>) {
  return std::tuple<Outcome<T>...>(outcome_of<T>(*ch[I])...);
}

}  // namespace detail

// gather(a, b, ...): a future of the tuple of results, in argument order.
template <Awaitable... A>
Future<std::tuple<value_or_void_t<await_result_t<A>>...>> gather(A... aws) {
  using R = std::tuple<value_or_void_t<await_result_t<A>>...>;
  detail::GatherBuilder b;
  (b.add(std::move(aws)), ...);  // left to right: tasks are created in argument order
  return b.template finish<R>(false, [](const std::vector<detail::FutureBase*>& ch) {
    return detail::gather_values<await_result_t<A>...>(ch, std::index_sequence_for<A...>{});
  });
}

// gather(return_exceptions, a, b, ...): a future of the tuple of outcomes.
template <Awaitable... A>
Future<std::tuple<Outcome<await_result_t<A>>...>> gather(ReturnExceptions, A... aws) {
  using R = std::tuple<Outcome<await_result_t<A>>...>;
  detail::GatherBuilder b;
  (b.add(std::move(aws)), ...);
  return b.template finish<R>(true, [](const std::vector<detail::FutureBase*>& ch) {
    return detail::gather_outcomes<await_result_t<A>...>(ch, std::index_sequence_for<A...>{});
  });
}

// gather(vector): a future of the vector of results, in order.
template <Awaitable A>
Future<std::vector<value_or_void_t<await_result_t<A>>>> gather(std::vector<A> aws) {
  using T = await_result_t<A>;
  using R = std::vector<value_or_void_t<T>>;
  detail::GatherBuilder b;
  for (A& aw : aws) b.add(std::move(aw));
  return b.template finish<R>(false, [](const std::vector<detail::FutureBase*>& ch) {
    R out;
    out.reserve(ch.size());
    for (detail::FutureBase* c : ch) out.push_back(detail::value_of<T>(*c));
    return out;
  });
}

// gather(return_exceptions, vector): a future of the vector of outcomes.
template <Awaitable A>
Future<std::vector<Outcome<await_result_t<A>>>> gather(ReturnExceptions, std::vector<A> aws) {
  using T = await_result_t<A>;
  using R = std::vector<Outcome<T>>;
  detail::GatherBuilder b;
  for (A& aw : aws) b.add(std::move(aw));
  return b.template finish<R>(true, [](const std::vector<detail::FutureBase*>& ch) {
    R out;
    out.reserve(ch.size());
    for (detail::FutureBase* c : ch) out.push_back(detail::outcome_of<T>(*c));
    return out;
  });
}

// gather over tasks of any result types, e.g. gather({task_int, task_string}):
// one Void per task (the values stay in the tasks).
inline Future<std::vector<Void>> gather(std::vector<AnyTask> tasks) { return gather<AnyTask>(std::move(tasks)); }
// The same with return_exceptions: one Outcome<void> per task.
inline Future<std::vector<Outcome<void>>> gather(ReturnExceptions, std::vector<AnyTask> tasks) {
  return gather<AnyTask>(return_exceptions, std::move(tasks));
}

}  // namespace simloop
