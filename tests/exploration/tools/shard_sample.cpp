// A SIMLOOP_TEST that logs every seed it runs (to $SHARD_SAMPLE_LOG, else to
// seeds.log in the working directory; one per line), for the sharding tests:
// run under GTEST_TOTAL_SHARDS=N with each GTEST_SHARD_INDEX, or as the N
// ctest entries simloop_discover_tests(... SHARDS N) registers, the logs
// together must hold every seed exactly once.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include <simloop/sim/gtest.hpp>
#include <simloop/simloop.hpp>

namespace {

class SeedLog final : public simloop::sim::RunObserver {
 public:
  void on_run_start(const simloop::sim::RunContext& ctx, simloop::sim::SimLoop&, simloop::sim::SimScheduler&) override {
    const char* path = std::getenv("SHARD_SAMPLE_LOG");
    if (path == nullptr) path = "seeds.log";
    if (std::FILE* f = std::fopen(path, "a")) {
      std::fprintf(f, "%llu\n", static_cast<unsigned long long>(ctx.seed));
      std::fclose(f);
    }
  }
};

SeedLog seed_log;

simloop::sim::RunnerOptions logged() {
  simloop::sim::RunnerOptions o;
  o.runs = 10;
  o.observers.push_back(&seed_log);
  return o;
}

}  // namespace

SIMLOOP_TEST_OPTIONS(Sharding, EverySeedOnce, logged()) {
  co_await simloop::sleep(std::chrono::milliseconds(simloop::sim::choose(3)));
}

// A plain test beside it, so the copies do not start at test 0.
TEST(Sharding, PlainTest) { SUCCEED(); }
