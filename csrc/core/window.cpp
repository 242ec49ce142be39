// The job window: slots, submission, release (its waits: window_collect.cpp).
#include "core/window.hpp"

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "core/window_detail.hpp"

namespace vart_async::core {

using detail::kBackoffMax;
using detail::kBackoffMin;
using detail::outcome_of;
using detail::slice_until;
using detail::slot_text;
using std::chrono::microseconds;

std::string_view to_string(StopReason reason) noexcept {
  switch (reason) {
    case StopReason::kFinished: return "finished";
    case StopReason::kCancelled: return "cancelled";
    case StopReason::kJobFailed: return "job_failed";
    case StopReason::kWaitTimeout: return "wait_timeout";
    case StopReason::kSubmitFailed: return "submit_failed";
    case StopReason::kBusyTimeout: return "busy_timeout";
  }
  return "unknown";
}

JobWindow::JobWindow(Engine& engine, std::vector<std::shared_ptr<Slot>> slots)
    : engine_(engine),
      slots_(std::move(slots)),
      shared_(std::make_shared<Reports>()),
      mutex_(shared_->mutex),
      changed_(shared_->changed),
      jobs_(slots_.size()) {
  const std::size_t n = slots_.size();
  shared_->ready.assign(n, 0);
  shared_->order.reserve(n);
  free_.reserve(n);
  for (std::size_t k = 0; k < n; ++k) free_.push_back(k);
  bool reports = n > 0;
  for (std::size_t k = 0; k < n && reports; ++k) {
    reports = engine_.notify_when_done(*slots_[k], [r = shared_, k]() noexcept {
      {
        const std::lock_guard<std::mutex> lock(r->mutex);
        if (r->ready[k] != 0) return;
        r->ready[k] = 1;
        r->order.push_back(k);
        r->count.fetch_add(1, std::memory_order_release);
      }
      r->changed.notify_all();
    });
  }
  reports_ = reports;
  if (reports_) spin_ns_ = std::chrono::nanoseconds(kDefaultSpin).count();
}

void JobWindow::check_slot(std::size_t k) const {
  if (k >= slots_.size()) {
    throw std::out_of_range(slot_text(k) + " out of range (the pipeline has " + std::to_string(slots_.size()) +
                            " slots)");
  }
}

void JobWindow::check_taker(Owner owner) const {
  if (exclusive_ != 0 && exclusive_ != owner) throw std::logic_error("the pipeline is running: wait for run() to end");
}

SlotState JobWindow::state(std::size_t k) const {
  check_slot(k);
  const std::lock_guard<std::mutex> lock(mutex_);
  return jobs_[k].state;
}

void JobWindow::begin_exclusive(Owner owner) {
  const std::lock_guard<std::mutex> lock(mutex_);
  if (exclusive_ != 0) throw std::logic_error("the pipeline is already running");
  for (std::size_t k = 0; k < jobs_.size(); ++k) {
    const SlotState s = jobs_[k].state;
    if (s == SlotState::kReserved || s == SlotState::kInFlight || s == SlotState::kCollected) {
      throw std::logic_error(slot_text(k) + " has a job from submit() or a stream in flight: wait for it before run()");
    }
  }
  exclusive_ = owner;
  std::sort(free_.begin(), free_.end());  // a run uses the slots in index order (sync: seq % K)
}

void JobWindow::end_exclusive() noexcept {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    exclusive_ = 0;
  }
  changed_.notify_all();
}

void JobWindow::forget_report(std::size_t k) {
  Reports& r = *shared_;
  if (r.ready[k] == 0) return;
  r.ready[k] = 0;
  r.order.erase(std::find(r.order.begin(), r.order.end(), k));
  r.count.fetch_sub(1, std::memory_order_release);
}

bool JobWindow::reclaim(Lock& lock, std::size_t k) {
  Job& j = jobs_[k];
  if (j.state != SlotState::kAbandoned || j.claimed) return false;
  j.claimed = true;
  lock.unlock();
  const Status s = engine_.wait(*slots_[k], microseconds{0});
  lock.lock();
  j.claimed = false;
  if (s.code == Status::Code::kPending) return false;
  forget_report(k);
  j.state = SlotState::kIdle;
  j.owner = 0;
  return true;
}

bool JobWindow::sliced(Lock& lock, Clock::time_point deadline, const Interrupt& interrupted, Collected& out,
                       Clock::time_point& next_check) {
  const auto now = Clock::now();
  if (now >= deadline) {
    out.outcome = {StopReason::kWaitTimeout, "did not finish in time"};
    return false;
  }
  // Only a wait that has lasted a slice looks at the interrupt (which may take the GIL): short
  // waits, the common case, cost nothing.
  if (interrupted && now >= next_check) {
    next_check = now + kWaitSlice;
    lock.unlock();
    const bool stop = interrupted();
    lock.lock();
    if (stop) {
      out.outcome = {StopReason::kCancelled, "cancelled"};
      return false;
    }
  }
  return true;
}

