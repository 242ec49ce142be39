// The pipelined run: K job slots, prime / steady state / drain, jobs collected as they finish (or
// oldest first), busy retry, timing.
// Pure C++17; the hot loop never calls into Python.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/engine.hpp"

namespace vart_async::core {

enum class JobOutcome : std::uint8_t { kCompleted, kFailed, kCancelled };

enum class StopReason : std::uint8_t {
  kFinished,      // every requested job was submitted and completed
  kCancelled,     // cancel() was called
  kJobFailed,     // the runtime reported a failed job
  kWaitTimeout,   // a job did not finish within the wait timeout
  kSubmitFailed,  // the runtime refused a submission (other than "busy")
  kBusyTimeout,   // the runtime stayed busy for longer than the wait timeout with nothing in flight
};
std::string_view to_string(StopReason reason) noexcept;

// One submitted job. Times are nanoseconds since the run's start (steady clock).
struct JobRecord {
  std::uint64_t seq = 0;      // submission index in the measured run
  std::uint32_t slot = 0;
  JobOutcome outcome = JobOutcome::kCancelled;
  std::int64_t t_submit = 0;  // host called submit (or run, in sync mode)
  std::int64_t t_started = 0; // submit returned: the job is in flight
  std::int64_t t_done = -1;   // host saw the job finish; -1 if it never did
};

struct RunOptions {
  std::uint64_t iterations = 0;  // jobs to submit; 0 = no count limit
  double time_limit_s = 0;       // 0 = no time limit. With both limits the run goes on until both are met
                                 // (benchmark_app's rule); with neither, until the feed or cancel() ends it.
  bool sync = false;             // run each job synchronously, one at a time (slot = seq % K)
  bool completion_order = true;  // without a feed, collect jobs as they finish when the engine can
                                 // tell (notify_when_done); otherwise (or with a feed) the oldest first
  std::chrono::milliseconds wait_timeout{30000};
  std::uint64_t warmup = 0;      // jobs run before the measured run, left out of every statistic
};

struct RunStats {
  std::uint64_t submitted = 0, completed = 0, failed = 0, cancelled = 0;
  std::uint64_t busy_retries = 0;  // submissions the runtime answered "busy"
  std::size_t max_in_flight = 0;
  std::int64_t wall_ns = 0;        // run start (first submit) to the last job seen done
  std::int64_t cpu_ns = -1;        // CPU time of the whole process (all threads) over the run; -1 unknown
  StopReason reason = StopReason::kFinished;
  std::string message;             // why the run stopped early
  bool completion_order = false;   // jobs were collected as they finished (else oldest first)
  std::vector<JobRecord> jobs;     // in submission order
};

// Where each submission's input comes from and where its output goes. Called on the loop's thread.
class Feed {
 public:
  virtual ~Feed() = default;
  // Prepares slot `slot` for submission `seq`; false = no more input (the run drains and ends).
  virtual bool fill(std::size_t slot, std::uint64_t seq) = 0;
  // Submission `seq` finished on `slot`; its outputs stay valid until this returns.
  virtual void done(std::size_t slot, std::uint64_t seq, bool ok) = 0;
};

enum class SlotState : std::uint8_t {
  kIdle,
  kInFlight,
  kAbandoned,  // its job outlived a run (timeout/cancel): never reused until the runtime says it is done
};

class ReadyQueue;

class Pipeline {
 public:
  Pipeline(std::shared_ptr<Engine> engine, std::size_t jobs);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  std::size_t jobs() const noexcept { return slots_.size(); }
  bool running() const noexcept { return running_.load(); }
  Engine& engine() noexcept { return *engine_; }
  const std::shared_ptr<Engine>& engine_ptr() const noexcept { return engine_; }
  Slot& slot(std::size_t k);
  // Shared so that views of a slot's buffers (e.g. numpy arrays) can keep it alive.
  std::shared_ptr<Slot> slot_ptr(std::size_t k);
  SlotState state(std::size_t k) const;

  // Runs jobs until the limits are met, a job fails or cancel() is called. Every submitted job is
  // accounted for exactly once. Throws std::logic_error if another run or a low-level job is active.
  RunStats run(const RunOptions& options, Feed* feed = nullptr);

  // Thread-safe. The first call stops submissions and drains what is in flight; a second call
  // during the drain stops waiting (those jobs are counted as cancelled and their slots abandoned).
  void cancel() noexcept { cancel_requests_.fetch_add(1, std::memory_order_relaxed); }

  // Live counters of the measured run in progress (or the last one), readable from any thread.
  struct Progress {
    std::uint64_t submitted = 0, completed = 0;
  };
  Progress progress() const noexcept {
    return {progress_submitted_.load(std::memory_order_relaxed), progress_completed_.load(std::memory_order_relaxed)};
  }

  // Low level, for callers with their own loop (not while run() is active).
  // submit: slot must be idle; retries "busy" with backoff for up to busy_timeout (kBusy after that).
  Status submit(std::size_t k, std::chrono::milliseconds busy_timeout);
  // wait: slot must be in flight or abandoned; kOk/kFailed make it idle, kPending leaves it.
  Status wait(std::size_t k, std::chrono::microseconds timeout);
  // Gives up on slot k's job (in flight from submit()): the slot is abandoned, reused only once
  // the runtime says the job is done (as run() does with a job that timed out).
  void abandon(std::size_t k);
  // True when the engine says which job finished first (then next_done() works).
  bool knows_completion_order() const noexcept { return ready_ != nullptr; }
  // The slot of a job that finished since the last call (then wait() on it to collect it), or
  // jobs() when none did within `timeout`. A slot may be reported that is not in flight any more
  // (e.g. its job was collected by wait() directly): callers skip those.
  std::size_t next_done(std::chrono::microseconds timeout);
  // Waiting for a reported completion, poll for up to `limit` before blocking while recent waits
  // were that short (adaptive spin-then-block; 0 = always block). No effect on engines that do not
  // report completions. Default kDefaultSpin.
  void set_spin(std::chrono::microseconds limit);
  static constexpr std::chrono::microseconds kDefaultSpin{100};
  // Forgets finished jobs not asked for yet (before a new loop of one's own).
  void forget_done() noexcept;

 private:
  RunStats run_loop(const RunOptions& options, Feed* feed, bool measured);
  // Waits for slot k's job, sliced so cancel() is seen. kPending = timed out, or abandoned by a
  // second cancel() (then *abandoned is set).
  Status wait_sliced(std::size_t k, std::chrono::milliseconds timeout, bool* abandoned);
  void reclaim_abandoned() noexcept;
  // Completion order: the next finished slot among those in flight (skipping stale reports), or
  // a value >= jobs() at `deadline` or after a second cancel() (then *abandoned is set).
  std::size_t next_done_sliced(const std::vector<std::size_t>& rec_of,
                               std::chrono::steady_clock::time_point deadline, bool* abandoned);
  void check_slot(std::size_t k) const;

  std::shared_ptr<Engine> engine_;
  std::vector<std::shared_ptr<Slot>> slots_;
  std::unique_ptr<std::atomic<SlotState>[]> state_;
  std::shared_ptr<ReadyQueue> ready_;  // null unless the engine reports completions
  std::atomic<bool> running_{false};
  std::atomic<int> low_level_calls_{0};
  std::atomic<unsigned> cancel_requests_{0};
  std::atomic<std::uint64_t> progress_submitted_{0}, progress_completed_{0};
};

}  // namespace vart_async::core
