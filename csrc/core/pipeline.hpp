// The pipeline: one engine's K job slots and the job window that every way of running jobs drives
// (the run loop here, the stream and the low-level calls in the bindings, the completion thread).
// Pure C++17; nothing here calls into Python.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/engine.hpp"
#include "core/histogram.hpp"
#include "core/window.hpp"

namespace vart_async::core {

enum class JobOutcome : std::uint8_t { kCompleted, kFailed, kCancelled };

// One submitted job. Times are nanoseconds since the run's start (steady clock).
struct JobRecord {
  std::uint64_t seq = 0;  // submission index in the measured run
  std::uint32_t slot = 0;
  JobOutcome outcome = JobOutcome::kCancelled;
  std::int64_t t_submit = 0;   // host called submit (or run, in sync mode)
  std::int64_t t_started = 0;  // submit returned: the job is in flight
  std::int64_t t_done = -1;    // host saw the job finish; -1 if it never did
  std::int64_t t_arrival = 0;  // when it was due (open loop: its scheduled arrival; else t_submit)
  // When the device ran it, where the engine tells (else -1), and on which compute unit (-1: unknown).
  std::int64_t t_device_start = -1, t_device_end = -1;
  std::int32_t device_unit = -1;
};

struct RunOptions {
  std::uint64_t iterations = 0;  // jobs to submit; 0 = no count limit
  double time_limit_s = 0;       // 0 = no time limit. With both limits the run goes on until both are met
                                 // (benchmark_app's rule); with neither, until cancel() ends it.
                                 // A limit past the clock's range means no limit.
  bool sync = false;             // run each job synchronously, one at a time (slot = seq % K)
  bool completion_order = true;  // collect jobs as they finish when the engine can tell; else oldest first
  std::chrono::milliseconds wait_timeout{30000};
  std::uint64_t warmup = 0;  // jobs run before the measured run, left out of every statistic
  // Jobs whose records are kept (the first ones); every job's latency goes into RunStats::latency.
  std::size_t max_records = 100'000;
  // Input frames, cycled: job `seq` runs on frames[seq % frames.size()], copied into its slot's input
  // buffers just before it is submitted (one Buffer per model input, each of the input's size).
  // Empty: the slots' inputs are replayed as they are. The caller keeps the memory alive.
  std::vector<std::vector<Buffer>> frames;
  // Open loop: > 0 submits job i at its scheduled arrival (i / rate, or a Poisson process) instead
  // of as soon as a slot is free; latency then runs from the arrival. `iterations` counts arrivals.
  double rate_fps = 0;
  bool poisson = false;
  std::uint64_t seed = 0;
  bool drop_late = false;         // an arrival that finds no free slot is dropped (counted), not queued
  std::size_t max_in_flight = 0;  // at most this many jobs in flight (0: every slot)
};

struct RunStats {
  std::uint64_t submitted = 0, completed = 0, failed = 0, cancelled = 0;
  std::uint64_t busy_retries = 0;  // submissions the runtime answered "busy"
  std::size_t max_in_flight = 0;
  std::int64_t wall_ns = 0;  // run start (first submit) to the last job seen done
  std::int64_t cpu_ns = -1;  // CPU time of the whole process (all threads) over the run; -1 unknown
  StopReason reason = StopReason::kFinished;
  std::string message;                // why the run stopped early
  bool completion_order = false;      // jobs were collected as they finished (else oldest first)
  std::vector<JobRecord> jobs;        // the first RunOptions::max_records jobs, in submission order
  std::uint64_t records_dropped = 0;  // jobs past max_records (their latency is in `latency` only)
  LatencyHistogram latency;           // of every completed job (t_done - t_submit)
  std::int64_t first_job_ns = -1;     // latency of the call's very first job (warm-up's if any); -1 none
  // Bytes copied into the slots' inputs (RunOptions::frames) and out of their outputs by the run.
  std::uint64_t bytes_copied_in = 0, bytes_copied_out = 0;
  // Open loop: arrivals dropped (drop_late), and jobs that started >= kLate after their arrival.
  std::uint64_t dropped = 0, late = 0;
  std::int64_t late_max_ns = 0, late_total_ns = 0;
  static constexpr std::chrono::milliseconds kLate{1};
};

class Completer;
struct Delivery;

class Pipeline {
 public:
  // Refuses (std::invalid_argument) slots whose buffers would add up to more than `max_bytes`.
  static constexpr std::uint64_t kDefaultMaxBytes = std::uint64_t{16} << 30;
  Pipeline(std::shared_ptr<Engine> engine, std::size_t jobs, std::uint64_t max_bytes = kDefaultMaxBytes);
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
  SlotState state(std::size_t k) const { return window_->state(k); }
  JobWindow& window() noexcept { return *window_; }

