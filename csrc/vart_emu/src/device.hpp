// The emulated NPU behind one runner: execution slots, a FIFO job queue and `compute_units` worker
// threads. Workers hold the Device by shared_ptr, so a callback that drops the last reference to the
// runner (destroying it on a worker thread) cannot pull the device out from under that worker.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <vart/vart_runner_factory.hpp>

#include "convert.hpp"
#include "log.hpp"
#include "model.hpp"

namespace vart::emu {

// Data addresses of one call, [row][tensor], validated by the runner.
struct RowBuffers {
  std::vector<std::vector<const void*>> in;
  std::vector<std::vector<void*>> out;
};

struct Job {
  std::uint32_t id = 0;
  std::chrono::steady_clock::time_point submitted;  // when execute_async accepted it
  // Shallow copies: they keep runner-allocated buffers alive until the job completes.
  std::vector<std::vector<NpuTensor>> inputs;
  std::vector<std::vector<NpuTensor>> outputs;
  RowBuffers rows;
  Runner::ExecuteAsyncCallback callback;
  StatusCode status = StatusCode::JOB_PENDING;
  bool done = false;
  bool consumed = false;  // waited for, or its callback has returned
  int waiters = 0;        // threads blocked in wait() on this job: they, not the callback, consume it
  // When the emulated device ran it, and on which compute unit (the emulator's device times).
  std::chrono::steady_clock::time_point device_start, device_end;
  int unit = -1;
};

// What get_property("device_times:<job id>") returns: {start, end} in steady_clock nanoseconds
// since its epoch, and the compute unit.
using DeviceTimes = std::array<std::int64_t, 3>;

class Device {
 public:
  // `in_conv` / `out_conv`: per tensor, how its accepted view reaches the HW view (convert.hpp).
  Device(Model model, std::vector<NpuTensorInfo> in_views, std::vector<NpuTensorInfo> out_views,
         std::vector<ViewConversion> in_conv, std::vector<ViewConversion> out_conv, Logger log);

  const Model& model() const noexcept { return model_; }
  const Logger& log() const noexcept { return log_; }
  const std::vector<NpuTensorInfo>& in_views() const noexcept { return in_views_; }
  const std::vector<NpuTensorInfo>& out_views() const noexcept { return out_views_; }

  // Queues a validated job: {SUCCESS, id}, or RESOURCE_UNAVAILABLE when every execution slot is
  // taken or a busy storm is on. Never blocks on a running job.
  JobHandle submit(std::shared_ptr<Job> job) noexcept;
  StatusCode wait(std::uint32_t job_id, std::chrono::milliseconds timeout) noexcept;
  // Writes the outputs of every row: the output function of the HW bytes of the inputs, written as
  // the HW view (then converted back for CPU-typed outputs).
  void compute(const RowBuffers& rows) const noexcept;
  // The body of compute unit `unit`: runs queued jobs until stop() and an empty queue.
  void work(int unit) noexcept;
  // The device times of one of the last kTimesKept jobs that finished (false: unknown or forgotten).
  bool device_times(std::uint32_t job_id, DeviceTimes& out) const noexcept;
  static constexpr std::size_t kTimesKept = 4096;
  // Stop taking new work; workers finish every queued job first.
  void stop() noexcept;

 private:
  using Clock = std::chrono::steady_clock;
  Clock::duration job_time(std::uint32_t job_id) const noexcept;
  void finish(const std::shared_ptr<Job>& job, StatusCode status) noexcept;

  const Model model_;
  const std::vector<NpuTensorInfo> in_views_;
  const std::vector<NpuTensorInfo> out_views_;
  const std::vector<ViewConversion> in_conv_, out_conv_;
  const Logger log_;

  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::unordered_map<std::uint32_t, std::shared_ptr<Job>> jobs_;  // submitted and not yet consumed
  std::size_t in_flight_ = 0;                                     // submitted and not yet completed
  std::uint32_t last_id_ = 0;
  std::uint64_t accepted_ = 0;
  std::uint64_t storm_left_ = 0;
  bool storm_started_ = false;
  bool stopping_ = false;
  std::unordered_map<std::uint32_t, DeviceTimes> times_;  // of the last kTimesKept finished jobs
  std::deque<std::uint32_t> times_order_;
};

}  // namespace vart::emu
