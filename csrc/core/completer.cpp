#include "core/completer.hpp"

#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

namespace vart_async::core {

Completer::Completer(JobWindow& window, Sink sink, std::chrono::milliseconds wait_timeout, std::size_t backlog)
    : window_(window), sink_(std::move(sink)), wait_timeout_(wait_timeout), backlog_limit_(backlog) {
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
  room_.notify_all();
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
  room_.notify_all();
}

bool Completer::enqueue(Pending frame, Clock::time_point deadline, const Interrupt& interrupted) {
  // A free slot and no older frame waiting: straight in.
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (stopping_) throw std::logic_error("the session is closing");
    if (backlog_.empty()) {
      const std::size_t k = window_.acquire(kCallbacks, Clock::time_point{});
      if (k != kNone) {
        lock.unlock();
        submit_into(k, frame, nullptr);
        return true;
      }
    }
  }
  // Else it waits for a slot, in a copy of its own (on the caller's memory: as it is).
  if (!frame.external) {
    const Slot& shape = window_.slot(0);
    std::uint64_t copied = 0;
    for (std::size_t i = 0; i < shape.inputs().size() && i < frame.inputs.size(); ++i) {
      const auto* src = static_cast<const std::byte*>(frame.inputs[i]);
      frame.owned.emplace_back(src, src + shape.inputs()[i].nbytes);
      copied += shape.inputs()[i].nbytes;
    }
    window_.count_copied(copied, 0);
    frame.inputs.clear();
    for (const auto& b : frame.owned) frame.inputs.push_back(b.data());
  }
  {
    std::unique_lock<std::mutex> lock(mutex_);
    auto next_check = Clock::now() + kWaitSlice;
    while (backlog_.size() >= backlog_limit_ && !stopping_) {
      if (Clock::now() >= deadline) return false;
      room_.wait_until(lock, std::min(deadline, Clock::now() + kWaitSlice));
      if (interrupted && Clock::now() >= next_check) {
        next_check = Clock::now() + kWaitSlice;
        lock.unlock();
        const bool stop = interrupted();
        lock.lock();
        if (stop) return false;
      }
    }
    if (stopping_) throw std::logic_error("the session is closing");
    backlog_.push_back(std::move(frame));
  }
  // A slot may have freed meanwhile (then it is submitted here); else the next one that frees takes it.
  refill(nullptr);
  return true;
}

void Completer::submit_into(std::size_t k, const Pending& frame, std::vector<Delivery>* failed) {
  const Slot& slot = window_.slot(k);
  if (!frame.external) {
    std::uint64_t copied = 0;
    for (std::size_t i = 0; i < slot.inputs().size() && i < frame.inputs.size(); ++i) {
      std::memcpy(slot.inputs()[i].data, frame.inputs[i], slot.inputs()[i].nbytes);
      copied += slot.inputs()[i].nbytes;
    }
    window_.count_copied(copied, 0);
  }
  const Outcome o =
      window_.submit(k, frame.tag, saturating_add(Clock::now(), wait_timeout_), nullptr, nullptr, frame.external.get());
  if (o.ok()) return;
  window_.give_back(k);
  Delivery d;
  d.job.slot = k;
  d.job.tag = frame.tag;
  d.job.outcome = o;
  const std::lock_guard<std::mutex> lock(mutex_);
  (failed != nullptr ? *failed : refused_).push_back(std::move(d));
}

std::size_t Completer::outstanding() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return backlog_.size() + delivering_ + refused_.size() + window_.held(kCallbacks);
}

bool Completer::wait_idle(Clock::time_point deadline, const Interrupt& interrupted) {
  auto next_check = Clock::now() + kWaitSlice;
  for (;;) {
    if (outstanding() == 0) return true;
    const auto now = Clock::now();
    if (now >= deadline) return false;
    if (interrupted && now >= next_check) {
      next_check = now + kWaitSlice;
      if (interrupted()) return false;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    room_.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(1)));
  }
}

