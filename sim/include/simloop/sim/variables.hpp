// The SIMLOOP_* environment variables: one table, the single source of what
// each one means, its default and the values it accepts.
//
// Contract:
//  - documented_variables() lists every SIMLOOP_* variable some part of
//    simloop reads: the runner (and so SIMLOOP_TEST), replay, the properties,
//    and the build, test and benchmark scripts. docs/environment.md holds the
//    same table (a unit test compares them), and the runner's warning about
//    a misspelt SIMLOOP_* name picks its suggestion from this list.
//  - help_text() is that table as plain text for a terminal, one block per
//    variable. SIMLOOP_HELP=1 makes options_from_env() (so any SIMLOOP_TEST
//    binary, and any program that reads its options from the environment)
//    print it on stdout and end the process with status 0 before any run.
//  - help_requested(value) reads SIMLOOP_HELP's value: null, empty or "0"
//    is false, "1" is true, anything else raises ConfigError naming the
//    variable.
//  - The fields are plain text (no Markdown) and never hold '|'.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace simloop::sim {

// One SIMLOOP_* variable.
struct VariableDoc {
  std::string_view name;           // e.g. "SIMLOOP_SEED"
  std::string_view meaning;        // what it does
  std::string_view default_value;  // what applies when it is unset
  std::string_view accepted;       // the values it accepts
  std::string_view read_by;        // which part of simloop reads it
};

// Every documented variable, in the order of docs/environment.md.
std::span<const VariableDoc> documented_variables() noexcept;

// The table as text: a heading line, then for each variable its name (and
// who reads it), its meaning, default and accepted values.
std::string help_text();

// Whether SIMLOOP_HELP's value (null when unset) asks for help_text().
bool help_requested(const char* value);

}  // namespace simloop::sim
