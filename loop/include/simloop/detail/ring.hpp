// A growable FIFO ring buffer of trivially copyable values (the ready queue).
#pragma once

#include <cassert>
#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>

namespace simloop::detail {

template <class T>
class Ring {
  static_assert(std::is_trivially_copyable_v<T>);

 public:
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  void push_back(T v) {
    if (size_ == cap_) grow();
    buf_[(head_ + size_) & (cap_ - 1)] = v;
    ++size_;
  }
  T pop_front() noexcept {
    assert(size_ > 0);
    T v = buf_[head_];
    head_ = (head_ + 1) & (cap_ - 1);
    --size_;
    return v;
  }
  T& operator[](std::size_t i) noexcept { return buf_[(head_ + i) & (cap_ - 1)]; }
  // Removes the i-th element, keeping the others in order.
  T take(std::size_t i) noexcept {
    assert(i < size_);
    T v = (*this)[i];
    for (std::size_t k = i; k > 0; --k) (*this)[k] = (*this)[k - 1];
    head_ = (head_ + 1) & (cap_ - 1);
    --size_;
    return v;
  }
  // Inserts v before the i-th element (i <= size()), keeping the others in order.
  void insert_at(std::size_t i, T v) {
    assert(i <= size_);
    push_back(v);
    for (std::size_t k = size_ - 1; k > i; --k) (*this)[k] = (*this)[k - 1];
    (*this)[i] = v;
  }

 private:
  void grow() {
    std::size_t cap = cap_ == 0 ? 64 : cap_ * 2;
    auto buf = std::make_unique<T[]>(cap);
    for (std::size_t i = 0; i < size_; ++i) buf[i] = (*this)[i];
    buf_ = std::move(buf);
    cap_ = cap;
    head_ = 0;
  }

  std::unique_ptr<T[]> buf_;
  std::size_t cap_ = 0;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace simloop::detail