  // Replays the slots' inputs until the limits are met, a job fails or cancel() is called. Every
  // submitted job is accounted for exactly once. Throws std::logic_error if another run, a stream or
  // a low-level job holds a slot.
  RunStats run(const RunOptions& options);

  // Thread-safe. The first call stops submissions and gives the jobs in flight kCancelGrace to
  // finish; a second call stops waiting at once. Jobs not done are counted as cancelled and their
  // slots abandoned (reused once the runtime is done with them).
  void cancel() noexcept { cancel_requests_.fetch_add(1, std::memory_order_relaxed); }
  static constexpr std::chrono::milliseconds kCancelGrace{100};

  // Live counters of the measured run in progress (or the last one), readable from any thread.
  struct Progress {
    std::uint64_t submitted = 0, completed = 0;
  };
  Progress progress() const noexcept {
    return {progress_submitted_.load(std::memory_order_relaxed), progress_completed_.load(std::memory_order_relaxed)};
  }

  // Low level (Session.submit(k) / Job.wait): slot k must be idle; "busy" is retried for up to
  // busy_timeout. On success *seq names the job for wait().
  Outcome submit(std::size_t k, std::chrono::milliseconds busy_timeout, std::uint64_t* seq = nullptr);
  Collected wait(std::size_t k, std::uint64_t seq, std::chrono::microseconds timeout,
                 const Interrupt& interrupted = {});
  bool knows_completion_order() const noexcept { return window_->reports_completions(); }
  void set_spin(std::chrono::microseconds limit) { window_->set_spin(limit); }

  // Jobs collected by a completion thread (Session.submit(inputs, callback=...)): the thread starts
  // with the first call and hands each batch of finished jobs to `sink`. Thread-safe.
  // `backlog`: frames that may wait for a slot (see Completer).
  Completer& completer(const std::function<void(const std::vector<Delivery>&)>& sink,
                       std::chrono::milliseconds wait_timeout, std::size_t backlog);
  // The completion thread, if started (else null).
  Completer* completer_if_started() noexcept;
  // True on the completion thread: a call made from a callback.
  bool on_completion_thread() const noexcept;

  // Ends everything: stops the completion thread (after it delivered what was in flight), then waits
  // for every job still running, all at once, for up to `bound` or until `interrupted`. Slots whose
  // jobs never finished are kept forever (never freed while the runtime may still write into them).
  // Returns how many. The pipeline is unusable afterwards. Idempotent.
  std::size_t close(std::chrono::milliseconds bound, const Interrupt& interrupted = {});
  static constexpr std::chrono::milliseconds kCloseBound{2000};

  // For the last owner dropping the pipeline on its own completion thread (from a callback), where
  // it cannot be closed: the completion thread is told to stop, and the pipeline is kept forever.
  static void orphan(std::unique_ptr<Pipeline> pipeline) noexcept;

 private:
  class RunLoop;  // pipeline.cpp
  RunStats run_loop(const RunOptions& options, bool measured);
  void stage(std::size_t k, const std::vector<Buffer>& frame);  // copies a frame into slot k's inputs

  std::shared_ptr<Engine> engine_;
  std::vector<std::shared_ptr<Slot>> slots_;
  std::unique_ptr<JobWindow> window_;
  mutable std::mutex completer_mutex_;
  std::unique_ptr<Completer> completer_;
  std::atomic<bool> running_{false}, closed_{false};
  std::atomic<unsigned> cancel_requests_{0};
  std::atomic<std::uint64_t> progress_submitted_{0}, progress_completed_{0};
};

}  // namespace vart_async::core
