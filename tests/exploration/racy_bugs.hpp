// Deliberately racy user code for the exploration tests: each scenario has a
// real concurrency bug that exploration must find, and that asyncio's own
// (fifo) order never shows. The scenarios throw when the bug happens.
#pragma once

#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

#include <simloop/simloop.hpp>

namespace racy {

using namespace std::chrono_literals;
using simloop::Coro;
using simloop::Duration;
using simloop::Future;
using simloop::sim::SimLoop;

// 1. Check-then-act across an await: two withdrawals of 80 from 100. Each
// checks the balance, then awaits its ledger write, then debits. Under
// asyncio's order the second check comes after the first debit (the timers
// due at 15ms fire in arming order); if the tied timers fire the other way,
// or a busy callback shifts one, both checks pass and the account overdraws.
struct Bank {
  int balance = 100;
};
inline Coro<void> withdraw(Bank* bank, int amount, Duration before, Duration write) {
  co_await simloop::sleep(before);
  if (bank->balance >= amount) {     // check ...
    co_await simloop::sleep(write);  // ... await the ledger write ...
    bank->balance -= amount;         // ... act on a stale check
  }
}
// B gets ready at 10ms, then checks at 15ms: its timer is armed after A's
// ledger-write timer (armed at 5ms), both due at 15ms.
inline Coro<void> late_withdraw(Bank* bank, int amount) {
  co_await simloop::sleep(10ms);
  co_await withdraw(bank, amount, 5ms, 5ms);
}
inline Coro<void> double_withdrawal(SimLoop& loop) {
  Bank bank;
  auto a = loop.create_task(withdraw(&bank, 80, 5ms, 10ms));
  auto b = loop.create_task(late_withdraw(&bank, 80));
  co_await a;
  co_await b;
  if (bank.balance < 0) throw std::logic_error("double withdrawal: balance " + std::to_string(bank.balance));
}

// 2. Lost update: read, await a reply from outside the loop, write back.
// Replies arrive as external events (call_soon_threadsafe). In asyncio's
// natural order A's reply is handled before B's first one, so B reads A's
// write; if the replies arrive in the other order, or A's is held back an
// iteration, both read 0 and one increment is lost.
struct Store {
  int counter = 0;
};
// A reply posted by "another thread": it reaches the loop as an external event.
inline Coro<int> rpc(SimLoop* loop, int value) {
  auto reply = Future<int>::create(*loop);
  loop->call_soon_threadsafe([reply, value] {
    if (!reply.done()) reply.set_result(value);
  });
  co_return co_await reply;
}
inline Coro<void> increment_now(SimLoop* loop, Store* store) {
  const int v = store->counter;
  co_await rpc(loop, 0);
  store->counter = v + 1;
}
inline Coro<void> increment_after_handshake(SimLoop* loop, Store* store) {
  co_await rpc(loop, 0);
  const int v = store->counter;
  co_await rpc(loop, 0);
  store->counter = v + 1;
}
inline Coro<void> lost_update(SimLoop& loop) {
  Store store;
  auto a = loop.create_task(increment_now(&loop, &store));
  auto b = loop.create_task(increment_after_handshake(&loop, &store));
  co_await a;
  co_await b;
  if (store.counter != 2) throw std::logic_error("lost update: counter " + std::to_string(store.counter));
}

// 3. A consumer cancelled mid-handoff drops an item. put() hands an item
// straight to a waiting getter's future; if the getter is cancelled after
// that and before it wakes, the item is gone (CPython's Queue hands it on to
// the next getter; this one does not). The canceller and the third put are
// both due at 3ms: in arming order the cancel lands first (harmless).
struct Handoff {
  std::deque<Future<int>> getters;
  std::deque<int> buffer;
  void put(int item) {
    while (!getters.empty()) {
      Future<int> g = getters.front();
      getters.pop_front();
      if (!g.done()) {
        g.set_result(item);  // the item now lives only in g
        return;
      }
    }
    buffer.push_back(item);
  }
  Coro<int> get(SimLoop* loop) {
    if (!buffer.empty()) {
      const int item = buffer.front();
      buffer.pop_front();
      co_return item;
    }
    auto g = Future<int>::create(*loop);
    getters.push_back(g);
    co_return co_await g;  // BUG: cancelled after set_result, the item is dropped
  }
};
inline Coro<void> consume(SimLoop* loop, Handoff* h, std::vector<int>* got) {
  for (;;) got->push_back(co_await h->get(loop));
}
inline Coro<void> produce(Handoff* h, int count) {
  for (int i = 1; i <= count; ++i) {
    co_await simloop::sleep(1ms);
    h->put(i);
  }
}
inline Coro<void> cancel_after(simloop::Task<void> task, Duration delay) {
  co_await simloop::sleep(delay);
  task.cancel();
}
inline Coro<void> dropped_item(SimLoop& loop) {
  Handoff h;
  std::vector<int> got;
  auto consumer = loop.create_task(consume(&loop, &h, &got), "consumer");
  auto canceller = loop.create_task(cancel_after(consumer, 3ms), "canceller");
  auto producer = loop.create_task(produce(&h, 5), "producer");
  co_await canceller;
  co_await producer;
  try {
    co_await consumer;
  } catch (const simloop::CancelledError&) {
  }
  // Every item is either consumed or still buffered.
  const std::size_t accounted = got.size() + h.buffer.size();
  if (accounted != 5) {
    throw std::logic_error("item dropped: " + std::to_string(got.size()) + " consumed + " +
                           std::to_string(h.buffer.size()) + " buffered of 5");
  }
}

// 4. Busy loop: a token valid for 50us is issued, then the code yields once
// before using it, assuming no time passes in a yield. True on an idle
// loop (and under fifo, where callbacks cost nothing); on a busy loop a
// slow callback makes the token expire before use.
inline Coro<void> token_user(SimLoop* loop) {
  for (int i = 0; i < 10; ++i) {
    co_await simloop::sleep(1ms);
    const Duration expiry = loop->time() + 50us;  // issue
    co_await simloop::sleep(0s);                  // flush, "instantly"
    if (loop->time() >= expiry) throw std::logic_error("used an expired token");
  }
}
inline Coro<void> busy_loop_expiry(SimLoop& loop) {
  auto a = loop.create_task(token_user(&loop));
  auto b = loop.create_task(token_user(&loop));
  co_await a;
  co_await b;
}

// 5. An order bug only chaos reaches: the user task relies on call_soon FIFO
// (tasks start in creation order, as asyncio guarantees), so it is correct
// under asyncio and wrong on a runtime that starts tasks in any order.
struct Registry {
  bool registered = false;
};
inline Coro<void> do_register(Registry* r) {
  r->registered = true;
  co_return;
}
inline Coro<void> use_registration(Registry* r) {
  if (!r->registered) throw std::logic_error("used before registration (relied on task start order)");
  co_return;
}
inline Coro<void> start_order(SimLoop& loop) {
  Registry r;
  auto a = loop.create_task(do_register(&r));
  auto b = loop.create_task(use_registration(&r));
  co_await a;
  co_await b;
}

// 6. Not cancellation-safe: a slot taken before an await is given back only
// on the normal path; a cancellation at the await leaks it. Nothing in the
// program cancels: only seeded cancellation injection can show it.
struct Pool {
  int in_use = 0;
};
inline Coro<void> job(Pool* pool) {
  ++pool->in_use;
  co_await simloop::sleep(1ms);
  --pool->in_use;  // BUG: skipped when cancelled at the await (no RAII, no try/catch)
}
inline Coro<void> leaky_pool(SimLoop& loop) {
  Pool pool;
  std::vector<simloop::Task<void>> jobs;
  for (int i = 0; i < 3; ++i) jobs.push_back(loop.create_task(job(&pool)));
  for (auto& j : jobs) {
    try {
      co_await j;
    } catch (const simloop::CancelledError&) {
      // a cancelled job is fine; a leaked slot is not
    }
  }
  if (pool.in_use != 0) throw std::logic_error("slot leaked: in_use " + std::to_string(pool.in_use));
}

}  // namespace racy