void JobWindow::block(Lock& lock, Clock::time_point deadline) {
  const auto now = Clock::now();
  changed_.wait_until(lock, std::min(deadline, now + kWaitSlice));
}

bool JobWindow::spin(Lock& lock, Clock::time_point t0, Clock::time_point deadline,
                     const std::atomic<std::size_t>& counter, std::int64_t ewma_ns) {
  // Adaptive spin-then-block: with short jobs a blocked thread's wake-up costs more than the job,
  // so poll (yielding the core) while recent waits were shorter than the spin limit.
  const auto until = std::min(deadline, t0 + std::chrono::nanoseconds(spin_ns_));
  if (spin_ns_ <= 0 || ewma_ns > spin_ns_ || Clock::now() >= until) return false;
  const std::size_t seen = counter.load(std::memory_order_acquire);
  lock.unlock();
  while (counter.load(std::memory_order_acquire) == seen && Clock::now() < until) std::this_thread::yield();
  lock.lock();
  return true;
}

void JobWindow::freed(std::size_t k, bool first) {
  free_.insert(first ? free_.begin() : free_.end(), k);
  frees_.fetch_add(1, std::memory_order_release);
}

std::size_t JobWindow::acquire(Owner owner, Clock::time_point deadline, const Interrupt& interrupted) {
  Lock lock(mutex_);
  const auto t0 = Clock::now();
  Clock::time_point next_check = t0 + kWaitSlice;
  Collected ignored;
  bool waited = false;
  for (;;) {
    check_taker(owner);
    std::size_t k = kNone;
    if (!free_.empty()) {
      k = free_.front();
      free_.erase(free_.begin());
    } else {
      for (std::size_t a = 0; a < jobs_.size() && k == kNone; ++a) {
        if (reclaim(lock, a)) k = a;
      }
      // reclaim() let go of the lock: a slot may have been freed meanwhile.
      if (k == kNone && !free_.empty()) continue;
    }
    if (k != kNone) {
      jobs_[k].state = SlotState::kReserved;
      jobs_[k].owner = owner;
      if (waited) acquire_ewma_ns_ += (std::chrono::nanoseconds(Clock::now() - t0).count() - acquire_ewma_ns_) / 8;
      return k;
    }
    if (!sliced(lock, deadline, interrupted, ignored, next_check)) return kNone;
    waited = true;
    if (!spin(lock, t0, deadline, frees_, acquire_ewma_ns_)) block(lock, deadline);
  }
}

void JobWindow::acquire_slot(Owner owner, std::size_t k) {
  check_slot(k);
  Lock lock(mutex_);
  check_taker(owner);
  Job& j = jobs_[k];
  if (j.state == SlotState::kAbandoned && !reclaim(lock, k)) {
    throw std::logic_error(slot_text(k) + " still holds a job that never finished");
  }
  if (j.state == SlotState::kInFlight) throw std::logic_error(slot_text(k) + " already has a job in flight");
  if (j.state != SlotState::kIdle) throw std::logic_error(slot_text(k) + " is in use (a stream or a callback job)");
  const auto it = std::find(free_.begin(), free_.end(), k);
  if (it != free_.end()) free_.erase(it);
  j.state = SlotState::kReserved;
  j.owner = owner;
}

void JobWindow::give_back(std::size_t k) {
  check_slot(k);
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    Job& j = jobs_[k];
    if (j.state != SlotState::kReserved) return;
    j.state = SlotState::kIdle;
    j.owner = 0;
    freed(k, true);
  }
  changed_.notify_all();
}

Status JobWindow::bind(std::size_t k, External* external) {
  Slot& slot = *slots_[k];
  if (external == nullptr) {
    if (!slot.bound) return Status::ok();
    const Status s = engine_.bind(slot, {}, {});
    if (!s.is_ok()) return s;
    slot.bound = false;
    slot.caller_memory.reset();  // what kept the caller's arrays alive (may take the GIL: no lock held)
    return s;
  }
  const Status s = engine_.bind(slot, external->inputs, external->outputs);
  if (!s.is_ok()) return s;
  slot.bound = true;
  slot.caller_memory = std::move(external->keep);
  return s;
}

