// A program under test that crashes at some seeds, for crash_test.sh:
//   crash_sample abort       std::abort() at about one seed in 40
//   crash_sample null        writes through a null pointer at about one seed in 40
//   crash_sample terminate   throws out of a noexcept function at about one seed in 40
// Each run makes a few seeded choices first, so the crash's replay file
// holds a schedule worth replaying.
#include <fmt/format.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include <simloop/replay/explore.hpp>
#include <simloop/simloop.hpp>

using namespace std::chrono_literals;
namespace sim = simloop::sim;

namespace {

std::string g_mode;

void may_throw(bool really) {
  if (really) throw std::runtime_error("escaped a noexcept function");
}
void throws_through_noexcept(bool really) noexcept { may_throw(really); }

simloop::Coro<void> worker(int id) {
  co_await simloop::sleep(sim::duration(1ms, 5ms));
  (void)id;
}

simloop::Coro<void> scenario(sim::SimLoop& loop) {
  auto a = loop.create_task(worker(1), "a");
  auto b = loop.create_task(worker(2), "b");
  co_await a;
  co_await b;
  if (sim::choose(40) != 7) co_return;
  if (g_mode == "abort") std::abort();
  if (g_mode == "null") {
    volatile int* nowhere = nullptr;
    *nowhere = 1;
  }
  if (g_mode == "terminate") throws_through_noexcept(true);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: crash_sample abort|null|terminate\n");
    return 2;
  }
  g_mode = argv[1];
  sim::RunnerOptions options;
  options.test_name = "crash_sample";
  options.runs = 1000;
  options.program = argv[0];
  options.program_args = g_mode;
  try {
    options = sim::options_from_env(options);
    const sim::ExploreResult result = simloop::replay::explore(scenario, options);
    return result.ok() ? 0 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "crash_sample: {}\n", e.what());
    return 2;
  }
}
