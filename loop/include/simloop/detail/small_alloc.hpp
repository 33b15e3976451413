// Per-thread free lists for the small objects the loop churns through
// (handles, futures, coroutine frames). Each size class keeps the blocks it
// has handed out and reuses them, so the hot path (call_soon, future
// completion, task creation) never reaches malloc in steady state.
//
// Addresses never influence a run: nothing in simloop orders by address.
#pragma once

#include <cstddef>
#include <new>

namespace simloop::detail {

class SmallAlloc {
 public:
  static constexpr std::size_t kGranule = 16;
  static constexpr std::size_t kMaxSize = 512;
  static constexpr std::size_t kClasses = kMaxSize / kGranule;
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer every block goes back to malloc, so a use after
  // free is caught instead of landing in a recycled block.
  static constexpr bool kBypass = true;
#else
  static constexpr bool kBypass = false;
#endif

  static void* allocate(std::size_t size) {
    if (kBypass || size > kMaxSize) return ::operator new(size);
    FreeBlock*& head = heads()[class_of(size)];
    if (head != nullptr) {
      FreeBlock* block = head;
      head = block->next;
      return block;
    }
    return ::operator new(rounded(size));
  }

  static void deallocate(void* p, std::size_t size) noexcept {
    if (p == nullptr) return;
    if (kBypass || size > kMaxSize) {
      ::operator delete(p);
      return;
    }
    FreeBlock*& head = heads()[class_of(size)];
    auto* block = static_cast<FreeBlock*>(p);
    block->next = head;
    head = block;
  }

 private:
  struct FreeBlock {
    FreeBlock* next;
  };
  struct Lists {
    FreeBlock* head[kClasses] = {};
    ~Lists() {
      for (FreeBlock*& h : head) {
        while (h != nullptr) {
          FreeBlock* next = h->next;
          ::operator delete(h);
          h = next;
        }
      }
    }
  };
  static std::size_t class_of(std::size_t size) noexcept { return size == 0 ? 0 : (size - 1) / kGranule; }
  static std::size_t rounded(std::size_t size) noexcept { return (class_of(size) + 1) * kGranule; }
  static FreeBlock** heads() noexcept {
    static thread_local Lists lists;
    return lists.head;
  }
};

// Mix-in: `struct X : Pooled` gets operator new/delete from SmallAlloc.
struct Pooled {
  static void* operator new(std::size_t size) { return SmallAlloc::allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { SmallAlloc::deallocate(p, size); }
};

}  // namespace simloop::detail
