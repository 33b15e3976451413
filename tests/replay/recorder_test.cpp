// Recording a run through the Scheduler decorator and replaying it exactly;
// divergence reports; the renderers.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>

#include <simloop/replay/format.hpp>
#include <simloop/replay/recorder.hpp>
#include <simloop/replay/render.hpp>
#include <simloop/simloop.hpp>

#include "replay_fixtures.hpp"

namespace {

using namespace simloop;
using namespace simloop::replay;
using replay_fixtures::Account;

std::unique_ptr<Scheduler> chaos_random(std::uint64_t seed) {
  sim::SimOptions o;
  o.fidelity = sim::Fidelity::Chaos;
  return std::make_unique<sim::RandomStrategy>(seed, o);
}

// Runs the bank scenario (or its changed version) under `rec`; returns the balance.
int run_bank(RunRecording& rec, bool changed = false) {
  sim::SimLoop loop(rec.take_scheduler());
  rec.attach(loop);
  Account account;
  const int balance =
      loop.run_until_complete(changed ? replay_fixtures::bank_changed(&account) : replay_fixtures::bank(&account));
  rec.finish();
  return balance;
}

RunInfo info(std::uint64_t seed) { return RunInfo{"Replay.Bank", "random", "chaos", seed}; }

// The first seed (from 1) whose run overdraws the account, with its trace.
std::pair<std::uint64_t, Trace> find_overdraft() {
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    RunRecording rec = RunRecording::record(info(seed), chaos_random(seed));
    const int balance = run_bank(rec);
    if (balance < 0) return {seed, rec.trace("balance " + std::to_string(balance))};
  }
  ADD_FAILURE() << "random chaos exploration did not find the double withdrawal in 200 seeds";
  return {0, Trace{}};
}

TEST(ReplayRecorder, KindNamesMirrorTheLoop) {
  for (int i = 0; i < kChoiceKindCount; ++i) {
    EXPECT_STREQ(kind_name(static_cast<std::uint8_t>(i)), to_string(static_cast<ChoiceKind>(i)));
  }
  EXPECT_FALSE(kind_from_name("nonsense").has_value());
}

TEST(ReplayRecorder, FifoNeverOverdrawsRandomChaosDoes) {
  RunRecording fifo = RunRecording::record(info(0), std::make_unique<FifoScheduler>());
  EXPECT_EQ(run_bank(fifo), 20);
  EXPECT_TRUE(fifo.recorder().choices().empty());  // FifoScheduler has no choice point on
  auto [seed, trace] = find_overdraft();
  ASSERT_NE(seed, 0u);
  EXPECT_GE(trace.nonzero_choices(), 1u);
  EXPECT_FALSE(trace.events.empty());
  EXPECT_FALSE(trace.digests.empty());
}

TEST(ReplayRecorder, SameSeedRecordsTheSameTrace) {
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    RunRecording a = RunRecording::record(info(seed), chaos_random(seed));
    RunRecording b = RunRecording::record(info(seed), chaos_random(seed));
    EXPECT_EQ(run_bank(a), run_bank(b));
    EXPECT_EQ(a.trace("x"), b.trace("x")) << "seed " << seed;
  }
}

TEST(ReplayRecorder, ReplayIsExactEvenUnderAnotherSeed) {
  auto [seed, trace] = find_overdraft();
  ASSERT_NE(seed, 0u);
  // Through the file format, and with a strategy seeded differently: the
  // choices come from the file.
  const Trace loaded = parse(serialize(trace), "in-memory");
  for (std::uint64_t other : {seed, seed + 1000}) {
    RunRecording rec = RunRecording::replay(loaded, chaos_random(other), ReplayMode::Strict);
    EXPECT_LT(run_bank(rec), 0);
    EXPECT_EQ(rec.replay_problem(), "");
    const Trace again = rec.trace(trace.failure);
    EXPECT_EQ(again.choices, trace.choices);
    EXPECT_EQ(again.digests, trace.digests);
    EXPECT_EQ(again.events, trace.events);
  }
}

TEST(ReplayRecorder, DivergenceNamesTheFirstDivergentChoice) {
  auto [seed, trace] = find_overdraft();
  ASSERT_NE(seed, 0u);
  RunRecording rec = RunRecording::replay(trace, chaos_random(seed), ReplayMode::Strict);
  (void)run_bank(rec, /*changed=*/true);
  const auto& d = rec.recorder().divergence();
  ASSERT_TRUE(d.has_value()) << "a changed program replayed silently";
  EXPECT_EQ(d->what, Divergence::What::Mismatch);
  EXPECT_EQ(d->actual_kind, static_cast<std::uint8_t>(ChoiceKind::Test));
  EXPECT_EQ(d->actual_n, 2u);
  EXPECT_LT(d->index, trace.choices.size());
  EXPECT_EQ(d->expected, trace.choices[d->index]);
  EXPECT_GT(d->step, 0u);
  const std::string report = rec.replay_problem();
  EXPECT_NE(report.find("replay diverged at choice #" + std::to_string(d->index)), std::string::npos) << report;
  EXPECT_NE(report.find("test of range 2"), std::string::npos) << report;
  EXPECT_NE(report.find("step of Task-1"), std::string::npos) << report;  // the task and handle running
  // Strict mode answers naturally from there on.
  const auto& made = rec.recorder().choices();
  for (std::size_t i = d->index; i < made.size(); ++i) EXPECT_EQ(made[i].value, 0u) << "choice " << i;
}

