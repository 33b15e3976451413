// simloop-bench: the workloads of the benchmark specification (w1-w7 and
// `bare`), one output line each, in the form the comparison script reads:
//
//     <name> <ops> <seconds> <ops_per_sec> <peak_rss_kib>
//
// Usage: simloop-bench [--force] [--no-fork] [NAME...]
//  - With no NAME, every workload runs, in the order of the specification.
//  - Each workload runs in a forked child process, so its peak RSS is its own;
//    the child also reports, on stderr, its RSS before the workload started
//    ("# <name> baseline_rss_kib=<k>"), from which the script derives memory
//    per task (peak minus baseline, divided by the tasks), and the CPU time
//    the workload took ("# <name> cpu_seconds=<s>").
//  - An unoptimized build (no NDEBUG or no __OPTIMIZE__) refuses to run,
//    since its figures mean nothing; --force runs it anyway, loudly.
//
// Every workload checks its own result (a sum, every item got once) and
// exits non-zero if it is wrong: a fast wrong answer is no benchmark.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <simloop/gather.hpp>
#include <simloop/locks.hpp>
#include <simloop/queues.hpp>
#include <simloop/sim/random.hpp>
#include <simloop/sim/runner.hpp>
#include <simloop/sim/sim_loop.hpp>
#include <simloop/sim/strategy.hpp>
#include <simloop/sleep.hpp>
#include <simloop/task.hpp>

#ifdef SIMLOOP_BENCH_HAVE_REPLAY
#include <simloop/replay/recorder.hpp>
#endif

namespace {

using simloop::Coro;
using simloop::Duration;
using simloop::sim::SimLoop;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "simloop-bench: %s\n", what.c_str());
  std::exit(3);
}

// ---- w1: 64 callback chains re-posting themselves ---------------------------

struct Chain {
  simloop::EventLoop* loop;
  long* left;
  void operator()() const {
    const long now = --*left;
    if (now > 0) {
      loop->call_soon(*this);
    } else if (now == 0) {
      loop->stop();
    }
  }
};

long w1_call_soon() {
  constexpr long kTotal = 2'000'000;
  SimLoop loop;
  long left = kTotal;
  for (int i = 0; i < 64; ++i) loop.call_soon(Chain{&loop, &left});
  loop.run_forever();
  if (left > 0) fail("w1_call_soon: the loop stopped early");
  return kTotal;
}

// ---- w2: ping-pong through two Queue(1) -------------------------------------

Coro<void> ping(simloop::Queue<long>* a, simloop::Queue<long>* b, long rounds) {
  for (long i = 0; i < rounds; ++i) {
    co_await a->put(i);
    co_await b->get();
  }
}

Coro<long> pong(simloop::Queue<long>* a, simloop::Queue<long>* b, long rounds) {
  long sum = 0;
  for (long i = 0; i < rounds; ++i) {
    sum += co_await a->get();
    co_await b->put(0);
  }
  co_return sum;
}

Coro<long> w2_main(long rounds) {
  simloop::Queue<long> a(1), b(1);
  auto [none, sum] = co_await simloop::gather(ping(&a, &b, rounds), pong(&a, &b, rounds));
  (void)none;
  co_return sum;
}

long w2_pingpong() {
  constexpr long kRounds = 200'000;
  SimLoop loop;
  const long sum = loop.run_until_complete(w2_main(kRounds));
  if (sum != kRounds * (kRounds - 1) / 2) fail("w2_pingpong: the tokens' sum is wrong");
  return kRounds * 2;
}

// ---- w3: 10,000 tasks each sleeping 100 seeded durations --------------------

Coro<void> sleeper(std::vector<Duration> durations) {
  for (Duration d : durations) co_await simloop::sleep(d);
}

