#include <simloop/replay/gtest.hpp>  // failures write replay files
#include <simloop/sim/gtest.hpp>
#include <simloop/simloop.hpp>

struct Bank {
  int balance;
};

simloop::Coro<void> withdraw(Bank* bank, int amount) {
  if (bank->balance < amount) co_return;
  co_await simloop::sleep(std::chrono::milliseconds(1));  // the check and the update are split by an await
  bank->balance -= amount;
}

SIMLOOP_TEST(Bank, NeverOverdraws) {  // the body is a coroutine; `loop` is this run's SimLoop
  Bank bank{100};
  // The tasks point at `bank`: the group ends only when both have, so
  // neither can outlive the body's frame (docs/loop.md, "Lifetimes").
  auto two_withdrawals = [&bank](simloop::TaskGroup& tg) -> simloop::Coro<void> {
    tg.create_task(withdraw(&bank, 80));
    tg.create_task(withdraw(&bank, 80));
    co_return;
  };
  co_await simloop::with_task_group(two_withdrawals);
  SIMLOOP_ASSERT(bank.balance >= 0);
}
