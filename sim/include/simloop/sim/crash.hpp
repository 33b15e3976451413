// Crash capture: a run that kills the process still leaves its seed, its
// reproduce line and (with replay) a replay file of the choices made so far.
//
// Contract:
//  - install() (explore calls it; idempotent) handles SIGSEGV, SIGBUS,
//    SIGFPE, SIGILL and SIGABRT (on an alternate stack, so a stack overflow
//    is caught too), std::terminate, and a sanitizer's death callback when
//    the process runs under one (found at run time: the choice does not
//    depend on how any translation unit was compiled).
//  - Everything the handler prints is prepared before the run: the
//    exploration's text once (begin_exploration), then per run only two
//    integers (set_run). The handler itself only formats integers and calls
//    write(2): async-signal-safe, no allocation, no lock.
//  - It prints, to stderr, once per process:
//      simloop: CRASHED <test> in run <k>: SIGSEGV (invalid memory access)
//        seed:     <seed>   strategy: <s>   fidelity: <f>
//        <what the extra writer adds: the replay file and its command>
//        reproduce: SIMLOOP_SEED=<seed> SIMLOOP_RUNS=1 ... <program>
//    then lets the signal take its course (the previous handler, e.g. a
//    sanitizer's, or the default action: the exit status still says which
//    signal killed the process).
//  - An extra writer (set_extra; replay/ sets one per run) adds lines and
//    files; it must be async-signal-safe itself (use SafeWriter).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace simloop::sim {
struct RunnerOptions;
}

namespace simloop::sim::crash {

void install();

// The exploration in progress: its header text and reproduce command are
// formatted now, for the handler to print later.
void begin_exploration(const RunnerOptions& options);
void end_exploration() noexcept;
// The run starting now on this thread (cheap: two thread-local stores;
// under SIMLOOP_JOBS each thread names its own run).
void set_run(std::uint64_t seed, std::uint64_t run_number) noexcept;
// A line printed after the header ("while minimizing ..."), or empty.
void set_note(std::string note);
// Quiet: print nothing, only call the extra writer (a minimizer's child,
// whose crash is the expected outcome of a candidate schedule).
void set_quiet(bool quiet) noexcept;

// Called from the handler with the failure text ("crash: SIGSEGV ...") and
// the run's seed. Async-signal-safe only.
using ExtraWriter = void (*)(void* context, const char* failure, std::uint64_t seed);
void set_extra(ExtraWriter writer, void* context) noexcept;
void clear_extra() noexcept;

// Writes `v` in decimal into `out` (no terminator) and returns how many
// characters it wrote. Async-signal-safe.
std::size_t format_decimal(std::uint64_t v, char (&out)[20]) noexcept;

// Buffered write(2) to a file descriptor, with a running FNV-1a 64 of the
// bytes written (replay files end in one). Async-signal-safe.
class SafeWriter {
 public:
  explicit SafeWriter(int fd) noexcept : fd_(fd) {}
  SafeWriter(const SafeWriter&) = delete;
  SafeWriter& operator=(const SafeWriter&) = delete;
  ~SafeWriter() { flush(); }
  SafeWriter& text(const char* s) noexcept;
  SafeWriter& text(const char* s, std::size_t n) noexcept;
  SafeWriter& text(const std::string& s) noexcept { return text(s.data(), s.size()); }
  SafeWriter& number(std::uint64_t v) noexcept;
  SafeWriter& hex16(std::uint64_t v) noexcept;
  std::uint64_t hash() const noexcept { return hash_; }
  bool ok() const noexcept { return ok_; }
  void flush() noexcept;

 private:
  int fd_;
  char buf_[512];
  std::size_t used_ = 0;
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
  bool ok_ = true;
};

}  // namespace simloop::sim::crash
