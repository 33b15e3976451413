// Model-based properties: Lock, Semaphore and Event under rc::state
// commands, each operation a concurrent task on a generated schedule (both
// fidelities), checked after every command against a sequential model of
// CPython 3.13's primitives, including the woken-then-cancelled windows:
// release() wakes the first waiter, which is cancelled before it runs, and
// the lock / permit must go to the next waiter (or stay free), never be lost
// and never be held twice.
#include <algorithm>
#include <deque>
#include <memory>
#include <vector>

#include <rapidcheck/state.h>

#include <simloop/properties/gtest.hpp>
#include <simloop/properties/model.hpp>
#include <simloop/simloop.hpp>

namespace {

using simloop::Coro;
using simloop::Task;

enum class Op : int { Pending, Done, Cancelled };

// What every model keeps about its operations (tasks), and the check of the
// system's tasks against it.
struct OpsModel {
  std::vector<Op> expect;
  std::deque<int> waiters;  // op ids blocked, FIFO
  int add(bool blocked) {
    const int id = static_cast<int>(expect.size());
    expect.push_back(blocked ? Op::Pending : Op::Done);
    if (blocked) waiters.push_back(id);
    return id;
  }
  int wake_first() {
    const int id = waiters.front();
    waiters.pop_front();
    expect[static_cast<std::size_t>(id)] = Op::Done;
    return id;
  }
  void cancel(int id) {
    std::erase(waiters, id);
    expect[static_cast<std::size_t>(id)] = Op::Cancelled;
  }
  bool waiting(int id) const { return std::find(waiters.begin(), waiters.end(), id) != waiters.end(); }
};

struct OpsSut {
  explicit OpsSut(simloop::EventLoop& l) : loop(l) {}
  simloop::EventLoop& loop;
  std::vector<Task<bool>> ops;

