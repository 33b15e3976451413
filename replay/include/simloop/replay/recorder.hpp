// Recording and replaying runs: a Scheduler decorator that records every
// choice, a LoopObserver that records the per-handle timeline and digests,
// and a Scheduler that serves a recorded choice list back.
//
// Contract:
//  - RecordingScheduler wraps any Scheduler (any strategy): it forwards every
//    question (choose, pick, callback_cost, external_delay, inject_cancel, injection_victim)
//    and records the answer as a Choice. It takes over the wrapped
//    scheduler's choice points, so the loop asks the same questions.
//    Answers that are not an index into a range (a callback's cost in ns, an
//    external event's delay in iterations) are recorded with n == 0.
//  - Recorder keeps compact records in memory (source locations, ids,
//    counters; no strings) and turns them into a Trace only when asked
//    (trace()), i.e. when a run failed. It may be reused: reset() keeps the
//    vectors' capacity.
//  - ReplayScheduler serves a recorded list. Strict modes expect, at each
//    position, the same kind and range as recorded; the first mismatch (or a
//    run that asks for more, or fewer, choices than recorded) is a
//    Divergence, kept in the Recorder with the step, the expected and actual
//    choice and what was running. After a divergence it answers with the
//    natural choice (Strict) or hands over to the seeded strategy
//    (StrictContinue). Guide mode (the minimizer) reads the list leniently:
//    a value is used when it fits the range asked, 0 otherwise, and 0 past
//    the end; it never reports a divergence.
//  - The Recorder must outlive the schedulers that refer to it and be
//    detached (finish()) before the loop is destroyed; RunRecording bundles
//    all of this for the runner.
//  - Everything recorded is deterministic: no addresses, no real time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

#include <simloop/event_loop.hpp>
#include <simloop/replay/trace.hpp>
#include <simloop/scheduler.hpp>
#include <simloop/sim/strategy.hpp>

namespace simloop::replay {

// A trace's timeline holds at most this many events: the last handles of
// the run. The choices are always all kept (they are the run).
inline constexpr std::size_t kTimelineEvents = 10'000;

// Identifies a run in its replay file.
struct RunInfo {
  std::string test;
  std::string strategy;
  std::string fidelity;
  std::uint64_t seed = 0;
};

struct Divergence {
  enum class What : std::uint8_t {
    Mismatch,    // the run asked another kind or range than recorded
    PastEnd,     // the run asked for more choices than were recorded
    EndedEarly,  // the run finished with recorded choices left over
  };
  What what = What::Mismatch;
  std::uint64_t index = 0;  // position in the recorded list
  std::uint64_t step = 0;   // handles run so far when it was noticed
  Choice expected{};        // valid unless what == PastEnd
  std::uint8_t actual_kind = 0;
  std::uint64_t actual_n = 0;  // valid when what != EndedEarly
  std::string context;         // the task and handle running at the time
  // A paragraph naming all of the above.
  std::string describe() const;
};

class Recorder final : public LoopObserver, public sim::ChoiceObserver {
 public:
  Recorder();
  ~Recorder() override;
  // Starts a new run (keeps capacity).
  void reset();
  // Observes `loop` (its observer slot) until finish().
  void attach(EventLoop& loop);
  // Starts recording `loop` whose callbacks someone else forwards here (the
  // runner owns the observer slot and calls before/after_callback).
  void begin(EventLoop& loop);
  // Takes the final digest, checks a strict replay consumed every recorded
  // choice, and detaches. Call it before the loop is destroyed.
  void finish();

