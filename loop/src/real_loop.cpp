// The real backends: epoll, POSIX sockets, a thread pool.
#include <simloop/real_loop.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include <simloop/errors.hpp>
#include <simloop/protocols.hpp>

namespace simloop {

namespace {

[[noreturn]] void fail(const char* what) {
  int err = errno;
  throw Error(fmt::format("{} failed: [Errno {}] {}", what, err, std::strerror(err)));
}

// Numeric IPv4 or "localhost"; an empty host means any address.
bool resolve(const std::string& host, int port, sockaddr_in& out) {
  std::memset(&out, 0, sizeof out);
  out.sin_family = AF_INET;
  out.sin_port = htons(static_cast<std::uint16_t>(port));
  if (host.empty()) {
    out.sin_addr.s_addr = htonl(INADDR_ANY);
    return true;
  }
  const char* numeric = host == "localhost" ? "127.0.0.1" : host.c_str();
  return inet_pton(AF_INET, numeric, &out.sin_addr) == 1;
}

int stream_socket() { return ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

}  // namespace

// ---- EpollSelector: readiness ---------------------------------------------------

EpollSelector::EpollSelector() {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) fail("epoll_create1");
  event_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) {
    ::close(epoll_fd_);
    fail("eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = event_fd_;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev) < 0) fail("epoll_ctl(eventfd)");
}

EpollSelector::~EpollSelector() {
  // Dropping the callbacks may destroy streams, which close their
  // descriptors through close(): with dying_ set, that is all it does.
  dying_ = true;
  std::map<int, Entry> entries;
  entries.swap(entries_);
  entries.clear();
  ::close(event_fd_);
  ::close(epoll_fd_);
}

void EpollSelector::update(int fd, Entry& entry) {
  std::uint32_t events = 0;
  if (entry.reader) events |= EPOLLIN;
  if (entry.writer) events |= EPOLLOUT;
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (events == 0) {
    if (entry.registered) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    entries_.erase(fd);
    return;
  }
  if (::epoll_ctl(epoll_fd_, entry.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0) {
    int err = errno;
    entries_.erase(fd);
    throw Error(
        fmt::format("add_reader/add_writer(fd={}): epoll_ctl failed: [Errno {}] {}", fd, err, std::strerror(err)));
  }
  entry.registered = true;
}

// Replaced and removed callbacks are released only after the map is
// updated: releasing one may destroy a stream, which calls close(fd).
void EpollSelector::add_reader(int fd, HandleRef callback) {
  Entry& e = entries_[fd];
  HandleRef old = std::exchange(e.reader, std::move(callback));
  old.cancel();  // asyncio cancels the handle it replaces
  update(fd, e);
}

bool EpollSelector::remove_reader(int fd) {
  auto it = entries_.find(fd);
  if (it == entries_.end() || !it->second.reader) return false;
  HandleRef old = std::move(it->second.reader);
  it->second.reader = HandleRef();
  old.cancel();
  update(fd, it->second);
  return true;
}

void EpollSelector::add_writer(int fd, HandleRef callback) {
  Entry& e = entries_[fd];
  HandleRef old = std::exchange(e.writer, std::move(callback));
  old.cancel();
  update(fd, e);
}

bool EpollSelector::remove_writer(int fd) {
  auto it = entries_.find(fd);
  if (it == entries_.end() || !it->second.writer) return false;
  HandleRef old = std::move(it->second.writer);
  it->second.writer = HandleRef();
  old.cancel();
  update(fd, it->second);
  return true;
}

void EpollSelector::select(std::optional<Duration> timeout, std::vector<HandleRef>& ready) {
  int ms = -1;
  if (timeout) {
    auto rounded = std::chrono::ceil<std::chrono::milliseconds>(*timeout).count();
    ms = static_cast<int>(std::min<long long>(std::max<long long>(rounded, 0), 24 * 3600 * 1000));
  }
  epoll_event events[64];
  int n = ::epoll_wait(epoll_fd_, events, 64, ms);
  if (n < 0) {
    if (errno == EINTR) return;
    fail("epoll_wait");
  }
  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;
    if (fd == event_fd_) {
      std::uint64_t value;
      while (::read(event_fd_, &value, sizeof value) > 0) {
      }
      continue;
    }
    auto it = entries_.find(fd);
    if (it == entries_.end()) continue;
    const std::uint32_t ev = events[i].events;
    const bool trouble = (ev & (EPOLLERR | EPOLLHUP)) != 0;
    if (it->second.reader && ((ev & EPOLLIN) != 0 || trouble)) ready.push_back(it->second.reader);
    if (it->second.writer && ((ev & EPOLLOUT) != 0 || trouble)) ready.push_back(it->second.writer);
  }
}

void EpollSelector::wakeup() noexcept {
  std::uint64_t one = 1;
  // A full counter already means "wake up"; nothing else can fail here.
  [[maybe_unused]] ssize_t w = ::write(event_fd_, &one, sizeof one);
}

// ---- EpollSelector: sockets -------------------------------------------------------

int EpollSelector::connect(const std::string& host, int port, const std::string& local_host) {
  sockaddr_in addr;
  if (!resolve(host, port, addr)) return -EINVAL;
  int fd = stream_socket();
  if (fd < 0) return -errno;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!local_host.empty()) {
    sockaddr_in local;
    if (!resolve(local_host, 0, local) || ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) {
      int err = errno != 0 ? errno : EINVAL;
      ::close(fd);
      return -err;
    }
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 && errno != EINPROGRESS) {
    int err = errno;
    ::close(fd);
    return -err;
  }
  return fd;
}

int EpollSelector::connect_result(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
  if (err != 0) return -err;
  sockaddr_in peer;
  socklen_t plen = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) < 0) {
    return errno == ENOTCONN ? -EINPROGRESS : -errno;
  }
  return 0;
}

