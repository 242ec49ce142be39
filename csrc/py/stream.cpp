// Session.stream()'s iterator: construction, stepping, staging and submission (see stream.hpp).
#include <stdexcept>
#include <string>

#include "py/stream.hpp"

namespace vart_async::py::stream_detail {

Stream::Stream(PipelineHandle& pipe, const pb::iterable& frames, bool copy, std::int64_t busy_timeout_ms,
               std::int64_t wait_timeout_ms, pb::object stage, pb::sequence slot_inputs, pb::sequence slot_outputs,
               pb::object error_for)
    : pipe_(pipe),
      window_(pipe.get().window()),
      owner_(window_.new_owner()),
      source_(pb::iter(frames)),
      copy_(copy),
      bound_out_(!copy && outputs_bindable(pipe.get().engine())),
      lend_(!copy && !bound_out_),
      busy_timeout_(busy_timeout_ms),
      wait_timeout_(wait_timeout_ms),
      stage_(std::move(stage)),
      slot_inputs_(std::move(slot_inputs)),
      slot_outputs_(std::move(slot_outputs)),
      check_(pipe.get()),
      outputs_(pipe.get()),
      error_for_(std::move(error_for)),
      by_completion_(window_.reports_completions()) {
  // Outputs wait for earlier frames: at most 2x the slots collected plus the slots in flight.
  results_.assign(3 * window_.size() + 2, pb::none());
  writing_.assign(results_.size(), pb::none());
}

bool Stream::outputs_bindable(const core::Engine& engine) {
  for (std::size_t i = 0; i < engine.info().outputs.size(); ++i) {
    if (!engine.bind_refusal(false, i).empty()) return false;
  }
  return true;
}

Stream::~Stream() {
  try {
    finish(false);
  } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw; finish() only waits
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
    out = lend_ ? next_lent() : next_copied();
  } catch (...) {
    finish(false);
    throw;
  }
  if (out.is_none()) {
    finish(false);
    return {};
  }
  return out;
}

void Stream::close() {
  const Entered entered(*this);
  finish(true);
}

void Stream::finish(bool interruptible) {
  finished_ = true;
  spare_ = pb::none();
  for (pb::object& r : results_) r = pb::none();
  for (pb::object& w : writing_) w = pb::none();  // the slots keep what their jobs still write into
  outputs_.forget();
  if (pipe_.closed()) return;
  if (lent_) window_.release(*lent_);
  lent_.reset();
  if (in_flight_ == 0) return;
  bool interrupted = false;
  {
    // Safe: waits in the core only.
    const pb::gil_scoped_release release;
    const core::Interrupt signals = interruptible ? python_signals() : core::Interrupt{};
    const auto deadline = Clock::now() + std::min<milliseconds>(wait_timeout_, core::Pipeline::kCloseBound);
    while (in_flight_ > 0) {
      const core::Collected c = window_.collect(owner_, core::JobWindow::Pick::kFirstDone, deadline, signals);
      if (!c.done) {
        interrupted = c.outcome.reason == core::StopReason::kCancelled;
        break;
      }
      window_.release(c.slot);
      --in_flight_;
    }
    // Whatever is still running is given up: reused once the runtime says it is done.
    for (core::Collected late = window_.oldest(owner_); late.slot != core::kNone; late = window_.oldest(owner_)) {
      window_.abandon(late.slot);
    }
    in_flight_ = 0;
  }
  if (interrupted) throw pb::error_already_set();
}

pb::object Stream::next_copied() {
  for (;;) {
    if (next_out_ < next_frame_) {
      pb::object& front = results_[next_out_ % results_.size()];
      if (!front.is_none()) {
        pb::object out = std::move(front);
        front = pb::none();
        ++next_out_;
        outputs_.hand_out(out);
        return out;
      }
    }
    if (!exhausted_) {
      pb::object frame = pull();
      if (frame) {
        submit(frame);
        continue;
      }
    }
    if (in_flight_ == 0) return pb::none();
    collect_one();
  }
}