  // Called by the schedulers (and, as a ChoiceObserver, by sim strategies).
  void on_choice(ChoiceKind kind, std::uint64_t n, std::uint64_t value) override {
    record_choice(static_cast<std::uint8_t>(kind), n, value);
  }
  void record_choice(std::uint8_t kind, std::uint64_t n, std::uint64_t value) {
    // The run is over once finish() ran: what the loop's teardown asks (a
    // fake network closing) is not part of it, and would be recorded with
    // no step to stand at.
    if (finished_) return;
    choices_.push_back(Choice{n, value, loop_ != nullptr ? loop_->steps() : 0, kind});
    // A callback's cost is asked right after it ran: it belongs to its event.
    if (kind == static_cast<std::uint8_t>(ChoiceKind::CallbackCost) && current_ == nullptr && !events_.empty() &&
        events_.back().choice_end + 1 == choices_.size()) {
      ++events_.back().choice_end;
    }
  }
  void set_divergence(Divergence d);
  // Handles run so far in the attached loop (0 when detached).
  std::uint64_t step() const noexcept { return loop_ != nullptr ? loop_->steps() : 0; }
  // What is running now ("step 12: step of Task-3 (resumed at f.cpp:30)").
  std::string context() const;

  // Replay: check these digests as the run reaches their steps.
  void expect_digests(std::vector<Digest> digests);

  const std::vector<Choice>& choices() const noexcept { return choices_; }
  const std::optional<Divergence>& divergence() const noexcept { return divergence_; }
  // The first digest that differed from the expected one, as a sentence.
  const std::optional<std::string>& digest_mismatch() const noexcept { return digest_mismatch_; }
  // The run as a Trace (builds the timeline's strings: call on failure).
  Trace trace(const RunInfo& info, std::string failure) const;

  void before_callback(const EventLoop& loop, const Handle& handle, std::uint64_t step) override;
  void after_callback(const EventLoop& loop, const Handle& handle, std::uint64_t step) override;
  void on_injected_cancel(const EventLoop& loop, const simloop::InjectedCancel& injected) override;

  // Used by ReplayScheduler's end-of-run check.
  struct ReplayCursor {
    std::uint64_t consumed = 0;
    std::uint64_t recorded = 0;
    bool strict = false;
    const std::vector<Choice>* list = nullptr;
  };
  void set_replay_cursor(ReplayCursor* cursor) noexcept { cursor_ = cursor; }

 private:
  struct RawEvent {
    std::uint64_t step;
    std::int64_t vtime;
    std::int64_t due;  // timers: the deadline; -1 otherwise
    std::uint64_t task_id;
    std::source_location where;       // the handle's origin (callbacks, timers)
    std::source_location resumed_at;  // tasks: where the step resumed
    std::source_location suspended_at;
    std::uint32_t choice_begin;
    std::uint32_t choice_end;
    bool task_done;
    bool first_step;  // the task's first step (it resumes where it was created)
  };
  void take_digest(const EventLoop& loop, std::uint64_t step);

  EventLoop* loop_ = nullptr;
  bool observing_ = false;  // attach() took the loop's observer slot
  bool finished_ = false;   // finish() ran: choices are no longer recorded
  const Handle* current_ = nullptr;
  RawEvent pending_{};
  std::vector<Choice> choices_;
  std::vector<Digest> digests_;
  std::vector<RawEvent> events_;
  std::vector<InjectionRecord> injections_;
  struct SeenTask {
    bool seen = false;                      // its first step was recorded
    std::optional<std::string> given_name;  // none: "Task-<id>"
  };
  std::vector<SeenTask> tasks_;  // by task id
  std::vector<Digest> expected_digests_;
  std::size_t next_expected_ = 0;
  std::optional<Divergence> divergence_;
  std::optional<std::string> digest_mismatch_;
  ReplayCursor* cursor_ = nullptr;
};

// Forwards to a strategy and records every answer.
class RecordingScheduler final : public Scheduler {
 public:
  RecordingScheduler(std::unique_ptr<Scheduler> inner, Recorder& recorder);
  std::uint64_t choose(ChoiceKind kind, std::uint64_t n) override;
  std::size_t pick(ChoiceKind kind, std::span<Handle* const> candidates) override;
  Duration callback_cost() override;
  std::uint32_t external_delay() override;
  bool inject_cancel(Injection kind, std::uint64_t task_id) override;
  std::size_t injection_victim(std::span<const std::uint64_t> task_ids) override;
  Scheduler& inner() noexcept { return *inner_; }

