// Two tests per registered scenario:
//  - Conformance.<name> runs its C++ twin on simloop under fifo and requires
//    the log to equal expected/<name>.log, CPython 3.13's output checked in by
//    regenerate_expected.py, so it needs no Python and gives the same verdict
//    on every machine.
//  - CPython.<name> reruns scenarios/<name>.py on CPython 3.13 and requires
//    its output to still equal expected/<name>.log, so the checked-in logs
//    cannot drift from CPython. Skipped, visibly, where there is no 3.13.
//
// The interpreter: $SIMLOOP_PYTHON if set, else pyenv's 3.13.*, else
// python3.13 / python3 on PATH; whichever is found must be CPython 3.13 (the
// version the logs come from), as regenerate_expected.py requires too.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "scenarios.hpp"

namespace fs = std::filesystem;

namespace conformance {

std::vector<Scenario>& registry() {
  static std::vector<Scenario> scenarios;
  return scenarios;
}

bool register_scenario(const char* name, ScenarioFn fn) {
  registry().push_back({name, fn});
  return true;
}

namespace {

constexpr int kMajor = 3;
constexpr int kMinor = 13;

struct Python {
  std::string command;  // shell-quoted executable
  std::string implementation;
  int major = 0;
  int minor = 0;
  int micro = 0;

  bool is_required() const { return implementation == "cpython" && major == kMajor && minor == kMinor; }
  std::string version() const { return fmt::format("{} {}.{}.{}", implementation, major, minor, micro); }
};

// The interpreter the CPython tests use, or why there is none.
struct Interpreter {
  std::optional<Python> python;
  std::string missing_reason;
};

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs a shell command; returns its stdout and sets `status` to its exit code.
std::string run_command(const std::string& command, int& status) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return out;
  }
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int raw = ::pclose(pipe);
  status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return out;
}

std::optional<Python> probe(const std::string& executable) {
  int status = 0;
  std::string out = run_command(
      shell_quote(executable) + " -c 'import sys; print(sys.implementation.name, *sys.version_info[:3])' 2>/dev/null",
      status);
  Python py;
  std::array<char, 32> implementation{};
  if (status != 0 ||
      std::sscanf(out.c_str(), "%31s %d %d %d", implementation.data(), &py.major, &py.minor, &py.micro) != 4) {
    return std::nullopt;
  }
  py.implementation = implementation.data();
  py.command = shell_quote(executable);
  return py;
}

Interpreter find_python() {
  if (const char* env = std::getenv("SIMLOOP_PYTHON"); env != nullptr && *env != '\0') {
    std::optional<Python> py = probe(env);
    if (py && py->is_required()) return {py, ""};
    return {std::nullopt, fmt::format("SIMLOOP_PYTHON={} is {}, not CPython {}.{}", env,
                                      py ? py->version() : std::string("not runnable"), kMajor, kMinor)};
  }
  std::vector<fs::path> roots;
  if (const char* root = std::getenv("PYENV_ROOT")) roots.emplace_back(root);
  if (const char* home = std::getenv("HOME")) roots.push_back(fs::path(home) / ".pyenv");
  const std::string prefix = fmt::format("{}.{}", kMajor, kMinor);
  for (const fs::path& root : roots) {
    std::error_code ec;
    std::optional<Python> best;
    for (const auto& entry : fs::directory_iterator(root / "versions", ec)) {
      if (entry.path().filename().string().rfind(prefix, 0) != 0) continue;
      std::optional<Python> py = probe((entry.path() / "bin" / "python3").string());
      if (py && py->is_required() && (!best || py->micro > best->micro)) best = py;
    }
    if (best) return {best, ""};
  }
  for (const std::string& name : {"python" + prefix, std::string("python3")}) {
    if (std::optional<Python> py = probe(name); py && py->is_required()) return {py, ""};
  }
  return {std::nullopt,
          fmt::format("no CPython {} found (SIMLOOP_PYTHON, pyenv's {}.*, python{} or python3 on the PATH)", prefix,
                      prefix, prefix)};
}

