#include "core/pipeline.hpp"

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "core/pipeline_detail.hpp"
#include "core/ready_queue.hpp"

namespace vart_async::core {
namespace {

using namespace detail;

// Objects a job that never finished may still use: they are never destroyed (not even at exit,
// where the runtime could still be writing into them), yet stay reachable, so leak checkers don't
// mistake this deliberate choice for a leak.
void keep_forever(std::shared_ptr<void> object) {
  static std::mutex mutex;
  static auto* kept = new std::vector<std::shared_ptr<void>>();
  const std::lock_guard<std::mutex> lock(mutex);
  kept->push_back(std::move(object));
}


}  // namespace

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

Pipeline::Pipeline(std::shared_ptr<Engine> engine, std::size_t jobs) : engine_(std::move(engine)) {
  if (!engine_) throw std::invalid_argument("engine is null");
  if (jobs == 0) throw std::invalid_argument("jobs must be >= 1");
  state_ = std::make_unique<std::atomic<SlotState>[]>(jobs);
  slots_.reserve(jobs);
  for (std::size_t k = 0; k < jobs; ++k) {
    slots_.push_back(engine_->create_slot());
    state_[k].store(SlotState::kIdle);
  }
  auto ready = std::make_shared<ReadyQueue>(jobs);
  bool reports = true;
  for (std::size_t k = 0; k < jobs && reports; ++k) {
    reports = engine_->notify_when_done(*slots_[k], [ready, k] { ready->push(k); });
  }
  if (reports) {
    ready_ = std::move(ready);
    ready_->set_spin(kDefaultSpin);
  }
}

Pipeline::~Pipeline() {
  bool leaked = false;
  for (std::size_t k = 0; k < slots_.size(); ++k) {
    if (state_[k].load() == SlotState::kIdle) continue;
    const Status s = engine_->wait(*slots_[k], kDestructorGrace);
    if (s.code == Status::Code::kPending) {
      // The runtime may still write into these buffers: never freeing them is the only safe choice.
      keep_forever(slots_[k]);
      leaked = true;
    }
  }
  // Kept slots may hold runtime objects (e.g. device buffers) that must not outlive the engine.
  if (leaked) keep_forever(engine_);
}

Slot& Pipeline::slot(std::size_t k) {
  check_slot(k);
  return *slots_[k];
}

std::shared_ptr<Slot> Pipeline::slot_ptr(std::size_t k) {
  check_slot(k);
  return slots_[k];
}

SlotState Pipeline::state(std::size_t k) const {
  check_slot(k);
  return state_[k].load();
}

void Pipeline::check_slot(std::size_t k) const {
  if (k >= slots_.size()) {
    throw std::out_of_range("slot " + std::to_string(k) + " out of range (the pipeline has " +
                            std::to_string(slots_.size()) + " slots)");
  }
}

void Pipeline::reclaim_abandoned() noexcept {
  for (std::size_t k = 0; k < slots_.size(); ++k) {
    if (state_[k].load() != SlotState::kAbandoned) continue;
    if (engine_->wait(*slots_[k], microseconds{0}).code != Status::Code::kPending) {
      state_[k].store(SlotState::kIdle);
    }
  }
}

RunStats Pipeline::run(const RunOptions& options, Feed* feed) {
  if (running_.exchange(true)) throw std::logic_error("the pipeline is already running");
  struct Reset {
    std::atomic<bool>& flag;
    ~Reset() { flag.store(false); }
  } reset{running_};
  if (low_level_calls_.load() > 0) throw std::logic_error("a submit() or wait() call is in progress");
  reclaim_abandoned();
  for (std::size_t k = 0; k < slots_.size(); ++k) {
    if (state_[k].load() == SlotState::kInFlight) {
      throw std::logic_error("slot " + std::to_string(k) +
                             " has a job from submit() in flight: wait for it before run()");
    }
  }
  cancel_requests_.store(0);
  if (options.warmup > 0) {
    RunOptions warm = options;
    warm.iterations = options.warmup;
    warm.time_limit_s = 0;
    warm.warmup = 0;
    RunStats w = run_loop(warm, nullptr, false);  // warm-up replays the slot buffers as they are
    if (w.reason != StopReason::kFinished) {
      w.message = "during warm-up: " + w.message;
      return w;
    }
  }
  const std::int64_t cpu0 = process_cpu_ns();
  RunStats st = run_loop(options, feed, true);
  const std::int64_t cpu1 = process_cpu_ns();
  st.cpu_ns = cpu0 < 0 || cpu1 < 0 ? -1 : cpu1 - cpu0;
  return st;
}

Status Pipeline::wait_sliced(std::size_t k, milliseconds timeout, bool* abandoned) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto now = Clock::now();
    const auto left = std::chrono::duration_cast<microseconds>(deadline - now);
    const microseconds slice = std::clamp(left, microseconds{0}, kWaitSlice);
    Status s = engine_->wait(*slots_[k], slice);
    if (s.code != Status::Code::kPending) return s;
    if (Clock::now() >= deadline) return s;
    if (cancel_requests_.load(std::memory_order_relaxed) >= 2) {
      *abandoned = true;
      return s;
    }
  }
}

