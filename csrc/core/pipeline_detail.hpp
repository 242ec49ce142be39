// Helpers shared by the pipeline's source files. Private to csrc/core.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

namespace vart_async::core::detail {

using Clock = std::chrono::steady_clock;
using std::chrono::microseconds;
using std::chrono::milliseconds;

// A wait on a long job is sliced so that cancel() is noticed within this bound.
constexpr microseconds kWaitSlice{50'000};
// "Busy" with none of our jobs in flight means someone else holds the device: back off, don't spin.
constexpr microseconds kBackoffMin{50};
constexpr microseconds kBackoffMax{5'000};
// How long the destructor lets a leftover job finish before it leaks the slot rather than free
// buffers the runtime may still write.
constexpr microseconds kDestructorGrace{2'000'000};

// Fixed-capacity FIFO of slot indices: the hot loop never allocates for it.
class IndexRing {
 public:
  explicit IndexRing(std::size_t capacity) : items_(capacity) {}
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  std::size_t front() const noexcept { return items_[head_]; }
  void push(std::size_t v) noexcept {
    items_[(head_ + size_) % items_.size()] = v;
    ++size_;
  }
  std::size_t pop() noexcept {
    const std::size_t v = items_[head_];
    head_ = (head_ + 1) % items_.size();
    --size_;
    return v;
  }

 private:
  std::vector<std::size_t> items_;
  std::size_t head_ = 0, size_ = 0;
};

class CallCounter {
 public:
  explicit CallCounter(std::atomic<int>& n) : n_(n) { n_.fetch_add(1); }
  ~CallCounter() { n_.fetch_sub(1); }
  CallCounter(const CallCounter&) = delete;
  CallCounter& operator=(const CallCounter&) = delete;

 private:
  std::atomic<int>& n_;
};

// CPU time of the whole process (every thread, the runtime's included), or -1.
inline std::int64_t process_cpu_ns() noexcept {
  timespec ts{};
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return -1;
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline std::string ms_text(milliseconds ms) { return std::to_string(ms.count()) + " ms"; }

}  // namespace vart_async::core::detail