// Looked for on first use only, so that the Conformance tests run no Python.
const Interpreter& interpreter() {
  static const Interpreter found = [] {
    Interpreter i = find_python();
    if (i.python) {
      std::printf("conformance: CPython.* rerun the scripts on %s (%s)\n", i.python->version().c_str(),
                  i.python->command.c_str());
    } else {
      std::printf("conformance: %s; CPython.* are skipped\n", i.missing_reason.c_str());
    }
    return i;
  }();
  return found;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string side_by_side(const std::string& left_name, const std::string& left, const std::string& right_name,
                         const std::string& right) {
  const std::vector<std::string> l = split_lines(left);
  const std::vector<std::string> r = split_lines(right);
  std::string out = fmt::format("      {:<45} | {}\n", left_name, right_name);
  const std::size_t n = std::max(l.size(), r.size());
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& a = i < l.size() ? l[i] : std::string("<none>");
    const std::string& b = i < r.size() ? r[i] : std::string("<none>");
    out += fmt::format("{} {:3} {:<45} | {}\n", a == b ? ' ' : '!', i + 1, a, b);
  }
  // Lines can match while the texts differ: a missing final newline or a '\r'.
  if (l == r) out += "(the lines are equal; the texts differ in line endings)\n";
  return out;
}

fs::path script_of(const Scenario& s) { return fs::path(SIMLOOP_CONFORMANCE_DIR) / "scenarios" / (s.name + ".py"); }
fs::path expected_of(const Scenario& s) { return fs::path(SIMLOOP_CONFORMANCE_DIR) / "expected" / (s.name + ".log"); }

std::string regenerate_command(const Scenario& s) {
  return "python3 tests/conformance/regenerate_expected.py " + s.name;
}

std::string expected_label(const Scenario& s) {
  return fmt::format("expected/{}.log (CPython {}.{})", s.name, kMajor, kMinor);
}

class ConformanceTest : public testing::Test {
 public:
  explicit ConformanceTest(Scenario scenario) : scenario_(std::move(scenario)) {}

  void TestBody() override {
    ASSERT_TRUE(fs::exists(script_of(scenario_))) << "missing asyncio twin " << script_of(scenario_);
    const std::optional<std::string> expected = read_file(expected_of(scenario_));
    ASSERT_TRUE(expected) << "missing expected log " << expected_of(scenario_)
                          << "; write it (CPython's output) with: " << regenerate_command(scenario_);

    Log log;
    scenario_.fn(log);
    ASSERT_FALSE(log.lines().empty()) << "the simloop side logged nothing";
    std::string actual;
    for (const std::string& line : log.lines()) actual += line + "\n";
    EXPECT_TRUE(*expected == actual) << "simloop's log differs from " << expected_of(scenario_) << "\n"
                                     << side_by_side(expected_label(scenario_), *expected, "simloop", actual);
  }

 private:
  Scenario scenario_;
};

class CPythonTest : public testing::Test {
 public:
  explicit CPythonTest(Scenario scenario) : scenario_(std::move(scenario)) {}

  void TestBody() override {
    const fs::path script = script_of(scenario_);
    ASSERT_TRUE(fs::exists(script)) << "missing asyncio twin " << script;
    const Interpreter& found = interpreter();
    if (!found.python) GTEST_SKIP() << found.missing_reason << ": the checked-in log is not rechecked";
    const std::optional<std::string> expected = read_file(expected_of(scenario_));
    ASSERT_TRUE(expected) << "missing expected log " << expected_of(scenario_)
                          << "; write it with: " << regenerate_command(scenario_);

    // stderr joins stdout: a script that writes to stderr cannot match (the
    // regeneration refuses it too), and its message shows in the diff.
    int status = 0;
    const std::string command = "PYTHONPATH=" + shell_quote(SIMLOOP_CONFORMANCE_DIR) + " " + found.python->command +
                                " " + shell_quote(script.string()) + " 2>&1";
    const std::string actual = run_command(command, status);
    ASSERT_EQ(status, 0) << "the asyncio script failed on " << found.python->version() << ":\n" << actual;
    EXPECT_TRUE(*expected == actual) << found.python->version() << "'s output differs from " << expected_of(scenario_)
                                     << "; if CPython is right, regenerate it with " << regenerate_command(scenario_)
                                     << " and check the simloop side\n"
                                     << side_by_side(expected_label(scenario_), *expected,
                                                     found.python->version() + " now", actual);
  }

 private:
  Scenario scenario_;
};

}  // namespace
}  // namespace conformance

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  for (const conformance::Scenario& s : conformance::registry()) {
    testing::RegisterTest("Conformance", s.name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                          [s]() -> testing::Test* { return new conformance::ConformanceTest(s); });
    testing::RegisterTest("CPython", s.name.c_str(), nullptr, nullptr, __FILE__, __LINE__,
                          [s]() -> testing::Test* { return new conformance::CPythonTest(s); });
  }
  return RUN_ALL_TESTS();
}
