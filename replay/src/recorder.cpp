// Recorder, RecordingScheduler, ReplayScheduler, RunRecording (recorder.hpp).
#include <simloop/replay/recorder.hpp>

#include <typeinfo>
#include <utility>

#include <fmt/format.h>

#include <simloop/version.hpp>

#include <simloop/task.hpp>

namespace simloop::replay {

static_assert(kKindCount == kChoiceKindCount, "replay's kind table must mirror simloop::ChoiceKind");

namespace {

std::uint8_t k(ChoiceKind kind) noexcept { return static_cast<std::uint8_t>(kind); }

// The last two components of a path: short, and still telling which file.
std::string_view short_file(std::string_view path) {
  const std::size_t last = path.rfind('/');
  if (last == std::string_view::npos || last == 0) return path;
  const std::size_t prev = path.rfind('/', last - 1);
  return prev == std::string_view::npos ? path : path.substr(prev + 1);
}

// "ns::f" out of "simloop::Coro<int> ns::f(Account*)" or GCC's coroutine
// frame names "void ns::f(f(Account*)::_Z...Frame*)": the name before the
// first parenthesis, without the return type.
std::string_view short_function(std::string_view fn) {
  const std::size_t paren = fn.find('(');
  if (paren == std::string_view::npos) return fn;
  std::size_t start = 0;
  int depth = 0;
  for (std::size_t i = 0; i < paren; ++i) {
    if (fn[i] == '<') ++depth;
    if (fn[i] == '>') --depth;
    if (fn[i] == ' ' && depth == 0) start = i + 1;
  }
  return fn.substr(start, paren - start);
}

std::string location(const std::source_location& at) {
  if (at.line() == 0 && *at.file_name() == '\0') return {};
  std::string out = fmt::format("{}:{}", short_file(at.file_name()), at.line());
  std::string_view fn = short_function(at.function_name());
  if (!fn.empty()) out += fmt::format(" in {}", fn);
  return out;
}

const detail::TaskBase* task_of(const Handle& h) noexcept {
  // StepHandle is final: an exact type test is enough (and cheap).
  if (typeid(h) != typeid(detail::StepHandle)) return nullptr;
  return static_cast<const detail::StepHandle&>(h).owner();
}

std::string choice_text(std::uint8_t kind, std::uint64_t n) {
  if (n == 0) return fmt::format("{} (unbounded)", kind_name(kind));
  return fmt::format("{} of range {}", kind_name(kind), n);
}

}  // namespace

// ---- Divergence --------------------------------------------------------------

std::string Divergence::describe() const {
  std::string out;
  switch (what) {
    case What::Mismatch:
      out = fmt::format(
          "replay diverged at choice #{} (step {}): the recording expects {} = {}, but the run asked for {}", index,
          step, choice_text(expected.kind, expected.n), expected.value, choice_text(actual_kind, actual_n));
      break;
    case What::PastEnd:
      out = fmt::format(
          "replay diverged at choice #{} (step {}): the recording has only {} choices, but the run asked for {}", index,
          step, index, choice_text(actual_kind, actual_n));
      break;
    case What::EndedEarly:
      out = fmt::format(
          "replay diverged: the run ended at step {} after {} choices, but the recording has more; the next one "
          "expected is {} = {} (recorded at step {})",
          step, index, choice_text(expected.kind, expected.n), expected.value, expected.step);
      break;
  }
  if (!context.empty()) out += "\n  running: " + context;
  out += "\n  (the code under test now takes another path than when the file was recorded)";
  return out;
}

// ---- Recorder ----------------------------------------------------------------

Recorder::Recorder() {
  choices_.reserve(256);
  events_.reserve(256);
}
Recorder::~Recorder() {
  if (loop_ != nullptr && observing_) loop_->set_observer(nullptr);
}

void Recorder::reset() {
  if (loop_ != nullptr && observing_) loop_->set_observer(nullptr);
  loop_ = nullptr;
  observing_ = false;
  finished_ = false;
  current_ = nullptr;
  choices_.clear();
  digests_.clear();
  events_.clear();
  injections_.clear();
  tasks_.clear();
  expected_digests_.clear();
  next_expected_ = 0;
  divergence_.reset();
  digest_mismatch_.reset();
}

void Recorder::attach(EventLoop& loop) {
  loop_ = &loop;
  finished_ = false;
  observing_ = true;
  loop.set_observer(this);
}

void Recorder::begin(EventLoop& loop) {
  loop_ = &loop;
  finished_ = false;
  observing_ = false;
}

void Recorder::finish() {
  if (loop_ == nullptr) return;
  take_digest(*loop_, loop_->steps());
  if (cursor_ != nullptr && cursor_->strict && !divergence_ && cursor_->consumed < cursor_->recorded) {
    Divergence d;
    d.what = Divergence::What::EndedEarly;
    d.index = cursor_->consumed;
    d.step = loop_->steps();
    d.expected = (*cursor_->list)[cursor_->consumed];
    set_divergence(std::move(d));
  }
  if (!digest_mismatch_ && !divergence_ && next_expected_ < expected_digests_.size()) {
    const Digest& e = expected_digests_[next_expected_];
    digest_mismatch_ =
        fmt::format("the run ended at step {}, before the recorded digest of step {}", loop_->steps(), e.step);
  }
  if (observing_) loop_->set_observer(nullptr);
  loop_ = nullptr;
  observing_ = false;
  finished_ = true;
}

void Recorder::set_divergence(Divergence d) {
  if (!divergence_) divergence_ = std::move(d);
}

std::string Recorder::context() const {
  if (loop_ == nullptr) return "outside any run";
  if (current_ == nullptr) {
    return fmt::format("the loop itself, between handles (after step {}, virtual time {}ns)", loop_->steps(),
                       loop_->time().count());
  }
  std::string out =
      fmt::format("step {} at virtual time {}ns: {}", loop_->steps(), loop_->time().count(), current_->describe());
  if (const detail::TaskBase* task = task_of(*current_)) {
    out += fmt::format(" (task '{}', last suspended at {})", task->name(), location(task->await_location()));
  }
  return out;
}

void Recorder::expect_digests(std::vector<Digest> digests) {
  expected_digests_ = std::move(digests);
  next_expected_ = 0;
}

void Recorder::take_digest(const EventLoop& loop, std::uint64_t step) {
  if (!digests_.empty() && digests_.back().step == step) return;
  // Counts and clocks only: a digest must not depend on where objects live.
  std::uint64_t pending = 0;
  for (const detail::TaskBase* t = loop.first_pending_task(); t != nullptr; t = t->next_pending()) ++pending;
  const std::int64_t vtime = loop.time().count();
  std::uint64_t h = kFnvOffset;
  h = fnv1a_u64(step, h);
  h = fnv1a_u64(static_cast<std::uint64_t>(vtime), h);
  h = fnv1a_u64(loop.ready_count(), h);
  h = fnv1a_u64(loop.timer_count(), h);
  h = fnv1a_u64(pending, h);
  const Digest d{step, vtime, h};
  digests_.push_back(d);
  if (next_expected_ < expected_digests_.size() && !digest_mismatch_) {
    const Digest& e = expected_digests_[next_expected_];
    if (e.step == step) {
      ++next_expected_;
      if (e.hash != d.hash || e.vtime_ns != d.vtime_ns) {
        digest_mismatch_ = fmt::format(
            "loop state differs from the recording at step {}: virtual time {}ns (recorded {}ns), digest {:016x} "
            "(recorded {:016x})",
            step, d.vtime_ns, e.vtime_ns, d.hash, e.hash);
      }
    } else if (e.step < step) {
      digest_mismatch_ = fmt::format("the recording has a digest at step {} that this run never took", e.step);
    }
  }
}

void Recorder::before_callback(const EventLoop& loop, const Handle& handle, std::uint64_t step) {
  current_ = &handle;
  RawEvent& e = pending_;
  e.step = step;
  e.vtime = loop.time().count();
  e.choice_begin = static_cast<std::uint32_t>(choices_.size());
  if (const detail::TaskBase* task = task_of(handle)) {
    e.task_id = task->id();
    e.resumed_at = task->await_location();
    e.where = std::source_location{};
    e.due = -1;
    if (tasks_.size() <= e.task_id) tasks_.resize(e.task_id + 1);
    // First sight of a task is its first step (ids are dense, per loop).
    // Only a given name is copied; the default one is made when needed.
    SeenTask& seen = tasks_[e.task_id];
    e.first_step = !seen.seen;
    if (e.first_step) {
      seen.seen = true;
      if (const std::string* name = task->given_name()) seen.given_name = *name;
    }
  } else {
    e.task_id = 0;
    e.first_step = false;
    e.where = handle.where();
    e.resumed_at = std::source_location{};
    e.due = handle.is_timer() ? static_cast<const TimerHandle&>(handle).when().count() : -1;
  }
}

void Recorder::after_callback(const EventLoop& loop, const Handle& handle, std::uint64_t step) {
  RawEvent& e = pending_;
  e.choice_end = static_cast<std::uint32_t>(choices_.size());
  if (const detail::TaskBase* task = task_of(handle)) {
    e.task_done = task->future().done();
    e.suspended_at = task->await_location();
  } else {
    e.task_done = false;
    e.suspended_at = std::source_location{};
  }
  // The timeline keeps the last kTimelineEvents handles: a runaway run
  // must not take its memory (replay needs only the choices).
  if (events_.size() == 2 * kTimelineEvents) events_.erase(events_.begin(), events_.begin() + kTimelineEvents);
  events_.push_back(e);
  current_ = nullptr;
  if (step % kDigestPeriod == 0) take_digest(loop, step);
}

Trace Recorder::trace(const RunInfo& info, std::string failure) const {
  Trace t;
  t.simloop_version = SIMLOOP_VERSION;
  t.test = info.test;
  t.strategy = info.strategy;
  t.fidelity = info.fidelity;
  t.seed = info.seed;
  t.failure = std::move(failure);
  t.choices = choices_;
  t.digests = digests_;
  t.injections = injections_;
  const std::size_t first = events_.size() > kTimelineEvents ? events_.size() - kTimelineEvents : 0;
  t.events.reserve(events_.size() - first);
  for (std::size_t i = first; i < events_.size(); ++i) {
    const RawEvent& r = events_[i];
    Event e;
    e.step = r.step;
    e.vtime_ns = r.vtime;
    e.task_id = r.task_id;
    e.choice_begin = r.choice_begin;
    e.choice_end = r.choice_end;
    if (r.task_id != 0) {
      e.task = r.task_id < tasks_.size() && tasks_[r.task_id].given_name ? *tasks_[r.task_id].given_name
                                                                         : fmt::format("Task-{}", r.task_id);
      e.what = fmt::format("{} of {}", r.first_step ? "first step" : "step", e.task);
      std::string from = location(r.resumed_at);
      if (!from.empty()) e.what += fmt::format(" ({} {})", r.first_step ? "created at" : "resumed at", from);
      e.suspended = r.task_done ? "done" : location(r.suspended_at);
    } else if (r.due >= 0) {
      e.what = fmt::format("timer (due {}ns) at {}:{}", r.due, short_file(r.where.file_name()), r.where.line());
    } else {
      e.what = fmt::format("callback at {}:{}", short_file(r.where.file_name()), r.where.line());
    }
    t.events.push_back(std::move(e));
  }
  return t;
}

void Recorder::on_injected_cancel(const EventLoop& loop, const simloop::InjectedCancel& injected) {
  if (finished_) return;
  (void)loop;
  InjectionRecord c;
  c.step = injected.step;
  c.vtime_ns = injected.time.count();
  c.kind = to_string(injected.kind);
  c.task_id = injected.task_id;
  c.task = injected.task;
  c.where = injected.where;
  injections_.push_back(std::move(c));
}

// ---- RecordingScheduler --------------------------------------------------------

RecordingScheduler::RecordingScheduler(std::unique_ptr<Scheduler> inner, Recorder& recorder)
    : inner_(std::move(inner)), recorder_(recorder) {
  points_ = inner_->points();
}

std::uint64_t RecordingScheduler::choose(ChoiceKind kind, std::uint64_t n) {
  const std::uint64_t v = inner_->choose(kind, n);
  recorder_.record_choice(k(kind), n, v);
  return v;
}

std::size_t RecordingScheduler::pick(ChoiceKind kind, std::span<Handle* const> candidates) {
  const std::size_t v = inner_->pick(kind, candidates);
  recorder_.record_choice(k(kind), candidates.size(), v);
  return v;
}

Duration RecordingScheduler::callback_cost() {
  const Duration d = inner_->callback_cost();
  recorder_.record_choice(k(ChoiceKind::CallbackCost), 0, static_cast<std::uint64_t>(d.count()));
  return d;
}

std::uint32_t RecordingScheduler::external_delay() {
  const std::uint32_t d = inner_->external_delay();
  recorder_.record_choice(k(ChoiceKind::ExternalDelay), 0, d);
  return d;
}

bool RecordingScheduler::inject_cancel(Injection kind, std::uint64_t task_id) {
  const bool c = inner_->inject_cancel(kind, task_id);
  recorder_.record_choice(k(ChoiceKind::Cancel), 2, c ? 1 : 0);
  return c;
}

std::size_t RecordingScheduler::injection_victim(std::span<const std::uint64_t> task_ids) {
  const std::size_t v = inner_->injection_victim(task_ids);
  recorder_.record_choice(k(ChoiceKind::CancelVictim), task_ids.size() + 1, v);
  return v;
}

// ---- ReplayScheduler -----------------------------------------------------------

ReplayScheduler::ReplayScheduler(std::vector<Choice> recorded, std::unique_ptr<Scheduler> seeded, ReplayMode mode,
                                 Recorder& recorder)
    : recorded_(std::move(recorded)), seeded_(std::move(seeded)), mode_(mode), recorder_(recorder) {
  points_ = seeded_->points();
  cursor_.recorded = recorded_.size();
  cursor_.strict = mode_ != ReplayMode::Guide;
  cursor_.list = &recorded_;
  recorder_.set_replay_cursor(&cursor_);
}

ReplayScheduler::~ReplayScheduler() { recorder_.set_replay_cursor(nullptr); }

std::optional<std::uint64_t> ReplayScheduler::serve(std::uint8_t kind, std::uint64_t n) {
  if (mode_ == ReplayMode::Guide) {
    if (cursor_.consumed >= recorded_.size()) return 0;
    const Choice& c = recorded_[cursor_.consumed++];
    if (n == 0) return c.n == 0 ? c.value : 0;
    return c.value < n ? c.value : 0;
  }
  if (diverged_) return std::nullopt;
  if (cursor_.consumed < recorded_.size()) {
    const Choice& c = recorded_[cursor_.consumed];
    if (c.kind == kind && c.n == n) {
      ++cursor_.consumed;
      return c.value;
    }
  }
  Divergence d;
  d.what = cursor_.consumed < recorded_.size() ? Divergence::What::Mismatch : Divergence::What::PastEnd;
  d.index = cursor_.consumed;
  d.step = recorder_.step();
  d.expected = d.what == Divergence::What::Mismatch ? recorded_[cursor_.consumed] : Choice{};
  d.actual_kind = kind;
  d.actual_n = n;
  d.context = recorder_.context();
  recorder_.set_divergence(std::move(d));
  diverged_ = true;
  return std::nullopt;
}

std::uint64_t ReplayScheduler::choose(ChoiceKind kind, std::uint64_t n) {
  if (auto v = serve(k(kind), n)) return *v;
  return mode_ == ReplayMode::StrictContinue ? seeded_->choose(kind, n) : 0;
}

std::size_t ReplayScheduler::pick(ChoiceKind kind, std::span<Handle* const> candidates) {
  if (auto v = serve(k(kind), candidates.size())) return static_cast<std::size_t>(*v);
  return mode_ == ReplayMode::StrictContinue ? seeded_->pick(kind, candidates) : 0;
}

Duration ReplayScheduler::callback_cost() {
  if (auto v = serve(k(ChoiceKind::CallbackCost), 0)) return Duration{static_cast<Duration::rep>(*v)};
  return mode_ == ReplayMode::StrictContinue ? seeded_->callback_cost() : Duration{0};
}

std::uint32_t ReplayScheduler::external_delay() {
  if (auto v = serve(k(ChoiceKind::ExternalDelay), 0)) return static_cast<std::uint32_t>(*v);
  return mode_ == ReplayMode::StrictContinue ? seeded_->external_delay() : 0;
}

bool ReplayScheduler::inject_cancel(Injection kind, std::uint64_t task_id) {
  if (auto v = serve(k(ChoiceKind::Cancel), 2)) return *v != 0;
  return mode_ == ReplayMode::StrictContinue ? seeded_->inject_cancel(kind, task_id) : false;
}

std::size_t ReplayScheduler::injection_victim(std::span<const std::uint64_t> task_ids) {
  // n counts "none" too (task_ids.size()), as the recorder wrote it.
  if (auto v = serve(k(ChoiceKind::CancelVictim), task_ids.size() + 1)) {
    return *v <= task_ids.size() ? static_cast<std::size_t>(*v) : task_ids.size();
  }
  return mode_ == ReplayMode::StrictContinue ? seeded_->injection_victim(task_ids) : task_ids.size();
}

// ---- RunRecording ----------------------------------------------------------------

RunRecording::RunRecording(RunRecording&&) noexcept = default;
RunRecording& RunRecording::operator=(RunRecording&&) noexcept = default;
RunRecording::~RunRecording() {
  // The scheduler refers to the recorder: drop it first if never handed out.
  scheduler_.reset();
}

RunRecording RunRecording::record(RunInfo info, std::unique_ptr<Scheduler> strategy) {
  RunRecording r;
  r.info_ = std::move(info);
  r.recorder_ = std::make_unique<Recorder>();
  if (!strategy) strategy = std::make_unique<FifoScheduler>();
  r.scheduler_ = std::make_unique<RecordingScheduler>(std::move(strategy), *r.recorder_);
  return r;
}

RunRecording RunRecording::replay(const Trace& trace, std::unique_ptr<Scheduler> seeded, ReplayMode mode) {
  RunRecording r;
  r.info_ = RunInfo{trace.test, trace.strategy, trace.fidelity, trace.seed};
  r.recorder_ = std::make_unique<Recorder>();
  if (!seeded) seeded = std::make_unique<FifoScheduler>();
  if (mode != ReplayMode::Guide) r.recorder_->expect_digests(trace.digests);
  auto replayer = std::make_unique<ReplayScheduler>(trace.choices, std::move(seeded), mode, *r.recorder_);
  r.scheduler_ = std::make_unique<RecordingScheduler>(std::move(replayer), *r.recorder_);
  return r;
}

RunRecording RunRecording::guided(RunInfo info, std::vector<Choice> guide, std::unique_ptr<Scheduler> seeded) {
  Trace t;
  t.test = info.test;
  t.strategy = info.strategy;
  t.fidelity = info.fidelity;
  t.seed = info.seed;
  t.choices = std::move(guide);
  return replay(t, std::move(seeded), ReplayMode::Guide);
}

std::unique_ptr<Scheduler> RunRecording::take_scheduler() { return std::move(scheduler_); }

std::string RunRecording::replay_problem() const {
  std::string out;
  if (const auto& d = recorder_->divergence()) out = d->describe();
  if (const auto& m = recorder_->digest_mismatch()) {
    if (!out.empty()) out += "\n";
    out += "replay diverged: " + *m;
  }
  return out;
}

}  // namespace simloop::replay