Outcome JobWindow::submit(std::size_t k, std::uint64_t tag, Clock::time_point busy_deadline,
                          std::uint64_t* busy_answers, std::uint64_t* seq, External* external) {
  check_slot(k);
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (jobs_[k].state != SlotState::kReserved)
      throw std::logic_error(slot_text(k) + " was not acquired for submission");
  }
  // The slot is reserved: no other thread calls the engine on it until it is in flight.
  const Status bound = bind(k, external);
  if (!bound.is_ok()) return outcome_of(Status::failed(bound.message), true);
  microseconds backoff = kBackoffMin;
  for (;;) {
    const auto t_submit = Clock::now();
    const Status s = engine_.submit(*slots_[k]);
    if (s.is_ok()) {
      const auto t_started = Clock::now();
      {
        const std::lock_guard<std::mutex> lock(mutex_);
        Job& j = jobs_[k];
        j.state = SlotState::kInFlight;
        j.seq = ++next_seq_;
        j.tag = tag;
        j.t_submit = t_submit;
        j.t_started = t_started;
        j.external = external != nullptr && !external->outputs.empty();
        if (seq != nullptr) *seq = j.seq;
      }
      changed_.notify_all();
      return {};
    }
    if (s.code != Status::Code::kBusy) return outcome_of(s, true);
    if (busy_answers != nullptr) ++*busy_answers;
    const auto now = Clock::now();
    if (now >= busy_deadline) return outcome_of(s, true);
    std::this_thread::sleep_for(std::min<Clock::duration>(backoff, busy_deadline - now));
    backoff = std::min(backoff * 2, kBackoffMax);
  }
}

Collected JobWindow::run_now(std::size_t k, std::uint64_t tag) {
  check_slot(k);
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (jobs_[k].state != SlotState::kReserved) throw std::logic_error(slot_text(k) + " was not acquired for a job");
  }
  Collected out;
  const Status bound = bind(k, nullptr);
  out.t_submit = out.t_started = Clock::now();
  const Status s = bound.is_ok() ? engine_.run(*slots_[k]) : bound;
  out.t_done = Clock::now();
  out.device_known = engine_.device_times(*slots_[k], out.device);
  const std::lock_guard<std::mutex> lock(mutex_);
  Job& j = jobs_[k];
  j.state = SlotState::kCollected;
  j.seq = ++next_seq_;
  j.tag = tag;
  j.t_submit = j.t_started = out.t_submit;
  j.external = false;
  j.last = outcome_of(s, false);
  out.done = true;
  out.slot = k;
  out.seq = j.seq;
  out.tag = tag;
  out.outcome = j.last;
  return out;
}

void JobWindow::release(std::size_t k) {
  check_slot(k);
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    Job& j = jobs_[k];
    if (j.state != SlotState::kCollected) return;  // released already
    j.state = SlotState::kIdle;
    j.owner = 0;
    freed(k, false);
  }
  changed_.notify_all();
}

void JobWindow::reuse(std::size_t k) {
  check_slot(k);
  const std::lock_guard<std::mutex> lock(mutex_);
  Job& j = jobs_[k];
  if (j.state != SlotState::kCollected) throw std::logic_error(slot_text(k) + " holds no collected job");
  j.state = SlotState::kReserved;
}

void JobWindow::abandon(std::size_t k) {
  check_slot(k);
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    Job& j = jobs_[k];
    if (j.state != SlotState::kInFlight) return;
    j.state = SlotState::kAbandoned;
    j.owner = 0;
    j.last = {StopReason::kCancelled, "the job was given up"};
  }
  changed_.notify_all();
}

std::size_t JobWindow::held_locked(Owner owner) const {
  return static_cast<std::size_t>(std::count_if(jobs_.begin(), jobs_.end(), [owner](const Job& j) {
    return j.owner == owner &&
           (j.state == SlotState::kReserved || j.state == SlotState::kInFlight || j.state == SlotState::kCollected);
  }));
}

std::size_t JobWindow::held(Owner owner) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return held_locked(owner);
}

Collected JobWindow::oldest_locked(Owner owner) const {
  Collected o;
  for (std::size_t a = 0; a < jobs_.size(); ++a) {
    const Job& j = jobs_[a];
    if (j.state == SlotState::kInFlight && j.owner == owner && (o.slot == kNone || j.seq < o.seq)) {
      o.slot = a;
      o.seq = j.seq;
      o.tag = j.tag;
      o.t_submit = j.t_submit;
      o.t_started = j.t_started;
    }
  }
  return o;
}

Collected JobWindow::oldest(Owner owner) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return oldest_locked(owner);
}

void JobWindow::set_spin(std::chrono::microseconds limit) {
  if (limit < microseconds{0}) throw std::invalid_argument("the spin limit must be >= 0");
  const std::lock_guard<std::mutex> lock(mutex_);
  spin_ns_ = reports_ ? std::chrono::nanoseconds(limit).count() : 0;
}

}  // namespace vart_async::core
