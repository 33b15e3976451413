#include <simloop/sim/crash.hpp>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include <simloop/sim/runner.hpp>

// Present when the process runs under a sanitizer runtime (weak: null otherwise).
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace simloop::sim::crash {

// ---- SafeWriter ------------------------------------------------------------------

SafeWriter& SafeWriter::text(const char* s, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    hash_ ^= c;
    hash_ *= 0x100000001b3ULL;
    if (used_ == sizeof buf_) flush();
    buf_[used_++] = s[i];
  }
  return *this;
}

SafeWriter& SafeWriter::text(const char* s) noexcept { return text(s, std::strlen(s)); }

std::size_t format_decimal(std::uint64_t v, char (&out)[20]) noexcept {
  char reversed[20];
  std::size_t n = 0;
  do {
    reversed[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (std::size_t i = 0; i < n; ++i) out[i] = reversed[n - 1 - i];
  return n;
}

SafeWriter& SafeWriter::number(std::uint64_t v) noexcept {
  char digits[20];
  return text(digits, format_decimal(v, digits));
}

SafeWriter& SafeWriter::hex16(std::uint64_t v) noexcept {
  static constexpr char kHex[] = "0123456789abcdef";
  char out[16];
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[v & 15];
    v >>= 4;
  }
  return text(out, 16);
}

void SafeWriter::flush() noexcept {
  std::size_t done = 0;
  while (done < used_) {
    const ssize_t n = ::write(fd_, buf_ + done, used_ - done);
    if (n <= 0) {
      ok_ = false;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  used_ = 0;
}

// ---- what the handler prints --------------------------------------------------

namespace {

// Written before each exploration and run; read by the handler only.
struct Identity {
  bool active = false;
  std::string test;
  std::string config;            // "strategy: random   fidelity: asyncio"
  std::string reproduce_before;  // "SIMLOOP_SEED="
  std::string reproduce_after;   // " SIMLOOP_RUNS=1 ... program args"
  bool seed_in_command = true;   // false: a fuzzer's input, reproduced by its file (reproduce_before)
  std::string note;              // optional line
  bool quiet = false;
  ExtraWriter extra = nullptr;
  void* extra_context = nullptr;
};

Identity& identity() {
  static Identity id;
  return id;
}

// Per thread: under SIMLOOP_JOBS each thread runs its own seed, and a
// fault is handled on the thread that faulted.
thread_local std::uint64_t t_seed = 0;
thread_local std::uint64_t t_run_number = 0;

std::atomic<bool> g_reported{false};
struct sigaction g_previous[NSIG];
constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

const char* describe_signal(int sig) noexcept {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV (invalid memory access)";
    case SIGBUS: return "SIGBUS (bus error)";
    case SIGFPE: return "SIGFPE (arithmetic error, e.g. an integer division by zero)";
    case SIGILL: return "SIGILL (illegal instruction)";
    case SIGABRT: return "SIGABRT (abort: std::abort, a failed assert, or a fatal runtime error)";
  }
  return "a fatal signal";
}

// "crash: <cause>" in a fixed buffer (no allocation).
struct FailureText {
  char text[160] = "crash: ";
  const char* data() const noexcept { return text; }
};
FailureText cause_failure(const char* cause) noexcept {
  FailureText f;
  std::strncat(f.text, cause, sizeof f.text - std::strlen(f.text) - 1);
  return f;
}

// Prints the report once per process; `cause` is a literal.
void report(const char* cause) noexcept {
  if (g_reported.exchange(true)) return;
  const Identity& id = identity();
  if (!id.active) return;
  if (id.quiet) {
    if (id.extra != nullptr) id.extra(id.extra_context, cause_failure(cause).data(), t_seed);
    return;
  }
  {
    SafeWriter err(STDERR_FILENO);
    err.text("\nsimloop: CRASHED ").text(id.test).text(" in run ").number(t_run_number).text(": ").text(cause);
    err.text("\n  seed:     ").number(t_seed).text("   ").text(id.config).text("\n");
    if (!id.note.empty()) err.text("  ").text(id.note).text("\n");
  }
  if (id.extra != nullptr) id.extra(id.extra_context, cause_failure(cause).data(), t_seed);
  SafeWriter err(STDERR_FILENO);
  err.text("  reproduce: ").text(id.reproduce_before);
  if (id.seed_in_command) err.number(t_seed);
  err.text(id.reproduce_after).text("\n");
}

void on_signal(int sig, siginfo_t* info, void*) {
  report(describe_signal(sig));
  // Let the signal take its course: the previous handler (a sanitizer's
  // report) or the default action, so the exit status names the signal.
  sigaction(sig, &g_previous[sig], nullptr);
  // A fault re-executes its instruction on return and faults again into the
  // restored handler; a sent signal (abort, raise) must be sent again.
  if (info == nullptr || info->si_code <= 0 || sig == SIGABRT) raise(sig);
}

std::terminate_handler g_previous_terminate = nullptr;

void on_terminate() {
  const char* cause = "std::terminate (an exception escaped a noexcept function or a destructor, or a thread)";
  report(cause);
  if (g_previous_terminate != nullptr) g_previous_terminate();
  std::abort();
}

void on_sanitizer_death() { report("a sanitizer reported an error (its report is above)"); }

alignas(16) char g_alt_stack[64 * 1024];

}  // namespace

void install() {
  static const bool installed = [] {
    stack_t ss{};
    ss.ss_sp = g_alt_stack;
    ss.ss_size = sizeof g_alt_stack;
    ss.ss_flags = 0;
    sigaltstack(&ss, nullptr);
    struct sigaction sa {};
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (int sig : kSignals) sigaction(sig, &sa, &g_previous[sig]);
    g_previous_terminate = std::set_terminate(on_terminate);
    if (__sanitizer_set_death_callback != nullptr) __sanitizer_set_death_callback(on_sanitizer_death);
    return true;
  }();
  (void)installed;
}

void begin_exploration(const RunnerOptions& options) {
  Identity& id = identity();
  id.active = false;
  id.test = options.test_name.empty() ? "exploration" : options.test_name;
  id.config = "strategy: " + std::string(to_string(options.strategy)) +
              "   fidelity: " + std::string(to_string(options.sim.fidelity));
  // The seed is the command's first value: split the command around it.
  const std::string cmd = reproduce_command(options, 0);
  const std::string key = "SIMLOOP_SEED=";
  id.seed_in_command = cmd.starts_with(key);
  id.reproduce_before = id.seed_in_command ? key : cmd;
  id.reproduce_after = id.seed_in_command ? cmd.substr(key.size() + 1) : std::string();
  id.note.clear();
  id.quiet = false;
  id.extra = nullptr;
  id.active = true;
}

void end_exploration() noexcept { identity().active = false; }

void set_run(std::uint64_t seed, std::uint64_t run_number) noexcept {
  t_seed = seed;
  t_run_number = run_number;
}

void set_note(std::string note) { identity().note = std::move(note); }

void set_quiet(bool quiet) noexcept { identity().quiet = quiet; }

void set_extra(ExtraWriter writer, void* context) noexcept {
  Identity& id = identity();
  id.extra = nullptr;
  id.extra_context = context;
  id.extra = writer;
}

void clear_extra() noexcept { identity().extra = nullptr; }

}  // namespace simloop::sim::crash
