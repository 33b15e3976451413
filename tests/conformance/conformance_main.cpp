// Runs every registered scenario twice — its asyncio script on CPython and
// its C++ twin on simloop under fifo — and requires identical logs.
//
// The interpreter: $SIMLOOP_PYTHON if set, else CPython 3.13 from pyenv when
// installed, else python3.13 / python3 on PATH. A script may declare
// "# requires-python: 3.N"; on an older interpreter that scenario is skipped,
// visibly. With no interpreter at all every scenario is skipped, visibly.
#include <gtest/gtest.h>

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

struct Python {
  std::string command;  // shell-quoted executable
  int major = 0;
  int minor = 0;
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
      shell_quote(executable) + " -c 'import sys; print(sys.version_info[0], sys.version_info[1])' 2>/dev/null",
      status);
  Python py;
  if (status != 0 || std::sscanf(out.c_str(), "%d %d", &py.major, &py.minor) != 2) return std::nullopt;
  py.command = shell_quote(executable);
  return py;
}

std::optional<Python> find_python() {
  if (const char* env = std::getenv("SIMLOOP_PYTHON"); env != nullptr && *env != '\0') return probe(env);
  std::vector<fs::path> roots;
  if (const char* root = std::getenv("PYENV_ROOT")) roots.emplace_back(root);
  if (const char* home = std::getenv("HOME")) roots.push_back(fs::path(home) / ".pyenv");
  std::optional<Python> best;
  for (const fs::path& root : roots) {
    std::error_code ec;
    fs::path versions = root / "versions";
    if (!fs::is_directory(versions, ec)) continue;
    std::vector<fs::path> candidates;
    for (const auto& entry : fs::directory_iterator(versions, ec)) {
      if (entry.path().filename().string().rfind("3.13", 0) == 0)
        candidates.push_back(entry.path() / "bin" / "python3");
    }
    std::sort(candidates.begin(), candidates.end());
    for (const fs::path& c : candidates) {
      if (auto py = probe(c.string())) best = py;
    }
    if (best) return best;
  }
  for (const char* name : {"python3.13", "python3"}) {
    if (auto py = probe(name)) return py;
  }
  return std::nullopt;
}

const std::optional<Python>& python() {
  static const std::optional<Python> py = find_python();
  return py;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// "# requires-python: 3.12" -> {3, 12}
std::optional<std::pair<int, int>> required_version(const fs::path& script) {
  std::ifstream in(script);
  const std::string key = "# requires-python:";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) != 0) continue;
    int major = 0;
    int minor = 0;
    if (std::sscanf(line.c_str() + key.size(), " %d.%d", &major, &minor) == 2) return std::make_pair(major, minor);
  }
  return std::nullopt;
}

std::string side_by_side(const std::vector<std::string>& expected, const std::vector<std::string>& actual) {
  std::string out;
  const std::size_t n = std::max(expected.size(), actual.size());
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& e = i < expected.size() ? expected[i] : std::string("<none>");
    const std::string& a = i < actual.size() ? actual[i] : std::string("<none>");
    out += fmt::format("{} {:3} asyncio: {:<45} simloop: {}\n", e == a ? ' ' : '!', i + 1, e, a);
  }
  return out;
}

class ScenarioTest : public testing::Test {
 public:
  explicit ScenarioTest(Scenario scenario) : scenario_(std::move(scenario)) {}

  void TestBody() override {
    const fs::path script = fs::path(SIMLOOP_CONFORMANCE_DIR) / "scenarios" / (scenario_.name + ".py");
    ASSERT_TRUE(fs::exists(script)) << "missing asyncio twin " << script;
    const auto& py = python();
    if (!py) GTEST_SKIP() << "no Python interpreter found (set SIMLOOP_PYTHON): scenario not compared";
    if (auto need = required_version(script); need && std::make_pair(py->major, py->minor) < *need) {
      GTEST_SKIP() << "scenario needs Python >= " << need->first << "." << need->second << ", found " << py->major
                   << "." << py->minor << ": its behaviour differs there";
    }
    int status = 0;
    const std::string command = "PYTHONPATH=" + shell_quote(SIMLOOP_CONFORMANCE_DIR) + " " + py->command + " " +
                                shell_quote(script.string()) + " 2>&1";
    const std::vector<std::string> expected = split_lines(run_command(command, status));
    ASSERT_EQ(status, 0) << "the asyncio script failed:\n" << fmt::format("{}", fmt::join(expected, "\n"));

    Log log;
    scenario_.fn(log);
    const std::vector<std::string>& actual = log.lines();
    ASSERT_FALSE(actual.empty()) << "the simloop side logged nothing";
    EXPECT_EQ(expected, actual) << "Python " << py->major << "." << py->minor << "\n" << side_by_side(expected, actual);
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
                          [s]() -> testing::Test* { return new conformance::ScenarioTest(s); });
  }
  if (GTEST_FLAG_GET(list_tests)) return RUN_ALL_TESTS();
  if (const auto& py = conformance::python()) {
    std::printf("conformance: comparing with CPython %d.%d (%s)\n", py->major, py->minor, py->command.c_str());
  } else {
    std::printf("conformance: no Python interpreter found; every scenario will be skipped\n");
  }
  return RUN_ALL_TESTS();
}
