// Virtual time: a clock that only moves when told, and a selector that jumps
// it to the next timer instead of sleeping.
//
// Contract:
//  - VirtualClock starts at 0 and counts integer nanoseconds; it never reads
//    real time.
//  - VirtualSelector::select(timeout) advances the clock by `timeout` and
//    returns no I/O (simulated I/O lives in fakes/FakeSelector). It is always
//    quiescent: with nothing ready and no timer, the loop reports a deadlock.
#pragma once

#include <simloop/clock.hpp>
#include <simloop/selector.hpp>

namespace simloop::sim {

class VirtualClock final : public Clock {
 public:
  Duration now() const noexcept override { return now_; }
  void advance(Duration by) noexcept override {
    if (by > Duration{0}) now_ += by;
  }
  bool is_virtual() const noexcept override { return true; }

 private:
  Duration now_{0};
};

class VirtualSelector final : public Selector {
 public:
  explicit VirtualSelector(Clock& clock) noexcept : clock_(&clock) {}
  void select(std::optional<Duration> timeout, std::vector<HandleRef>&) override {
    if (timeout && *timeout > Duration{0}) clock_->advance(*timeout);
  }
  bool quiescent() const override { return true; }
  void add_reader(int fd, HandleRef) override { refuse(fd); }
  bool remove_reader(int) override { return false; }
  void add_writer(int fd, HandleRef) override { refuse(fd); }
  bool remove_writer(int) override { return false; }

 private:
  [[noreturn]] static void refuse(int fd);
  Clock* clock_;
};

}  // namespace simloop::sim
