// The rapidcheck integration itself: the choice generator's range, bias and
// shrinking, the fidelity generator, and the run-count / seed variables.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include <rapidcheck.h>

#include <simloop/properties/gtest.hpp>

namespace props = simloop::properties;

namespace {
// Sets or clears an environment variable for one test, then restores it.
class EnvScope {
 public:
  explicit EnvScope(const char* name) : name_(name) {
    if (const char* v = std::getenv(name)) saved_ = v;
  }
  ~EnvScope() {
    if (saved_) {
      ::setenv(name_, saved_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> saved_;
};
}  // namespace

// A choice is always in [0, n), its shrinks go toward 0 (0 first), and a
// zero-probability bias never deviates.
SIMLOOP_PROPERTY(PropertyIntegration, ChoiceGeneratorStaysInRangeAndShrinksTowardZero, 200, ()) {
  const auto n = *rc::gen::inRange<std::uint64_t>(2, 1'000'000);
  const auto ppm = *rc::gen::element<std::uint32_t>(0, 1'000, 500'000, 1'000'000, props::Bias::kUniform);
  const auto seed = *rc::gen::arbitrary<std::uint64_t>();
  const rc::Shrinkable<std::uint64_t> s = props::choice(n, ppm)(rc::Random(seed), 50);
  const std::uint64_t v = s.value();
  RC_ASSERT(v < n);
  if (ppm == 0) RC_ASSERT(v == 0u);
  if (ppm == 1'000'000) RC_ASSERT(v != 0u);
  const auto first = s.shrinks().next();
  if (v == 0) {
    RC_ASSERT(!first);
  } else {
    RC_ASSERT(first && first->value() == 0u);
  }
}

TEST(PropertyIntegration, FidelityGeneratorShrinksChaosToAsyncio) {
  int chaos = 0;
  for (std::uint64_t seed = 1; seed <= 200; ++seed) {
    const auto s = props::fidelity()(rc::Random(seed), 0);
    if (s.value() == simloop::sim::Fidelity::Chaos) {
      ++chaos;
      const auto first = s.shrinks().next();
      ASSERT_TRUE(first);
      EXPECT_EQ(first->value(), simloop::sim::Fidelity::Asyncio);
    } else {
      EXPECT_FALSE(s.shrinks().next());
    }
  }
  // Both fidelities are generated (half each, give or take).
  EXPECT_GT(chaos, 60);
  EXPECT_LT(chaos, 140);
}

TEST(PropertyIntegration, RunCountsComeFromTheEnvironmentAndBadValuesAreRefused) {
  const EnvScope keep("SIMLOOP_PROPERTY_RUNS");
  if (std::getenv("RC_PARAMS") != nullptr) GTEST_SKIP() << "RC_PARAMS is set; it may decide the count";
  ::unsetenv("SIMLOOP_PROPERTY_RUNS");
  EXPECT_EQ(props::resolve_runs(37), 37);
  ::setenv("SIMLOOP_PROPERTY_RUNS", "5000", 1);
  EXPECT_EQ(props::resolve_runs(37), 5000);
  for (const char* bad : {"abc", "0", "-3", "12x", "99999999999"}) {
    ::setenv("SIMLOOP_PROPERTY_RUNS", bad, 1);
    try {
      props::resolve_runs(37);
      ADD_FAILURE() << "SIMLOOP_PROPERTY_RUNS=" << bad << " was accepted";
    } catch (const simloop::sim::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("SIMLOOP_PROPERTY_RUNS"), std::string::npos) << e.what();
    }
  }
}

TEST(PropertyIntegration, SeedsAreDeterministicPerTestAndVaryWithSimloopSeed) {
  const EnvScope keep("SIMLOOP_SEED");
  ::unsetenv("SIMLOOP_SEED");
  const char* rc_params = std::getenv("RC_PARAMS");
  if (rc_params != nullptr) GTEST_SKIP() << "RC_PARAMS is set; it decides the seed";
  const auto a = props::resolve_seed("A/b", 0);
  EXPECT_EQ(a, props::resolve_seed("A/b", 0));
  EXPECT_NE(a, props::resolve_seed("A/c", 0));
  ::setenv("SIMLOOP_SEED", "7", 1);
  const auto a7 = props::resolve_seed("A/b", 0);
  EXPECT_NE(a7, a);
  EXPECT_EQ(a7, props::resolve_seed("A/b", 0));
  ::setenv("SIMLOOP_SEED", "seven", 1);
  EXPECT_THROW(props::resolve_seed("A/b", 0), simloop::sim::ConfigError);
}
