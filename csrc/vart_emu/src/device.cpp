#include "device.hpp"

#include <algorithm>
#include <string>
#include <thread>
#include <utility>

#include "output_fn.hpp"

namespace vart::emu {
namespace {

// Waits longer than this block without a deadline (now() + a huge timeout would overflow).
constexpr std::chrono::milliseconds kForever = std::chrono::hours(24 * 365);

}  // namespace

Device::Device(Model model, std::vector<NpuTensorInfo> in_views, std::vector<NpuTensorInfo> out_views,
               std::vector<ViewConversion> in_conv, std::vector<ViewConversion> out_conv, Logger log)
    : model_(std::move(model)),
      in_views_(std::move(in_views)),
      out_views_(std::move(out_views)),
      in_conv_(std::move(in_conv)),
      out_conv_(std::move(out_conv)),
      log_(log) {}

JobHandle Device::submit(std::shared_ptr<Job> job) noexcept {
  std::uint32_t id = 0;
  const char* busy = nullptr;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    const Faults& f = model_.faults;
    if (!storm_started_ && f.storm_count > 0 && accepted_ >= f.storm_after) {
      storm_started_ = true;
      storm_left_ = f.storm_count;
    }
    if (storm_left_ > 0) {
      --storm_left_;
      busy = "busy storm (fault injection)";
    } else if (in_flight_ >= model_.execution_slots) {
      busy = "all execution slots are busy";
    } else {
      id = last_id_;
      do {
        ++id;  // 0 is reserved; skip it (and any id still held) when the counter wraps
      } while (id == 0 || jobs_.count(id) != 0);
      job->id = id;
      job->submitted = Clock::now();
      try {
        jobs_.emplace(id, job);
        try {
          queue_.push_back(job);
        } catch (...) {
          jobs_.erase(id);
          throw;
        }
      } catch (...) {
        return JobHandle(StatusCode::OUT_OF_MEMORY, 0);
      }
      last_id_ = id;
      ++in_flight_;
      ++accepted_;
    }
  }
  if (busy != nullptr) {
    if (log_.enabled(LogLevel::kDebug)) log_.debug(std::string("execute_async: RESOURCE_UNAVAILABLE: ") + busy);
    return JobHandle(StatusCode::RESOURCE_UNAVAILABLE, 0);
  }
  work_cv_.notify_one();
  if (log_.enabled(LogLevel::kDebug)) log_.debug("job " + std::to_string(id) + " submitted");
  return JobHandle(StatusCode::SUCCESS, id);
}

StatusCode Device::wait(std::uint32_t job_id, std::chrono::milliseconds timeout) noexcept {
  if (job_id == 0) {
    log_.error("wait: Invalid job_id: 0 is not a valid job identifier");
    return StatusCode::INVALID_JOB_ID;
  }
  std::unique_lock<std::mutex> lock(mutex_);
  const auto it = jobs_.find(job_id);
  if (it == jobs_.end()) {
    lock.unlock();
    log_.error("wait: No job found for job_id = " + std::to_string(job_id) + ".");
    return StatusCode::INVALID_JOB_ID;
  }
  const std::shared_ptr<Job> job = it->second;
  if (!job->done && timeout.count() > 0) {
    const auto done = [&job] { return job->done; };
    ++job->waiters;
    if (timeout >= kForever) {
      done_cv_.wait(lock, done);
    } else {
      done_cv_.wait_for(lock, timeout, done);
    }
    --job->waiters;
  }
  if (!job->done) return StatusCode::JOB_PENDING;  // the job is kept: it can be waited for again
  if (job->consumed) {                             // another thread consumed it while we slept
    lock.unlock();
    log_.error("wait: No job found for job_id = " + std::to_string(job_id) + ".");
    return StatusCode::INVALID_JOB_ID;
  }
  job->consumed = true;
  jobs_.erase(job_id);
  return job->status;
}

void Device::compute(const RowBuffers& rows) const noexcept {
  try {
    std::vector<unsigned char> scratch;  // one tensor's HW bytes, for CPU-typed tensors
    const std::size_t n_in = rows.in.size(), n_out = rows.out.size();
    std::size_t hashed = n_in;  // the input row `hash` belongs to (none yet)
    std::uint64_t hash = 0;
    for (std::size_t r = 0; r < n_out; ++r) {
      // Output row r comes from input row floor(r * n_in / n_out) (docs/emulator.md): the identity
      // for equal counts. Sources never decrease, so each input row is hashed at most once.
      const std::size_t b = r * n_in / n_out;
      if (b != hashed) {
        RowHasher hasher;
        for (std::size_t i = 0; i < in_views_.size(); ++i) {
          const ViewConversion& c = in_conv_.at(i);
          if (!c.active) {
            hasher.add(rows.in[b][i], in_views_[i].size_in_bytes);
            continue;
          }
          scratch.assign(c.hw.size_in_bytes, 0);
          cpu_to_hw(c, rows.in[b][i], scratch.data());
          hasher.add(scratch.data(), scratch.size());
        }
        hash = hasher.value();
        hashed = b;
      }
      for (std::size_t o = 0; o < out_views_.size(); ++o) {
        const ViewConversion& c = out_conv_.at(o);
        if (!c.active) {
          const NpuTensorInfo& v = out_views_[o];
          fill_output(hash, o, v.data_type, v.size, v.size_in_bytes, rows.out[r][o]);
          continue;
        }
        scratch.assign(c.hw.size_in_bytes, 0);
        fill_output(hash, o, c.hw.data_type, c.hw.size, c.hw.size_in_bytes, scratch.data());
        hw_to_cpu(c, scratch.data(), rows.out[r][o]);
      }
    }
  } catch (const std::exception& e) {  // out of memory for the scratch buffer
    log_.error(std::string("compute: ") + e.what());
  }
}

