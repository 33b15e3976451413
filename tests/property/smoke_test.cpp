#include <simloop/properties/gtest.hpp>
#include <simloop/simloop.hpp>

using namespace std::chrono_literals;

SIMLOOP_PROPERTY(PropertySmoke, SleepResumesNoEarlierThanItsDelay, 50, ()) {
  const auto d = std::chrono::milliseconds(*rc::gen::inRange(0, 1000));
  simloop::properties::run([d](simloop::sim::SimLoop& loop) -> simloop::Coro<void> {
    const auto start = loop.time();
    co_await simloop::sleep(d);
    SIMLOOP_PROP_ASSERT(loop.time() >= start + d);
  });
}