Coro<void> w3_main(long tasks, int sleeps) {
  simloop::sim::Prng rng(7);
  std::vector<Coro<void>> sleepers;
  sleepers.reserve(static_cast<std::size_t>(tasks));
  for (long t = 0; t < tasks; ++t) {
    std::vector<Duration> ds(static_cast<std::size_t>(sleeps));
    for (Duration& d : ds) d = Duration(static_cast<std::int64_t>(rng.bounded(1'000'000'000)));  // [0, 1) s
    sleepers.push_back(sleeper(std::move(ds)));
  }
  co_await simloop::gather(std::move(sleepers));
}

long w3_timers() {
  constexpr long kTasks = 10'000;
  constexpr int kSleeps = 100;
  SimLoop loop;
  loop.run_until_complete(w3_main(kTasks, kSleeps));
  if (loop.time() <= Duration{0} || loop.time() > std::chrono::seconds(kSleeps)) {
    fail("w3_timers: the virtual clock ended outside (0, 100] s");
  }
  return kTasks * kSleeps;
}

// ---- w4: gather over 200,000 tasks that yield once --------------------------

Coro<long> leaf(long i) {
  co_await simloop::sleep(Duration{0});
  co_return i;
}

Coro<long> w4_main(long n) {
  std::vector<Coro<long>> leaves;
  leaves.reserve(static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) leaves.push_back(leaf(i));
  std::vector<long> results = co_await simloop::gather(std::move(leaves));
  long sum = 0;
  for (long r : results) sum += r;
  co_return sum;
}

long w4_gather() {
  constexpr long kTasks = 200'000;
  SimLoop loop;
  if (loop.run_until_complete(w4_main(kTasks)) != kTasks * (kTasks - 1) / 2) fail("w4_gather: the sum is wrong");
  return kTasks;
}

// ---- w5 / w7: seeded producer/consumer exploration --------------------------

Coro<void> producer(simloop::Queue<int>* q, int base) {
  for (int i = 0; i < 10; ++i) co_await q->put(base + i);
}

Coro<void> consumer(simloop::Queue<int>* q, std::vector<int>* got) {
  for (;;) {
    got->push_back(co_await q->get());
    q->task_done();
  }
}

Coro<void> explore_main() {
  simloop::Queue<int> q(2);
  std::vector<int> got;
  std::vector<simloop::Task<void>> ps, cs;
  for (int k = 0; k < 2; ++k) ps.push_back(simloop::create_task(producer(&q, k * 100)));
  for (int k = 0; k < 2; ++k) cs.push_back(simloop::create_task(consumer(&q, &got)));
  co_await simloop::sleep(Duration{0});
  cs[0].cancel();
  co_await simloop::gather(ps);
  co_await q.join();
  cs[1].cancel();
  co_await simloop::gather(simloop::return_exceptions, cs);
  std::sort(got.begin(), got.end());
  std::vector<int> want;
  for (int i = 0; i < 10; ++i) want.push_back(i);
  for (int i = 100; i < 110; ++i) want.push_back(i);
  if (got != want) fail("w5/w7: an item was lost or got twice");
}

simloop::sim::SimOptions chaos_options() {
  simloop::sim::SimOptions options;
  options.fidelity = simloop::sim::Fidelity::Chaos;
  return options;
}

constexpr long kSeeds = 2'000;

long w5_explore() {
  const auto options = chaos_options();
  for (long seed = 0; seed < kSeeds; ++seed) {
    SimLoop loop(std::make_unique<simloop::sim::RandomStrategy>(static_cast<std::uint64_t>(seed), options));
    loop.run_until_complete(explore_main());
  }
  return kSeeds;
}

// w5 through the exploration runner: the same 2,000 x 10 seeds as one
// sim::explore, on SIMLOOP_JOBS threads (read as the runner reads it).
// Compare its wall time at SIMLOOP_JOBS=1 and 2: the CPU time it prints
// is the sum over threads.
long w5_jobs() {
  constexpr long kRuns = kSeeds * 10;
  simloop::sim::RunnerOptions o;
  o.strategy = simloop::sim::Strategy::Random;
  o.sim = chaos_options();
  o.seed = 0;
  o.runs = kRuns;
  o.log = nullptr;
  o = simloop::sim::options_from_env(o);
  const simloop::sim::ExploreResult r = simloop::sim::explore([](SimLoop&) -> Coro<void> { return explore_main(); }, o);
  if (!r.ok()) fail("w5_jobs: " + r.failure->report);
  return static_cast<long>(r.runs);
}

#ifdef SIMLOOP_BENCH_HAVE_REPLAY
long w7_record() {
  const auto options = chaos_options();
  std::uint64_t choices = 0;
  for (long seed = 0; seed < kSeeds; ++seed) {
    simloop::replay::RunInfo info{"w7_record", "random", "chaos", static_cast<std::uint64_t>(seed)};
    auto rec = simloop::replay::RunRecording::record(
        std::move(info), std::make_unique<simloop::sim::RandomStrategy>(static_cast<std::uint64_t>(seed), options));
    {
      SimLoop loop(rec.take_scheduler());
      rec.attach(loop);
      loop.run_until_complete(explore_main());
      rec.finish();
    }
    choices += rec.recorder().choices().size();
  }
  if (choices == 0) fail("w7_record: nothing was recorded");
  return kSeeds;
}
#endif

// ---- w6: 100,000 tasks parked on one Event ----------------------------------

Coro<void> waiter(simloop::Event* ev) { co_await ev->wait(); }

Coro<void> w6_main(long n) {
  simloop::Event ev;
  std::vector<simloop::Task<void>> ts;
  ts.reserve(static_cast<std::size_t>(n));
  for (long i = 0; i < n; ++i) ts.push_back(simloop::create_task(waiter(&ev)));
  co_await simloop::sleep(Duration{0});
  ev.set();
  co_await simloop::gather(std::move(ts));
}

long w6_parked() {
  constexpr long kTasks = 100'000;
  SimLoop loop;
  loop.run_until_complete(w6_main(kTasks));
  return kTasks;
}

// ---- bare: plain coroutines resumed from a vector, no loop ------------------

struct Bare {
  struct promise_type {
    Bare get_return_object() noexcept { return Bare{std::coroutine_handle<promise_type>::from_promise(*this)}; }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_always final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::abort(); }
  };
  std::coroutine_handle<promise_type> h;
};

Bare bare_coro(long* counter) {
  for (;;) {
    ++*counter;
    co_await std::suspend_always{};
  }
}

long bare() {
  constexpr long kTotal = 20'000'000;
  constexpr int kCoros = 64;
  long counter = 0;
  std::vector<std::coroutine_handle<>> hs;
  for (int i = 0; i < kCoros; ++i) hs.push_back(bare_coro(&counter).h);
  long resumes = 0;
  while (resumes < kTotal) {
    for (auto h : hs) h.resume();
    resumes += kCoros;
  }
  for (auto h : hs) h.destroy();
  if (counter != resumes) fail("bare: a resume was lost");
  return resumes;
}

// ---- driver -------------------------------------------------------------------

struct Workload {
  const char* name;
  long (*run)();
};

const std::vector<Workload>& workloads() {
  static const std::vector<Workload> all = {
      {"w1_call_soon", w1_call_soon},
      {"w2_pingpong", w2_pingpong},
      {"w3_timers", w3_timers},
      {"w4_gather", w4_gather},
      {"w5_explore", w5_explore},
      {"w5_jobs", w5_jobs},
      {"w6_parked", w6_parked},
#ifdef SIMLOOP_BENCH_HAVE_REPLAY
      {"w7_record", w7_record},
#endif
      {"bare", bare},
  };
  return all;
}

long current_rss_kib() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long size = 0, resident = 0;
  const int got = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  if (got != 2) return 0;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// Runs one workload in this process and prints its line.
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Runs one workload in this process and prints its line. On stderr: the
// RSS before it started and the CPU time it took (on a loaded machine the
// wall time mostly measures the wait for a CPU).
void run_here(const Workload& w) {
  std::fprintf(stderr, "# %s baseline_rss_kib=%ld\n", w.name, current_rss_kib());
  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  const long ops = w.run();
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("%s %ld %.3f %.0f %ld\n", w.name, ops, dt, ops / dt, ru.ru_maxrss);
  std::fflush(stdout);
  std::fprintf(stderr, "# %s cpu_seconds=%.3f\n", w.name, cpu);
}

// Runs one workload in a child process (its own peak RSS); true if it succeeded.
bool run_forked(const Workload& w) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid < 0) fail(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    run_here(w);
    std::fflush(nullptr);
    _exit(0);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) fail(std::string("waitpid failed: ") + std::strerror(errno));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  std::fprintf(stderr, "simloop-bench: workload %s failed (%s %d)\n", w.name,
               WIFSIGNALED(status) ? "signal" : "exit status",
               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  return false;
}

constexpr bool kOptimized =
#if defined(NDEBUG) && defined(__OPTIMIZE__)
    true;
#else
    false;
#endif

void usage(std::FILE* out) {
  std::fprintf(out, "usage: simloop-bench [--force] [--no-fork] [--list] [NAME...]\nworkloads:");
  for (const Workload& w : workloads()) std::fprintf(out, " %s", w.name);
  std::fprintf(out, "\n");
}

}  // namespace

