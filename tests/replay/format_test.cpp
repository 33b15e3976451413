// The replay file format: round trips, and a corpus of damaged files, each
// refused with an error naming the file, the line, the offset and the problem.
#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

#include <filesystem>
#include <fstream>
#include <string>

#include <simloop/replay/format.hpp>

#include "replay_fixtures.hpp"

namespace {

using namespace simloop::replay;
using replay_fixtures::sample_trace;

const std::string kName = "sample.simloop-replay";

// Parses `text` expecting a ReplayFormatError; returns it.
ReplayFormatError parse_error(const std::string& text) {
  try {
    (void)parse(text, kName);
  } catch (const ReplayFormatError& e) {
    return e;
  }
  ADD_FAILURE() << "parse accepted a damaged file:\n" << text;
  return ReplayFormatError(kName, 0, 0, "no error");
}

// Replaces the checksum so that only the edited content can be at fault.
std::string reseal(std::string text) {
  const std::size_t at = text.rfind("checksum ");
  text.resize(at);
  char buf[32];
  std::snprintf(buf, sizeof buf, "checksum %016llx\n", static_cast<unsigned long long>(fnv1a(text)));
  return text + buf;
}

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(ReplayFormat, RoundTripsEveryField) {
  const Trace t = sample_trace();
  const std::string text = serialize(t);
  EXPECT_EQ(parse(text, kName), t);
  EXPECT_EQ(serialize(parse(text, kName)), text);
}

// Version 1 files, written before injections were recorded, are still read.
TEST(ReplayFormat, ReadsVersionOneWithoutInjections) {
  Trace t = sample_trace();
  t.injections.clear();
  std::string v1 = replace_once(serialize(t), "simloop-replay 2\n", "simloop-replay 1\n");
  v1 = reseal(replace_once(v1, "injections 0\n", ""));
  t.format_version = 1;
  EXPECT_EQ(parse(v1, kName), t);
  EXPECT_EQ(serialize(parse(v1, kName)), v1);  // canonical in its own version too
  // A version 2 file must have the section.
  t.format_version = kFormatVersion;
  const ReplayFormatError e = parse_error(reseal(replace_once(serialize(t), "injections 0\n", "")));
  EXPECT_NE(e.problem().find("injections"), std::string::npos) << e.what();
}

TEST(ReplayFormat, EmptyTraceRoundTrips) {
  Trace t;
  EXPECT_EQ(parse(serialize(t), kName), t);
}

TEST(ReplayFormat, IsReadableText) {
  const std::string text = serialize(sample_trace());
  EXPECT_EQ(text.rfind("simloop-replay 2\n", 0), 0u);
  EXPECT_NE(text.find("\ntest \"Bank.DoubleWithdrawal\"\n"), std::string::npos);
  EXPECT_NE(text.find("\nc 3 ready_order 5 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nc 4 callback_cost 0 12345\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nfailure \"assertion: balance is -60 \\\"quoted\\\"\\nsecond line\\twith tab\"\n"),
            std::string::npos)
      << text;
}

TEST(ReplayFormat, QuoteEscapesControlBytes) {
  EXPECT_EQ(quote(std::string("a\x01\x7f"
                              "b",
                              4)),
            "\"a\\x01\\x7fb\"");
  Trace t;
  t.failure = std::string("nul\0byte\x1f", 9);
  EXPECT_EQ(parse(serialize(t), kName).failure, t.failure);
}

// ---- damaged files -----------------------------------------------------------

TEST(ReplayDamaged, EveryTruncationIsRefused) {
  const std::string good = serialize(sample_trace());
  for (std::size_t len = 0; len < good.size(); ++len) {
    const ReplayFormatError e = parse_error(good.substr(0, len));
    EXPECT_EQ(e.file(), kName);
    EXPECT_LE(e.offset(), len) << "length " << len;
    EXPECT_NE(std::string(e.what()).find(kName), std::string::npos);
  }
}

TEST(ReplayDamaged, EverySingleByteCorruptionIsRefused) {
  const std::string good = serialize(sample_trace());
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (unsigned char mask : {0x01, 0x20, 0x80}) {
      std::string bad = good;
      bad[i] = static_cast<char>(static_cast<unsigned char>(bad[i]) ^ mask);
      const ReplayFormatError e = parse_error(bad);
      EXPECT_LE(e.offset(), bad.size()) << "byte " << i;
      EXPECT_GE(e.line(), 1u) << "byte " << i;
    }
  }
}

