// Barrier: each round hands out every index in [0, parties) exactly once,
// and a full round is never left waiting, whatever is cancelled while the
// barrier fills or drains (planned cancels from plain callbacks, plus seeded
// injection at any co_await).
#include <map>
#include <set>
#include <string>
#include <vector>

#include <simloop/properties/gtest.hpp>
#include <simloop/simloop.hpp>

#include "support/cancel_plan.hpp"

namespace {

using simloop::Coro;
using simloop::Task;
using simloop::sim::SimLoop;
namespace props = simloop::properties;

struct Passed {
  std::uint64_t round;
  std::size_t index;
};
// A wait() that ended in CancelledError, with the rounds that passed while
// it was inside: (entered, left].
struct CancelledWait {
  std::uint64_t entered;
  std::uint64_t left;
  bool after_abort;
};
struct Log {
  std::vector<Passed> passed;
  std::vector<CancelledWait> cancelled;
  int broken = 0;          // BrokenBarrierError from a wait entered before abort()
  std::size_t inside = 0;  // parties inside wait() now
  bool aborted = false;
};

Coro<void> party(simloop::Barrier* b, Log* log, int rounds, int arrive_us) {
  for (int r = 0; r < rounds; ++r) {
    // Staggered arrivals: a round fills slowly, so cancels land while it does.
    co_await simloop::sleep(std::chrono::microseconds(arrive_us));
    const std::uint64_t entered = b->rounds();
    const bool entered_after_abort = log->aborted;
    bool cancelled = false;
    bool broken = false;
    ++log->inside;
    try {
      const std::size_t index = co_await b->wait();
      log->passed.push_back({b->rounds(), index});
    } catch (const simloop::CancelledError&) {
      cancelled = true;
    } catch (const simloop::BrokenBarrierError&) {
      broken = true;
    }
    --log->inside;
    if (broken) {
      log->broken += !entered_after_abort;
      co_return;
    }
    if (cancelled) {
      log->cancelled.push_back({entered, b->rounds(), log->aborted});
      throw simloop::CancelledError();
    }
  }
}

}  // namespace

SIMLOOP_PROPERTY(BarrierProperty, EveryRoundHandsOutEachIndexOnce, 300, ()) {
  const auto parties = *rc::gen::inRange<std::size_t>(1, 5);
  const int tasks = *rc::gen::inRange(static_cast<int>(parties), static_cast<int>(2 * parties + 2));
  const int rounds = *rc::gen::inRange(1, 4);
  std::vector<int> arrive_us;
  for (int i = 0; i < tasks; ++i) arrive_us.push_back(*rc::gen::inRange(0, 100));
  const auto plan = simloop_test::gen_cancels(static_cast<std::size_t>(tasks), 4, 300);
  props::PropertyOptions options;
  options.inject_cancellations(50'000, 3);
  props::run(
      [&](SimLoop& loop) -> Coro<void> {
        simloop::Barrier barrier(parties);
        Log log;
        std::vector<Task<void>> ts;
        for (int i = 0; i < tasks; ++i) ts.push_back(loop.create_task(party(&barrier, &log, rounds, arrive_us[i])));
        Task<void> cancels = loop.create_task(simloop_test::canceller(&ts, plan));
        co_await simloop::gather(simloop::return_exceptions, cancels);
        // Once every party is done or parked in wait(), each parked one is a
        // counted waiter of a filling round: none is stuck behind a round
        // that never drained, and a full round never waits.
        for (int polls = 0; polls < 1000; ++polls) {
          std::size_t done = 0;
          for (const auto& t : ts) done += t.done();
          if (done + log.inside == ts.size() && log.inside == barrier.n_waiting()) break;
          co_await simloop::sleep(std::chrono::microseconds(100));
        }
        SIMLOOP_PROP_ASSERT(log.inside == barrier.n_waiting(),
                            log.inside << " parties inside wait(), " << barrier.repr());
        SIMLOOP_PROP_ASSERT(barrier.n_waiting() < parties, "a full round waits: " << barrier.repr());
        const std::size_t stranded = barrier.n_waiting();
        const std::string before_abort = barrier.repr();
        log.aborted = true;
        co_await barrier.abort();
        for (auto& t : ts) co_await simloop::gather(simloop::return_exceptions, t);
        // Each party left waiting is broken by abort(), unless an injected
        // cancel lands first (while it re-acquires the barrier's lock).
        std::size_t cancelled_after_abort = 0;
        for (const CancelledWait& c : log.cancelled) cancelled_after_abort += c.after_abort;
        SIMLOOP_PROP_ASSERT(static_cast<std::size_t>(log.broken) + cancelled_after_abort == stranded,
                            log.broken << " broken and " << cancelled_after_abort << " cancelled waits, " << stranded
                                       << " were waiting; before abort: " << before_abort);

        std::map<std::uint64_t, std::vector<std::size_t>> by_round;
        for (const Passed& p : log.passed) by_round[p.round].push_back(p.index);
        SIMLOOP_PROP_ASSERT(by_round.empty() || by_round.rbegin()->first == barrier.rounds(),
                            "returns name round " << by_round.rbegin()->first << " of " << barrier.rounds());
        for (std::uint64_t r = 1; r <= barrier.rounds(); ++r) {
          const std::vector<std::size_t>& got = by_round[r];
          std::set<std::size_t> distinct(got.begin(), got.end());
          SIMLOOP_PROP_ASSERT(distinct.size() == got.size(), "round " << r << " handed an index out twice");
          for (std::size_t i : got) SIMLOOP_PROP_ASSERT(i < parties, "index " << i << " of " << parties);
          // A party missing from a passed round was cancelled while inside it.
          std::size_t could_have_been_in_it = 0;
          for (const CancelledWait& c : log.cancelled) could_have_been_in_it += c.entered < r && r <= c.left;
          SIMLOOP_PROP_ASSERT(got.size() + could_have_been_in_it >= parties,
                              "round " << r << " returned " << got.size() << " of " << parties << " indices and "
                                       << could_have_been_in_it << " cancelled waits could have held the rest");
        }
      },
      options);
}