pb::object Stream::next_lent() {
  if (lent_) window_.release(*lent_);  // the caller asked for the next result: the previous one's views may go
  lent_.reset();
  while (!exhausted_) {
    const std::size_t k = window_.acquire(owner_, Clock::time_point{});
    if (k == core::kNone) break;
    window_.give_back(k);  // taken again by submit() (first in line), once the frame is here
    pb::object frame = pull();
    if (!frame) break;
    submit(frame);
  }
  return in_flight_ == 0 ? pb::object(pb::none()) : lend_oldest();
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

std::size_t Stream::slot_for_next() {
  for (;;) {
    std::size_t k = window_.acquire(owner_, Clock::time_point{});
    if (k != core::kNone) return k;
    if (in_flight_ > 0 && !lend_) {
      collect_one();
      continue;
    }
    // Every slot is someone else's (submit(k) jobs, another stream): wait for one.
    {
      // Safe: waits in the core only; Ctrl-C is looked at once a slice.
      const pb::gil_scoped_release release;
      k = window_.acquire(owner_, core::deadline_in(wait_timeout_), python_signals());
    }
    if (k != core::kNone) return k;
    if (PyErr_Occurred() != nullptr) throw pb::error_already_set();
    raise(core::StopReason::kWaitTimeout, "no slot came free for frame " + std::to_string(next_frame_) + " within " +
                                              std::to_string(wait_timeout_.count()) + " ms");
  }
}

void Stream::submit(const pb::handle& frame) {
  const Source src = check_(frame);  // before any wait: after one, the slot's idle time counts
  if (!copy_ && (!src.exact || !src.aligned)) {
    stage_(pb::none(), frame);  // copy=False: the Python rule says why this frame cannot be used as it is
    throw std::invalid_argument("copy=False needs frames of exactly the inputs' dtypes and sizes");
  }
  std::size_t k = window_.acquire(owner_, Clock::time_point{});  // a free slot goes first
  if (k == core::kNone) {
    if (copy_ && in_flight_ > 0 && turnaround(src)) return;
    if (bound_out_ && in_flight_ > 0 && turnaround_bound(frame, src)) return;
    k = slot_for_next();
  }
  core::External external;  // copy=False: the job reads the frame's own memory, kept alive by the slot
  try {
    if (copy_) {
      stage(k, frame, src);
    } else {
      external.inputs = src.buffers(pipe_.get().slot(k).inputs().size());
      pb::object out = pb::none();
      if (bound_out_) {
        pb::list arrays = take_spare();
        external.outputs = output_buffers(arrays, pipe_.get());
        out = arrays;
      }
      external.keep = keep_alive(pb::make_tuple(frame, out));
      writing_[next_frame_ % writing_.size()] = std::move(out);
    }
  } catch (...) {
    window_.give_back(k);
    throw;
  }
  core::Outcome o;
  {
    // Safe: submission touches only C++ objects (the frame was copied above, or is kept alive by
    // `external`, whose last reference is dropped with the GIL taken).
    const pb::gil_scoped_release release;
    o = window_.submit(k, next_frame_, core::deadline_in(busy_timeout_), nullptr, nullptr, copy_ ? nullptr : &external);
  }
  submitted(k, o);
}

void Stream::submitted(std::size_t k, const core::Outcome& o) {
  if (!o.ok()) {
    window_.give_back(k);
    const std::string what = "frame " + std::to_string(next_frame_) + " (slot " + std::to_string(k) + ")";
    raise(o.reason, o.reason == core::StopReason::kBusyTimeout
                        ? "the runtime stayed busy for " + std::to_string(busy_timeout_.count()) + " ms (" + what + ")"
                        : "submission of " + what + " was refused: " + o.message);
  }
  ++next_frame_;
  ++in_flight_;
}

void Stream::stage(std::size_t k, const pb::handle& frame, const Source& src) {
  const std::vector<core::Buffer>& bufs = pipe_.get().slot(k).inputs();
  std::uint64_t total = 0;
  for (const core::Buffer& b : bufs) total += b.nbytes;
  window_.count_copied(total, 0);
  if (!src.exact) {
    stage_(slot_inputs_[k], frame);
    return;
  }
  if (src.total > kReleaseGilAbove) {
    // Safe: the frame's arrays are referenced by our caller for the duration of this call.
    const pb::gil_scoped_release release;
    src.copy_to(bufs);
  } else {
    src.copy_to(bufs);
  }
}

void Stream::raise(core::StopReason reason, const std::string& message) const {
  const pb::object error = error_for_(std::string(core::to_string(reason)), message);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error.ptr())), error.ptr());
  throw pb::error_already_set();
}

}  // namespace vart_async::py::stream_detail
