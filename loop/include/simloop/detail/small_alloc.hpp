// Per-thread free lists for the small objects the loop churns through
// (handles, futures, coroutine frames). Each size class keeps the blocks it
// has handed out and reuses them, so the hot path (call_soon, future
// completion, task creation) never reaches malloc in steady state.
//
// New blocks are carved from slabs (4 KiB, doubling up to 256 KiB per
// thread) rather than taken from malloc one by one: a burst of task creation
// (gather over 100k tasks) costs a pointer bump per object, and no object
// carries malloc's header. Slabs are never returned: a block may be freed
// on another thread than the one that carved it (call_soon_threadsafe's
// handles), and it must stay valid whatever thread exits first. They stay
// reachable through a process-wide list, so leak checkers see no leak.
//
// The hot state (list heads, the bump pointer) is constant-initialized and
// trivially destructible thread_local data: each access is a plain
// thread-pointer-relative load, with no initialization guard.
//
// Addresses never influence a run: nothing in simloop orders by address.
#pragma once

#include <algorithm>
#include <cstddef>
#include <mutex>
#include <new>
#include <vector>

#include <simloop/config.hpp>

namespace simloop::detail {

class SmallAlloc {
 public:
  static constexpr std::size_t kGranule = 16;
  static constexpr std::size_t kMaxSize = 512;
  static constexpr std::size_t kClasses = kMaxSize / kGranule;
  static constexpr std::size_t kFirstSlab = 4096;
  static constexpr std::size_t kMaxSlab = 256 * 1024;
  // With the pool bypassed every block goes back to operator delete, so
  // AddressSanitizer catches a use after free instead of it landing in a
  // recycled block. Decided when simloop was configured (SIMLOOP_SANITIZE,
  // SIMLOOP_POOL), never by how the including translation unit is
  // compiled: allocate() and deallocate() are inline, and a block taken
  // from the pool in one translation unit may be freed in another (an
  // instrumented program linked against an uninstrumented simloop).
  static constexpr bool kBypass = SIMLOOP_POOL_BYPASS != 0;

  static void* allocate(std::size_t size) {
    if (kBypass || size > kMaxSize) return ::operator new(size);
    FreeBlock*& head = heads()[class_of(size)];
    if (head != nullptr) [[likely]] {
      FreeBlock* block = head;
      head = block->next;
      return block;
    }
    return carve(rounded(size));
  }

  static void deallocate(void* p, std::size_t size) noexcept {
    if (p == nullptr) return;
    if (kBypass || size > kMaxSize) {
      ::operator delete(p);
      return;
    }
    push(p, class_of(size));
  }

 private:
  struct FreeBlock {
    FreeBlock* next;
  };
  struct Arena {
    char* next = nullptr;
    char* end = nullptr;
    std::size_t slab_size = 0;
  };
  static std::size_t class_of(std::size_t size) noexcept { return size == 0 ? 0 : (size - 1) / kGranule; }
  static std::size_t rounded(std::size_t size) noexcept { return (class_of(size) + 1) * kGranule; }
  static FreeBlock** heads() noexcept {
    static thread_local FreeBlock* lists[kClasses] = {};
    return lists;
  }
  static Arena& arena() noexcept {
    static thread_local Arena a;
    return a;
  }
  static void push(void* p, std::size_t cls) noexcept {
    FreeBlock*& head = heads()[cls];
    auto* block = static_cast<FreeBlock*>(p);
    block->next = head;
    head = block;
  }
  // A new block of `bytes` (a multiple of kGranule) from the thread's slab.
  [[gnu::noinline]] static void* carve(std::size_t bytes) {
    Arena& a = arena();
    if (static_cast<std::size_t>(a.end - a.next) < bytes) {
      // The old slab's tail becomes a free block of its own size: nothing is wasted.
      if (const auto left = static_cast<std::size_t>(a.end - a.next); left >= kGranule) push(a.next, class_of(left));
      a.slab_size = a.slab_size == 0 ? kFirstSlab : std::min(a.slab_size * 2, kMaxSlab);
      a.next = static_cast<char*>(::operator new(a.slab_size));
      a.end = a.next + a.slab_size;
      keep(a.next);
    }
    void* p = a.next;
    a.next += bytes;
    return p;
  }
  static void keep(void* slab) {
    // Deliberately never destroyed: blocks may be used during static destruction.
    static auto* slabs = new std::vector<void*>();
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    slabs->push_back(slab);
  }
};

// Mix-in: `struct X : Pooled` gets operator new/delete from SmallAlloc.
struct Pooled {
  static void* operator new(std::size_t size) { return SmallAlloc::allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { SmallAlloc::deallocate(p, size); }
};

}  // namespace simloop::detail
