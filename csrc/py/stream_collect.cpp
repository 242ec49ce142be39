// Session.stream()'s iterator: collecting finished jobs, and copy mode's one-stretch turnaround
// (see stream.hpp).
#include <cstring>
#include <string>

#include "py/stream.hpp"

namespace vart_async::py::stream_detail {

using Pick = core::JobWindow::Pick;

core::Collected Stream::collect(Pick pick) {
  core::Collected c;
  {
    // Safe: waits in the core only; Ctrl-C is looked at once a slice.
    const pb::gil_scoped_release release;
    const core::Collected late = window_.oldest(owner_);
    c = window_.collect(owner_, pick, core::saturating_add(late.t_started, wait_timeout_), python_signals());
  }
  if (c.done) return c;
  if (PyErr_Occurred() != nullptr) throw pb::error_already_set();  // Ctrl-C: the jobs stay for finish()
  raise(core::StopReason::kWaitTimeout, "frame " + std::to_string(c.tag) + " (slot " + std::to_string(c.slot) +
                                            ") did not finish within " + std::to_string(wait_timeout_.count()) + " ms");
}

void Stream::collect_one() {
  const core::Collected c =
      collect(by_completion_ && waiting() < 2 * window_.size() ? Pick::kFirstDone : Pick::kOldest);
  if (c.external) {  // the job wrote its outputs into arrays of its own
    pb::list out = take_written(c.tag);
    window_.release(c.slot);
    --in_flight_;
    store(c, std::move(out));
    return;
  }
  pb::list out = take_spare();
  if (c.outcome.ok()) {
    const std::vector<core::Buffer>& bufs = pipe_.get().slot(c.slot).outputs();
    std::uint64_t copied = 0;
    for (std::size_t i = 0; i < bufs.size(); ++i) {
      std::memcpy(pb::reinterpret_borrow<pb::array>(out[i]).mutable_data(), bufs[i].data, bufs[i].nbytes);
      copied += bufs[i].nbytes;
    }
    window_.count_copied(0, copied);
  }
  window_.release(c.slot);
  --in_flight_;
  store(c, std::move(out));
}

bool Stream::turnaround(const Source& src) {
  if (!by_completion_ || !src.exact || waiting() >= 2 * window_.size()) return false;
  pb::list out = take_spare();
  if (out.size() > kMaxDirectTensors) {
    spare_ = std::move(out);
    return false;
  }
  std::byte* dst[kMaxDirectTensors] = {};
  for (std::size_t i = 0; i < out.size(); ++i) {
    dst[i] = static_cast<std::byte*>(pb::reinterpret_borrow<pb::array>(out[i]).mutable_data());
  }
  core::Pipeline& p = pipe_.get();
  core::Collected c;
  core::Outcome submitted_as;
  {
    // Safe: only C++ objects are touched; the frame and the output arrays are referenced by this
    // call's caller and `out`.
    const pb::gil_scoped_release release;
    c = window_.collect(owner_, Pick::kFirstDone, Clock::now() + core::kWaitSlice);
    if (c.done && c.outcome.ok()) {
      const core::Slot& slot = p.slot(c.slot);
      std::uint64_t copied = 0;
      for (std::size_t i = 0; i < slot.outputs().size(); ++i) {
        std::memcpy(dst[i], slot.outputs()[i].data, slot.outputs()[i].nbytes);
        copied += slot.outputs()[i].nbytes;
      }
      window_.reuse(c.slot);  // stays ours: the next frame goes into it
      src.copy_to(slot.inputs());
      window_.count_copied(src.total, copied);
      submitted_as = window_.submit(c.slot, next_frame_, core::deadline_in(busy_timeout_));
    }
  }
  if (!c.done) {  // nothing finished within a slice: the general path waits (and sees Ctrl-C)
    spare_ = std::move(out);
    return false;
  }
  --in_flight_;
  if (!c.outcome.ok()) {
    window_.release(c.slot);
    store(c, std::move(out));  // raises
  }
  store(c, std::move(out));
  submitted(c.slot, submitted_as);  // gives the slot back and raises if the submission failed
  return true;
}

bool Stream::turnaround_bound(const pb::handle& frame, const Source& src) {
  if (!by_completion_ || waiting() >= 2 * window_.size()) return false;
  pb::list out = take_spare();
  core::External external;
  external.inputs = src.buffers(pipe_.get().slot(0).inputs().size());
  external.outputs = output_buffers(out, pipe_.get());
  external.keep = keep_alive(pb::make_tuple(frame, out));
  core::Collected c;
  core::Outcome submitted_as;
  {
    // Safe: only C++ objects are touched; the frame and `out` are kept alive by `external`, whose
    // last reference is dropped with the GIL taken.
    const pb::gil_scoped_release release;
    c = window_.collect(owner_, Pick::kFirstDone, Clock::now() + core::kWaitSlice);
    if (c.done && c.outcome.ok()) {
      window_.reuse(c.slot);  // stays ours: the next frame goes into it
      submitted_as = window_.submit(c.slot, next_frame_, core::deadline_in(busy_timeout_), nullptr, nullptr, &external);
    }
  }
  if (!c.done) {  // nothing finished within a slice: the general path waits (and sees Ctrl-C)
    spare_ = std::move(out);
    return false;
  }
  --in_flight_;
  pb::list collected = take_written(c.tag);
  if (!c.outcome.ok()) {
    window_.release(c.slot);
    store(c, std::move(collected));  // raises
  }
  store(c, std::move(collected));
  writing_[next_frame_ % writing_.size()] = std::move(out);
  submitted(c.slot, submitted_as);  // gives the slot back and raises if the submission failed
  return true;
}

pb::list Stream::take_written(std::uint64_t tag) {
  pb::object& written = writing_[tag % writing_.size()];
  pb::list out = pb::reinterpret_steal<pb::list>(written.release());
  written = pb::none();
  return out;
}

pb::list Stream::take_spare() {
  pb::list out = spare_.is_none() ? outputs_.make() : pb::reinterpret_steal<pb::list>(spare_.release());
  spare_ = pb::none();
  return out;
}

void Stream::store(const core::Collected& c, pb::list out) {
  if (!c.outcome.ok()) {
    raise(c.outcome.reason,
          "frame " + std::to_string(c.tag) + " (slot " + std::to_string(c.slot) + ") failed: " + c.outcome.message);
  }
  results_[c.tag % results_.size()] = std::move(out);
}

pb::object Stream::lend_oldest() {
  const core::Collected c = collect(Pick::kOldest);
  --in_flight_;
  ++next_out_;
  if (!c.outcome.ok()) {
    window_.release(c.slot);
    store(c, pb::list());  // raises
  }
  lent_ = c.slot;
  return pb::list(slot_outputs_[c.slot]);
}

}  // namespace vart_async::py::stream_detail