int main(int argc, char** argv) {
  bool force = false;
  bool fork_each = true;
  std::vector<const Workload*> chosen;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--force") {
      force = true;
    } else if (arg == "--no-fork") {
      fork_each = false;
    } else if (arg == "--list") {
      for (const Workload& w : workloads()) std::printf("%s\n", w.name);
      return 0;
    } else if (arg == "-h" || arg == "--help") {
      usage(stdout);
      return 0;
    } else {
      const auto& all = workloads();
      auto it = std::find_if(all.begin(), all.end(), [&](const Workload& w) { return arg == w.name; });
      if (it == all.end()) {
        std::fprintf(stderr, "simloop-bench: unknown workload '%s'\n", argv[i]);
        usage(stderr);
        return 2;
      }
      chosen.push_back(&*it);
    }
  }
  if (!kOptimized) {
    if (!force) {
      std::fprintf(stderr,
                   "simloop-bench: this is not an optimized build (NDEBUG and __OPTIMIZE__ are required); its figures "
                   "would be meaningless. Configure with -DCMAKE_BUILD_TYPE=Release, or pass --force to run anyway.\n");
      return 2;
    }
    std::fprintf(stderr,
                 "simloop-bench: WARNING: unoptimized build, forced to run; these figures are not comparable\n");
  }
  if (chosen.empty()) {
    for (const Workload& w : workloads()) chosen.push_back(&w);
  }
  bool ok = true;
  for (const Workload* w : chosen) {
    if (fork_each) {
      ok = run_forked(*w) && ok;
    } else {
      run_here(*w);
    }
  }
  return ok ? 0 : 1;
}
