// Isolation: a run in a forked child (SIMLOOP_ISOLATE=fork). The child
// runs, writes its outcome to a pipe and leaves with _exit; the parent reads
// it, or, if the child died first, makes the death itself the outcome.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include <simloop/sim/runner.hpp>

namespace simloop::sim {

namespace {

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_str(std::string& out, const std::string& s) {
  put_u64(out, s.size());
  out += s;
}

struct Reader {
  const std::string& in;
  std::size_t at = 0;
  bool ok = true;
  std::uint64_t u64() {
    if (in.size() - at < 8) {
      ok = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<unsigned char>(in[at + i])} << (8 * i);
    at += 8;
    return v;
  }
  std::string str() {
    const std::uint64_t n = u64();
    if (!ok || in.size() - at < n) {
      ok = false;
      return {};
    }
    std::string s = in.substr(at, n);
    at += n;
    return s;
  }
};

std::string encode(const RunOutcome& o) {
  std::string out;
  put_u64(out, static_cast<std::uint64_t>(o.failure));
  put_str(out, o.message);
  put_str(out, o.task_dump);
  put_u64(out, o.steps);
  put_u64(out, static_cast<std::uint64_t>(o.vtime.count()));
  put_u64(out, o.choices);
  put_u64(out, o.injected_cancels);
  put_u64(out, o.cancel_opportunities);
  put_str(out, o.injections);
  put_str(out, o.notes);
  return out;
}

bool decode(const std::string& in, RunOutcome& o) {
  Reader r{in};
  o.failure = static_cast<FailureKind>(r.u64());
  o.message = r.str();
  o.task_dump = r.str();
  o.steps = r.u64();
  o.vtime = Duration{static_cast<Duration::rep>(r.u64())};
  o.choices = r.u64();
  o.injected_cancels = static_cast<std::uint32_t>(r.u64());
  o.cancel_opportunities = r.u64();
  o.injections = r.str();
  o.notes = r.str();
  return r.ok && r.at == in.size();
}

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::string signal_text(int sig) {
  const char* name = sigabbrev_np(sig);
  const char* what = strsignal(sig);
  return fmt::format("SIG{} ({})", name != nullptr ? name : std::to_string(sig).c_str(),
                     what != nullptr ? what : "unknown signal");
}

}  // namespace

RunOutcome run_in_child(const std::function<RunOutcome()>& run) {
  std::fflush(nullptr);  // nothing buffered is written twice
  int fds[2];
  if (::pipe(fds) != 0) throw Error(fmt::format("SIMLOOP_ISOLATE=fork: pipe failed: {}", std::strerror(errno)));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw Error(fmt::format("SIMLOOP_ISOLATE=fork: fork failed: {}", std::strerror(errno)));
  }
  if (pid == 0) {
    ::close(fds[0]);
    int status = 0;
    try {
      const RunOutcome outcome = run();
      status = write_all(fds[1], encode(outcome)) ? 0 : 3;
    } catch (...) {
      status = 4;  // run() does not throw for a failing run; anything else is a harness error
    }
    std::fflush(nullptr);
    ::_exit(status);
  }
  ::close(fds[1]);
  std::string data;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  RunOutcome out;
  if (WIFSIGNALED(wstatus)) {
    out.failure = FailureKind::Crash;
    out.message = fmt::format(
        "the run's process (a forked child, SIMLOOP_ISOLATE=fork) was killed by {}; its crash "
        "report is above",
        signal_text(WTERMSIG(wstatus)));
    out.task_dump = "  (the tasks of the crashed child are not known here: see its crash report)\n";
    return out;
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 || !decode(data, out)) {
    out = RunOutcome{};
    out.failure = FailureKind::Crash;
    out.message = fmt::format(
        "the run's process (a forked child, SIMLOOP_ISOLATE=fork) ended without reporting its outcome (exit "
        "status {}): a sanitizer ended it (its report is above), or the code under test called exit()",
        WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
  }
  return out;
}

}  // namespace simloop::sim
