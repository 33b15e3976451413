// End-of-run hygiene for simulated I/O and executors.
//
// Contract: find_leaks(loop) lists, one line each, what a finished run left
// behind: descriptors still open on the loop's FakeSelector (unclosed
// transports, servers never closed, pipe ends) and jobs its FakeExecutor
// has not run. Call it after the main task finished and before the loop is
// closed; a loop without fakes has none. assert_no_leaks raises LeakError
// listing them all.
#pragma once

#include <string>
#include <vector>

#include <simloop/errors.hpp>
#include <simloop/event_loop.hpp>

namespace simloop::fakes {

class LeakError : public Error {
 public:
  using Error::Error;
};

std::vector<std::string> find_leaks(EventLoop& loop);
void assert_no_leaks(EventLoop& loop);

}  // namespace simloop::fakes
