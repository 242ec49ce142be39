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
#include "py/stream_parts.hpp"

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
constexpr std::size_t kAny = static_cast<std::size_t>(-1);

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

  // Dropping the stream (e.g. leaving a for loop early) waits for its jobs, like close().
  ~Stream() {
    try {
      finish();
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
    pb::object out = next_or_end();
    if (!out) throw pb::stop_iteration();
    return out;
  }

  // next() for the type's iternext slot: a null object (no exception) once the stream is over.
  pb::object next_or_end() {
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

  // Waits (up to the wait timeout each) for the jobs still in flight; a job that does not finish
  // leaves its slot abandoned: reused once the runtime is done with it, never freed before.
  void close() {
    const Entered entered(*this);
    finish();
  }

 private:
  // Marks the stream as in use by one thread: it releases the GIL while it waits, and another
  // thread must not step it (or close it) meanwhile, as with a generator, nor close the session.
  class Entered {
   public:
    explicit Entered(Stream& s) : s_(s), in_use_(s.pipe_) {
      if (s_.entered_) throw std::runtime_error("the stream is already in use by another thread");
      s_.entered_ = true;
    }
    ~Entered() { s_.entered_ = false; }
    Entered(const Entered&) = delete;
    Entered& operator=(const Entered&) = delete;

   private:
    Stream& s_;
    PipelineHandle::InUse in_use_;
  };

  void finish() {
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

  pb::object next_copied() {
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

  // Raises for a submission of the next frame on slot k that did not start.
  void check_submitted(std::size_t k, const core::Status& s) const {
    if (s.code == core::Status::Code::kBusy) {
      raise(timeout_error_, "the runtime stayed busy for " + std::to_string(busy_timeout_.count()) +
                                " ms (frame " + std::to_string(next_frame_) + ", slot " + std::to_string(k) + ")");
    }
    if (!s.is_ok()) {
      raise(engine_error_, "submission of frame " + std::to_string(next_frame_) + " on slot " + std::to_string(k) +
                               " was refused: " + s.message);
    }
  }

  // Slot k (taken off free_) now runs the next frame.
  void started_job(std::size_t k) {
    inflight_.emplace_back(k, next_frame_++);
    if (copy_) {
      results_.emplace_back(pb::none());
      if (spare_.is_none()) spare_ = outputs_.make();
    }
  }

  void release_lent() noexcept {
    if (lent_) free_.push_back(*lent_);
    lent_.reset();
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

  // Copy mode: collects one finished job into results_ and frees its slot. In completion order
  // when the engine reports it (a slow job then does not hold up the other slots), but the oldest
  // job when the results waiting for it are already 2x the slots (bounded memory behind a stall).
  void collect_one(Clock::time_point started = Clock::now()) {
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

  // The steady state of copy mode in one stretch without the GIL: waits for the first of our jobs
  // to finish, copies its outputs out and the (exact) frame into its slot, and submits the frame.
  // Saves the GIL hand-overs and Python-side steps between those, which on a tiny model are a good
  // part of the host's time per frame. False (nothing submitted) when the fast path does not
  // apply or the first report was not a plain success: the general path then takes over, keeping
  // whatever was learned.
  bool turnaround(const Source& src) {
    core::Pipeline& p = pipe_.get();
    if (!copy_ || !by_completion_ || !src.exact || results_.size() >= 2 * p.jobs()) return false;
    for (const auto& job : inflight_) {
      if (reported_[job.first] != 0) return false;  // a finished job is waiting: the general path takes it
    }
    const auto started = Clock::now();
    pb::list out = take_spare();
    std::byte* dst[kMaxExactInputs] = {};
    if (out.size() > kMaxExactInputs) {
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
          for (std::size_t i = 0; i < slot.inputs().size(); ++i) {
            std::memcpy(slot.inputs()[i].data, src.data[i], slot.inputs()[i].nbytes);
          }
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

  // The output arrays prepared for the next collected job.
  pb::list take_spare() {
    pb::list out = spare_.is_none() ? outputs_.make() : pb::reinterpret_steal<pb::list>(spare_.release());
    spare_ = pb::none();
    return out;
  }

  // Records the job at inflight_[at] as collected with status `s` and outputs `out`, frees its
  // slot, and raises if the job failed.
  void collected(std::size_t at, const core::Status& s, pb::list out) {
    const auto [k, frame] = inflight_[at];
    reported_[k] = 0;
    inflight_.erase(inflight_.begin() + static_cast<std::ptrdiff_t>(at));
    free_.push_back(k);
    if (!s.is_ok()) failed(k, frame, s);
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
  std::size_t await_report(core::Pipeline& p, std::size_t want, Clock::time_point started = Clock::now()) {
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

  // Waits for slot k's job (sliced, so Ctrl-C is seen); raises WaitTimeoutError after the timeout.
  core::Status wait_for(core::Pipeline& p, std::size_t k, std::uint64_t frame) {
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

  // The next wait's length: a slice (so Ctrl-C is seen), never past the deadline.
  static microseconds slice_until(Clock::time_point deadline) {
    return std::clamp(std::chrono::duration_cast<microseconds>(deadline - Clock::now()), microseconds{0}, kWaitSlice);
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
  const FrameCheck check_;
  OutputLists outputs_;  // copy mode
  pb::object engine_error_, job_error_, timeout_error_;
  std::deque<std::size_t> free_;
  std::deque<std::pair<std::size_t, std::uint64_t>> inflight_;  // (slot, frame index), oldest first
  std::deque<pb::object> results_;  // copy mode: outputs of frames not returned yet (None: not collected)
  std::vector<char> reported_;      // per slot: the engine reported its job finished, not collected yet
  pb::object spare_ = pb::none();   // copy mode: output arrays ready for the next collected job
  std::optional<std::size_t> lent_;
  std::uint64_t next_frame_ = 0;
  bool by_completion_ = false;
  bool entered_ = false;    // a call is stepping the stream (see Entered)
  bool exhausted_ = false;  // the source has no more frames
  bool finished_ = false;   // StopIteration from now on
};

// The type's iternext slot: what for loops and next() call, without the method dispatch of a
// bound __next__ (a measurable part of the time per frame on a tiny model).
PyObject* stream_iternext(PyObject* self) noexcept {
  try {
    return pb::handle(self).cast<Stream&>().next_or_end().release().ptr();  // null: StopIteration
  } catch (...) {
    pb::detail::try_translate_exceptions();
    return nullptr;
  }
}

}  // namespace

void bind_stream(pb::module_& m) {
  pb::class_<Stream> cls(m, "Stream");
  cls
      .def(pb::init<PipelineHandle&, const pb::iterable&, bool, std::int64_t, std::int64_t, pb::object, pb::sequence,
                    pb::sequence, pb::tuple>(),
           pb::arg("pipeline"), pb::arg("frames"), pb::arg("copy"), pb::arg("busy_timeout_ms"),
           pb::arg("wait_timeout_ms"), pb::arg("stage"), pb::arg("slot_inputs"), pb::arg("slot_outputs"),
           pb::arg("errors"), pb::keep_alive<1, 2>())
      .def("__iter__", [](pb::object self) { return self; })
      .def("__next__", &Stream::next,
           "The next frame's outputs, in frame order. Releases the GIL while it submits and waits.")
      .def("close", &Stream::close, "Ends the stream: waits for the jobs still in flight. Releases the GIL.");
  // After the defs: setting __next__ on the type points the slot at the generic dispatcher.
  reinterpret_cast<PyTypeObject*>(cls.ptr())->tp_iternext = &stream_iternext;
}

}  // namespace vart_async::py
