// The byte-buffer choice source (sim/bytes.hpp): its decoding, pinned byte
// by byte as documented; the empty input is asyncio's order; and
// encode_choices is its inverse on recorded runs of every fuzzing workload.
#include <gtest/gtest.h>

#include <simloop/fuzz/fuzz.hpp>
#include <simloop/sim/bytes.hpp>

#include "workloads.hpp"

namespace {

namespace sim = simloop::sim;
using simloop::ChoiceKind;

sim::SimOptions rare_options() {
  sim::SimOptions o;
  o.busy_probability = 0.05;
  o.external_delay_probability = 0.1;
  o.cancel_probability = 0.05;
  return o;
}

TEST(BytesStrategy, DecodesAsDocumented) {
  // gate_threshold: 256 - ceil(256 p).
  EXPECT_EQ(sim::gate_threshold(0.05), 243u);
  EXPECT_EQ(sim::gate_threshold(0.1), 230u);
  EXPECT_EQ(sim::gate_threshold(0.0), 256u);
  EXPECT_EQ(sim::gate_threshold(1.0), 0u);
  EXPECT_EQ(sim::choice_width(256), 1u);
  EXPECT_EQ(sim::choice_width(257), 2u);
  EXPECT_EQ(sim::choice_width(65537), 4u);
  EXPECT_EQ(sim::choice_width(std::uint64_t{1} << 33), 8u);

  sim::BytesStrategy s({0x05, 0x01, 0x02, 0xff, 0xf3, 0x07, 0xf2, 0xe6, 0x09, 0xe5}, rare_options());
  EXPECT_EQ(s.choose(ChoiceKind::Test, 3), 2u);                   // 5 mod 3
  EXPECT_EQ(s.choose(ChoiceKind::ReadyOrder, 300), 213u);         // 0x0201 = 513 mod 300
  EXPECT_EQ(s.choose(ChoiceKind::Cancel, 2), 1u);                 // gate 0xff >= 243
  EXPECT_EQ(s.choose(ChoiceKind::CallbackCost, 8), 1u);           // gate 243 >= 243, then 1 + 7 mod 7
  EXPECT_EQ(s.choose(ChoiceKind::Cancel, 2), 0u);                 // gate 242 < 243
  EXPECT_EQ(s.choose(ChoiceKind::ExternalDelay, 4), 1u + 9 % 3);  // gate 230 >= 230
  EXPECT_EQ(s.choose(ChoiceKind::ExternalDelay, 4), 0u);          // gate 229 < 230
  EXPECT_EQ(s.consumed(), 10u);
  // Past the end every byte reads 0: natural answers, still consuming.
  EXPECT_EQ(s.choose(ChoiceKind::TimerTie, 7), 0u);
  EXPECT_EQ(s.choose(ChoiceKind::Cancel, 2), 0u);
  EXPECT_EQ(s.consumed(), 12u);
  // A choice with one option reads nothing.
  EXPECT_EQ(s.choose(ChoiceKind::Test, 1), 0u);
  EXPECT_EQ(s.consumed(), 12u);
}

TEST(BytesStrategy, ARareKindWithProbabilityZeroIsAlwaysNatural) {
  sim::SimOptions o;
  o.busy_probability = 0.0;
  sim::BytesStrategy s(std::vector<std::uint8_t>(16, 0xff), o);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(s.choose(ChoiceKind::CallbackCost, 8), 0u);
}

struct RecordedRun {
  sim::RunOutcome outcome;
  std::vector<sim::Choice> choices;
};

RecordedRun run(const fuzz_workloads::Workload& w, sim::Strategy strategy, std::uint64_t seed,
                const std::vector<std::uint8_t>* input = nullptr) {
  sim::RunnerOptions o = w.options;
  o.strategy = strategy;
  o.sim.cancel_horizon = 40;  // what the runner would count; any fixed value will do
  const std::vector<std::uint8_t> none;
  simloop::fuzz::InputSource source(input != nullptr ? *input : none);
  if (input != nullptr) o.observers = {&source};
  RecordedRun r;
  r.outcome = sim::run_one(w.scenario, o, sim::RunContext{&o, seed, 0, 1}, &r.choices);
  return r;
}

TEST(BytesStrategy, TheEmptyInputIsAsyncioOrder) {
  for (const fuzz_workloads::Workload& w : fuzz_workloads::workloads()) {
    const std::vector<std::uint8_t> empty;
    const RecordedRun bytes = run(w, sim::Strategy::Bytes, 0, &empty);
    const RecordedRun fifo = run(w, sim::Strategy::Fifo, 0);
    EXPECT_EQ(bytes.choices, fifo.choices) << w.name;
    EXPECT_EQ(bytes.outcome.failure, fifo.outcome.failure) << w.name;
    EXPECT_EQ(bytes.outcome.steps, fifo.outcome.steps) << w.name;
    for (const sim::Choice& c : bytes.choices) EXPECT_EQ(c.value, 0u) << w.name;
  }
}

// A recorded random run, encoded, is the same run under the bytes strategy:
// the same choices, the same outcome. Every workload, failing runs included.
TEST(BytesStrategy, EncodedRandomRunsReplayExactly) {
  std::uint64_t failing = 0;
  std::uint64_t nonzero = 0;
  for (const fuzz_workloads::Workload& w : fuzz_workloads::workloads()) {
    for (std::uint64_t seed = 1; seed <= 60; ++seed) {
      const RecordedRun original = run(w, sim::Strategy::Random, seed);
      const std::vector<std::uint8_t> input = sim::encode_choices(original.choices, w.options.sim);
      const RecordedRun again = run(w, sim::Strategy::Bytes, 0, &input);
      ASSERT_EQ(again.choices, original.choices) << w.name << " seed " << seed;
      EXPECT_EQ(again.outcome.failure, original.outcome.failure) << w.name << " seed " << seed;
      EXPECT_EQ(again.outcome.message, original.outcome.message) << w.name << " seed " << seed;
      EXPECT_EQ(again.outcome.steps, original.outcome.steps) << w.name << " seed " << seed;
      failing += original.outcome.failed() ? 1 : 0;
      for (const sim::Choice& c : original.choices) nonzero += c.value != 0 ? 1 : 0;
      // Trailing zero bytes are dropped: the shortest input.
      if (!input.empty()) {
        EXPECT_NE(input.back(), 0u);
      }
    }
  }
  // Coverage marks: failing runs and non-natural choices were among them.
  EXPECT_GT(failing, 0u);
  EXPECT_GT(nonzero, 100u);
}

TEST(BytesStrategy, EncodingRefusesWhatNoByteDecodesTo) {
  sim::SimOptions o;
  o.cancel_probability = 0.0;
  const std::vector<sim::Choice> cancel{{ChoiceKind::Cancel, 2, 1}};
  EXPECT_THROW(sim::encode_choices(cancel, o), simloop::Error);
  const std::vector<sim::Choice> out_of_range{{ChoiceKind::Test, 3, 3}};
  EXPECT_THROW(sim::encode_choices(out_of_range, o), simloop::Error);
  // Choices with fewer than two options take no bytes.
  const std::vector<sim::Choice> trivial{{ChoiceKind::Test, 1, 0}, {ChoiceKind::Test, 0, 5}};
  EXPECT_TRUE(sim::encode_choices(trivial, o).empty());
}

TEST(BytesStrategy, CannotBeChosenByNameOrBuiltFromASeed) {
  EXPECT_EQ(sim::parse_strategy("bytes"), sim::Strategy::Bytes);
  EXPECT_STREQ(sim::to_string(sim::Strategy::Bytes), "bytes");
  EXPECT_THROW(sim::make_strategy(sim::Strategy::Bytes, 1, {}), simloop::Error);
  try {
    sim::options_from_env({}, [](const char* name) -> const char* {
      return std::string_view(name) == "SIMLOOP_STRATEGY" ? "bytes" : nullptr;
    });
    ADD_FAILURE() << "SIMLOOP_STRATEGY=bytes was accepted";
  } catch (const sim::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("SIMLOOP_FUZZ_TARGET"), std::string::npos) << e.what();
  }
}

}  // namespace
