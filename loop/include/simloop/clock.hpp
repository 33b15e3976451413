// Clock: where the loop reads the time.
//
// Contract: now() never goes backwards. A virtual clock moves only when
// advance() is called (by the selector jumping to the next timer, or by the
// scheduler charging a callback's cost); a real clock ignores advance(),
// since real time passes by itself.
#pragma once

#include <simloop/handle.hpp>

namespace simloop {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Duration now() const noexcept = 0;
  virtual void advance(Duration by) noexcept = 0;
  virtual bool is_virtual() const noexcept = 0;
};

// Real monotonic time (std::chrono::steady_clock), for production loops.
class SteadyClock final : public Clock {
 public:
  SteadyClock();
  Duration now() const noexcept override;
  void advance(Duration) noexcept override {}
  bool is_virtual() const noexcept override { return false; }

 private:
  Duration origin_;
};

}  // namespace simloop