  void check_ops(const OpsModel& m) {
    SIMLOOP_PROP_ASSERT(ops.size() == m.expect.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
      switch (m.expect[i]) {
        case Op::Pending: SIMLOOP_PROP_ASSERT(!ops[i].done(), "op " << i << " finished but should be blocked"); break;
        case Op::Cancelled:
          SIMLOOP_PROP_ASSERT(ops[i].cancelled(), "op " << i << " should have ended cancelled");
          break;
        case Op::Done:
          SIMLOOP_PROP_ASSERT(ops[i].done() && !ops[i].cancelled(), "op " << i << " should have succeeded");
          SIMLOOP_PROP_ASSERT(ops[i].result(), "op " << i << " returned false");
          break;
      }
    }
  }
  Coro<void> finish_ops() {
    for (auto& t : ops) {
      if (!t.done()) t.cancel();
    }
    for (auto& t : ops) {
      try {
        co_await t;
      } catch (const simloop::CancelledError&) {
      }
    }
  }
};

// A command that cancels a blocked operation (any model with OpsModel `ops`).
template <class Model, class Sut>
struct CancelWaiter final : rc::state::Command<Model, Sut> {
  int id = -1;
  explicit CancelWaiter(const Model& m) {
    RC_PRE(!m.ops.waiters.empty());
    id = *rc::gen::elementOf(m.ops.waiters);
  }
  void checkPreconditions(const Model& m) const override { RC_PRE(m.ops.waiting(id)); }
  void apply(Model& m) const override { m.ops.cancel(id); }
  void run(const Model&, Sut& s) const override { s.ops[static_cast<std::size_t>(id)].cancel(); }
  void show(std::ostream& os) const override { os << "cancel(op " << id << ")"; }
};

// ---- Lock ---------------------------------------------------------------------

struct LockModel {
  OpsModel ops;
  bool locked = false;
};
struct LockSut : OpsSut {
  using OpsSut::OpsSut;
  simloop::Lock lock;
  void check(const LockModel& m) {
    SIMLOOP_PROP_ASSERT(lock.locked() == m.locked, "locked() is " << lock.locked());
    SIMLOOP_PROP_ASSERT(lock.waiters() == m.ops.waiters.size(), "lock waiters " << lock.waiters());
    check_ops(m.ops);
  }
  Coro<void> finish() {
    co_await finish_ops();
    if (lock.locked()) lock.release();
  }
};
Coro<bool> op_acquire_lock(simloop::Lock* l) { co_return co_await l->acquire(); }
using LockCmd = rc::state::Command<LockModel, LockSut>;

struct LockAcquire final : LockCmd {
  void apply(LockModel& m) const override {
    const bool blocked = m.locked;
    m.ops.add(blocked);
    m.locked = true;
  }
  void run(const LockModel&, LockSut& s) const override {
    s.ops.push_back(s.loop.create_task(op_acquire_lock(&s.lock)));
  }
  void show(std::ostream& os) const override { os << "task: acquire()"; }
};
struct LockRelease final : LockCmd {
  void checkPreconditions(const LockModel& m) const override { RC_PRE(m.locked); }
  void apply(LockModel& m) const override {
    if (m.ops.waiters.empty()) {
      m.locked = false;
    } else {
      m.ops.wake_first();
    }
  }
  void run(const LockModel&, LockSut& s) const override { s.lock.release(); }
  void show(std::ostream& os) const override { os << "release()"; }
};
struct LockReleaseThenCancelWoken final : LockCmd {
  void checkPreconditions(const LockModel& m) const override { RC_PRE(m.locked && !m.ops.waiters.empty()); }
  void apply(LockModel& m) const override {
    m.ops.cancel(m.ops.waiters.front());
    if (m.ops.waiters.empty()) {
      m.locked = false;
    } else {
      m.ops.wake_first();
    }
  }
  void run(const LockModel& m, LockSut& s) const override {
    s.lock.release();
    s.ops[static_cast<std::size_t>(m.ops.waiters.front())].cancel();
  }
  void show(std::ostream& os) const override { os << "release() then cancel the woken waiter"; }
};

// ---- Semaphore ------------------------------------------------------------------

struct SemModel {
  OpsModel ops;
  long value = 0;
};
struct SemSut : OpsSut {
  SemSut(simloop::EventLoop& l, long v) : OpsSut(l), sem(v) {}
  simloop::Semaphore sem;
  void check(const SemModel& m) {
    SIMLOOP_PROP_ASSERT(sem.value() == m.value, "value() is " << sem.value() << ", model " << m.value);
    // Never a waiter stranded while permits are free.
    SIMLOOP_PROP_ASSERT(sem.value() == 0 || sem.waiters() == 0, "free permits with waiters");
    check_ops(m.ops);
  }
  Coro<void> finish() { co_await finish_ops(); }
};
Coro<bool> op_acquire_sem(simloop::Semaphore* s) { co_return co_await s->acquire(); }
using SemCmd = rc::state::Command<SemModel, SemSut>;

struct SemAcquire final : SemCmd {
  void apply(SemModel& m) const override {
    const bool blocked = m.value == 0;
    m.ops.add(blocked);
    if (!blocked) --m.value;
  }
  void run(const SemModel&, SemSut& s) const override { s.ops.push_back(s.loop.create_task(op_acquire_sem(&s.sem))); }
  void show(std::ostream& os) const override { os << "task: acquire()"; }
};
struct SemRelease final : SemCmd {
  void apply(SemModel& m) const override {
    if (m.ops.waiters.empty()) {
      ++m.value;
    } else {
      m.ops.wake_first();
    }
  }
  void run(const SemModel&, SemSut& s) const override { s.sem.release(); }
  void show(std::ostream& os) const override { os << "release()"; }
};
struct SemReleaseThenCancelWoken final : SemCmd {
  void checkPreconditions(const SemModel& m) const override { RC_PRE(!m.ops.waiters.empty()); }
  void apply(SemModel& m) const override {
    m.ops.cancel(m.ops.waiters.front());
    if (m.ops.waiters.empty()) {
      ++m.value;
    } else {
      m.ops.wake_first();
    }
  }
  void run(const SemModel& m, SemSut& s) const override {
    s.sem.release();
    s.ops[static_cast<std::size_t>(m.ops.waiters.front())].cancel();
  }
  void show(std::ostream& os) const override { os << "release() then cancel the woken waiter"; }
};

// ---- Event ----------------------------------------------------------------------

struct EventModel {
  OpsModel ops;
  bool set = false;
};
struct EventSut : OpsSut {
  using OpsSut::OpsSut;
  simloop::Event event;
  void check(const EventModel& m) {
    SIMLOOP_PROP_ASSERT(event.is_set() == m.set, "is_set() is " << event.is_set());
    check_ops(m.ops);
  }
  Coro<void> finish() { co_await finish_ops(); }
};
Coro<bool> op_wait_event(simloop::Event* e) { co_return co_await e->wait(); }
using EventCmd = rc::state::Command<EventModel, EventSut>;

struct EventWait final : EventCmd {
  void apply(EventModel& m) const override { m.ops.add(!m.set); }
  void run(const EventModel&, EventSut& s) const override {
    s.ops.push_back(s.loop.create_task(op_wait_event(&s.event)));
  }
  void show(std::ostream& os) const override { os << "task: wait()"; }
};
struct EventSet final : EventCmd {
  void apply(EventModel& m) const override {
    m.set = true;
    while (!m.ops.waiters.empty()) m.ops.wake_first();
  }
  void run(const EventModel&, EventSut& s) const override { s.event.set(); }
  void show(std::ostream& os) const override { os << "set()"; }
};
struct EventClear final : EventCmd {
  void apply(EventModel& m) const override { m.set = false; }
  void run(const EventModel&, EventSut& s) const override { s.event.clear(); }
  void show(std::ostream& os) const override { os << "clear()"; }
};
// set() then clear() in the same step: every waiter was woken and must
// still return (a notify is never lost to a quick clear()).
struct EventSetThenClear final : EventCmd {
  void apply(EventModel& m) const override {
    while (!m.ops.waiters.empty()) m.ops.wake_first();
    m.set = false;
  }
  void run(const EventModel&, EventSut& s) const override {
    s.event.set();
    s.event.clear();
  }
  void show(std::ostream& os) const override { os << "set() then clear()"; }
};
// set() then cancel one woken waiter before it runs: it ends cancelled, the
// others still return.
struct EventSetThenCancelWoken final : EventCmd {
  int id = -1;
  explicit EventSetThenCancelWoken(const EventModel& m) {
    RC_PRE(!m.ops.waiters.empty());
    id = *rc::gen::elementOf(m.ops.waiters);
  }
  void checkPreconditions(const EventModel& m) const override { RC_PRE(m.ops.waiting(id)); }
  void apply(EventModel& m) const override {
    m.ops.cancel(id);
    m.set = true;
    while (!m.ops.waiters.empty()) m.ops.wake_first();
  }
  void run(const EventModel&, EventSut& s) const override {
    s.event.set();
    s.ops[static_cast<std::size_t>(id)].cancel();
  }
  void show(std::ostream& os) const override { os << "set() then cancel woken op " << id; }
};

}  // namespace

