// The minimizer against a synthetic program whose failure needs exactly two
// non-zero choices, and its run-count budget.
#include <gtest/gtest.h>

#include <simloop/replay/minimize.hpp>

namespace {

using namespace simloop::replay;

// A fake program: it asks 20 choices of range 4; it "fails" when choices 3
// and 7 are both non-zero. A guide is read leniently (as RunRecording::guided
// does): a value that does not fit becomes 0, past the end everything is 0.
struct FakeProgram {
  int runs = 0;
  std::optional<Trace> operator()(const std::vector<Choice>& guide) {
    ++runs;
    Trace t;
    t.failure = "assertion: invariant broken at step " + std::to_string(runs);  // digits differ per run
    for (std::uint64_t i = 0; i < 20; ++i) {
      const std::uint64_t v = i < guide.size() && guide[i].value < 4 ? guide[i].value : 0;
      t.choices.push_back(Choice{4, v, i, 5});
    }
    if (t.choices[3].value != 0 && t.choices[7].value != 0) return t;
    return std::nullopt;
  }
};

Trace all_nonzero() {
  Trace t;
  t.failure = "assertion: invariant broken at step 0";
  for (std::uint64_t i = 0; i < 20; ++i) t.choices.push_back(Choice{4, 1 + i % 3, i, 5});
  return t;
}

TEST(ReplayMinimize, FindsTheTwoChoicesThatMatter) {
  FakeProgram program;
  const MinimizeResult r = minimize(all_nonzero(), std::ref(program), MinimizeOptions{500});
  EXPECT_EQ(r.original_size, 20u);
  EXPECT_EQ(r.minimized_size, 2u);
  EXPECT_NE(r.best.choices[3].value, 0u);
  EXPECT_NE(r.best.choices[7].value, 0u);
  EXPECT_EQ(r.runs, static_cast<std::size_t>(program.runs));
  EXPECT_LT(r.runs, 500u);
  EXPECT_FALSE(r.budget_exhausted);
}

TEST(ReplayMinimize, IsDeterministic) {
  FakeProgram a, b;
  const MinimizeResult ra = minimize(all_nonzero(), std::ref(a), MinimizeOptions{500});
  const MinimizeResult rb = minimize(all_nonzero(), std::ref(b), MinimizeOptions{500});
  EXPECT_EQ(ra.best, rb.best);
  EXPECT_EQ(ra.runs, rb.runs);
}

TEST(ReplayMinimize, StopsAtTheBudgetInRuns) {
  FakeProgram program;
  const MinimizeResult r = minimize(all_nonzero(), std::ref(program), MinimizeOptions{5});
  EXPECT_EQ(r.runs, 5u);
  EXPECT_EQ(program.runs, 5);
  EXPECT_TRUE(r.budget_exhausted);
  EXPECT_LE(r.minimized_size, r.original_size);
}

TEST(ReplayMinimize, NeverReturnsSomethingLarger) {
  // An oracle that "fails" only with more non-zero choices: never accepted.
  auto worse = [](const std::vector<Choice>&) -> std::optional<Trace> {
    Trace t;
    for (std::uint64_t i = 0; i < 40; ++i) t.choices.push_back(Choice{4, 1, i, 5});
    return t;
  };
  const Trace input = all_nonzero();
  const MinimizeResult r = minimize(input, worse, MinimizeOptions{50});
  EXPECT_EQ(r.best, input);
  EXPECT_EQ(r.minimized_size, 20u);
}

TEST(ReplayMinimize, AllNaturalIsTriedFirst) {
  int runs = 0;
  auto always = [&runs](const std::vector<Choice>& guide) -> std::optional<Trace> {
    ++runs;
    EXPECT_TRUE(guide.empty()) << "the first candidate is the empty guide (every choice natural)";
    Trace t;
    t.failure = "x";
    return t;
  };
  const MinimizeResult r = minimize(all_nonzero(), always, MinimizeOptions{50});
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(r.minimized_size, 0u);
}

TEST(ReplayMinimize, SameFailureIgnoresNumbersAndLaterLines) {
  EXPECT_TRUE(same_failure("assertion: balance -60 at step 12", "assertion: balance -140 at step 9"));
  EXPECT_TRUE(same_failure("deadlock at 5ns\nTask-1 ...", "deadlock at 7ns\nTask-2 ..."));
  EXPECT_FALSE(same_failure("assertion: balance -60", "deadlock at 5ns"));
  EXPECT_FALSE(same_failure("", "x"));
}

}  // namespace

namespace {

// Fails when choice 2 is non-zero and choices 0 and 1 are both non-zero or
// both zero: zeroing 0 or 1 alone (or dropping any one choice, which shifts
// the rest) leaves the failure, zeroing them together keeps it.
std::optional<Trace> paired_program(const std::vector<Choice>& guide) {
  Trace t;
  t.failure = "assertion: paired";
  for (std::uint64_t i = 0; i < 3; ++i) {
    const std::uint64_t v = i < guide.size() && guide[i].value < 4 ? guide[i].value : 0;
    t.choices.push_back(Choice{4, v, i, 5});
  }
  const bool a = t.choices[0].value != 0, b = t.choices[1].value != 0;
  if (t.choices[2].value != 0 && a == b) return t;
  return std::nullopt;
}

TEST(ReplayMinimize, ZeroesTwoChoicesThatOnlyGoTogether) {
  Trace t;
  t.failure = "assertion: paired";
  for (std::uint64_t i = 0; i < 3; ++i) t.choices.push_back(Choice{4, 1, i, 5});
  const MinimizeResult r = minimize(t, paired_program, MinimizeOptions{100});
  EXPECT_EQ(r.original_size, 3u);
  EXPECT_EQ(r.minimized_size, 1u);
  EXPECT_NE(r.best.choices[2].value, 0u);
}

TEST(ReplayMinimize, LowersTheValuesItKeeps) {
  // Fails whenever choice 0 is non-zero: the smallest such run asks value 1.
  auto program = [](const std::vector<Choice>& guide) -> std::optional<Trace> {
    Trace t;
    t.failure = "assertion: any deviation";
    t.choices.push_back(Choice{10, guide.empty() || guide[0].value >= 10 ? 0 : guide[0].value, 0, 5});
    if (t.choices[0].value != 0) return t;
    return std::nullopt;
  };
  Trace t;
  t.failure = "assertion: any deviation";
  t.choices.push_back(Choice{10, 7, 0, 5});
  const MinimizeResult r = minimize(t, program, MinimizeOptions{100});
  EXPECT_EQ(r.minimized_size, 1u);
  EXPECT_EQ(r.best.choices[0].value, 1u);
}

}  // namespace
