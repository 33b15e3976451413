// The parts of Queue<T>, PriorityQueue<T> and LifoQueue<T> (queues.hpp) that
// do not depend on the item type: repr() and the liveness check.
#include <simloop/queues.hpp>

#include <fmt/format.h>

namespace simloop::detail {

std::string queue_repr(const QueueView& q, std::size_t getters, std::size_t putters) {
  std::string out = fmt::format("<Queue maxsize={}", q.maxsize);
  if (q.qsize > 0) out += fmt::format(" qsize={}", q.qsize);
  if (getters > 0) out += fmt::format(" _getters[{}]", getters);
  if (putters > 0) out += fmt::format(" _putters[{}]", putters);
  if (q.unfinished_tasks > 0) out += fmt::format(" tasks={}", q.unfinished_tasks);
  if (q.shutdown) out += " shutdown";
  out += '>';
  return out;
}

void check_queue_liveness(const Watched& queue, const EventLoop& loop, std::vector<LostWakeup>& out, const QueueView& q,
                          const std::deque<Future<void>>& getters, const std::deque<Future<void>>& putters) {
  // Each put wakes a getter, each get a putter, shutdown() every waiter, and
  // a woken waiter that is cancelled hands its wakeup on (queues.hpp).
  if (Watched::any_parked(getters)) {
    if (q.shutdown) {
      queue.add_finding(loop, out, q.kind, queue_repr(q, getters.size(), putters.size()),
                        "it is shut down, yet getters are parked on it (a shutdown that woke nobody)", getters);
    } else if (q.qsize > 0) {
      queue.add_finding(
          loop, out, q.kind, queue_repr(q, getters.size(), putters.size()),
          fmt::format("it holds {} item(s), yet getters are parked on it (a put that woke nobody)", q.qsize), getters);
    }
  }
  if (Watched::any_parked(putters)) {
    if (q.shutdown) {
      queue.add_finding(loop, out, q.kind, queue_repr(q, getters.size(), putters.size()),
                        "it is shut down, yet putters are parked on it (a shutdown that woke nobody)", putters);
    } else if (!q.full) {
      queue.add_finding(loop, out, q.kind, queue_repr(q, getters.size(), putters.size()),
                        "it is not full, yet putters are parked on it (a get that woke nobody)", putters);
    }
  }
}

}  // namespace simloop::detail
