// The pipeline's record of which jobs finished, filled by engine callbacks (notify_when_done).
// Private to csrc/core.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

namespace vart_async::core {

inline constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// Slots whose job finished, in the order the runtime reported them (each slot at most once).
// Filled from runtime threads by the notify_when_done callbacks, which share ownership: a slot
// kept forever keeps its callback, and with it this queue, alive.
class ReadyQueue {
 public:
  explicit ReadyQueue(std::size_t slots) : queued_(slots, 0), order_(slots) {}

  void push(std::size_t k) noexcept {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (queued_[k] != 0) return;
      queued_[k] = 1;
      order_[(head_ + size_) % order_.size()] = k;
      count_.store(++size_, std::memory_order_release);
    }
    ready_.notify_one();
  }

  // Before blocking, pop() polls for up to this long when recent waits were that short (0 = never).
  void set_spin(std::chrono::nanoseconds limit) noexcept { spin_ns_ = limit.count(); }

  // Whether the next pop() polls before blocking (recent waits were shorter than the spin limit).
  bool will_spin() const noexcept { return spin_ns_ > 0 && wait_ewma_ns_ <= spin_ns_; }

  // The next finished slot, or kNone after `timeout`. One consumer at a time.
  std::size_t pop(std::chrono::microseconds timeout) {
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    // Adaptive spin-then-block: with short jobs a blocked thread's wake-up costs more than the job
    // itself, so poll (yielding the core) while recent waits were shorter than the spin limit; with
    // long jobs the average grows past it and the thread blocks at once.
    if (will_spin()) {
      const auto until = t0 + std::chrono::nanoseconds(std::min<std::int64_t>(spin_ns_, std::chrono::nanoseconds(timeout).count()));
      while (count_.load(std::memory_order_acquire) == 0 && Clock::now() < until) std::this_thread::yield();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    const bool got = ready_.wait_for(lock, timeout, [this] { return size_ > 0; });
    const std::int64_t waited = std::chrono::nanoseconds(Clock::now() - t0).count();
    wait_ewma_ns_ += (waited - wait_ewma_ns_) / 8;
    if (!got) return kNone;
    const std::size_t k = order_[head_];
    head_ = (head_ + 1) % order_.size();
    count_.store(--size_, std::memory_order_release);
    queued_[k] = 0;
    return k;
  }

  void clear() noexcept {
    const std::lock_guard<std::mutex> lock(mutex_);
    std::fill(queued_.begin(), queued_.end(), 0);
    head_ = size_ = 0;
    count_.store(0, std::memory_order_release);
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<char> queued_;
  std::vector<std::size_t> order_;  // ring of reported slots
  std::size_t head_ = 0, size_ = 0;
  std::atomic<std::size_t> count_{0};  // size_, readable without the lock (the spin)
  std::int64_t spin_ns_ = 0;
  std::int64_t wait_ewma_ns_ = 0;      // recent time pop() took; consumer-only
};

}  // namespace vart_async::core