int EpollSelector::listen(const std::string& host, int port, int backlog) {
  sockaddr_in addr;
  if (!resolve(host, port, addr)) return -EINVAL;
  int fd = stream_socket();
  if (fd < 0) return -errno;
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || ::listen(fd, backlog) < 0) {
    int err = errno;
    ::close(fd);
    return -err;
  }
  return fd;
}

int EpollSelector::local_port(int fd) {
  sockaddr_in addr;
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0) return -errno;
  return ntohs(addr.sin_port);
}

int EpollSelector::accept(int listener) {
  int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

std::ptrdiff_t EpollSelector::read(int fd, char* buffer, std::size_t size) {
  ssize_t n = ::read(fd, buffer, size);
  if (n < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  return n;
}

std::ptrdiff_t EpollSelector::write(int fd, const char* data, std::size_t size) {
  // send() with MSG_NOSIGNAL: a closed peer is EPIPE, not a signal.
  ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
  if (n < 0 && errno == ENOTSOCK) n = ::write(fd, data, size);  // a pipe
  if (n < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  return n;
}

int EpollSelector::shutdown_write(int fd) {
  if (::shutdown(fd, SHUT_WR) < 0) return -errno;
  return 0;
}

void EpollSelector::close(int fd) {
  if (!dying_) {
    auto it = entries_.find(fd);
    if (it != entries_.end()) {
      Entry old = std::move(it->second);
      entries_.erase(it);
      old.reader.cancel();
      old.writer.cancel();
      if (old.registered) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
      ::close(fd);
      return;  // `old` is released last
    }
  }
  ::close(fd);
}

std::pair<int, int> EpollSelector::socketpair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0) return {-errno, -errno};
  return {fds[0], fds[1]};
}

std::pair<int, int> EpollSelector::pipe() {
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return {-errno, -errno};
  return {fds[0], fds[1]};
}

std::string EpollSelector::peer_name(int fd) {
  sockaddr_in addr;
  socklen_t len = sizeof addr;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0 || addr.sin_family != AF_INET) {
    return fmt::format("fd {}", fd);
  }
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr.sin_addr, text, sizeof text);
  return fmt::format("{}:{}", text, ntohs(addr.sin_port));
}

std::string EpollSelector::local_name(int fd) {
  sockaddr_in addr;
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) < 0 || addr.sin_family != AF_INET) return {};
  char text[INET_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET, &addr.sin_addr, text, sizeof text);
  return fmt::format("{}:{}", text, ntohs(addr.sin_port));
}

// ---- EpollSelector: datagrams ------------------------------------------------------

int EpollSelector::udp_open(const std::string& host, int port) {
  sockaddr_in addr;
  if (port < 0 || port > 65535 || !resolve(host, port, addr)) return -EINVAL;
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    int err = errno;
    ::close(fd);
    return -err;
  }
  return fd;
}

int EpollSelector::udp_connect(int fd, const std::string& host, int port) {
  sockaddr_in addr;
  if (port <= 0 || port > 65535 || !resolve(host, port, addr)) return -EINVAL;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return -errno;
  return 0;
}

std::ptrdiff_t EpollSelector::sendto(int fd, const char* data, std::size_t size, const std::string& host, int port) {
  ssize_t n;
  if (host.empty()) {
    n = ::send(fd, data, size, MSG_NOSIGNAL);
  } else {
    sockaddr_in addr;
    if (port <= 0 || port > 65535 || !resolve(host, port, addr)) return -EINVAL;
    n = ::sendto(fd, data, size, MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  if (n < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  return n;
}

std::ptrdiff_t EpollSelector::recvfrom(int fd, char* buffer, std::size_t size, Address* from) {
  sockaddr_in addr;
  socklen_t len = sizeof addr;
  std::memset(&addr, 0, sizeof addr);
  ssize_t n = ::recvfrom(fd, buffer, size, 0, reinterpret_cast<sockaddr*>(&addr), &len);
  if (n < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  if (from != nullptr) {
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &addr.sin_addr, text, sizeof text);
    from->host = text;
    from->port = ntohs(addr.sin_port);
  }
  return n;
}

// ---- ThreadPoolExecutor ------------------------------------------------------------

ThreadPoolExecutor::ThreadPoolExecutor(unsigned threads) {
  if (threads == 0) throw Error("ThreadPoolExecutor: needs at least one thread");
  workers_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

ThreadPoolExecutor::~ThreadPoolExecutor() { shutdown(); }

void ThreadPoolExecutor::submit(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) throw Error("run_in_executor: the executor is shut down (the loop was closed)");
    queue_.push_back(std::move(job));
    ++outstanding_;
  }
  available_.notify_one();
}

void ThreadPoolExecutor::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      available_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      job();
    } catch (...) {
      // run_in_executor's jobs catch their own exceptions; a raw submit()
      // job that throws has nobody to report to.
      std::fputs("simloop: an executor job raised an exception; it was dropped\n", stderr);
    }
    job = nullptr;  // its captures die on this thread, before the count drops
    --outstanding_;
  }
}

void ThreadPoolExecutor::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  available_.notify_all();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

// ---- make_real_loop ----------------------------------------------------------------

std::unique_ptr<EventLoop> make_real_loop(RealLoopOptions options) {
  LoopParts parts;
  parts.clock = std::make_unique<SteadyClock>();
  parts.selector = std::make_unique<EpollSelector>();
  if (options.executor_threads > 0) parts.executor = std::make_unique<ThreadPoolExecutor>(options.executor_threads);
  parts.scheduler = std::make_unique<FifoScheduler>();
  return std::make_unique<EventLoop>(std::move(parts));
}

}  // namespace simloop