TEST(ReplayDamaged, ChecksumCatchesAValidLookingEdit) {
  const std::string good = serialize(sample_trace());
  // A different but well-formed value: only the checksum can tell.
  const std::string bad = replace_once(good, "\nc 3 ready_order 5 1\n", "\nc 3 ready_order 5 2\n");
  const ReplayFormatError e = parse_error(bad);
  EXPECT_NE(e.problem().find("checksum"), std::string::npos) << e.what();
  EXPECT_NE(e.problem().find("corrupted"), std::string::npos) << e.what();
}

TEST(ReplayDamaged, NotAReplayFile) {
  for (const std::string& text : {std::string("hello world\n"), std::string("{\"traceEvents\": []}\n"),
                                  std::string("\x7f"
                                              "ELF\x02\x01",
                                              6),
                                  std::string("simloop-replayX 1\n")}) {
    const ReplayFormatError e = parse_error(text);
    EXPECT_NE(e.problem().find("not a simloop replay file"), std::string::npos) << e.what();
    EXPECT_EQ(e.offset(), 0u);
  }
  EXPECT_NE(parse_error("").problem().find("empty"), std::string::npos);
}

TEST(ReplayDamaged, WrongVersion) {
  const std::string good = serialize(sample_trace());
  const ReplayFormatError e = parse_error(reseal(replace_once(good, "simloop-replay 2\n", "simloop-replay 3\n")));
  EXPECT_NE(e.problem().find("format version 3 is not supported"), std::string::npos) << e.what();
  EXPECT_EQ(e.line(), 1u);
  const ReplayFormatError e0 = parse_error(replace_once(good, "simloop-replay 2\n", "simloop-replay 0\n"));
  EXPECT_NE(e0.problem().find("format version 0"), std::string::npos) << e0.what();
}

TEST(ReplayDamaged, AbsurdCountsAreRefusedBeforeAllocating) {
  const std::string good = serialize(sample_trace());
  const ReplayFormatError huge =
      parse_error(reseal(replace_once(good, "\nchoices 4\n", "\nchoices 18446744073709551615\n")));
  EXPECT_NE(huge.problem().find("absurd choices count"), std::string::npos) << huge.what();
  const ReplayFormatError lie = parse_error(reseal(replace_once(good, "\nchoices 4\n", "\nchoices 4000\n")));
  EXPECT_NE(lie.problem().find("only"), std::string::npos) << lie.what();
  EXPECT_EQ(lie.line(), 9u);
  const ReplayFormatError overflow =
      parse_error(reseal(replace_once(good, "\nchoices 4\n", "\nchoices 99999999999999999999999\n")));
  EXPECT_NE(overflow.problem().find("does not fit in 64 bits"), std::string::npos) << overflow.what();
}

