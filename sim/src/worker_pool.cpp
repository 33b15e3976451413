#include "worker_pool.hpp"

namespace simloop::sim::workers {

WorkerPool& WorkerPool::instance() {
  static WorkerPool pool;
  return pool;
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void WorkerPool::take_tasks(std::unique_lock<std::mutex>& lock) {
  while (next_ < n_) {
    const std::size_t i = next_++;
    lock.unlock();
    (*task_)(i);
    lock.lock();
  }
}

void WorkerPool::work(std::size_t index) {
  std::uint64_t seen = 0;
  std::unique_lock lock(mutex_);
  while (true) {
    // A helper joins a batch it is wanted in; one that wakes after the
    // batch ended (wanted_ reset) waits for the next.
    wake_.wait(lock, [&] { return stopping_ || (generation_ != seen && index < wanted_); });
    if (stopping_) return;
    seen = generation_;
    ++running_;
    take_tasks(lock);
    if (--running_ == 0) finished_.notify_all();
  }
}

void WorkerPool::run(std::size_t threads, std::size_t n, const std::function<void(std::size_t)>& task) {
  const std::size_t helpers = threads > 1 ? threads - 1 : 0;
  std::unique_lock lock(mutex_);
  while (threads_.size() < helpers) {
    const std::size_t index = threads_.size();
    threads_.emplace_back([this, index] { work(index); });
  }
  task_ = &task;
  n_ = n;
  next_ = 0;
  wanted_ = helpers;
  ++generation_;
  wake_.notify_all();
  take_tasks(lock);
  // Every index is handed out; wait for the helpers still inside a task.
  finished_.wait(lock, [&] { return running_ == 0; });
  task_ = nullptr;
  wanted_ = 0;
}

}  // namespace simloop::sim::workers