 private:
  std::unique_ptr<Scheduler> inner_;
  Recorder& recorder_;
};

enum class ReplayMode : std::uint8_t {
  Strict,          // report the first divergence, then answer 0
  StrictContinue,  // report the first divergence, then ask the seeded strategy
  Guide,           // minimizer: lenient, never diverges
};

// Serves a recorded choice list. `seeded` is the strategy the recording ran
// under (same seed, strategy, fidelity): it supplies the choice points and,
// in StrictContinue mode, the answers after a divergence.
class ReplayScheduler final : public Scheduler {
 public:
  ReplayScheduler(std::vector<Choice> recorded, std::unique_ptr<Scheduler> seeded, ReplayMode mode, Recorder& recorder);
  ~ReplayScheduler() override;
  std::uint64_t choose(ChoiceKind kind, std::uint64_t n) override;
  std::size_t pick(ChoiceKind kind, std::span<Handle* const> candidates) override;
  Duration callback_cost() override;
  std::uint32_t external_delay() override;
  bool inject_cancel(Injection kind, std::uint64_t task_id) override;
  std::size_t injection_victim(std::span<const std::uint64_t> task_ids) override;

 private:
  // The recorded answer for (kind, n), or nothing when the seeded strategy
  // (or the natural choice) must answer.
  std::optional<std::uint64_t> serve(std::uint8_t kind, std::uint64_t n);
  bool handed_over() const noexcept { return diverged_; }

  std::vector<Choice> recorded_;
  std::unique_ptr<Scheduler> seeded_;
  ReplayMode mode_;
  Recorder& recorder_;
  Recorder::ReplayCursor cursor_;
  bool diverged_ = false;
};

// One run's recording, as the runner uses it:
//
//   replay::RunRecording rec = replay::RunRecording::record(info, make_strategy(seed));
//   sim::SimLoop loop(rec.take_scheduler());
//   rec.attach(loop);
//   ... run the scenario, catching its failure message ...
//   rec.finish();                          // before the loop goes away
//   if (failed) save_failure(env, rec.trace(message), rerun);
//
// The object must outlive the loop's use of the scheduler it handed out.
class RunRecording {
 public:
  static RunRecording record(RunInfo info, std::unique_ptr<Scheduler> strategy);
  // Replays `trace`'s choices; `seeded` is its strategy rebuilt from its
  // seed, strategy and fidelity. Strict modes also check its digests.
  static RunRecording replay(const Trace& trace, std::unique_ptr<Scheduler> seeded, ReplayMode mode);
  // Minimizer: runs with `guide` read leniently.
  static RunRecording guided(RunInfo info, std::vector<Choice> guide, std::unique_ptr<Scheduler> seeded);

  RunRecording(RunRecording&&) noexcept;
  RunRecording& operator=(RunRecording&&) noexcept;
  ~RunRecording();

  // The scheduler to build the loop with (once).
  std::unique_ptr<Scheduler> take_scheduler();
  void attach(EventLoop& loop) { recorder_->attach(loop); }
  void finish() { recorder_->finish(); }
  Trace trace(std::string failure) const { return recorder_->trace(info_, std::move(failure)); }
  const Recorder& recorder() const noexcept { return *recorder_; }
  const RunInfo& info() const noexcept { return info_; }
  // Strict replay: the divergence or digest mismatch, as a report; empty
  // when the run followed the recording exactly.
  std::string replay_problem() const;

 private:
  RunRecording() = default;
  RunInfo info_;
  std::unique_ptr<Recorder> recorder_;
  std::unique_ptr<Scheduler> scheduler_;
};

}  // namespace simloop::replay