SIMLOOP_PROPERTY(LockModelProperty, MatchesTheSequentialModelUnderAnySchedule, 300, ()) {
  simloop::properties::run_model(LockModel{},
                                 rc::state::gen::execOneOfWithArgs<LockAcquire, LockRelease, LockReleaseThenCancelWoken,
                                                                   CancelWaiter<LockModel, LockSut>>(),
                                 [](simloop::EventLoop& loop) { return std::make_unique<LockSut>(loop); });
}

SIMLOOP_PROPERTY(SemaphoreModelProperty, MatchesTheSequentialModelUnderAnySchedule, 300, ()) {
  SemModel initial;
  initial.value = *rc::gen::inRange<long>(0, 4);
  simloop::properties::run_model(
      initial,
      rc::state::gen::execOneOfWithArgs<SemAcquire, SemRelease, SemReleaseThenCancelWoken,
                                        CancelWaiter<SemModel, SemSut>>(),
      [v = initial.value](simloop::EventLoop& loop) { return std::make_unique<SemSut>(loop, v); });
}

SIMLOOP_PROPERTY(EventModelProperty, MatchesTheSequentialModelUnderAnySchedule, 300, ()) {
  simloop::properties::run_model(
      EventModel{},
      rc::state::gen::execOneOfWithArgs<EventWait, EventSet, EventClear, EventSetThenClear, EventSetThenCancelWoken,
                                        CancelWaiter<EventModel, EventSut>>(),
      [](simloop::EventLoop& loop) { return std::make_unique<EventSut>(loop); });
}
