// Model-based property: Queue<int> under rc::state commands, each run as
// concurrent tasks on a generated schedule (both fidelities) and checked
// after every command against a sequential model of CPython 3.13's queue,
// including the woken-then-cancelled windows (put_nowait then cancel the
// woken getter; get_nowait then cancel the woken putter), where an item or a
// slot must be handed on, never lost.
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <rapidcheck/state.h>

#include <simloop/properties/gtest.hpp>
#include <simloop/properties/model.hpp>
#include <simloop/simloop.hpp>

#include "support/raises.hpp"

namespace {

using simloop::Coro;
using simloop::Task;
using simloop::testing::raises_sync;

constexpr int kPending = -2;
constexpr int kCancelled = -3;
constexpr int kPutDone = -1;

struct QModel {
  long maxsize = 0;
  std::deque<int> items;
  std::deque<int> getters;                  // op ids blocked in get(), FIFO
  std::deque<std::pair<int, int>> putters;  // (op id, item) blocked in put(), FIFO
  std::vector<int> expect;                  // per op: kPending, kCancelled, kPutDone or the item got
  int next_item = 0;

  bool full() const { return maxsize > 0 && static_cast<long>(items.size()) >= maxsize; }
  // An item arrives: the first blocked getter takes it, else it is queued.
  void deliver(int x) {
    if (!getters.empty()) {
      expect[static_cast<std::size_t>(getters.front())] = x;
      getters.pop_front();
    } else {
      items.push_back(x);
    }
  }
  // A slot was freed: the first blocked putter puts its item.
  void refill() {
    if (putters.empty() || full()) return;
    auto [id, x] = putters.front();
    putters.pop_front();
    expect[static_cast<std::size_t>(id)] = kPutDone;
    items.push_back(x);
  }
  int take_front() {
    const int v = items.front();
    items.pop_front();
    refill();
    return v;
  }
  void remove_waiter(int id) {
    std::erase(getters, id);
    std::erase_if(putters, [id](const auto& p) { return p.first == id; });
    expect[static_cast<std::size_t>(id)] = kCancelled;
  }
};

Coro<int> op_get(simloop::Queue<int>* q) { co_return co_await q->get(); }
Coro<int> op_put(simloop::Queue<int>* q, int x) {
  co_await q->put(x);
  co_return kPutDone;
}

struct QSut {
  explicit QSut(simloop::EventLoop& l, long maxsize) : loop(l), q(maxsize) {}
  simloop::EventLoop& loop;
  simloop::Queue<int> q;
  std::vector<Task<int>> ops;
  std::deque<int> last_items;

  void check(const QModel& m) {
    SIMLOOP_PROP_ASSERT(q.qsize() == m.items.size(), "qsize " << q.qsize() << ", model " << m.items.size());
    SIMLOOP_PROP_ASSERT(q.getters() == m.getters.size(), "getters " << q.getters() << ", model " << m.getters.size());
    SIMLOOP_PROP_ASSERT(q.putters() == m.putters.size(), "putters " << q.putters() << ", model " << m.putters.size());
    SIMLOOP_PROP_ASSERT(ops.size() == m.expect.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
      const int e = m.expect[i];
      if (e == kPending) {
        SIMLOOP_PROP_ASSERT(!ops[i].done(), "op " << i << " finished but the model has it blocked");
      } else if (e == kCancelled) {
        SIMLOOP_PROP_ASSERT(ops[i].cancelled(), "op " << i << " should have ended cancelled");
      } else {
        SIMLOOP_PROP_ASSERT(ops[i].done() && !ops[i].cancelled(), "op " << i << " should be done with " << e);
        SIMLOOP_PROP_ASSERT(ops[i].result() == e, "op " << i << " got " << ops[i].result() << ", model " << e);
      }
    }
    last_items = m.items;
  }