TEST(ReplayRecorder, ContinueHandsOverToTheSeededStrategy) {
  auto [seed, trace] = find_overdraft();
  ASSERT_NE(seed, 0u);
  bool any_nonzero_after = false;
  for (std::uint64_t s = 1; s <= 30 && !any_nonzero_after; ++s) {
    RunRecording rec = RunRecording::replay(trace, chaos_random(s), ReplayMode::StrictContinue);
    (void)run_bank(rec, /*changed=*/true);
    ASSERT_TRUE(rec.recorder().divergence().has_value());
    const auto& made = rec.recorder().choices();
    for (std::size_t i = rec.recorder().divergence()->index; i < made.size(); ++i) {
      if (made[i].value != 0) any_nonzero_after = true;
    }
  }
  EXPECT_TRUE(any_nonzero_after) << "after a divergence, the seeded strategy never answered";
}

TEST(ReplayRecorder, RunsThatAskFewerOrMoreChoicesDiverge) {
  auto [seed, trace] = find_overdraft();
  ASSERT_NE(seed, 0u);
  Trace longer = trace;
  longer.choices.push_back(Choice{2, 1, 0, static_cast<std::uint8_t>(ChoiceKind::Test)});
  RunRecording ended = RunRecording::replay(longer, chaos_random(seed), ReplayMode::Strict);
  (void)run_bank(ended);
  ASSERT_TRUE(ended.recorder().divergence().has_value());
  EXPECT_EQ(ended.recorder().divergence()->what, Divergence::What::EndedEarly);
  EXPECT_NE(ended.replay_problem().find("the run ended"), std::string::npos) << ended.replay_problem();

  Trace shorter = trace;
  shorter.choices.pop_back();
  RunRecording past = RunRecording::replay(shorter, chaos_random(seed), ReplayMode::Strict);
  (void)run_bank(past);
  ASSERT_TRUE(past.recorder().divergence().has_value());
  EXPECT_EQ(past.recorder().divergence()->what, Divergence::What::PastEnd);
  EXPECT_EQ(past.recorder().divergence()->index, shorter.choices.size());
}

TEST(ReplayRecorder, DigestsCatchStateThatDiffersWithTheSameChoices) {
  auto [seed, trace] = find_overdraft();
  ASSERT_NE(seed, 0u);
  Trace tampered = trace;
  tampered.digests.back().hash ^= 1;
  RunRecording rec = RunRecording::replay(tampered, chaos_random(seed), ReplayMode::Strict);
  (void)run_bank(rec);
  EXPECT_FALSE(rec.recorder().divergence().has_value());
  ASSERT_TRUE(rec.recorder().digest_mismatch().has_value());
  EXPECT_NE(rec.replay_problem().find("loop state differs from the recording at step"), std::string::npos)
      << rec.replay_problem();
}

TEST(ReplayRecorder, GuideModeIsLenient) {
  auto [seed, trace] = find_overdraft();
  ASSERT_NE(seed, 0u);
  // No guide at all: every choice natural, so asyncio's order: no overdraft.
  RunRecording none = RunRecording::guided(info(seed), {}, chaos_random(seed));
  EXPECT_EQ(run_bank(none), 20);
  EXPECT_EQ(none.replay_problem(), "");
  // The full list as a guide replays the failure, on the changed program too without reporting.
  RunRecording full = RunRecording::guided(info(seed), trace.choices, chaos_random(seed));
  EXPECT_LT(run_bank(full), 0);
  RunRecording changed = RunRecording::guided(info(seed), trace.choices, chaos_random(seed));
  (void)run_bank(changed, true);
  EXPECT_FALSE(changed.recorder().divergence().has_value());
}

