// The table of SIMLOOP_* variables (variables.hpp): well formed, printed
// whole by help_text(), and the list the unknown-variable warning knows.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include <simloop/sim/runner.hpp>
#include <simloop/sim/variables.hpp>

namespace {

using simloop::sim::documented_variables;
using simloop::sim::VariableDoc;

TEST(SimVariables, EveryRowIsFilledInOnceAndPlain) {
  std::set<std::string_view> names;
  for (const VariableDoc& v : documented_variables()) {
    SCOPED_TRACE(std::string(v.name));
    EXPECT_TRUE(v.name.starts_with("SIMLOOP_"));
    EXPECT_TRUE(names.insert(v.name).second) << "listed twice";
    for (std::string_view field : {v.name, v.meaning, v.default_value, v.accepted, v.read_by}) {
      EXPECT_FALSE(field.empty());
      EXPECT_EQ(field.find('|'), std::string_view::npos) << "'|' would split the Markdown table's cell: " << field;
      EXPECT_EQ(field.find('`'), std::string_view::npos) << "plain text, not Markdown: " << field;
      EXPECT_EQ(field.find('\n'), std::string_view::npos) << field;
    }
  }
  // The ones the runner and its scripts are known to read, among others.
  for (std::string_view name :
       {"SIMLOOP_SEED", "SIMLOOP_CANCEL", "SIMLOOP_TIME_BUDGET", "SIMLOOP_HELP", "SIMLOOP_REPLAY_DIR",
        "SIMLOOP_PROPERTY_RUNS", "SIMLOOP_JOBS", "SIMLOOP_BUILD_JOBS", "SIMLOOP_PYTHON"}) {
    EXPECT_TRUE(names.contains(name)) << name;
  }
}

TEST(SimVariables, HelpTextHoldsEveryVariableAndField) {
  const std::string text = simloop::sim::help_text();
  // Words are wrapped onto lines of at most 79 columns; compare unwrapped.
  std::string flat;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' || text[i] == ' ') {
      if (!flat.empty() && flat.back() != ' ') flat += ' ';
    } else {
      flat += text[i];
    }
  }
  std::size_t line_start = 0;
  while (line_start < text.size()) {
    const std::size_t end = text.find('\n', line_start);
    EXPECT_LE(end - line_start, 79u) << text.substr(line_start, end - line_start);
    line_start = end + 1;
  }
  for (const VariableDoc& v : documented_variables()) {
    SCOPED_TRACE(std::string(v.name));
    std::string heading(1, '\n');  // the name and its reader on a line of their own
    heading.append(v.name).append("  (").append(v.read_by).append(")\n");
    EXPECT_NE(text.find(heading), std::string::npos);
    EXPECT_NE(flat.find(std::string(v.meaning)), std::string::npos);
    EXPECT_NE(flat.find("default: " + std::string(v.default_value)), std::string::npos);
    EXPECT_NE(flat.find("accepted: " + std::string(v.accepted)), std::string::npos);
  }
}

TEST(SimVariables, HelpRequestedReadsZeroOrOne) {
  EXPECT_FALSE(simloop::sim::help_requested(nullptr));
  EXPECT_FALSE(simloop::sim::help_requested(""));
  EXPECT_FALSE(simloop::sim::help_requested("0"));
  EXPECT_TRUE(simloop::sim::help_requested("1"));
  try {
    simloop::sim::help_requested("yes");
    ADD_FAILURE() << "SIMLOOP_HELP=yes accepted";
  } catch (const simloop::sim::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("SIMLOOP_HELP='yes'"), std::string::npos) << e.what();
  }
}

TEST(SimVariables, TheWarningKnowsEveryDocumentedVariable) {
  std::vector<std::string> names;
  for (const VariableDoc& v : documented_variables()) names.emplace_back(v.name);
  EXPECT_TRUE(simloop::sim::unknown_variable_warnings(names).empty());
  const auto w = simloop::sim::unknown_variable_warnings({"SIMLOOP_TIME_BUDGT", "SIMLOOP_HLP"});
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0], "SIMLOOP_HLP is not a simloop variable (did you mean SIMLOOP_HELP?)");
  EXPECT_EQ(w[1], "SIMLOOP_TIME_BUDGT is not a simloop variable (did you mean SIMLOOP_TIME_BUDGET?)");
}

}  // namespace
