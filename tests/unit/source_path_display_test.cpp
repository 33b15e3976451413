// A report names a task suspended inside one of simloop's primitives by the
// header as a user includes it ("simloop/queues.hpp"), never by a path of
// simloop's source tree or of the machine it was built on.
#include <gtest/gtest.h>

#include <string>

#include <simloop/simloop.hpp>

#include "support/quiet_runner.hpp"

namespace {

using namespace simloop;

Coro<void> consumer(Queue<int>* q) { (void)co_await q->get(); }

Coro<void> waits_forever(sim::SimLoop&) {
  Queue<int> q;
  auto t = create_task(consumer(&q), "consumer");
  co_await t;
}

TEST(SourcePathDisplay, ATaskInsideAPrimitiveIsShownAtTheIncludedHeader) {
  const sim::ExploreResult r = sim::explore(&waits_forever, simloop::testing::quiet_fifo_runner());
  ASSERT_FALSE(r.ok());
  const std::string& report = r.failure->report;
  EXPECT_NE(report.find("suspended at simloop/queues.hpp:"), std::string::npos) << report;
  EXPECT_EQ(report.find("include/simloop/"), std::string::npos) << report;
}

}  // namespace
