// The job window: the one mechanism behind every way of running jobs (the run loop's replay, the
// stream, the low-level submit(k)/wait, the completion thread behind callbacks and asyncio).
//
// It owns the slots' states, the jobs in flight with their tags (frame indices) and timestamps,
// completion reports from engines that give them, deadline-clamped sliced waits, busy retry with
// backoff, abandoning, and the one mapping of engine Status to outcome (StopReason). Every call is
// thread-safe; each job belongs to an owner (a run, a stream, the completion thread, the low-level
// caller) and collect() takes only its owner's jobs, so drivers on different threads never take
// each other's jobs. The engine is never called for one slot from two threads at once.
// Pure C++17.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine.hpp"

namespace vart_async::core {

using Clock = std::chrono::steady_clock;
inline constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// Every wait is cut into slices of at most this long, so that a cancel, an interrupt check (Ctrl-C)
// or a deadline is noticed within this bound.
inline constexpr std::chrono::microseconds kWaitSlice{50'000};

// t + d, or the clock's end when that is past its range (a limit that far means no limit).
template <typename Rep, typename Period>
Clock::time_point saturating_add(Clock::time_point t, std::chrono::duration<Rep, Period> d) {
  const double left = std::chrono::duration<double>(Clock::time_point::max() - t).count();
  const double want = std::chrono::duration<double>(d).count();
  if (!(want < left)) return Clock::time_point::max();  // also NaN
  if (want <= 0) return t;
  return t + std::chrono::duration_cast<Clock::duration>(d);
}
inline Clock::time_point saturating_add(Clock::time_point t, double seconds) {
  return saturating_add(t, std::chrono::duration<double>(seconds));
}
// A deadline `d` from now.
template <typename Rep, typename Period>
Clock::time_point deadline_in(std::chrono::duration<Rep, Period> d) {
  return saturating_add(Clock::now(), d);
}

// How a call or a job ended: one vocabulary for every path (the Python side maps it to exceptions
// in one table).
enum class StopReason : std::uint8_t {
  kFinished,      // done (a job: completed; a run: every requested job completed)
  kCancelled,     // cancel() or an interrupt (Ctrl-C)
  kJobFailed,     // the runtime reported a failed job
  kWaitTimeout,   // a job did not finish within the wait timeout
  kSubmitFailed,  // the runtime refused a submission (other than "busy")
  kBusyTimeout,   // the runtime stayed busy for longer than allowed
};
std::string_view to_string(StopReason reason) noexcept;

struct Outcome {
  StopReason reason = StopReason::kFinished;
  std::string message;
  bool ok() const noexcept { return reason == StopReason::kFinished; }
};

enum class SlotState : std::uint8_t {
  kIdle,       // free
  kReserved,   // taken by an owner to stage inputs; not submitted yet
  kInFlight,   // its job runs
  kCollected,  // its job finished and was collected; outputs valid until release()
  kAbandoned,  // its job outlived its owner's wait: reused only once the runtime says it is done
};

// A wait's interrupt check (e.g. Ctrl-C), called between slices without any lock held.
using Interrupt = std::function<bool()>;

using Owner = std::uint32_t;
inline constexpr Owner kLowLevel = 1;   // submit(k) / wait(k) callers
inline constexpr Owner kCallbacks = 2;  // jobs collected by the completion thread

// A collected job (done == true), or why none was: kWaitTimeout (the deadline passed; `slot` and
// `tag` then name the job that was late, if any) or kCancelled (the interrupt check fired).
struct Collected {
  bool done = false;
  std::size_t slot = kNone;
  std::uint64_t seq = 0;  // window-wide submission number
  std::uint64_t tag = 0;  // the owner's id for the job (a frame index)
  Outcome outcome;
  Clock::time_point t_submit{}, t_started{}, t_done{};
  bool external = false;      // the job wrote its outputs to the caller's memory, not the slot's
  bool device_known = false;  // the engine told when the device ran it
  DeviceTimes device;
};

// The caller's memory for one job (Engine::bind): a Buffer per input and per output (an empty
// vector: that side uses the slot's own buffers), and what keeps that memory alive until the
// slot is bound again (at least until the job is done).
struct External {
  std::vector<Buffer> inputs, outputs;
  std::shared_ptr<const void> keep;
};

class JobWindow {
 public:
  enum class Pick : std::uint8_t {
    kFirstDone,  // whichever of the owner's jobs finished first (oldest first if the engine can't tell)
    kOldest,     // the owner's oldest job
  };

  // The slots are the pipeline's; the engine outlives the window.
  JobWindow(Engine& engine, std::vector<std::shared_ptr<Slot>> slots);
  JobWindow(const JobWindow&) = delete;
  JobWindow& operator=(const JobWindow&) = delete;

  std::size_t size() const noexcept { return slots_.size(); }
  // Slot k's buffers: write inputs only while it is reserved, read outputs while it is collected.
  const Slot& slot(std::size_t k) const { return *slots_.at(k); }
  bool reports_completions() const noexcept { return reports_; }
  Owner new_owner() noexcept { return next_owner_.fetch_add(1); }
  SlotState state(std::size_t k) const;

  // Makes `owner` the only one that may take slots (a run); throws std::logic_error when another
  // owner holds a slot or is exclusive already.
  void begin_exclusive(Owner owner);
  void end_exclusive() noexcept;

  // An idle slot for `owner` to stage inputs into (abandoned slots whose job has finished are taken
  // back), waiting until `deadline` for one; kNone if none came (or `interrupted` fired).
  std::size_t acquire(Owner owner, Clock::time_point deadline, const Interrupt& interrupted = {});
  // Slot k for `owner`; throws std::logic_error unless it is idle (or abandoned and done).
  void acquire_slot(Owner owner, std::size_t k);
  // A reserved slot that will not be submitted goes back (first in line again).
  void give_back(std::size_t k);

  // Starts reserved slot k's job. "Busy" answers are retried with backoff until `busy_deadline`
  // (now: no retry); then kBusyTimeout, and the slot stays reserved. kSubmitFailed: not started,
  // slot still reserved. `busy_answers` counts the busy answers.
  // On success *seq (if given) is the job's window-wide number.
  // The slot's own buffers are used (given back first if an earlier job was bound to a caller's
  // memory), or with `external` the caller's memory (a refusal of the runtime is kSubmitFailed).
  Outcome submit(std::size_t k, std::uint64_t tag, Clock::time_point busy_deadline,
                 std::uint64_t* busy_answers = nullptr, std::uint64_t* seq = nullptr, External* external = nullptr);
  // Runs reserved slot k's job synchronously; the slot ends collected (release() it).
  Collected run_now(std::size_t k, std::uint64_t tag);

  // The next finished job of `owner` (see Pick), waiting until `deadline`. Its slot stays collected
  // (outputs valid) until release() or reuse().
  Collected collect(Owner owner, Pick pick, Clock::time_point deadline, const Interrupt& interrupted = {});
  // Waits for the job `seq` on slot k (low level: Job.wait). Its slot goes idle at once. A job
  // collected earlier gives its stored outcome; one that is gone (the slot was used again since)
  // throws std::logic_error.
  Collected collect_job(std::size_t k, std::uint64_t seq, Clock::time_point deadline,
                        const Interrupt& interrupted = {});
  // Collected slot k becomes idle / stays with its owner, reserved for the next job.
  void release(std::size_t k);
  void reuse(std::size_t k);
  // Looks once (no wait) whether slot k's job in flight is done; if so it is collected.
  Collected poll(std::size_t k);
  // The owner gives up on slot k's job in flight (a timeout, a cancel): the slot is abandoned.
  void abandon(std::size_t k);

  // Jobs of `owner` not released yet (in flight or collected).
  std::size_t held(Owner owner) const;
  // The seq and start time of `owner`'s oldest job in flight (kNone slot when there is none).
  Collected oldest(Owner owner) const;

  // Waits for every job still in flight or abandoned (whatever its owner) at once, until
  // `deadline` or `interrupted`; returns the slots whose jobs are still running.
  std::vector<std::size_t> drain(Clock::time_point deadline, const Interrupt& interrupted = {});

  // Bytes copied between the caller's memory and the slots' buffers (inputs in, outputs out), by
  // whoever copies them (a frame staged into a slot, outputs copied out): Session.bytes_copied.
  void count_copied(std::uint64_t in, std::uint64_t out) noexcept {
    if (in != 0) copied_in_.fetch_add(in, std::memory_order_relaxed);
    if (out != 0) copied_out_.fetch_add(out, std::memory_order_relaxed);
  }
  std::uint64_t copied_in() const noexcept { return copied_in_.load(std::memory_order_relaxed); }
  std::uint64_t copied_out() const noexcept { return copied_out_.load(std::memory_order_relaxed); }

  // Wakes every thread waiting in the window (to look at a flag of its own).
  void wake() noexcept { changed_.notify_all(); }

  // Adaptive spin-then-block for reported completions (0 = always block).
  void set_spin(std::chrono::microseconds limit);
  static constexpr std::chrono::microseconds kDefaultSpin{100};

 private:
  struct Job {
    SlotState state = SlotState::kIdle;
    Owner owner = 0;
    bool claimed = false;  // a thread is calling the engine on this slot (outside the lock)
    std::uint64_t seq = 0, tag = 0;
    Clock::time_point t_submit{}, t_started{};
    bool external = false;  // job `seq` writes its outputs to the caller's memory
    Outcome last;           // the outcome of job `seq` once collected
  };
  // What the engine's completion reports write: shared with its callbacks, which may outlive the
  // window when a slot whose job never finished is kept forever.
  struct Reports {
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<char> ready;         // per slot: the runtime reported its job finished
    std::vector<std::size_t> order;  // reported slots, in report order
    std::atomic<std::size_t> count{0};
  };

  using Lock = std::unique_lock<std::mutex>;
  // Binds reserved slot k to `external`'s memory, or (null) gives it its own buffers back if it was
  // bound. No lock held; the slot is the caller's.
  Status bind(std::size_t k, External* external);
  void check_slot(std::size_t k) const;
  void check_taker(Owner owner) const;  // exclusive mode
  // Whether abandoned slot k's job is done (then it goes idle). Called with the lock held; calls the
  // engine with it released.
  bool reclaim(Lock& lock, std::size_t k);
  // The slot of the owner's job to collect now, or kNone. Lock held.
  std::size_t candidate(Owner owner, Pick pick) const;
  // Waits on the engine for slot k's job (claimed by the caller) for up to one slice before
  // `deadline`; a result other than kPending is recorded as collected. Lock held on entry and exit.
  bool finish_wait(Lock& lock, std::size_t k, Clock::time_point deadline, Collected& out);
  void forget_report(std::size_t k);  // lock held
  void block(Lock& lock, Clock::time_point deadline);
  // Polls `counter` (lock released) until it changes, for at most the spin limit from t0, if
  // recent waits (`ewma_ns`) were that short; false when it did not spin.
  bool spin(Lock& lock, Clock::time_point t0, Clock::time_point deadline, const std::atomic<std::size_t>& counter,
            std::int64_t ewma_ns);
  void freed(std::size_t k, bool first);       // slot k joins free_ (first in line, or last); lock held
  std::size_t held_locked(Owner owner) const;  // lock held
  Collected oldest_locked(Owner owner) const;  // lock held
  // False once `deadline` passed or `interrupted` fired (looked at from `next_check` on, once a
  // slice), with the reason in out.outcome.
  bool sliced(Lock& lock, Clock::time_point deadline, const Interrupt& interrupted, Collected& out,
              Clock::time_point& next_check);

  Engine& engine_;
  std::vector<std::shared_ptr<Slot>> slots_;
  std::shared_ptr<Reports> shared_;
  std::mutex& mutex_;
  std::condition_variable& changed_;
  std::vector<Job> jobs_;
  std::vector<std::size_t> free_;  // idle slots, longest idle first
  bool reports_ = false;
  Owner exclusive_ = 0;
  std::uint64_t next_seq_ = 0;
  std::atomic<Owner> next_owner_{kCallbacks + 1};
  std::int64_t spin_ns_ = 0;
  std::int64_t wait_ewma_ns_ = 0;     // recent collect() waits for a report
  std::int64_t acquire_ewma_ns_ = 0;  // recent acquire() waits for a free slot
  std::atomic<std::size_t> frees_{0};
  std::atomic<std::uint64_t> copied_in_{0}, copied_out_{0};  // slots freed so far (what a spinning acquire() watches)
};

}  // namespace vart_async::core