TEST(ReplayRecorder, EventsNameTasksAndTellTimersFromCallbacks) {
  RunRecording rec = RunRecording::record(info(0), std::make_unique<FifoScheduler>());
  sim::SimLoop loop(rec.take_scheduler());
  rec.attach(loop);
  auto body = [&loop]() -> Coro<int> {
    auto named = loop.create_task(
        []() -> Coro<int> {
          co_await simloop::sleep(std::chrono::milliseconds(5));  // a timer event
          co_return 1;
        }(),
        "worker");
    auto renamed_later = loop.create_task([]() -> Coro<int> { co_return 2; }());
    loop.call_soon([] {});  // a plain callback event
    const int a = co_await named;
    renamed_later.set_name("too late");  // the trace keeps the name seen at its first step
    const int b = co_await renamed_later;
    co_return a + b;
  };
  EXPECT_EQ(loop.run_until_complete(body()), 3);
  rec.finish();
  const Trace trace = rec.trace("");
  bool worker = false, default_named = false, timer = false, callback = false;
  for (const replay::Event& e : trace.events) {
    if (e.what.rfind("first step of worker", 0) == 0) worker = true;
    if (e.what.rfind("first step of Task-3", 0) == 0) default_named = true;
    if (e.what.rfind("timer (due 5000000ns)", 0) == 0) timer = true;
    if (e.what.rfind("callback at ", 0) == 0) callback = true;
    EXPECT_EQ(e.what.find("too late"), std::string::npos) << e.what;
  }
  EXPECT_TRUE(worker);
  EXPECT_TRUE(default_named);
  EXPECT_TRUE(timer);
  EXPECT_TRUE(callback);
}

// ---- renderers ------------------------------------------------------------------

TEST(ReplayRender, TimelineHasALinePerHandleWithItsChoices) {
  auto [seed, trace] = find_overdraft();
  ASSERT_NE(seed, 0u);
  const std::string text = timeline(trace);
  for (const replay::Event& e : trace.events) {
    EXPECT_NE(text.find("\n" + std::string(6 - std::min<std::size_t>(6, std::to_string(e.step).size()), ' ') +
                        std::to_string(e.step) + "  "),
              std::string::npos)
        << "no line for step " << e.step << "\n"
        << text;
  }
  EXPECT_NE(text.find("step of Task-1"), std::string::npos) << text;
  EXPECT_NE(text.find("->  "), std::string::npos) << text;  // where a task then suspended
  EXPECT_NE(text.find("replay_fixtures.hpp:"), std::string::npos) << text;
  // Every non-zero choice appears, numbered; natural ones only with all_choices.
  const std::string all = timeline(trace, true);
  for (std::size_t i = 0; i < trace.choices.size(); ++i) {
    const std::string item = "#" + std::to_string(i) + " " + format_choice(trace.choices[i]);
    EXPECT_NE(all.find(item), std::string::npos) << "choice " << i << "\n" << all;
    if (trace.choices[i].value != 0) {
      EXPECT_NE(text.find(item), std::string::npos) << "choice " << i << "\n" << text;
    } else {
      EXPECT_EQ(text.find(item + "]"), std::string::npos) << "natural choice " << i << " shown\n" << text;
    }
  }
}

TEST(ReplayRender, ChromeJsonHasATrackPerTask) {
  auto [seed, trace] = find_overdraft();
  ASSERT_NE(seed, 0u);
  const std::string json = chrome_json(trace);
  EXPECT_EQ(json.rfind("{\"displayTimeUnit\"", 0), 0u);
  EXPECT_NE(json.find("\"traceEvents\":["), std::string::npos);
  for (const replay::Event& e : trace.events) {
    if (e.task_id == 0) continue;
    EXPECT_NE(json.find("\"tid\":" + std::to_string(e.task_id + 1) + ",\"name\":\"thread_name\",\"args\":{\"name\":\"" +
                        e.task + "\"}"),
              std::string::npos)
        << e.task;
  }
  const auto slices = static_cast<std::size_t>(std::count(json.begin(), json.end(), 'X'));
  EXPECT_GE(slices, trace.events.size());
  // Balanced brackets and quotes outside strings: a cheap well-formedness check.
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
      ASSERT_GE(depth, 0);
    }
  }
  EXPECT_EQ(depth, 0);
  EXPECT_FALSE(in_string);
}

TEST(ReplayRender, DiffNamesTheFirstDivergentChoice) {
  auto [seed, trace] = find_overdraft();
  ASSERT_NE(seed, 0u);
  EXPECT_TRUE(diff(trace, trace).identical);
  Trace other = trace;
  const std::size_t at = trace.choices.size() / 2;
  other.choices[at].value = other.choices[at].value == 0 ? 1 : 0;
  const TraceDiff d = diff(trace, other, "first", "second");
  EXPECT_FALSE(d.identical);
  EXPECT_NE(d.report.find("first divergent choice: #" + std::to_string(at)), std::string::npos) << d.report;
  EXPECT_NE(d.report.find("first: "), std::string::npos);
  Trace digests = trace;
  digests.digests[0].hash ^= 4;
  EXPECT_NE(diff(trace, digests).report.find("digest #0 differs"), std::string::npos);
  EXPECT_NE(stats(trace).find("non-zero"), std::string::npos);
}

}  // namespace
