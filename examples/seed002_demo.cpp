// The program of the asyncio notes (seed 002): two tasks each sleep 1 s then
// 5 s. On virtual time it takes no real time, and both end at t=6 s.
#include <fmt/format.h>

#include <chrono>
#include <simloop/simloop.hpp>

using namespace std::chrono_literals;
using simloop::Coro;

namespace {

double seconds(const simloop::EventLoop& loop) { return std::chrono::duration<double>(loop.time()).count(); }

Coro<> say_after_time(std::chrono::seconds delay) { co_await simloop::sleep(delay); }

Coro<> main_task(simloop::EventLoop& loop, std::string name) {
  fmt::print("[t={:.3f}] {} starts\n", seconds(loop), name);
  simloop::AnyTask self = simloop::current_task();
  fmt::print("[t={:.3f}] {} current task: {}\n", seconds(loop), name, self.repr());
  fmt::print("[t={:.3f}] {} sees {} pending tasks\n", seconds(loop), name, simloop::all_tasks(loop).size());
  co_await say_after_time(1s);
  co_await say_after_time(5s);
  fmt::print("[t={:.3f}] {} ends\n", seconds(loop), name);
}

Coro<> both(simloop::EventLoop& loop) {
  auto task1 = loop.create_task(main_task(loop, "task1"));
  auto task2 = loop.create_task(main_task(loop, "task2"));
  co_await task1;
  co_await task2;
}

}  // namespace

int main() {
  simloop::sim::SimLoop loop;
  loop.run_until_complete(both(loop));
  fmt::print("[t={:.3f}] all done after {} callbacks\n", seconds(loop), loop.steps());
}
