#include <simloop/sim/sim_loop.hpp>

#include <fmt/format.h>

#include <simloop/errors.hpp>
#include <simloop/sim/strategy.hpp>

namespace simloop::sim {

void VirtualSelector::refuse(int fd) {
  throw Error(fmt::format(
      "add_reader/add_writer(fd={}): the plain virtual selector has no I/O; build the SimLoop with a FakeSelector",
      fd));
}

namespace {
LoopParts virtual_parts(std::unique_ptr<Scheduler> scheduler, std::unique_ptr<Selector> selector,
                        std::unique_ptr<Executor> executor) {
  LoopParts parts;
  auto clock = std::make_unique<VirtualClock>();
  if (!selector) selector = std::make_unique<VirtualSelector>(*clock);
  parts.clock = std::move(clock);
  parts.selector = std::move(selector);
  parts.executor = std::move(executor);
  parts.scheduler = std::move(scheduler);
  return parts;
}
}  // namespace

SimLoop::SimLoop(std::unique_ptr<Scheduler> scheduler, std::unique_ptr<Selector> selector,
                 std::unique_ptr<Executor> executor)
    : EventLoop(virtual_parts(std::move(scheduler), std::move(selector), std::move(executor))) {}

void spare(const AnyTask& task) {
  if (!task) throw InvalidStateError("sim::spare: the task is empty (default-constructed or moved from)");
  if (auto* scheduler = dynamic_cast<SimScheduler*>(&task.get_loop().scheduler())) {
    scheduler->spare_task(task.base()->id());
  }
}

}  // namespace simloop::sim