RunStats Pipeline::run_loop(const RunOptions& opt, Feed* feed, bool measured) {
  RunStats st;
  // Relaxed stores of plain counters: the only cost the live progress adds to the loop.
  auto publish = [&] {
    if (measured) {
      progress_submitted_.store(st.submitted, std::memory_order_relaxed);
      progress_completed_.store(st.completed, std::memory_order_relaxed);
    }
  };
  publish();
  const std::size_t n_slots = slots_.size();
  IndexRing free(n_slots);
  for (std::size_t k = 0; k < n_slots; ++k) {
    if (state_[k].load() == SlotState::kIdle) free.push(k);
  }
  if (free.empty()) throw std::runtime_error("no usable slot: every slot holds a job that never finished");
  if (opt.iterations > 0) st.jobs.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(opt.iterations, 1u << 20)));

  const bool has_count = opt.iterations > 0;
  const bool has_time = opt.time_limit_s > 0;
  const auto t0 = Clock::now();
  const auto time_end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.time_limit_s));
  auto since_t0 = [t0](Clock::time_point t) { return static_cast<std::int64_t>((t - t0).count()); };
  static_assert(std::is_same_v<Clock::duration, std::chrono::nanoseconds>, "steady_clock ticks are ns");

  bool stopped = false;       // a problem or cancel: no more submissions
  bool exhausted = false;     // limits met or feed empty: no more submissions
  auto stop_with = [&](StopReason r, std::string msg) {
    if (!stopped) {
      st.reason = r;
      st.message = std::move(msg);
    }
    stopped = true;
  };
  auto more_wanted = [&](Clock::time_point now) {
    if (!has_count && !has_time) return true;  // the feed or cancel() ends the run
    return (has_count && st.submitted < opt.iterations) || (has_time && now < time_end);
  };
  auto finish = [&](std::size_t k, const Status& s, JobRecord& rec, Clock::time_point t_done) {
    rec.t_done = since_t0(t_done);
    st.wall_ns = std::max(st.wall_ns, rec.t_done);
    if (s.is_ok()) {
      rec.outcome = JobOutcome::kCompleted;
      ++st.completed;
    } else {
      rec.outcome = JobOutcome::kFailed;
      ++st.failed;
      stop_with(StopReason::kJobFailed, "job " + std::to_string(rec.seq) + " failed: " + s.message);
    }
    if (feed) feed->done(k, rec.seq, s.is_ok());
    publish();
  };

  if (opt.sync) {
    // One job at a time; slots are used in turn so buffers are the same as in async mode.
    std::vector<std::size_t> usable;
    while (!free.empty()) usable.push_back(free.pop());
    while (!stopped) {
      if (cancel_requests_.load(std::memory_order_relaxed) > 0) {
        stop_with(StopReason::kCancelled, "cancelled");
        break;
      }
      const auto now = Clock::now();
      if (!more_wanted(now)) break;
      const std::size_t k = usable[st.submitted % usable.size()];
      if (feed && !feed->fill(k, st.submitted)) break;
      JobRecord rec;
      rec.seq = st.submitted;
      rec.slot = static_cast<std::uint32_t>(k);
      rec.t_submit = rec.t_started = since_t0(Clock::now());
      const Status s = engine_->run(*slots_[k]);
      ++st.submitted;
      st.max_in_flight = 1;
      finish(k, s, rec, Clock::now());
      st.jobs.push_back(rec);
    }
    return st;
  }

  // Collect jobs as they finish when the engine can say which did (a replay has no order to
  // keep), else the oldest first. Either way each slot's record is found through rec_of.
  const bool by_completion = ready_ && opt.completion_order && feed == nullptr;
  st.completion_order = by_completion;
  if (by_completion) ready_->clear();
  std::vector<std::size_t> rec_of(n_slots, kNone);  // index in st.jobs of the slot's job in flight
  std::size_t n_inflight = 0;
  auto oldest = [&] {
    std::size_t best = kNone;
    for (std::size_t j = 0; j < n_slots; ++j) {
      if (rec_of[j] != kNone && (best == kNone || rec_of[j] < rec_of[best])) best = j;
    }
    return best;
  };

  bool filled = false;  // the slot at free.front() holds input from the feed but was not accepted yet
  bool busy_streak = false;
  Clock::time_point busy_since{};
  microseconds backoff = kBackoffMin;

  for (;;) {
    if (!stopped && cancel_requests_.load(std::memory_order_relaxed) > 0) stop_with(StopReason::kCancelled, "cancelled");

    // Prime / refill: submit into every free slot while there is work.
    bool was_busy = false;
    while (!stopped && !exhausted && !free.empty()) {
      const auto now = Clock::now();
      if (!filled && !more_wanted(now)) {
        exhausted = true;
        break;
      }
      const std::size_t k = free.front();
      if (!filled) {
        if (feed && !feed->fill(k, st.submitted)) {
          exhausted = true;
          break;
        }
        filled = true;
      }
      const auto t_submit = Clock::now();
      const Status s = engine_->submit(*slots_[k]);
      if (s.code == Status::Code::kBusy) {
        ++st.busy_retries;
        was_busy = true;
        break;
      }
      if (!s.is_ok()) {
        stop_with(StopReason::kSubmitFailed, "submission " + std::to_string(st.submitted) + " was refused: " + s.message);
        break;
      }
      const auto t_started = Clock::now();
      filled = false;
      busy_streak = false;
      backoff = kBackoffMin;
      free.pop();
      rec_of[k] = st.jobs.size();
      ++n_inflight;
      state_[k].store(SlotState::kInFlight, std::memory_order_relaxed);
      JobRecord rec;
      rec.seq = st.submitted++;
      rec.slot = static_cast<std::uint32_t>(k);
      rec.t_submit = since_t0(t_submit);
      rec.t_started = since_t0(t_started);
      st.jobs.push_back(rec);
      st.max_in_flight = std::max(st.max_in_flight, n_inflight);
    }

    if (n_inflight == 0) {
      if (stopped || exhausted || !was_busy) break;
      // Busy with none of our jobs in flight: another user holds the device.
      const auto now = Clock::now();
      if (!busy_streak) {
        busy_streak = true;
        busy_since = now;
      } else if (now - busy_since > opt.wait_timeout) {
        stop_with(StopReason::kBusyTimeout, "the runtime stayed busy for more than " + ms_text(opt.wait_timeout) +
                                                " with none of our jobs in flight");
        break;
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, kBackoffMax);
      continue;
    }

    // Steady state / drain: the first job to finish (or the oldest, FIFO, when the engine cannot
    // tell or a feed needs the order). In completion order, the wait after the report only makes
    // sure the runtime is done with the slot; no job is reported before it finished.
    bool abandoned = false;
    std::size_t k = oldest();
    Status s = Status::pending();
    if (by_completion) {
      // The oldest job must finish within the wait timeout of its start, however busy the others
      // keep us; when nothing finishes in time, it is the one that timed out.
      const auto started = t0 + std::chrono::nanoseconds(st.jobs[rec_of[k]].t_started);
      const std::size_t done = next_done_sliced(rec_of, started + opt.wait_timeout, &abandoned);
      if (done != kNone) {
        k = done;
        s = wait_sliced(k, opt.wait_timeout, &abandoned);
      }
    } else {
      s = wait_sliced(k, opt.wait_timeout, &abandoned);
    }
    JobRecord& rec = st.jobs[rec_of[k]];
    if (s.code == Status::Code::kPending) {
      rec_of[k] = kNone;
      --n_inflight;
      state_[k].store(SlotState::kAbandoned);
      if (abandoned) {
        rec.outcome = JobOutcome::kCancelled;
        ++st.cancelled;
        stop_with(StopReason::kCancelled, "cancelled");
      } else {
        rec.outcome = JobOutcome::kFailed;
        ++st.failed;
        stop_with(StopReason::kWaitTimeout, "job " + std::to_string(rec.seq) + " did not finish within " +
                                                ms_text(opt.wait_timeout));
      }
      // What is still in flight gets one look; whatever is not done yet is cancelled and its slot
      // abandoned (never freed or reused while the runtime may still use it).
      while (n_inflight > 0) {
        const std::size_t j = oldest();
        JobRecord& r = st.jobs[rec_of[j]];
        rec_of[j] = kNone;
        --n_inflight;
        const Status p = engine_->wait(*slots_[j], microseconds{0});
        if (p.code == Status::Code::kPending) {
          state_[j].store(SlotState::kAbandoned);
          r.outcome = JobOutcome::kCancelled;
          ++st.cancelled;
        } else {
          state_[j].store(SlotState::kIdle);
          finish(j, p, r, Clock::now());
        }
      }
      break;
    }
    const auto t_done = Clock::now();
    rec_of[k] = kNone;
    --n_inflight;
    state_[k].store(SlotState::kIdle, std::memory_order_relaxed);
    free.push(k);
    finish(k, s, rec, t_done);
  }
  return st;
}

std::size_t Pipeline::next_done_sliced(const std::vector<std::size_t>& rec_of, Clock::time_point deadline,
                                       bool* abandoned) {
  for (;;) {
    const auto left = std::chrono::duration_cast<microseconds>(deadline - Clock::now());
    const std::size_t k = ready_->pop(std::clamp(left, microseconds{0}, kWaitSlice));
    if (k != kNone) {
      if (rec_of[k] != kNone) return k;
      continue;  // a report about a slot that is not ours in flight (e.g. abandoned by an earlier run)
    }
    if (Clock::now() >= deadline) return kNone;
    if (cancel_requests_.load(std::memory_order_relaxed) >= 2) {
      *abandoned = true;
      return kNone;
    }
  }
}

}  // namespace vart_async::core
