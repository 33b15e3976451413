#include <simloop/fakes/fake_executor.hpp>

#include <fmt/format.h>

#include <simloop/errors.hpp>
#include <simloop/fakes/fake_selector.hpp>
#include <simloop/fakes/fakes.hpp>
#include <simloop/fakes/leaks.hpp>

namespace simloop::fakes {

FakeExecutor::FakeExecutor(ExecutorOptions options) : options_(options) {
  if (options_.unit < Duration{0}) throw Error("FakeExecutor: ExecutorOptions::unit must not be negative");
}

// The loop destroys its executor before its selector, so pending events can
// still be withdrawn here.
FakeExecutor::~FakeExecutor() { shutdown(); }

FakeExecutor& FakeExecutor::of(EventLoop& loop) {
  auto* fake = dynamic_cast<FakeExecutor*>(loop.executor());
  if (fake == nullptr) throw Error("FakeExecutor::of: this loop's executor is not a FakeExecutor");
  return *fake;
}

void FakeExecutor::attach(EventLoop& loop) {
  auto* selector = dynamic_cast<FakeSelector*>(&loop.selector());
  if (selector == nullptr) {
    throw Error("FakeExecutor: the loop's selector is not a FakeSelector; build the SimLoop with both (make_sim_loop)");
  }
  loop_ = &loop;
  selector_ = selector;
}

void FakeExecutor::submit(std::function<void()> job) {
  if (selector_ == nullptr) throw Error("FakeExecutor: not attached to a loop yet; pass it to a SimLoop first");
  if (shut_) throw Error("run_in_executor: the executor is shut down (the loop was closed)");
  if (!job) throw Error("FakeExecutor::submit: the job is empty");
  const std::uint64_t n = options_.steps;
  const std::uint64_t k = n > 1 ? loop_->scheduler().choose(ChoiceKind::Executor, n) : 0;
  const Duration now = loop_->time();
  const Duration due = now + options_.unit * static_cast<std::int64_t>(k < n ? k : 0);
  const std::uint64_t id = ++submitted_;
  Pending p;
  p.submitted_at = now;
  p.due = due;
  p.event = selector_->schedule(due, [this, id, job = std::move(job)]() mutable { run(id, job); });
  pending_.emplace(id, p);
}

void FakeExecutor::run(std::uint64_t id, std::function<void()>& job) {
  pending_.erase(id);
  ++completed_;
  try {
    job();
  } catch (...) {
    // run_in_executor's jobs catch their own exceptions; a raw submit() job
    // that throws is reported like an exception in a callback.
    loop_->call_exception_handler({"Exception in executor job", std::current_exception(), fmt::format("job {}", id)});
  }
}

void FakeExecutor::shutdown() {
  shut_ = true;
  if (selector_ == nullptr) return;
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) selector_->cancel_event(p.event);
}

std::vector<std::string> FakeExecutor::pending_jobs() const {
  std::vector<std::string> out;
  for (const auto& [id, p] : pending_) {
    out.push_back(
        fmt::format("executor job {} submitted at {}ns, due at {}ns", id, p.submitted_at.count(), p.due.count()));
  }
  return out;
}

// ---- leaks and make_sim_loop ----------------------------------------------------

std::vector<std::string> find_leaks(EventLoop& loop) {
  std::vector<std::string> leaks;
  if (auto* fake = dynamic_cast<FakeSelector*>(&loop.selector())) {
    for (std::string& e : fake->open_endpoints()) leaks.push_back("unclosed transport: " + e);
  }
  if (auto* fake = dynamic_cast<FakeExecutor*>(loop.executor())) {
    for (std::string& j : fake->pending_jobs()) leaks.push_back("unfinished " + j);
  }
  return leaks;
}

void assert_no_leaks(EventLoop& loop) {
  std::vector<std::string> leaks = find_leaks(loop);
  if (leaks.empty()) return;
  std::string message = fmt::format("{} leak(s) at the end of the run:", leaks.size());
  for (const std::string& l : leaks) message += "\n  " + l;
  throw LeakError(message);
}

std::unique_ptr<sim::SimLoop> make_sim_loop(std::unique_ptr<Scheduler> scheduler, SimIoOptions options) {
  return std::make_unique<sim::SimLoop>(std::move(scheduler), std::make_unique<FakeSelector>(std::move(options.net)),
                                        std::make_unique<FakeExecutor>(options.executor));
}

}  // namespace simloop::fakes