TEST(ReplayDamaged, MalformedLinesNameTheLineAndProblem) {
  const std::string good = serialize(sample_trace());
  struct Case {
    std::string from, to, problem;
  };
  const Case cases[] = {
      {"\nc 3 ready_order 5 1\n", "\nc 3 ready_order 5 5\n", "outside its range"},
      {"\nc 3 ready_order 5 1\n", "\nc 3 teleport 5 1\n", "unknown choice kind"},
      {"\nc 3 ready_order 5 1\n", "\nc 3 ready_order 05 1\n", "leading zero"},
      {"\nc 3 ready_order 5 1\n", "\nc 3 ready_order -5 1\n", "not a decimal number"},
      {"\nc 3 ready_order 5 1\n", "\nc 3  ready_order 5 1\n", "missing"},
      {"\nc 3 ready_order 5 1\n", "\nc 3 ready_order 5 1 \n", "unexpected text"},
      {"\nc 3 ready_order 5 1\n", "\nc 3 ready_order 5 1 extra\n", "unexpected text"},
      {"\nc 3 ready_order 5 1\n", "\nc 0 ready_order 5 1\n", "steps go backwards"},
      {"\nseed 42\n", "\nseed forty-two\n", "not a decimal number"},
      {"\ntest \"Bank.DoubleWithdrawal\"\n", "\ntest Bank.DoubleWithdrawal\n", "quoted string"},
      {"\ntest \"Bank.DoubleWithdrawal\"\n", "\ntest \"Bank.DoubleWithdrawal\n", "unterminated"},
      {"\ntest \"Bank.DoubleWithdrawal\"\n", "\ntest \"Bank\\q\"\n", "unknown escape"},
      {"\ntest \"Bank.DoubleWithdrawal\"\n", "\ntest \"Bank\\x41\"\n", "only for control bytes"},
      {"\ntest \"Bank.DoubleWithdrawal\"\n", "\ntest \"Bank\\xde\"\n", "only for control bytes"},
      {"\ntest \"Bank.DoubleWithdrawal\"\n", "\ntest \"Bank\\x0a\"\n", "only for control bytes"},
      {"\ntest \"Bank.DoubleWithdrawal\"\n", "\ntests \"Bank.DoubleWithdrawal\"\n", "expected 'test'"},
      {"\nd 9 2000000 fedcba9876543210\n", "\nd 9 2000000 FEDCBA9876543210\n", "lowercase hex"},
      {"\nd 9 2000000 fedcba9876543210\n", "\nd 9 2000000 fedcba987654321\n", "16 lowercase hex"},
      {"\nd 9 2000000 fedcba9876543210\n", "\nd 9 9223372036854775808 fedcba9876543210\n", "signed 64 bits"},
      {"\"done\" 2 2\n", "\"done\" 2 9\n", "does not fit the 4 choices"},
      {"\"done\" 2 2\n", "\"done\" 3 2\n", "does not fit"},
      {"\ne 2 0 0", "\ne 1 0 0", "event steps must increase"},
      {"\nfidelity \"chaos\"\n", "\nfidelity \"chaos\"\r\n", "carriage return"},
  };
  for (const Case& c : cases) {
    const std::string bad = reseal(replace_once(good, c.from, c.to));
    const ReplayFormatError e = parse_error(bad);
    EXPECT_NE(e.problem().find(c.problem), std::string::npos) << "edit " << c.to << " gave: " << e.what();
    // The reported line holds the edit.
    const std::size_t edit_at = bad.find(c.to) + 1;
    const std::size_t edit_line =
        1 + static_cast<std::size_t>(std::count(bad.begin(), bad.begin() + static_cast<std::ptrdiff_t>(edit_at), '\n'));
    EXPECT_EQ(e.line(), edit_line) << c.to << ": " << e.what();
  }
}

TEST(ReplayDamaged, TrailingDataAndMissingChecksum) {
  const std::string good = serialize(sample_trace());
  EXPECT_NE(parse_error(good + "x\n").problem().find("after the checksum"), std::string::npos);
  const std::string no_checksum = good.substr(0, good.rfind("checksum "));
  EXPECT_NE(parse_error(no_checksum).problem().find("truncated"), std::string::npos);
}

// ---- files on disk -------------------------------------------------------------

class ReplayFiles : public ::testing::Test {
 protected:
  // The replay directory does not exist until something writes to it.
  simloop::testing::ScopedTempDir tmp_{"replay-format"};
  std::filesystem::path dir_ = tmp_.path() / "replays";
};

TEST_F(ReplayFiles, SaveCreatesTheDirectoryAndLoadReadsItBack) {
  const std::string path = (dir_ / "sub" / "t.simloop-replay").string();
  save_trace(sample_trace(), path);
  EXPECT_EQ(load_trace(path), sample_trace());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_F(ReplayFiles, MissingFileNamesIt) {
  const std::string path = (dir_ / "nope.simloop-replay").string();
  try {
    (void)load_trace(path);
    FAIL() << "loaded a missing file";
  } catch (const ReplayFormatError& e) {
    EXPECT_EQ(e.file(), path);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
  }
}

TEST_F(ReplayFiles, AbsurdFileSizeIsRefusedWithoutReading) {
  std::filesystem::create_directories(dir_);
  const std::string path = (dir_ / "huge.simloop-replay").string();
  { std::ofstream(path) << "simloop-replay 1\n"; }
  std::filesystem::resize_file(path, kMaxFileBytes + 1);  // sparse: costs no disk
  try {
    (void)load_trace(path);
    FAIL() << "loaded an absurdly large file";
  } catch (const ReplayFormatError& e) {
    EXPECT_NE(e.problem().find("absurd size"), std::string::npos) << e.what();
  }
}

}  // namespace