void Completer::refill(std::vector<Delivery>* failed) {
  for (;;) {
    Pending next;
    std::size_t k = kNone;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      if (backlog_.empty()) return;
      k = window_.acquire(kCallbacks, Clock::time_point{});
      if (k == kNone) return;
      next = std::move(backlog_.front());
      backlog_.pop_front();
    }
    room_.notify_all();
    submit_into(k, next, failed);
  }
}

Delivery Completer::take(const Collected& c) {
  Delivery d;
  d.job = c;
  if (c.outcome.ok() && !c.external) {
    d.outputs = std::make_shared<OutputBlock>();
    std::uint64_t copied = 0;
    for (const Buffer& b : window_.slot(c.slot).outputs()) {
      d.outputs->outputs.emplace_back(b.data, b.data + b.nbytes);
      copied += b.nbytes;
    }
    window_.count_copied(0, copied);
  }
  window_.release(c.slot);  // the outputs are ours now: the slot can take the next frame
  return d;
}

void Completer::deliver(std::vector<Delivery>& batch) noexcept {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    for (Delivery& d : refused_) batch.push_back(std::move(d));
    refused_.clear();
  }
  if (!batch.empty()) {
    try {
      sink_(batch);
    } catch (...) {  // NOLINT(bugprone-empty-catch): the sink reports its own errors; the thread must live on
    }
  }
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    delivering_ = 0;
  }
  room_.notify_all();
  batch.clear();
}

void Completer::loop() noexcept {
  id_.store(std::this_thread::get_id());
  std::vector<Delivery> batch;
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
      if (stopping && (outstanding() == 0 || now >= stop_by)) {
        // What is still running is given up, and what waits for a slot is not submitted: both are
        // delivered as cancelled.
        for (Collected late = window_.oldest(kCallbacks); late.slot != kNone; late = window_.oldest(kCallbacks)) {
          window_.abandon(late.slot);
          late.outcome = {StopReason::kCancelled, "the session was closed before the job finished"};
          batch.push_back(Delivery{std::move(late), nullptr});
        }
        std::deque<Pending> unsubmitted;  // let go of outside the lock: it may hold the caller's arrays
        {
          const std::lock_guard<std::mutex> lock(mutex_);
          unsubmitted.swap(backlog_);
        }
        for (const Pending& p : unsubmitted) {
          Delivery d;
          d.job.tag = p.tag;
          d.job.outcome = {StopReason::kCancelled, "the session was closed before the job was submitted"};
          batch.push_back(std::move(d));
        }
        unsubmitted.clear();
        deliver(batch);
        return;
      }
      // Frames waiting for a slot may get one freed by another owner (a stream, submit(k)): look
      // again soon rather than a slice later.
      refill(&batch);
      bool waiting = false;
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        waiting = !backlog_.empty();
      }
      const auto step = waiting ? std::chrono::microseconds(1000) : kWaitSlice;
      const auto deadline = stopping ? std::min(stop_by, now + step) : now + step;
      Collected c = window_.collect(kCallbacks, JobWindow::Pick::kFirstDone, deadline);
      if (c.done) {
        {
          const std::lock_guard<std::mutex> lock(mutex_);
          ++delivering_;
        }
        batch.push_back(take(c));
        refill(&batch);
        // Whatever else has finished goes in the same batch (no waiting).
        while (batch.size() < kMaxBatch) {
          Collected more = window_.collect(kCallbacks, JobWindow::Pick::kFirstDone, Clock::time_point{});
          if (!more.done) break;
          {
            const std::lock_guard<std::mutex> lock(mutex_);
            ++delivering_;
          }
          batch.push_back(take(more));
          refill(&batch);
        }
      } else if (c.slot != kNone && Clock::now() > saturating_add(c.t_started, wait_timeout_)) {
        window_.abandon(c.slot);
        c.outcome = {StopReason::kWaitTimeout,
                     "did not finish within " + std::to_string(wait_timeout_.count()) + " ms"};
        batch.push_back(Delivery{std::move(c), nullptr});
        refill(&batch);
      }
      deliver(batch);
    } catch (...) {  // NOLINT(bugprone-empty-catch): e.g. allocation failure; try again next slice
      batch.clear();
    }
  }
}

}  // namespace vart_async::core
