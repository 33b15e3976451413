// How a source location's file is shown in reports, task reprs and handle
// descriptions: a file of simloop's own headers as it is included
// ("simloop/queues.hpp"), wherever simloop was built or installed, so no
// path of simloop's source tree or of the machine reaches a user's output.
// Any other file is shown as the compiler named it (relative to the user's
// project with simloop_relative_source_paths()).
#pragma once

#include <string_view>

namespace simloop::detail {

constexpr std::string_view display_file(std::string_view path) noexcept {
  constexpr std::string_view marker = "include/simloop/";
  const std::size_t at = path.rfind(marker);
  if (at == std::string_view::npos || (at != 0 && path[at - 1] != '/')) return path;
  return path.substr(at + std::string_view("include/").size());
}

static_assert(display_file("/usr/local/include/simloop/queues.hpp") == "simloop/queues.hpp");
static_assert(display_file("loop/include/simloop/queues.hpp") == "simloop/queues.hpp");
static_assert(display_file("sim/include/simloop/sim/gtest.hpp") == "simloop/sim/gtest.hpp");
static_assert(display_file("tests/bank_test.cpp") == "tests/bank_test.cpp");
static_assert(display_file("myinclude/simloop/x.hpp") == "myinclude/simloop/x.hpp");

}  // namespace simloop::detail
