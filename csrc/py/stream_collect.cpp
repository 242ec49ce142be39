// Session.stream()'s iterator: collecting finished jobs, in completion order when the engine
// reports it, and copy mode's steady state in one stretch without the GIL (see stream.hpp).
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "py/stream.hpp"

namespace vart_async::py::stream_detail {

void Stream::collect_one(Clock::time_point started) {
  core::Pipeline& p = pipe_.get();
  std::size_t at = 0;  // position in inflight_
  if (by_completion_) at = await_report(p, results_.size() < 2 * p.jobs() ? kAny : 0, started);
  const auto [k, frame] = inflight_[at];
  const core::Status s = wait_for(p, k, frame);
  pb::list out = take_spare();
  const std::vector<core::Buffer>& bufs = p.slot(k).outputs();
  for (std::size_t i = 0; i < bufs.size(); ++i) {
    std::memcpy(pb::reinterpret_borrow<pb::array>(out[i]).mutable_data(), bufs[i].data, bufs[i].nbytes);
  }
  collected(at, s, std::move(out));
}

bool Stream::turnaround(const Source& src) {
  core::Pipeline& p = pipe_.get();
  if (!copy_ || !by_completion_ || !src.exact || results_.size() >= 2 * p.jobs()) return false;
  for (const auto& job : inflight_) {
    if (reported_[job.first] != 0) return false;  // a finished job is waiting: the general path takes it
  }
  const auto started = Clock::now();
  pb::list out = take_spare();
  std::byte* dst[kMaxDirectTensors] = {};
  if (out.size() > kMaxDirectTensors) {
    spare_ = std::move(out);
    return false;
  }
  for (std::size_t i = 0; i < out.size(); ++i) {
    dst[i] = static_cast<std::byte*>(pb::reinterpret_borrow<pb::array>(out[i]).mutable_data());
  }
  const microseconds slice = std::min<microseconds>(kWaitSlice, wait_timeout_);
  std::size_t at = kAny;
  core::Status done, submitted;
  {
    // Safe: only C++ objects are touched; the frame and the output arrays are referenced by this
    // call's caller and `out`; inflight_ is ours alone (the stream is not re-entered meanwhile).
    pb::gil_scoped_release release;
    const std::size_t k = p.next_done(slice);
    for (std::size_t i = 0; i < inflight_.size() && k < p.jobs(); ++i) {
      if (inflight_[i].first == k) at = i;
    }
    if (at != kAny) {
      done = p.wait(k, slice);
      if (done.is_ok()) {
        const core::Slot& slot = p.slot(k);
        for (std::size_t i = 0; i < slot.outputs().size(); ++i) {
          std::memcpy(dst[i], slot.outputs()[i].data, slot.outputs()[i].nbytes);
        }
        src.copy_to(slot.inputs());
        submitted = p.submit(k, busy_timeout_);
      }
    }
  }
  if (at == kAny || done.code == core::Status::Code::kPending) {
    // No report within the slice, or about a job that is not ours; or reported but not quite
    // done: the general path waits (from `started`, so the wait timeout is not extended).
    if (at != kAny) reported_[inflight_[at].first] = 1;
    spare_ = std::move(out);
    collect_one(started);
    return false;
  }
  const std::size_t k = inflight_[at].first;
  collected(at, done, std::move(out));  // raises if the job failed
  check_submitted(k, submitted);        // the slot stays free
  free_.pop_back();
  started_job(k);
  return true;
}

pb::list Stream::take_spare() {
  pb::list out = spare_.is_none() ? outputs_.make() : pb::reinterpret_steal<pb::list>(spare_.release());
  spare_ = pb::none();
  return out;
}

void Stream::collected(std::size_t at, const core::Status& s, pb::list out) {
  const auto [k, frame] = inflight_[at];
  reported_[k] = 0;
  inflight_.erase(inflight_.begin() + static_cast<std::ptrdiff_t>(at));
  free_.push_back(k);
  if (!s.is_ok()) failed(k, frame, s);
  results_[static_cast<std::size_t>(frame - (next_frame_ - results_.size()))] = std::move(out);
}

pb::object Stream::lend_oldest() {
  core::Pipeline& p = pipe_.get();
  if (by_completion_) await_report(p, 0);
  const auto [k, frame] = inflight_.front();
  const core::Status s = wait_for(p, k, frame);
  reported_[k] = 0;
  inflight_.pop_front();
  if (!s.is_ok()) {
    free_.push_back(k);
    failed(k, frame, s);
  }
  lent_ = k;
  return pb::list(slot_outputs_[k]);
}

std::size_t Stream::await_report(core::Pipeline& p, std::size_t want, Clock::time_point started) {
  const auto deadline = started + wait_timeout_;
  for (;;) {
    for (std::size_t i = 0; i < inflight_.size(); ++i) {
      if ((want == kAny || want == i) && reported_[inflight_[i].first] != 0) return i;
    }
    std::size_t k = 0;
    {
      // Safe: blocks on the pipeline's completion queue only.
      pb::gil_scoped_release release;
      k = p.next_done(slice_until(deadline));
    }
    if (k < p.jobs()) {
      // Only jobs of ours in flight count (a report can be about a slot abandoned earlier).
      const bool ours = std::any_of(inflight_.begin(), inflight_.end(), [k](const auto& job) { return job.first == k; });
      if (ours) reported_[k] = 1;
      continue;
    }
    if (PyErr_CheckSignals() != 0) throw pb::error_already_set();  // the jobs stay in flight for close()
    const auto& late = inflight_[want == kAny ? 0 : want];
    if (Clock::now() >= deadline) timed_out(late.first, late.second);
  }
}

core::Status Stream::wait_for(core::Pipeline& p, std::size_t k, std::uint64_t frame) {
  const auto deadline = Clock::now() + wait_timeout_;
  for (;;) {
    core::Status s;
    {
      // Safe: waits in the runtime only.
      pb::gil_scoped_release release;
      s = p.wait(k, slice_until(deadline));
    }
    if (s.code != core::Status::Code::kPending) return s;
    if (PyErr_CheckSignals() != 0) throw pb::error_already_set();  // the job stays in flight for close()
    if (Clock::now() >= deadline) timed_out(k, frame);
  }
}

microseconds Stream::slice_until(Clock::time_point deadline) {
  return std::clamp(std::chrono::duration_cast<microseconds>(deadline - Clock::now()), microseconds{0}, kWaitSlice);
}

void Stream::failed(std::size_t k, std::uint64_t frame, const core::Status& s) {
  raise(job_error_, "frame " + std::to_string(frame) + " (slot " + std::to_string(k) + ") failed: " + s.message);
}

void Stream::timed_out(std::size_t k, std::uint64_t frame) {
  raise(timeout_error_, "frame " + std::to_string(frame) + " (slot " + std::to_string(k) + ") did not finish within " +
                            std::to_string(wait_timeout_.count()) + " ms");
}

}  // namespace vart_async::py::stream_detail
