#include "core/completer.hpp"

#include <stdexcept>
#include <string>
#include <utility>

namespace vart_async::core {

Completer::Completer(JobWindow& window, Sink sink, std::chrono::milliseconds wait_timeout)
    : window_(window), sink_(std::move(sink)), wait_timeout_(wait_timeout) {
  thread_ = std::thread([this] { loop(); });
}

Completer::~Completer() {
  try {
    stop(std::chrono::milliseconds{0});
  } catch (...) {  // NOLINT(bugprone-empty-catch): only thrown on the thread itself, which never destroys it
  }
}

void Completer::stop(std::chrono::milliseconds bound) {
  if (on_its_thread()) throw std::logic_error("close() from a callback: the completion thread cannot wait for itself");
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!stopping_) {
      stopping_ = true;
      stop_by_ = Clock::now() + bound;
    }
  }
  window_.wake();
  if (thread_.joinable()) thread_.join();
}

void Completer::request_stop() noexcept {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!stopping_) {
      stopping_ = true;
      stop_by_ = Clock::now();
    }
  }
  window_.wake();
}

void Completer::deliver(std::vector<Collected>& batch) noexcept {
  if (batch.empty()) return;
  try {
    sink_(batch);
  } catch (...) {  // NOLINT(bugprone-empty-catch): the sink reports its own errors; the thread must live on
  }
  for (const Collected& c : batch) {
    if (c.done) window_.release(c.slot);
  }
  batch.clear();
}

void Completer::loop() noexcept {
  id_.store(std::this_thread::get_id());
  std::vector<Collected> batch;
  batch.reserve(kMaxBatch);
  for (;;) {
    bool stopping = false;
    Clock::time_point stop_by{};
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stopping = stopping_;
      stop_by = stop_by_;
    }
    try {
      const auto now = Clock::now();
      if (stopping && (window_.held(kCallbacks) == 0 || now >= stop_by)) {
        // What is still running is given up: delivered as cancelled, its slot abandoned.
        for (Collected late = window_.oldest(kCallbacks); late.slot != kNone; late = window_.oldest(kCallbacks)) {
          window_.abandon(late.slot);
          late.outcome = {StopReason::kCancelled, "the session was closed before the job finished"};
          batch.push_back(std::move(late));
        }
        deliver(batch);
        return;
      }
      const auto deadline = stopping ? std::min(stop_by, now + kWaitSlice) : now + kWaitSlice;
      Collected c = window_.collect(kCallbacks, JobWindow::Pick::kFirstDone, deadline);
      if (c.done) {
        batch.push_back(std::move(c));
        // Whatever else has finished goes in the same batch (no waiting).
        while (batch.size() < kMaxBatch) {
          Collected more = window_.collect(kCallbacks, JobWindow::Pick::kFirstDone, Clock::time_point{});
          if (!more.done) break;
          batch.push_back(std::move(more));
        }
      } else if (c.slot != kNone && Clock::now() > saturating_add(c.t_started, wait_timeout_)) {
        window_.abandon(c.slot);
        c.outcome = {StopReason::kWaitTimeout,
                     "did not finish within " + std::to_string(wait_timeout_.count()) + " ms"};
        batch.push_back(std::move(c));
      }
      deliver(batch);
    } catch (...) {  // NOLINT(bugprone-empty-catch): e.g. allocation failure; try again next slice
      batch.clear();
    }
  }
}

}  // namespace vart_async::core
