// The job window's waits: collecting finished jobs (in completion order when the engine reports
// it), the low-level wait on one job, and the bounded drain at close (see window.hpp).
#include <algorithm>
#include <stdexcept>

#include "core/window.hpp"
#include "core/window_detail.hpp"

namespace vart_async::core {

using detail::outcome_of;
using detail::slice_until;
using detail::slot_text;
using std::chrono::microseconds;

std::size_t JobWindow::candidate(Owner owner, Pick pick) const {
  if (pick == Pick::kFirstDone && reports_) {
    for (const std::size_t k : shared_->order) {
      const Job& j = jobs_[k];
      if (j.state == SlotState::kInFlight && j.owner == owner && !j.claimed) return k;
    }
    return kNone;
  }
  std::size_t best = kNone;
  for (std::size_t k = 0; k < jobs_.size(); ++k) {
    const Job& j = jobs_[k];
    if (j.state == SlotState::kInFlight && j.owner == owner && (best == kNone || j.seq < jobs_[best].seq)) best = k;
  }
  if (best == kNone || jobs_[best].claimed) return kNone;
  // With completion reports, the oldest is taken once reported (waiting for the report spins, then
  // blocks, like kFirstDone; a wait in the runtime would only block).
  return !reports_ || shared_->ready[best] != 0 ? best : kNone;
}

bool JobWindow::finish_wait(Lock& lock, std::size_t k, Clock::time_point deadline, Collected& out) {
  Job& j = jobs_[k];
  j.claimed = true;
  lock.unlock();
  const Status s = engine_.wait(*slots_[k], slice_until(deadline));
  const auto t_done = Clock::now();
  if (s.code != Status::Code::kPending) out.device_known = engine_.device_times(*slots_[k], out.device);
  lock.lock();
  j.claimed = false;
  changed_.notify_all();  // whoever waits for this slot may go on
  if (s.code == Status::Code::kPending) return false;
  forget_report(k);
  j.last = outcome_of(s, false);
  if (j.state == SlotState::kAbandoned) {  // given up meanwhile: done now, so simply free
    j.state = SlotState::kIdle;
    j.owner = 0;
    freed(k, false);
    return false;
  }
  j.state = SlotState::kCollected;
  out.done = true;
  out.slot = k;
  out.seq = j.seq;
  out.tag = j.tag;
  out.outcome = j.last;
  out.t_submit = j.t_submit;
  out.external = j.external;
  out.t_started = j.t_started;
  out.t_done = t_done;
  return true;
}

Collected JobWindow::collect(Owner owner, Pick pick, Clock::time_point deadline, const Interrupt& interrupted) {
  Lock lock(mutex_);
  Clock::time_point next_check = Clock::now() + kWaitSlice;
  Collected out;
  const auto t0 = Clock::now();
  const bool spin_here = reports_;
  for (;;) {
    const std::size_t k = candidate(owner, pick);
    if (k != kNone) {
      if (spin_here) {
        wait_ewma_ns_ += (std::chrono::nanoseconds(Clock::now() - t0).count() - wait_ewma_ns_) / 8;
      }
      if (finish_wait(lock, k, deadline, out)) return out;
    } else if (spin_here && spin(lock, t0, deadline, shared_->count, wait_ewma_ns_)) {
      continue;
    }
    if (!sliced(lock, deadline, interrupted, out, next_check)) {
      const Collected late = oldest_locked(owner);
      Outcome why = std::move(out.outcome);
      out = late;
      out.outcome = std::move(why);
      return out;
    }
    if (k == kNone) block(lock, deadline);
  }
}

Collected JobWindow::collect_job(std::size_t k, std::uint64_t seq, Clock::time_point deadline,
                                 const Interrupt& interrupted) {
  check_slot(k);
  Lock lock(mutex_);
  Clock::time_point next_check = Clock::now() + kWaitSlice;
  Collected out;
  for (;;) {
    Job& j = jobs_[k];
    if (j.seq != seq) throw std::logic_error(slot_text(k) + " has been used for another job since");
    if (j.state != SlotState::kInFlight) {
      // Collected by another waiter (or abandoned and finished): its stored outcome.
      out.done = j.state != SlotState::kAbandoned && j.state != SlotState::kReserved;
      if (!out.done) {
        out.outcome = {StopReason::kCancelled, "the job was given up"};
        return out;
      }
      out.slot = k;
      out.seq = seq;
      out.tag = j.tag;
      out.outcome = j.last;
      return out;
    }
    if (!j.claimed) {
      if (finish_wait(lock, k, deadline, out)) {
        j.state = SlotState::kIdle;
        j.owner = 0;
        freed(k, false);
        return out;
      }
    }
    if (!sliced(lock, deadline, interrupted, out, next_check)) {
      out.slot = k;
      out.seq = seq;
      return out;
    }
    if (j.claimed) block(lock, deadline);
  }
}

Collected JobWindow::poll(std::size_t k) {
  check_slot(k);
  Lock lock(mutex_);
  Collected out;
  if (jobs_[k].state == SlotState::kInFlight && !jobs_[k].claimed) (void)finish_wait(lock, k, Clock::now(), out);
  return out;
}

std::vector<std::size_t> JobWindow::drain(Clock::time_point deadline, const Interrupt& interrupted) {
  Lock lock(mutex_);
  Clock::time_point next_check = Clock::now() + kWaitSlice;
  Collected ignored;
  std::vector<std::size_t> running;
  for (;;) {
    running.clear();
    // All of them run at once on the device: one wait per round (a slice at most), the rest polled.
    bool waited = false;
    for (std::size_t k = 0; k < jobs_.size(); ++k) {
      Job& j = jobs_[k];
      if (j.state != SlotState::kInFlight && j.state != SlotState::kAbandoned) continue;
      j.state = SlotState::kAbandoned;  // nobody collects it any more
      j.owner = 0;
      if (j.claimed) {
        running.push_back(k);
        continue;
      }
      j.claimed = true;
      const microseconds timeout = waited ? microseconds{0} : slice_until(deadline);
      waited = true;
      lock.unlock();
      const Status s = engine_.wait(*slots_[k], timeout);
      lock.lock();
      j.claimed = false;
      if (s.code == Status::Code::kPending) {
        running.push_back(k);
      } else {
        forget_report(k);
        j.state = SlotState::kIdle;
      }
    }
    if (running.empty()) {
      free_.clear();
      for (std::size_t k = 0; k < jobs_.size(); ++k) {
        if (jobs_[k].state == SlotState::kIdle) free_.push_back(k);
      }
      return running;
    }
    if (!sliced(lock, deadline, interrupted, ignored, next_check)) return running;
    if (!waited) block(lock, deadline);
  }
}

}  // namespace vart_async::core
