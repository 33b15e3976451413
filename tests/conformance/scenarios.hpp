// C++ side of the conformance scenarios: a registry of programs that log
// events as "<virtual microseconds> <message>", compared line for line with
// the asyncio script of the same name (scenarios/<name>.py).
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <exception>
#include <string>
#include <vector>

#include <simloop/simloop.hpp>

namespace conformance {

class Log {
 public:
  void attach(const simloop::EventLoop& loop) { loop_ = &loop; }
  template <class... A>
  void operator()(fmt::format_string<A...> format, A&&... args) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(loop_->time()).count();
    lines_.push_back(fmt::format("{} {}", us, fmt::format(format, std::forward<A>(args)...)));
  }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  const simloop::EventLoop* loop_ = nullptr;
  std::vector<std::string> lines_;
};

// Counts loop iterations with a callback that re-posts itself: loopback I/O
// takes no virtual time, so the stream and datagram scenarios log
// iterations instead. start() posts the first tick; stop() ends the chain.
class IterationCounter {
 public:
  explicit IterationCounter(simloop::EventLoop& loop) : loop_(&loop) {}
  void start() {
    loop_->call_soon([this] { tick(); });
  }
  void stop() { ticking_ = false; }
  int value = 0;

 private:
  void tick() {
    ++value;
    if (ticking_) loop_->call_soon([this] { tick(); });
  }
  simloop::EventLoop* loop_;
  bool ticking_ = true;
};

// Python's spelling of a boolean.
inline const char* py(bool b) { return b ? "True" : "False"; }

// What str(exc) prints, "None" for no exception.
inline std::string exc_text(const std::exception_ptr& exc) {
  if (!exc) return "None";
  try {
    std::rethrow_exception(exc);
  } catch (const std::exception& e) {
    return e.what();
  } catch (const simloop::CancelledError& e) {
    return e.message();
  }
}

// The asyncio name of an error a connection or socket failed with.
inline std::string exc_type(const std::exception_ptr& exc) {
  try {
    std::rethrow_exception(exc);
  } catch (const simloop::ConnectionResetError&) {
    return "ConnectionResetError";
  } catch (const simloop::BrokenPipeError&) {
    return "BrokenPipeError";
  } catch (const simloop::ConnectionAbortedError&) {
    return "ConnectionAbortedError";
  } catch (const simloop::ConnectionRefusedError&) {
    return "ConnectionRefusedError";
  } catch (const simloop::ConnectionError&) {
    return "ConnectionError";
  } catch (const simloop::OSError&) {
    return "OSError";
  } catch (...) {
    return "other";
  }
}

using ScenarioFn = void (*)(Log&);
struct Scenario {
  std::string name;
  ScenarioFn fn;
};
std::vector<Scenario>& registry();
bool register_scenario(const char* name, ScenarioFn fn);

}  // namespace conformance

// Defines `void conformance_<name>(conformance::Log& log)`, registered under <name>;
// scenarios/<name>.py is its asyncio twin.
#define SIMLOOP_CONFORMANCE(name)                                    \
  static void conformance_##name(conformance::Log& log);             \
  [[maybe_unused]] static const bool conformance_registered_##name = \
      conformance::register_scenario(#name, &conformance_##name);    \
  static void conformance_##name(conformance::Log& log)
