// Session.stream()'s iterator: construction, stepping, staging and submission (see stream.hpp).
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "py/stream.hpp"

namespace vart_async::py::stream_detail {

Stream::Stream(PipelineHandle& pipe, const pb::iterable& frames, bool copy, std::int64_t busy_timeout_ms,
               std::int64_t wait_timeout_ms, pb::object stage, pb::sequence slot_inputs, pb::sequence slot_outputs,
               pb::tuple errors)
    : pipe_(pipe),
      source_(pb::iter(frames)),
      copy_(copy),
      busy_timeout_(busy_timeout_ms),
      wait_timeout_(wait_timeout_ms),
      stage_(std::move(stage)),
      slot_inputs_(std::move(slot_inputs)),
      slot_outputs_(std::move(slot_outputs)),
      check_(pipe.get()),
      outputs_(pipe.get()),
      engine_error_(errors[0]),
      job_error_(errors[1]),
      timeout_error_(errors[2]) {
  core::Pipeline& p = pipe_.get();
  // Slots with a job of someone else's (submit(k)) in flight are left alone; an abandoned slot
  // whose job has finished since is taken back (wait() makes it idle once the runtime is done).
  for (std::size_t k = 0; k < p.jobs(); ++k) {
    if (p.state(k) == core::SlotState::kAbandoned) p.wait(k, microseconds{0});
    if (p.state(k) == core::SlotState::kIdle) free_.push_back(k);
  }
  if (free_.empty()) throw std::logic_error("no idle slot to stream through: every slot has a job in flight");
  by_completion_ = p.knows_completion_order();
  if (by_completion_) p.forget_done();
  reported_.assign(p.jobs(), 0);
}

Stream::~Stream() {
  try {
    finish();
  } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw; close() only waits
  }
}

pb::object Stream::next() {
  pb::object out = next_or_end();
  if (!out) throw pb::stop_iteration();
  return out;
}

pb::object Stream::next_or_end() {
  if (finished_) return {};
  const Entered entered(*this);
  pb::object out;
  try {
    out = copy_ ? next_copied() : next_lent();
  } catch (...) {
    finish();
    throw;
  }
  if (out.is_none()) {
    finish();
    return {};
  }
  return out;
}

void Stream::close() {
  const Entered entered(*this);
  finish();
}

void Stream::finish() {
  finished_ = true;
  lent_.reset();
  results_.clear();
  outputs_.forget();
  std::fill(reported_.begin(), reported_.end(), 0);
  if (pipe_.closed()) {
    inflight_.clear();
    return;
  }
  core::Pipeline& p = pipe_.get();
  while (!inflight_.empty()) {
    const std::size_t k = inflight_.front().first;
    inflight_.pop_front();
    core::Status s;
    {
      // Safe: waits in the runtime only.
      pb::gil_scoped_release release;
      s = p.wait(k, std::chrono::duration_cast<microseconds>(wait_timeout_));
    }
    if (s.code == core::Status::Code::kPending) {
      p.abandon(k);  // reused only once the runtime says the job is done
    } else {
      free_.push_back(k);
    }
  }
}

pb::object Stream::next_copied() {
  for (;;) {
    if (!results_.empty() && !results_.front().is_none()) {
      pb::object out = std::move(results_.front());
      results_.pop_front();
      outputs_.hand_out(out);
      return out;
    }
    if (!exhausted_) {
      pb::object frame = pull();
      if (frame) {
        submit(frame);
        continue;
      }
    }
    if (inflight_.empty()) return pb::none();
    collect_one();
  }
}

pb::object Stream::next_lent() {
  release_lent();  // the caller asked for the next result: the previous one's views may go
  while (!exhausted_ && !free_.empty()) {
    pb::object frame = pull();
    if (!frame) break;
    submit(frame);
  }
  return inflight_.empty() ? pb::object(pb::none()) : lend_oldest();
}

pb::object Stream::pull() {
  PyObject* item = PyIter_Next(source_.ptr());
  if (item == nullptr) {
    if (PyErr_Occurred() != nullptr) throw pb::error_already_set();
    exhausted_ = true;
    return {};
  }
  return pb::reinterpret_steal<pb::object>(item);
}

void Stream::submit(const pb::handle& frame) {
  const Source src = check_(frame);  // before any wait: after one, the slot's idle time counts
  if (free_.empty() && turnaround(src)) return;
  if (free_.empty()) collect_one();
  const std::size_t k = free_.front();
  stage(k, frame, src);
  core::Status s;
  {
    // Safe: submission touches only C++ objects (the frame was copied above).
    pb::gil_scoped_release release;
    s = pipe_.get().submit(k, busy_timeout_);
  }
  check_submitted(k, s);
  free_.pop_front();
  started_job(k);
}

void Stream::check_submitted(std::size_t k, const core::Status& s) const {
  if (s.code == core::Status::Code::kBusy) {
    raise(timeout_error_, "the runtime stayed busy for " + std::to_string(busy_timeout_.count()) +
                              " ms (frame " + std::to_string(next_frame_) + ", slot " + std::to_string(k) + ")");
  }
  if (!s.is_ok()) {
    raise(engine_error_, "submission of frame " + std::to_string(next_frame_) + " on slot " + std::to_string(k) +
                             " was refused: " + s.message);
  }
}

void Stream::started_job(std::size_t k) {
  inflight_.emplace_back(k, next_frame_++);
  if (copy_) {
    results_.emplace_back(pb::none());
    if (spare_.is_none()) spare_ = outputs_.make();
  }
}

void Stream::release_lent() noexcept {
  if (lent_) free_.push_back(*lent_);
  lent_.reset();
}

void Stream::stage(std::size_t k, const pb::handle& frame, const Source& src) {
  if (!src.exact) {
    stage_(slot_inputs_[k], frame);
    return;
  }
  const std::vector<core::Buffer>& bufs = pipe_.get().slot(k).inputs();
  if (src.total > kReleaseGilAbove) {
    // Safe: the frame's arrays are referenced by our caller for the duration of this call.
    pb::gil_scoped_release release;
    src.copy_to(bufs);
  } else {
    src.copy_to(bufs);
  }
}

}  // namespace vart_async::py::stream_detail
