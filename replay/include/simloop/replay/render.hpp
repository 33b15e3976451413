// Renderers for a Trace: the text timeline, Chrome trace-event JSON, stats,
// and the first difference between two traces.
//
// Contract:
//  - timeline(): one line per handle run — step, virtual time, task, what
//    ran, where the task then suspended, the choices made while it ran —
//    with the choices the loop made between handles (ready order, timer ties,
//    ...) on their own indented lines, in the order made. Natural choices
//    (value 0) are left out unless all_choices is set: what remains is the
//    schedule's deviation from asyncio's order.
//  - chrome_json(): the Trace Event Format (JSON object form) that Perfetto
//    and chrome://tracing open: a track (tid) per task, one for plain
//    callbacks, one for the loop's own choices. Virtual time is mostly zero
//    between handles, so the time axis is the step number (1 µs per step);
//    each slice carries the virtual time in its args.
//  - diff(): the first divergent choice of two traces (index, step, both
//    choices and the handle each was made in), else the first differing
//    digest; identical() tells whether there was none.
//  - No dependency on the loop's headers (like format.hpp).
#pragma once

#include <string>

#include <simloop/replay/trace.hpp>

namespace simloop::replay {

std::string timeline(const Trace& trace, bool all_choices = false);
std::string chrome_json(const Trace& trace);
std::string stats(const Trace& trace);

struct TraceDiff {
  bool identical = true;
  std::string report;  // human-readable; names the first divergence
};
TraceDiff diff(const Trace& a, const Trace& b, const std::string& name_a = "a", const std::string& name_b = "b");

// "1.250000000s": virtual nanoseconds as seconds, exactly.
std::string format_vtime(std::int64_t ns);
// One choice as "ready_order 2/3" (or "callback_cost 1500" when unbounded).
std::string format_choice(const Choice& c);

}  // namespace simloop::replay
