// The threads SIMLOOP_JOBS runs seeds on (runner.cpp): created on first use,
// kept for the life of the process (the loop's small-object pools are per
// thread, so a thread that lives on keeps its pool for the next
// exploration), joined at exit.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace simloop::sim::workers {

class WorkerPool {
 public:
  static WorkerPool& instance();
  ~WorkerPool();
  // Calls task(i) once for each i in [0, n), on `threads` threads at most,
  // the caller's among them; returns when every call has returned. task
  // must not throw.
  void run(std::size_t threads, std::size_t n, const std::function<void(std::size_t)>& task);

 private:
  void work(std::size_t index);
  // Runs tasks until none is left; `lock` holds mutex_ on entry and on return.
  void take_tasks(std::unique_lock<std::mutex>& lock);
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable finished_;
  std::vector<std::thread> threads_;
  const std::function<void(std::size_t)>* task_ = nullptr;
  std::size_t n_ = 0;
  std::size_t next_ = 0;     // the next task index to hand out
  std::size_t running_ = 0;  // helpers inside the current batch
  std::size_t wanted_ = 0;   // helpers that may join the current batch
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
};

}  // namespace simloop::sim::workers
