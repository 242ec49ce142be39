// The completion thread behind callbacks and asyncio: collects the jobs of the kCallbacks owner as
// they finish and hands them on in batches, so that whoever delivers them (the bindings, which take
// the GIL) pays for one hand-over per batch instead of one per job.
// Pure C++17.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/window.hpp"

namespace vart_async::core {

class Completer {
 public:
  // `sink` gets each batch of collected jobs (done == true) and of jobs given up after the wait
  // timeout (done == false, outcome kWaitTimeout; their slots are abandoned). After it returns, the
  // collected slots are released (the sink may release them itself first).
  using Sink = std::function<void(const std::vector<Collected>&)>;
  static constexpr std::size_t kMaxBatch = 64;

  Completer(JobWindow& window, Sink sink, std::chrono::milliseconds wait_timeout);
  ~Completer();
  Completer(const Completer&) = delete;
  Completer& operator=(const Completer&) = delete;

  bool on_its_thread() const noexcept { return std::this_thread::get_id() == id_.load(); }

  // Delivers what is in flight (for up to `bound`; what is still running then is given up and
  // delivered as cancelled), then ends the thread. Throws std::logic_error on the thread itself.
  void stop(std::chrono::milliseconds bound);
  // Tells the thread to end after delivering what has finished (no join; any thread).
  void request_stop() noexcept;

 private:
  void loop() noexcept;
  void deliver(std::vector<Collected>& batch) noexcept;

  JobWindow& window_;
  Sink sink_;
  const std::chrono::milliseconds wait_timeout_;
  std::mutex mutex_;
  bool stopping_ = false;
  Clock::time_point stop_by_{};
  std::atomic<std::thread::id> id_{};
  std::thread thread_;
};

}  // namespace vart_async::core
