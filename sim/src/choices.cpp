#include <simloop/sim/choices.hpp>

#include <fmt/format.h>

#include <simloop/event_loop.hpp>
#include <simloop/sim/strategy.hpp>

namespace simloop::sim {

std::uint64_t choose(std::uint64_t n) {
  if (n == 0) throw Error("sim::choose(0): a choice needs at least one option");
  return EventLoop::running_or_throw("sim::choose").scheduler().choose(ChoiceKind::Test, n);
}

bool coin() { return EventLoop::running_or_throw("sim::coin").scheduler().choose(ChoiceKind::Test, 2) == 1; }

Duration duration(Duration lo, Duration hi) {
  if (lo > hi) {
    throw Error(fmt::format("sim::duration(lo={}ns, hi={}ns): lo is greater than hi", lo.count(), hi.count()));
  }
  EventLoop& loop = EventLoop::running_or_throw("sim::duration");
  // hi - lo + 1 values; the full 64-bit span wraps to 0, which cannot be
  // asked for: take the widest askable range instead.
  std::uint64_t span = static_cast<std::uint64_t>(hi.count()) - static_cast<std::uint64_t>(lo.count()) + 1;
  if (span == 0) span = ~std::uint64_t{0};
  const std::uint64_t offset = loop.scheduler().choose(ChoiceKind::Test, span);
  return Duration{static_cast<Duration::rep>(static_cast<std::uint64_t>(lo.count()) + offset)};
}

bool buggify(std::source_location where) {
  EventLoop* loop = EventLoop::running();
  if (loop == nullptr) return false;
  auto* sim = dynamic_cast<SimScheduler*>(&loop->scheduler());
  return sim != nullptr && sim->buggify(where);
}

}  // namespace simloop::sim
