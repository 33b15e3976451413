// Shared fixtures of the replay tests: a small well-formed Trace, and a racy
// scenario (a double withdrawal that only a non-natural ready order reaches).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <simloop/replay/trace.hpp>
#include <simloop/sim/runner.hpp>
#include <simloop/simloop.hpp>

namespace replay_fixtures {

inline simloop::replay::Trace sample_trace() {
  using namespace simloop::replay;
  Trace t;
  t.simloop_version = "0.1.0";
  t.test = "Bank.DoubleWithdrawal";
  t.strategy = "random";
  t.fidelity = "chaos";
  t.options = "max_steps=1000";
  t.seed = 42;
  t.failure = "assertion: balance is -60 \"quoted\"\nsecond line\twith tab";
  t.choices = {Choice{.n = 2, .value = 0, .step = 1, .kind = 2}, Choice{.n = 5, .value = 1, .step = 3, .kind = 0},
               Choice{.n = 0, .value = 12345, .step = 4, .kind = 1}, Choice{.n = 9, .value = 1, .step = 5, .kind = 4}};
  t.digests = {Digest{0, 0, 0x0123456789abcdefull}, Digest{9, 2000000, 0xfedcba9876543210ull}};
  t.events = {Event{1, 0, 1, "main", "step of main", "x.cpp:12 in main()", 0, 1},
              Event{2, 0, 0, "", "callback at y.cpp:3", "", 1, 2},
              Event{3, 1000, 2, "Task-2", "step of Task-2 (resumed at z.cpp:9)", "done", 2, 2}};
  t.injections = {InjectionRecord{2, 0, "granted", 2, "Task-2", "woken at the co_await at z.cpp:9: <Future finished>"}};
  return t;
}

struct Account {
  int balance = 100;
};

// Silent exploration under chaos (the only fidelity that reaches the
// overdraft), with enough seeds to find it.
inline simloop::sim::RunnerOptions chaos_runner() {
  simloop::sim::RunnerOptions o;
  o.sim.fidelity = simloop::sim::Fidelity::Chaos;
  o.runs = 300;
  o.log = nullptr;
  return o;
}

// Check-then-act across an await: the check and the withdrawal are one
// iteration apart.
inline simloop::Coro<void> withdraw(Account* account, int amount) {
  if (account->balance >= amount) {
    co_await simloop::sleep(std::chrono::nanoseconds(0));
    account->balance -= amount;
  }
}

// Under asyncio's order the first withdrawal completes before the second
// checks; only a ready batch run out of order (chaos) lets both check first.
inline simloop::Coro<int> bank(Account* account) {
  auto first = simloop::create_task(withdraw(account, 80));
  co_await simloop::sleep(std::chrono::nanoseconds(0));
  auto second = simloop::create_task(withdraw(account, 80));
  co_await first;
  co_await second;
  co_return account->balance;
}

// The same program, changed: a third task draws a test-side choice first
// (a recording of `bank` diverges on it).
inline simloop::Coro<int> bank_changed(Account* account) {
  auto first = simloop::create_task(withdraw(account, 80));
  co_await simloop::sleep(std::chrono::nanoseconds(0));
  if (simloop::sim::coin()) account->balance += 1;
  auto second = simloop::create_task(withdraw(account, 80));
  co_await first;
  co_await second;
  co_return account->balance;
}

}  // namespace replay_fixtures
