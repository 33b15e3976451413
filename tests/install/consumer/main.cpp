#include <chrono>
#include <cstdio>
#include <simloop/simloop.hpp>

using namespace std::chrono_literals;

static simloop::Coro<int> twice(int n) {
  co_await simloop::sleep(1s);
  co_return 2 * n;
}

int main() {
  simloop::sim::SimLoop loop;
  const int v = loop.run_until_complete(twice(21));
  std::printf("consumer (simloop %s): %d at %lld ns\n", SIMLOOP_VERSION, v,
              static_cast<long long>(loop.time().count()));
  static_assert(SIMLOOP_VERSION_MAJOR >= 0 && SIMLOOP_VERSION_MINOR >= 0 && SIMLOOP_VERSION_PATCH >= 0);
  return v == 42 && loop.time() == 1s ? 0 : 1;
}
