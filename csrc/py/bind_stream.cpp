// Bindings of the streaming loop behind Session.stream(): a native iterator. Each __next__ pulls
// frames from the caller's iterable, stages them into free slots, submits them and collects finished
// jobs, and returns the next outputs in frame order: one native call per frame, no Python frame.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "py/pipeline_handle.hpp"

namespace pb = pybind11;

namespace vart_async::py {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Waits are sliced so that Ctrl-C reaches Python within this bound.
constexpr microseconds kWaitSlice{100'000};
// Copies above this size release the GIL (smaller ones cost less than the release).
constexpr std::size_t kReleaseGilAbove = 256 * 1024;
// Models with more inputs than this always stage through Python (keeps the fast path allocation-free).
constexpr std::size_t kMaxExactInputs = 8;
constexpr std::size_t kAny = static_cast<std::size_t>(-1);
// Output lists remembered for reuse: the caller's loop variable still holds the last one or two.
constexpr std::size_t kRecycleDepth = 4;

[[noreturn]] void raise(const pb::object& type, const std::string& message) {
  PyErr_SetString(type.ptr(), message.c_str());
  throw pb::error_already_set();
}

class Stream {
 public:
  // `stage(targets, frame)` is the Python staging rule (conversions, dicts, shape checks), used
  // whenever a frame is not already an exact match for the slot buffers. `errors` is the tuple
  // (EngineError, JobFailedError, WaitTimeoutError).
  Stream(PipelineHandle& pipe, const pb::iterable& frames, bool copy, std::int64_t busy_timeout_ms,
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
        engine_error_(errors[0]),
        job_error_(errors[1]),
        timeout_error_(errors[2]) {
    core::Pipeline& p = pipe_.get();
    const core::EngineInfo& info = p.engine().info();
    for (std::size_t i = 0; i < info.inputs.size(); ++i) {
      in_dtypes_.push_back(numpy_dtype(info.inputs[i].dtype));
      in_nbytes_.push_back(p.slot(0).inputs()[i].nbytes);
    }
    for (std::size_t i = 0; i < info.outputs.size(); ++i) {
      out_dtypes_.push_back(numpy_dtype(info.outputs[i].dtype));
      out_shapes_.push_back(numpy_shape(info.outputs[i], out_dtypes_.back(), p.slot(0).outputs()[i].nbytes));
    }
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

  // Dropping the stream (e.g. leaving a for loop early) waits for its jobs, like close().
  ~Stream() {
    try {
      close();
    } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw; close() only waits
    }
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // The iterator protocol: the outputs of the next frame, in frame order. Frames are pulled from
  // the source to keep every slot busy (a frame is pulled before the wait that frees its slot, so
  // its checks overlap the jobs in flight); StopIteration once the source is exhausted and every
  // job collected. After an error (a job, a frame, the source, Ctrl-C) the stream is over, as a
  // generator would be, and the jobs still in flight are waited for.
  pb::object next() {
    if (finished_) throw pb::stop_iteration();
    pb::object out;
    try {
      out = copy_ ? next_copied() : next_lent();
    } catch (...) {
      finished_ = true;
      close();
      throw;
    }
    if (out.is_none()) {
      finished_ = true;
      close();
      throw pb::stop_iteration();
    }
    return out;
  }

  // Waits (up to the wait timeout each) for the jobs still in flight; a job that does not finish
  // leaves its slot abandoned: reused once the runtime is done with it, never freed before.
  void close() {
    finished_ = true;
    lent_.reset();
    results_.clear();
    handed_.clear();
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

 private:
  pb::object next_copied() {
    for (;;) {
      if (!results_.empty() && !results_.front().is_none()) {
        pb::object out = std::move(results_.front());
        results_.pop_front();
        hand_out(out);
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

  pb::object next_lent() {
    release_lent();  // the caller asked for the next result: the previous one's views may go
    while (!exhausted_ && !free_.empty()) {
      pb::object frame = pull();
      if (!frame) break;
      submit(frame);
    }
    return inflight_.empty() ? pb::object(pb::none()) : lend_oldest();
  }

  // The source's next frame, or a null object when it is exhausted.
  pb::object pull() {
    PyObject* item = PyIter_Next(source_.ptr());
    if (item == nullptr) {
      if (PyErr_Occurred() != nullptr) throw pb::error_already_set();
      exhausted_ = true;
      return {};
    }
    return pb::reinterpret_steal<pb::object>(item);
  }

  // Stages `frame` into a free slot (collecting a finished job first if none is, copy mode) and
  // submits it.
  void submit(const pb::handle& frame) {
    const Source src = check(frame);  // before any wait: after one, the slot's idle time counts
    if (free_.empty()) collect_one();
    const std::size_t k = free_.front();
    stage(k, frame, src);
    core::Status s;
    {
      // Safe: submission touches only C++ objects (the frame was copied above).
      pb::gil_scoped_release release;
      s = pipe_.get().submit(k, busy_timeout_);
    }
    if (s.code == core::Status::Code::kBusy) {
      raise(timeout_error_, "the runtime stayed busy for " + std::to_string(busy_timeout_.count()) +
                                " ms (frame " + std::to_string(next_frame_) + ", slot " + std::to_string(k) + ")");
    }
    if (!s.is_ok()) {
      raise(engine_error_, "submission of frame " + std::to_string(next_frame_) + " on slot " + std::to_string(k) +
                               " was refused: " + s.message);
    }
    free_.pop_front();
    inflight_.emplace_back(k, next_frame_++);
    if (copy_) {
      results_.emplace_back(pb::none());
      if (spare_.is_none()) spare_ = new_outputs();
    }
  }

  void release_lent() noexcept {
    if (lent_) free_.push_back(*lent_);
    lent_.reset();
  }

  // Where a frame that is exactly the slot's layout (same dtypes, C-contiguous, same sizes) can be
  // copied from; `exact` is false for anything else (it goes through the Python staging rule).
  struct Source {
    bool exact = false;
    std::size_t total = 0;
    const void* data[kMaxExactInputs] = {};
  };

  Source check(const pb::handle& frame) const {
    Source src;
    const std::size_t n = in_nbytes_.size();
    pb::handle arrays[kMaxExactInputs];
    if (n > kMaxExactInputs) return src;
    if (n == 1 && pb::isinstance<pb::array>(frame)) {
      arrays[0] = frame;
    } else if ((PyList_Check(frame.ptr()) || PyTuple_Check(frame.ptr())) &&
               static_cast<std::size_t>(PySequence_Fast_GET_SIZE(frame.ptr())) == n) {
      for (std::size_t i = 0; i < n; ++i) arrays[i] = PySequence_Fast_GET_ITEM(frame.ptr(), static_cast<pb::ssize_t>(i));
    } else {
      return src;
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (!pb::isinstance<pb::array>(arrays[i])) return src;
      const auto a = pb::reinterpret_borrow<pb::array>(arrays[i]);
      const pb::dtype dt = a.dtype();
      if (!(dt.is(in_dtypes_[i]) || dt.equal(in_dtypes_[i])) || (a.flags() & pb::array::c_style) == 0 ||
          static_cast<std::size_t>(a.nbytes()) != in_nbytes_[i]) {
        return src;
      }
      src.data[i] = a.data();
      src.total += in_nbytes_[i];
    }
    src.exact = true;
    return src;
  }

  void stage(std::size_t k, const pb::handle& frame, const Source& src) {
    if (!src.exact) {
      stage_(slot_inputs_[k], frame);
      return;
    }
    const std::vector<core::Buffer>& bufs = pipe_.get().slot(k).inputs();
    auto copy_all = [&] {
      for (std::size_t i = 0; i < bufs.size(); ++i) std::memcpy(bufs[i].data, src.data[i], bufs[i].nbytes);
    };
    if (src.total > kReleaseGilAbove) {
      // Safe: the frame's arrays are referenced by our caller for the duration of this call.
      pb::gil_scoped_release release;
      copy_all();
    } else {
      copy_all();
    }
  }

  // Output arrays for the next collected job, made while jobs run rather than after one finished.
  // A list handed out earlier is used again when nothing but us can see it or its arrays any more
  // (reference counts of 1: no name, container, view or buffer of the caller's refers to them) and
  // it is still what we made (same length, dtypes, shapes, C order, writeable): saves an
  // allocation per frame and keeps the frame's memory warm.
  pb::list new_outputs() {
    for (auto it = handed_.begin(); it != handed_.end(); ++it) {
      if (reusable(*it)) {
        pb::list out = std::move(*it);
        handed_.erase(it);
        return out;
      }
    }
    pb::list out(out_dtypes_.size());
    for (std::size_t i = 0; i < out_dtypes_.size(); ++i) out[i] = pb::array(out_dtypes_[i], out_shapes_[i]);
    return out;
  }

  bool reusable(const pb::list& l) const {
    if (Py_REFCNT(l.ptr()) != 1 || PyList_GET_SIZE(l.ptr()) != static_cast<pb::ssize_t>(out_dtypes_.size())) return false;
    for (std::size_t i = 0; i < out_dtypes_.size(); ++i) {
      PyObject* item = PyList_GET_ITEM(l.ptr(), static_cast<pb::ssize_t>(i));
      if (Py_REFCNT(item) != 1 || !pb::isinstance<pb::array>(item)) return false;
      const auto a = pb::reinterpret_borrow<pb::array>(item);
      if (!a.dtype().is(out_dtypes_[i]) || (a.flags() & pb::array::c_style) == 0 || !a.writeable() ||
          a.ndim() != static_cast<pb::ssize_t>(out_shapes_[i].size()) ||
          !std::equal(out_shapes_[i].begin(), out_shapes_[i].end(), a.shape())) {
        return false;
      }
    }
    return true;
  }

  // Remembers a list handed out, to use it again once the caller is done with it (new_outputs).
  void hand_out(const pb::object& out) {
    handed_.push_back(pb::reinterpret_borrow<pb::list>(out));
    if (handed_.size() > kRecycleDepth) handed_.pop_front();
  }

  // Copy mode: collects one finished job into results_ and frees its slot. In completion order
  // when the engine reports it (a slow job then does not hold up the other slots), but the oldest
  // job when the results waiting for it are already 2x the slots (bounded memory behind a stall).
  void collect_one() {
    core::Pipeline& p = pipe_.get();
    std::size_t at = 0;  // position in inflight_
    if (by_completion_) at = await_report(p, results_.size() < 2 * p.jobs() ? kAny : 0);
    const auto [k, frame] = inflight_[at];
    const core::Status s = wait_for(p, k, frame);
    reported_[k] = 0;
    inflight_.erase(inflight_.begin() + static_cast<std::ptrdiff_t>(at));
    free_.push_back(k);
    if (!s.is_ok()) failed(k, frame, s);
    const std::vector<core::Buffer>& bufs = p.slot(k).outputs();
    pb::list out = spare_.is_none() ? new_outputs() : pb::reinterpret_steal<pb::list>(spare_.release());
    spare_ = pb::none();
    for (std::size_t i = 0; i < bufs.size(); ++i) {
      std::memcpy(pb::reinterpret_borrow<pb::array>(out[i]).mutable_data(), bufs[i].data, bufs[i].nbytes);
    }
    results_[static_cast<std::size_t>(frame - (next_frame_ - results_.size()))] = std::move(out);
  }

  // Zero-copy mode: waits for the oldest job and lends its slot's own output arrays until the
  // next call.
  pb::object lend_oldest() {
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

  // Engines that report completions: waits (the pipeline's adaptive spin, then blocking) until the
  // job at inflight_[want] - or with want == kAny, any of ours - is reported finished; returns its
  // position. Reports about other jobs of ours are remembered for later.
  std::size_t await_report(core::Pipeline& p, std::size_t want) {
    const auto deadline = Clock::now() + wait_timeout_;
    for (;;) {
      for (std::size_t i = 0; i < inflight_.size(); ++i) {
        if ((want == kAny || want == i) && reported_[inflight_[i].first] != 0) return i;
      }
      std::size_t k = 0;
      {
        // Safe: blocks on the pipeline's completion queue only.
        pb::gil_scoped_release release;
        k = p.next_done(kWaitSlice);
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

  // Waits for slot k's job (sliced, so Ctrl-C is seen); raises WaitTimeoutError after the timeout.
  core::Status wait_for(core::Pipeline& p, std::size_t k, std::uint64_t frame) {
    const auto deadline = Clock::now() + wait_timeout_;
    for (;;) {
      core::Status s;
      {
        // Safe: waits in the runtime only.
        pb::gil_scoped_release release;
        s = p.wait(k, kWaitSlice);
      }
      if (s.code != core::Status::Code::kPending) return s;
      if (PyErr_CheckSignals() != 0) throw pb::error_already_set();  // the job stays in flight for close()
      if (Clock::now() >= deadline) timed_out(k, frame);
    }
  }

  [[noreturn]] void failed(std::size_t k, std::uint64_t frame, const core::Status& s) {
    raise(job_error_, "frame " + std::to_string(frame) + " (slot " + std::to_string(k) + ") failed: " + s.message);
  }

  [[noreturn]] void timed_out(std::size_t k, std::uint64_t frame) {
    raise(timeout_error_, "frame " + std::to_string(frame) + " (slot " + std::to_string(k) + ") did not finish within " +
                              std::to_string(wait_timeout_.count()) + " ms");
  }

  PipelineHandle& pipe_;
  pb::iterator source_;
  const bool copy_;
  const milliseconds busy_timeout_, wait_timeout_;
  pb::object stage_;
  pb::sequence slot_inputs_, slot_outputs_;
  pb::object engine_error_, job_error_, timeout_error_;
  std::vector<pb::dtype> in_dtypes_, out_dtypes_;
  std::vector<std::vector<pb::ssize_t>> out_shapes_;
  std::deque<std::size_t> free_;
  std::deque<std::pair<std::size_t, std::uint64_t>> inflight_;  // (slot, frame index), oldest first
  std::deque<pb::object> results_;  // copy mode: outputs of frames not returned yet (None: not collected)
  std::vector<char> reported_;      // per slot: the engine reported its job finished, not collected yet
  std::vector<std::size_t> in_nbytes_;
  pb::object spare_ = pb::none();   // copy mode: output arrays ready for the next collected job
  std::deque<pb::list> handed_;     // copy mode: the last lists handed out (see new_outputs)
  std::optional<std::size_t> lent_;
  std::uint64_t next_frame_ = 0;
  bool by_completion_ = false;
  bool exhausted_ = false;  // the source has no more frames
  bool finished_ = false;   // StopIteration from now on
};

}  // namespace

void bind_stream(pb::module_& m) {
  pb::class_<Stream>(m, "Stream")
      .def(pb::init<PipelineHandle&, const pb::iterable&, bool, std::int64_t, std::int64_t, pb::object, pb::sequence,
                    pb::sequence, pb::tuple>(),
           pb::arg("pipeline"), pb::arg("frames"), pb::arg("copy"), pb::arg("busy_timeout_ms"),
           pb::arg("wait_timeout_ms"), pb::arg("stage"), pb::arg("slot_inputs"), pb::arg("slot_outputs"),
           pb::arg("errors"), pb::keep_alive<1, 2>())
      .def("__iter__", [](pb::object self) { return self; })
      .def("__next__", &Stream::next,
           "The next frame's outputs, in frame order. Releases the GIL while it submits and waits.")
      .def("close", &Stream::close, "Ends the stream: waits for the jobs still in flight. Releases the GIL.");
}

}  // namespace vart_async::py
