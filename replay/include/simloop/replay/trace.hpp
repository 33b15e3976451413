// The trace model: what a recorded run is, independent of any file format.
//
// Contract:
//  - A run is fully determined by its list of choices (DESIGN.md §3); a Trace
//    holds that list, each choice with its kind and range, so a replay that
//    takes another path is caught at the first choice whose kind or range
//    differs.
//  - Choice::n == 0 marks a duration choice (the virtual time a callback
//    consumed, as the strategy answered Scheduler::callback_cost): its value
//    is nanoseconds and its range is unbounded. Otherwise value < n.
//  - Digests are stable hashes of loop state (step, virtual time, ready,
//    timer and pending-task counts), never of addresses, taken every
//    kDigestPeriod steps and once at the end of the run.
//  - Injections are the cancels seeded injection made, in order, each at
//    the step it happened in.
//  - Events are the per-handle timeline: one per handle run, with the range
//    [choice_begin, choice_end) of the choices made while it ran (and its
//    callback cost, asked right after it).
//  - This header (and format.hpp, render.hpp) does not depend on the loop's
//    headers, so the parser builds with any C++20 compiler (the fuzz target).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace simloop::replay {

// Mirrors simloop::ChoiceKind (scheduler.hpp); recorder.cpp checks they agree.
inline constexpr int kKindCount = 11;
// The kind's name as in the file ("ready_order", ...); "unknown" out of range.
const char* kind_name(std::uint8_t kind) noexcept;
std::optional<std::uint8_t> kind_from_name(std::string_view name) noexcept;

struct Choice {
  std::uint64_t n = 0;      // range: value in [0, n); 0 = a duration in ns
  std::uint64_t value = 0;  // 0 is always the natural choice
  std::uint64_t step = 0;   // loop.steps() when it was made (handles run so far)
  std::uint8_t kind = 0;
  friend bool operator==(const Choice&, const Choice&) = default;
};

struct Digest {
  std::uint64_t step = 0;
  std::int64_t vtime_ns = 0;
  std::uint64_t hash = 0;
  friend bool operator==(const Digest&, const Digest&) = default;
};

struct Event {
  std::uint64_t step = 0;
  std::int64_t vtime_ns = 0;  // when the handle started
  std::uint64_t task_id = 0;  // 0: a plain callback, not a task's step
  std::string task;           // the task's name, or empty
  std::string what;           // what ran: "step of Task-3 (resumed at f.cpp:12)", "callback at f.cpp:40"
  std::string suspended;      // where the task then suspended ("f.cpp:20 in fn"), "done", or empty
  std::uint64_t choice_begin = 0;
  std::uint64_t choice_end = 0;
  friend bool operator==(const Event&, const Event&) = default;
};

// A cancellation seeded injection made (simloop::InjectedCancel, as recorded): the
// timeline shows it after the step it happened in.
struct InjectionRecord {
  std::uint64_t step = 0;  // handles run before it (the one running, if any)
  std::int64_t vtime_ns = 0;
  std::string kind;  // "suspend", "granted", "callback", "timer"
  std::uint64_t task_id = 0;
  std::string task;   // the victim's name
  std::string where;  // what the victim was at
  friend bool operator==(const InjectionRecord&, const InjectionRecord&) = default;
};

// Version 2 added the injections section; version 1 files (without it) are read too.
inline constexpr std::uint32_t kFormatVersion = 2;
inline constexpr std::uint64_t kDigestPeriod = 64;

struct Trace {
  // The layout it was read in (kFormatVersion when made here); serialize
  // writes that one, so every accepted file serializes back to its bytes.
  // A version 1 trace has no injections (it is written as version 2 if given some).
  std::uint32_t format_version = kFormatVersion;
  std::string simloop_version;
  std::string test;      // "Suite.Name" (the gtest filter that selects it)
  std::string strategy;  // "random", "pct(3)", "fifo", ...
  std::string fidelity;  // "asyncio" or "chaos"
  // The other settings that shape the choice stream and the run's budgets,
  // as space-separated key=value pairs (e.g. "max_callback_cost_ns=100000000
  // cancel_probability=0 max_steps=1000000"); replay applies them again.
  std::string options;
  std::uint64_t seed = 0;
  std::string failure;  // empty when the run passed
  std::vector<Choice> choices;
  std::vector<Digest> digests;
  std::vector<Event> events;
  std::vector<InjectionRecord> injections;

  // The size the minimizer reports: how many choices differ from 0.
  std::size_t nonzero_choices() const noexcept;
  friend bool operator==(const Trace&, const Trace&) = default;
};

// FNV-1a, 64 bits: the digest and checksum hash (stable across platforms).
inline constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ull;
inline constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;
inline std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h = kFnvOffset) noexcept {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}
// Hashes a 64-bit value byte by byte, little-endian, whatever the host order.
inline std::uint64_t fnv1a_u64(std::uint64_t v, std::uint64_t h) noexcept {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xffu;
    h *= kFnvPrime;
  }
  return h;
}

}  // namespace simloop::replay
