// The real backends: an epoll selector that is also a SocketLayer (TCP over
// IPv4, pipes, socketpairs), a thread-pool executor, and make_real_loop().
//
// Contract:
//  - EpollSelector waits in epoll_wait for at most the timeout (rounded up to
//    a millisecond); wakeup() writes its eventfd, so call_soon_threadsafe from
//    any thread makes a blocked select() return. It is never quiescent.
//    Readiness is level-triggered; a reader is also called on hang-up and
//    error, so the next read() reports them.
//  - Its SocketLayer accepts numeric IPv4 hosts and "localhost" only (no
//    blocking name lookups on the loop thread).
//  - ThreadPoolExecutor runs jobs on `threads` worker threads in submission
//    order; shutdown() lets queued jobs run, joins the workers and refuses
//    new jobs.
//  - make_real_loop() builds an EventLoop on SteadyClock, EpollSelector and a
//    ThreadPoolExecutor with the FifoScheduler: production asyncio behaviour.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <simloop/event_loop.hpp>
#include <simloop/executor.hpp>
#include <simloop/selector.hpp>
#include <simloop/sockets.hpp>

namespace simloop {

class EpollSelector final : public Selector, public SocketLayer {
 public:
  EpollSelector();
  ~EpollSelector() override;
  EpollSelector(const EpollSelector&) = delete;
  EpollSelector& operator=(const EpollSelector&) = delete;

  void select(std::optional<Duration> timeout, std::vector<HandleRef>& ready) override;
  bool quiescent() const override { return false; }
  void wakeup() noexcept override;
  void add_reader(int fd, HandleRef callback) override;
  bool remove_reader(int fd) override;
  void add_writer(int fd, HandleRef callback) override;
  bool remove_writer(int fd) override;

  int connect(const std::string& host, int port, const std::string& local_host) override;
  int connect_result(int fd) override;
  int listen(const std::string& host, int port, int backlog) override;
  int local_port(int fd) override;
  int accept(int listener) override;
  std::ptrdiff_t read(int fd, char* buffer, std::size_t size) override;
  std::ptrdiff_t write(int fd, const char* data, std::size_t size) override;
  int shutdown_write(int fd) override;
  void close(int fd) override;
  std::pair<int, int> socketpair() override;
  std::pair<int, int> pipe() override;
  std::string peer_name(int fd) override;
  std::string local_name(int fd) override;
  // UDP over IPv4 (numeric addresses and "localhost").
  int udp_open(const std::string& host, int port) override;
  int udp_connect(int fd, const std::string& host, int port) override;
  std::ptrdiff_t sendto(int fd, const char* data, std::size_t size, const std::string& host, int port) override;
  std::ptrdiff_t recvfrom(int fd, char* buffer, std::size_t size, Address* from) override;

 private:
  struct Entry {
    HandleRef reader;
    HandleRef writer;
    bool registered = false;  // known to epoll
  };
  void update(int fd, Entry& entry);

  int epoll_fd_ = -1;
  int event_fd_ = -1;
  std::map<int, Entry> entries_;
  bool dying_ = false;
};

class ThreadPoolExecutor final : public Executor {
 public:
  explicit ThreadPoolExecutor(unsigned threads = 4);
  ~ThreadPoolExecutor() override;
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;

  void submit(std::function<void()> job) override;
  std::size_t outstanding() const override { return outstanding_.load(); }
  void shutdown() override;

 private:
  void work();

  std::mutex mutex_;
  std::condition_variable available_;
  std::deque<std::function<void()>> queue_;  // guarded by mutex_
  bool stopping_ = false;                    // guarded by mutex_
  std::atomic<std::size_t> outstanding_{0};
  std::vector<std::thread> workers_;
};

struct RealLoopOptions {
  unsigned executor_threads = 4;  // 0: no executor
};
std::unique_ptr<EventLoop> make_real_loop(RealLoopOptions options = {});

}  // namespace simloop