Device::Clock::duration Device::job_time(std::uint32_t job_id) const noexcept {
  const Faults& f = model_.faults;
  double us = model_.service_time_us;
  if (f.stall_jobs.count(job_id) != 0) {
    us = f.stall_ms * 1000.0;
  } else {
    if (f.out_of_order) us *= (job_id % 2 == 1) ? 1.5 : 0.5;
    if (f.straggler_every != 0 && job_id % f.straggler_every == 0) us *= f.straggler_factor;
    us += jitter_us(job_id, model_.service_jitter_us);
  }
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::micro>(us));
}

void Device::work(int unit) noexcept {
  // When this compute unit finished its previous job: a job starts on the device when it was
  // submitted or when the unit freed, whichever is later -- not when this thread woke up, since
  // that wake-up latency is the emulator's, not the device's.
  Clock::time_point unit_free{};
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and every queued job has been taken
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    const Clock::time_point start = std::max(job->submitted, unit_free);
    const bool fail = model_.faults.fail_jobs.count(job->id) != 0;
    // Outputs are computed before the service time elapses, so they are in place when the job is
    // reported complete. A failed job leaves its outputs untouched.
    if (!fail) compute(job->rows);
    const Clock::duration t = job_time(job->id);
    if (t > Clock::duration::zero()) std::this_thread::sleep_until(start + t);
    unit_free = std::max(start + t, Clock::now());
    job->device_start = start;
    job->device_end = unit_free;
    job->unit = unit;
    finish(job, fail ? model_.faults.fail_status : StatusCode::SUCCESS);
  }
}

void Device::finish(const std::shared_ptr<Job>& job, StatusCode status) noexcept {
  Runner::ExecuteAsyncCallback callback;
  std::vector<std::vector<NpuTensor>> inputs;
  std::vector<std::vector<NpuTensor>> outputs;
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    job->status = status;
    job->done = true;
    const auto ns = [](Clock::time_point t) {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    };
    times_[job->id] = DeviceTimes{ns(job->device_start), ns(job->device_end), job->unit};
    times_order_.push_back(job->id);
    if (times_order_.size() > kTimesKept) {
      times_.erase(times_order_.front());
      times_order_.pop_front();
    }
    --in_flight_;  // the execution slot is free as soon as the job completes, waited or not
    callback = std::move(job->callback);
    job->callback = nullptr;
    inputs.swap(job->inputs);
    outputs.swap(job->outputs);
  }
  done_cv_.notify_all();
  if (log_.enabled(LogLevel::kDebug)) {
    log_.debug("job " + std::to_string(job->id) + " completed: " + std::string(to_string(status)));
  }
  // Our buffer references go before the callback runs, outside the lock (this may free memory).
  inputs.clear();
  outputs.clear();
  if (!callback) return;
  // No runner lock is held here: the callback may call wait() or execute_async().
  try {
    callback(JobHandle(status, job->id));
  } catch (const std::exception& e) {
    log_.error("execute_async callback of job " + std::to_string(job->id) + " threw: " + e.what());
  } catch (...) {
    log_.error("execute_async callback of job " + std::to_string(job->id) + " threw a non-standard exception");
  }
  // Dropping the callback may drop the last reference to the runner: fine, we hold the Device.
  callback = nullptr;
  const std::lock_guard<std::mutex> lock(mutex_);
  // Nobody waited for it (in the callback or before): it is consumed now. A thread still blocked
  // in wait() on it gets its status instead.
  if (!job->consumed && job->waiters == 0) {
    job->consumed = true;
    jobs_.erase(job->id);
  }
}

bool Device::device_times(std::uint32_t job_id, DeviceTimes& out) const noexcept {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto it = times_.find(job_id);
  if (it == times_.end()) return false;
  out = it->second;
  return true;
}

void Device::stop() noexcept {
  {
    const std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_cv_.notify_all();
}

}  // namespace vart::emu
