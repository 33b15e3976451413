// Empty handles: a default-constructed or moved-from Future, Task or AnyTask
// raises InvalidStateError naming the operation, on every use.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <utility>

#include <simloop/simloop.hpp>

using simloop::AnyTask;
using simloop::Coro;
using simloop::Future;
using simloop::InvalidStateError;
using simloop::Task;
using simloop::sim::SimLoop;

namespace {

std::string empty_message(const std::string& operation) {
  return operation + ": the future or task is empty (default-constructed or moved from)";
}

// Runs `use` and checks it raised InvalidStateError for `operation`.
void expect_empty(const std::function<void()>& use, const std::string& operation) {
  try {
    use();
    ADD_FAILURE() << operation << " on an empty handle did not raise";
  } catch (const InvalidStateError& e) {
    EXPECT_EQ(e.what(), empty_message(operation));
  }
}

// Every operation of a Future<int> handle that needs a future.
void expect_every_future_operation_refused(const Future<int>& f) {
  expect_empty([&] { f.get_loop(); }, "get_loop()");
  expect_empty([&] { f.done(); }, "done()");
  expect_empty([&] { f.cancelled(); }, "cancelled()");
  expect_empty([&] { f.result(); }, "result()");
  expect_empty([&] { f.exception(); }, "exception()");
  expect_empty([&] { f.cancel(); }, "cancel()");
  expect_empty([&] { f.set_result(1); }, "set_result()");
  expect_empty([&] { f.set_exception(std::make_exception_ptr(1)); }, "set_exception()");
  expect_empty([&] { f.set_exception(simloop::Error("x")); }, "set_exception()");
  expect_empty([&] { f.add_done_callback([] {}); }, "add_done_callback()");
  expect_empty([&] { f.remove_done_callback(simloop::HandleRef()); }, "remove_done_callback()");
  expect_empty([&] { f.repr(); }, "repr()");
}

void expect_every_task_operation_refused(const Task<int>& t) {
  expect_every_future_operation_refused(t);
  expect_empty([&] { t.cancel(); }, "cancel()");
  expect_empty([&] { t.cancelling(); }, "cancelling()");
  expect_empty([&] { t.uncancel(); }, "uncancel()");
  expect_empty([&] { t.get_name(); }, "get_name()");
  expect_empty([&] { t.set_name("x"); }, "set_name()");
  EXPECT_EQ(t.base(), nullptr);
}

Coro<int> returns(int v) { co_return v; }

// Awaits `f` and reports what the co_await raised.
Coro<std::string> await_and_describe(Future<int> f) {
  std::string what;
  try {
    co_await f;
    what = "no error";
  } catch (const InvalidStateError& e) {
    what = e.what();
  }
  co_return what;
}
Coro<std::string> await_moved_and_describe(Future<int> f) {
  std::string what;
  try {
    co_await std::move(f);
    what = "no error";
  } catch (const InvalidStateError& e) {
    what = e.what();
  }
  co_return what;
}

}  // namespace

TEST(EmptyHandles, DefaultConstructedFutureRaisesOnEveryUse) {
  Future<int> f;
  EXPECT_FALSE(f);
  expect_every_future_operation_refused(f);
  Future<void> v;
  expect_empty([&] { v.result(); }, "result()");
  expect_empty([&] { v.set_result(); }, "set_result()");
}

TEST(EmptyHandles, MovedFromFutureRaisesOnEveryUse) {
  SimLoop loop;
  Future<int> f = Future<int>::create(loop);
  Future<int> g = std::move(f);
  EXPECT_TRUE(g);
  expect_every_future_operation_refused(f);  // NOLINT: used after the move on purpose
  g.cancel();
}

TEST(EmptyHandles, DefaultConstructedTaskRaisesOnEveryUse) {
  Task<int> t;
  expect_every_task_operation_refused(t);
}

TEST(EmptyHandles, MovedFromTaskRaisesOnEveryUse) {
  SimLoop loop;
  Task<int> t = loop.create_task(returns(7));
  Task<int> kept = std::move(t);
  expect_every_task_operation_refused(t);  // NOLINT: used after the move on purpose
  EXPECT_EQ(loop.run_until_complete(Future<int>(kept)), 7);
}

TEST(EmptyHandles, EmptyTaskConvertsToAnEmptyAnyTaskWhichRaisesOnEveryUse) {
  Task<int> t;
  AnyTask any(t);
  EXPECT_FALSE(any);
  AnyTask none;
  for (const AnyTask* a : {&any, &none}) {
    expect_empty([&] { a->done(); }, "done()");
    expect_empty([&] { a->cancelled(); }, "cancelled()");
    expect_empty([&] { a->cancel(); }, "cancel()");
    expect_empty([&] { a->cancelling(); }, "cancelling()");
    expect_empty([&] { a->uncancel(); }, "uncancel()");
    expect_empty([&] { a->get_name(); }, "get_name()");
    expect_empty([&] { a->repr(); }, "repr()");
  }
}

TEST(EmptyHandles, AwaitingAnEmptyFutureRaisesAtTheCoAwait) {
  SimLoop loop;
  EXPECT_EQ(loop.run_until_complete(await_and_describe(Future<int>())), empty_message("co_await"));
  EXPECT_EQ(loop.run_until_complete(await_moved_and_describe(Future<int>())), empty_message("co_await"));
  Task<int> empty_task;
  EXPECT_EQ(loop.run_until_complete(await_and_describe(empty_task)), empty_message("co_await"));
}

TEST(EmptyHandles, RunUntilCompleteOfAnEmptyFutureRaises) {
  SimLoop loop;
  expect_empty([&] { loop.run_until_complete(Future<int>()); }, "run_until_complete");
  expect_empty([&] { loop.run_until_complete(Future<int>(Task<int>())); }, "run_until_complete");
}
