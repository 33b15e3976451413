// Compiled with -Wpedantic -Werror (tests/CMakeLists.txt): users who build
// with -Wpedantic get no warning from simloop's headers.
#include <simloop/fakes/fakes.hpp>
#include <simloop/replay/explore.hpp>
#include <simloop/simloop.hpp>

int simloop_pedantic_headers_check() { return simloop::sim::Prng(1).bounded(10) < 10 ? 0 : 1; }