  Coro<void> finish() {
    for (auto& t : ops) {
      if (!t.done()) t.cancel();
    }
    for (auto& t : ops) {
      try {
        co_await t;
      } catch (const simloop::CancelledError&) {
      }
    }
    // Every item still queued is there, in the model's order: none lost, none doubled.
    std::deque<int> left;
    while (!q.empty()) left.push_back(q.get_nowait());
    SIMLOOP_PROP_ASSERT(left == last_items, "the queue's items differ from the model's at the end");
  }
};

using QCmd = rc::state::Command<QModel, QSut>;

struct PutNowait final : QCmd {
  int x = 0;
  explicit PutNowait(const QModel& m) : x(m.next_item) {}
  void apply(QModel& m) const override {
    ++m.next_item;
    if (!m.full()) m.deliver(x);
  }
  void run(const QModel& m, QSut& s) const override {
    const bool threw = raises_sync<simloop::QueueFull>([&] { s.q.put_nowait(x); }).has_value();
    SIMLOOP_PROP_ASSERT(threw == m.full(), "put_nowait raised QueueFull: " << threw);
  }
  void show(std::ostream& os) const override { os << "put_nowait(" << x << ")"; }
};

struct Put final : QCmd {
  int x = 0;
  explicit Put(const QModel& m) : x(m.next_item) {}
  void apply(QModel& m) const override {
    ++m.next_item;
    const int id = static_cast<int>(m.expect.size());
    m.expect.push_back(kPending);
    if (!m.full()) {
      m.expect.back() = kPutDone;
      m.deliver(x);
    } else {
      m.putters.emplace_back(id, x);
    }
  }
  void run(const QModel&, QSut& s) const override { s.ops.push_back(s.loop.create_task(op_put(&s.q, x))); }
  void show(std::ostream& os) const override { os << "task: put(" << x << ")"; }
};

struct GetNowait final : QCmd {
  void apply(QModel& m) const override {
    if (!m.items.empty()) m.take_front();
  }
  void run(const QModel& m, QSut& s) const override {
    if (m.items.empty()) {
      SIMLOOP_PROP_ASSERT(raises_sync<simloop::QueueEmpty>([&] { return s.q.get_nowait(); }),
                          "get_nowait on an empty queue did not raise QueueEmpty");
    } else {
      const int v = s.q.get_nowait();
      SIMLOOP_PROP_ASSERT(v == m.items.front(), "get_nowait returned " << v << ", model " << m.items.front());
    }
  }
  void show(std::ostream& os) const override { os << "get_nowait()"; }
};

struct Get final : QCmd {
  void apply(QModel& m) const override {
    const int id = static_cast<int>(m.expect.size());
    m.expect.push_back(kPending);
    if (!m.items.empty()) {
      m.expect.back() = m.take_front();
    } else {
      m.getters.push_back(id);
    }
  }
  void run(const QModel&, QSut& s) const override { s.ops.push_back(s.loop.create_task(op_get(&s.q))); }
  void show(std::ostream& os) const override { os << "task: get()"; }
};

// Cancels a blocked getter or putter.
struct CancelWaiter final : QCmd {
  int id = -1;
  explicit CancelWaiter(const QModel& m) {
    std::vector<int> waiting(m.getters.begin(), m.getters.end());
    for (const auto& p : m.putters) waiting.push_back(p.first);
    RC_PRE(!waiting.empty());
    id = *rc::gen::elementOf(waiting);
  }
  void checkPreconditions(const QModel& m) const override {
    RC_PRE(std::find(m.getters.begin(), m.getters.end(), id) != m.getters.end() ||
           std::any_of(m.putters.begin(), m.putters.end(), [&](const auto& p) { return p.first == id; }));
  }
  void apply(QModel& m) const override { m.remove_waiter(id); }
  void run(const QModel&, QSut& s) const override { s.ops[static_cast<std::size_t>(id)].cancel(); }
  void show(std::ostream& os) const override { os << "cancel(op " << id << ")"; }
};

// put_nowait wakes the first getter, which is cancelled before it runs: the
// item must go to the next getter (or stay queued).
struct PutNowaitThenCancelWokenGetter final : QCmd {
  int x = 0;
  explicit PutNowaitThenCancelWokenGetter(const QModel& m) : x(m.next_item) { RC_PRE(!m.getters.empty()); }
  void checkPreconditions(const QModel& m) const override { RC_PRE(!m.getters.empty()); }
  void apply(QModel& m) const override {
    ++m.next_item;
    m.remove_waiter(m.getters.front());
    m.deliver(x);
  }
  void run(const QModel& m, QSut& s) const override {
    s.q.put_nowait(x);
    s.ops[static_cast<std::size_t>(m.getters.front())].cancel();
  }
  void show(std::ostream& os) const override { os << "put_nowait(" << x << ") then cancel the woken getter"; }
};

// get_nowait wakes the first putter, which is cancelled before it runs: the
// free slot must go to the next putter.
struct GetNowaitThenCancelWokenPutter final : QCmd {
  explicit GetNowaitThenCancelWokenPutter(const QModel& m) { RC_PRE(!m.putters.empty()); }
  void checkPreconditions(const QModel& m) const override { RC_PRE(!m.putters.empty()); }
  void apply(QModel& m) const override {
    const int p0 = m.putters.front().first;
    m.remove_waiter(p0);
    m.take_front();
  }
  void run(const QModel& m, QSut& s) const override {
    const int v = s.q.get_nowait();
    SIMLOOP_PROP_ASSERT(v == m.items.front(), "get_nowait returned " << v << ", model " << m.items.front());
    s.ops[static_cast<std::size_t>(m.putters.front().first)].cancel();
  }
  void show(std::ostream& os) const override { os << "get_nowait() then cancel the woken putter"; }
};

}  // namespace

SIMLOOP_PROPERTY(QueueModelProperty, MatchesTheSequentialModelUnderAnySchedule, 300, ()) {
  QModel initial;
  initial.maxsize = *rc::gen::inRange<long>(0, 4);
  simloop::properties::run_model(
      initial,
      rc::state::gen::execOneOfWithArgs<PutNowait, Put, GetNowait, Get, CancelWaiter, PutNowaitThenCancelWokenGetter,
                                        GetNowaitThenCancelWokenPutter>(),
      [maxsize = initial.maxsize](simloop::EventLoop& loop) { return std::make_unique<QSut>(loop, maxsize); });
}
