#include <simloop/simloop.hpp>
using namespace std::chrono_literals;

simloop::Coro<int> worker(int n) {
  co_await simloop::sleep(1s);  // virtual time: returns at once
  co_return n * 2;
}

int main() {
  simloop::sim::SimLoop loop;  // virtual clock, asyncio's own order
  int v = loop.run_until_complete(worker(21));
  return v == 42 && loop.time() == 1s ? 0 : 1;  // 42, after one virtual second
}
