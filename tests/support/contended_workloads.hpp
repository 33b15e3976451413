// Correct use of every simloop primitive by several workers contending on
// it, as runner scenarios that tolerate any worker being cancelled (by
// injection or by a timeout): each worker makes a fixed number of attempts,
// every wait that depends on another worker has a deadline, and the main task
// (spared by injection) ends what the workers may have left open (a set
// event, a shutdown, an abort). So a run can only fail through a detector or
// through an exception other than CancelledError, TimeoutError and the
// primitive's own end-of-use errors, which each worker re-raises.
//
// Workers sleep while they hold a lock or a permit, so at the moments the
// loop waits for a timer other workers are parked on the primitive: those
// are the states the liveness check judges.
#pragma once

#include <chrono>
#include <cstddef>
#include <source_location>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <simloop/simloop.hpp>

namespace simloop::testing {

using namespace std::chrono_literals;

// How much work the workers of a scenario did, over all its runs.
struct WorkDone {
  std::size_t rounds = 0;     // critical sections entered, items moved, waits passed
  std::size_t timeouts = 0;   // waits that gave up at their deadline
  std::size_t cancelled = 0;  // workers that ended cancelled
};

namespace detail_workloads {

// Waits for every worker; a worker that failed with anything but a
// cancellation fails the scenario.
inline Coro<void> finish(std::vector<Task<void>> workers, WorkDone* done) {
  co_await simloop::wait(workers);
  for (Task<void>& w : workers) {
    if (w.cancelled()) {
      ++done->cancelled;
    } else {
      w.result();
    }
  }
}

// A pause that differs between workers, so their rounds interleave.
inline Duration pause(std::size_t worker, std::size_t round) {
  return std::chrono::microseconds(100 + 70 * ((worker * 3 + round) % 5));
}

// Even workers take the primitive with hold(); odd ones with a deadline
// (wait_for cancels the acquire when it passes).
template <class P>
Coro<void> hold_in_turns(P* primitive, std::size_t worker, std::size_t rounds, WorkDone* done) {
  for (std::size_t r = 0; r < rounds; ++r) {
    if (worker % 2 == 0) {
      auto held = co_await primitive->hold();
      ++done->rounds;
      co_await simloop::sleep(pause(worker, r));
    } else {
      bool acquired = false;
      try {
        acquired = co_await simloop::wait_for(primitive->acquire(), std::chrono::microseconds(300));
      } catch (const TimeoutError&) {
        ++done->timeouts;
      }
      if (acquired) {
        Held<P> held(*primitive);
        ++done->rounds;
        co_await simloop::sleep(pause(worker, r));
      }
    }
    co_await simloop::sleep(pause(worker + 1, r));
  }
}

inline Coro<void> wait_rounds(Event* event, std::size_t worker, std::size_t rounds, WorkDone* done) {
  for (std::size_t r = 0; r < rounds; ++r) {
    try {
      co_await simloop::wait_for(event->wait(), std::chrono::microseconds(700));
      ++done->rounds;
    } catch (const TimeoutError&) {
      ++done->timeouts;
    }
    co_await simloop::sleep(pause(worker, r));
  }
}

template <class Q>
Coro<void> produce(Q* queue, std::size_t worker, std::size_t items, WorkDone* done) {
  for (std::size_t i = 0; i < items; ++i) {
    try {
      co_await simloop::wait_for(queue->put(static_cast<int>(worker * 100 + i)), std::chrono::microseconds(400));
      ++done->rounds;
    } catch (const TimeoutError&) {
      ++done->timeouts;
    }
    co_await simloop::sleep(pause(worker, i));
  }
}

template <class Q>
Coro<void> consume(Q* queue, std::size_t worker, std::size_t attempts, WorkDone* done) {
  for (std::size_t i = 0; i < attempts; ++i) {
    try {
      (void)co_await simloop::wait_for(queue->get(), std::chrono::microseconds(400));
      queue->task_done();
      ++done->rounds;
    } catch (const TimeoutError&) {
      ++done->timeouts;
    }
    co_await simloop::sleep(pause(worker, i));
  }
}

// Gets until the queue is shut down (the main task shuts it at the end).
template <class Q>
Coro<void> get_until_shutdown(Q* queue, WorkDone* done) {
  for (;;) {
    try {
      (void)co_await queue->get();
    } catch (const QueueShutDown&) {
      co_return;
    }
    queue->task_done();
    ++done->rounds;
  }
}

template <class Q>
Coro<void> join_with_deadline(Q* queue, WorkDone* done) {
  try {
    co_await simloop::wait_for(queue->join(), std::chrono::milliseconds(2));
    ++done->rounds;
  } catch (const TimeoutError&) {
    ++done->timeouts;
  }
}

struct Shared {
  int items = 0;
};

inline Coro<void> notify_items(Condition* cond, Shared* shared, std::size_t worker, std::size_t rounds,
                               WorkDone* done) {
  for (std::size_t r = 0; r < rounds; ++r) {
    {
      auto held = co_await cond->hold();
      ++shared->items;
      cond->notify(1);
      ++done->rounds;
    }
    co_await simloop::sleep(pause(worker, r));
  }
}

inline Coro<void> take_items(Condition* cond, Shared* shared, std::size_t worker, std::size_t rounds, WorkDone* done) {
  for (std::size_t r = 0; r < rounds; ++r) {
    {
      auto held = co_await cond->hold();
      auto has_item = [shared] { return shared->items > 0; };
      try {
        (void)co_await simloop::wait_for(cond->wait_for(has_item), std::chrono::microseconds(500));
      } catch (const TimeoutError&) {
        ++done->timeouts;
      }
      if (shared->items > 0) {
        --shared->items;
        ++done->rounds;
        co_await simloop::sleep(pause(worker, r));
      }
    }
    co_await simloop::sleep(pause(worker + 1, r));
  }
}

inline Coro<void> barrier_rounds(Barrier* barrier, std::size_t worker, std::size_t rounds, WorkDone* done) {
  for (std::size_t r = 0; r < rounds; ++r) {
    try {
      (void)co_await simloop::wait_for(barrier->wait(), std::chrono::microseconds(900));
      ++done->rounds;
    } catch (const TimeoutError&) {
      ++done->timeouts;
    } catch (const BrokenBarrierError&) {
      co_return;
    }
    co_await simloop::sleep(pause(worker, r));
  }
}

}  // namespace detail_workloads

// Four workers take turns on a Lock, Semaphore(2) or BoundedSemaphore(2).
template <class P>
sim::Scenario contended_hold(WorkDone* done, long permits = 1) {
  return [done, permits](sim::SimLoop& loop) -> Coro<void> {
    P* primitive = nullptr;
    if constexpr (std::is_same_v<P, Lock>) {
      (void)permits;
      primitive = &loop.keep<P>(std::source_location::current());
    } else {
      primitive = &loop.keep<P>(permits, std::source_location::current());
    }
    std::vector<Task<void>> workers;
    for (std::size_t w = 0; w < 4; ++w) {
      workers.push_back(
          loop.create_task(detail_workloads::hold_in_turns(primitive, w, 4, done), fmt::format("worker-{}", w)));
    }
    co_await detail_workloads::finish(std::move(workers), done);
  };
}

// Four waiters; the main task sets the event, clears it, and sets it again,
// and leaves it set.
inline sim::Scenario contended_event(WorkDone* done) {
  return [done](sim::SimLoop& loop) -> Coro<void> {
    Event& event = loop.keep<Event>(std::source_location::current());
    std::vector<Task<void>> workers;
    for (std::size_t w = 0; w < 4; ++w) {
      workers.push_back(
          loop.create_task(detail_workloads::wait_rounds(&event, w, 4, done), fmt::format("waiter-{}", w)));
    }
    for (int round = 0; round < 4; ++round) {
      co_await simloop::sleep(std::chrono::microseconds(450));
      event.set();
      co_await simloop::sleep(std::chrono::microseconds(150));
      event.clear();
    }
    event.set();
    co_await detail_workloads::finish(std::move(workers), done);
  };
}

// Two producers and two consumers over a queue of two slots (both parking),
// a joiner, and a getter that runs until the main task shuts the queue down.
template <class Q>
sim::Scenario contended_queue(WorkDone* done) {
  return [done](sim::SimLoop& loop) -> Coro<void> {
    Q& queue = loop.keep<Q>(2, std::source_location::current());
    std::vector<Task<void>> workers;
    for (std::size_t w = 0; w < 2; ++w) {
      workers.push_back(loop.create_task(detail_workloads::produce(&queue, w, 5, done), fmt::format("producer-{}", w)));
      workers.push_back(
          loop.create_task(detail_workloads::consume(&queue, w + 2, 4, done), fmt::format("consumer-{}", w)));
    }
    workers.push_back(loop.create_task(detail_workloads::join_with_deadline(&queue, done), "joiner"));
    Task<void> last = loop.create_task(detail_workloads::get_until_shutdown(&queue, done), "last-getter");
    co_await detail_workloads::finish(std::move(workers), done);
    queue.shutdown();
    std::vector<Task<void>> rest{last};
    co_await detail_workloads::finish(std::move(rest), done);
  };
}

// Two notifiers and two takers over a Condition (its own lock).
inline sim::Scenario contended_condition(WorkDone* done) {
  return [done](sim::SimLoop& loop) -> Coro<void> {
    Condition& cond = loop.keep<Condition>(std::source_location::current());
    detail_workloads::Shared& shared = loop.keep<detail_workloads::Shared>();
    std::vector<Task<void>> workers;
    for (std::size_t w = 0; w < 2; ++w) {
      workers.push_back(
          loop.create_task(detail_workloads::notify_items(&cond, &shared, w, 4, done), fmt::format("notifier-{}", w)));
      workers.push_back(
          loop.create_task(detail_workloads::take_items(&cond, &shared, w + 2, 4, done), fmt::format("taker-{}", w)));
    }
    co_await detail_workloads::finish(std::move(workers), done);
  };
}

// Three parties over a Barrier(3); the main task aborts it at the end.
inline sim::Scenario contended_barrier(WorkDone* done) {
  return [done](sim::SimLoop& loop) -> Coro<void> {
    Barrier& barrier = loop.keep<Barrier>(std::size_t{3}, std::source_location::current());
    std::vector<Task<void>> workers;
    for (std::size_t w = 0; w < 3; ++w) {
      workers.push_back(
          loop.create_task(detail_workloads::barrier_rounds(&barrier, w, 4, done), fmt::format("party-{}", w)));
    }
    co_await simloop::sleep(std::chrono::milliseconds(3));
    co_await barrier.abort();
    co_await detail_workloads::finish(std::move(workers), done);
  };
}

}  // namespace simloop::testing
