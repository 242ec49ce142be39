// The streaming loop behind Session.stream(): a native iterator. Each __next__ pulls frames from
// the caller's iterable, stages them into free slots, submits them and collects finished jobs, and
// returns the next outputs in frame order: one native call per frame, no Python frame.
// stream.cpp: construction, stepping, staging and submission; stream_collect.cpp: collecting
// finished jobs (and the copy mode's one-stretch turnaround); bind_stream.cpp: the Python type.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "py/pipeline_handle.hpp"
#include "py/stream_parts.hpp"

namespace vart_async::py::stream_detail {

namespace pb = pybind11;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Waits are sliced so that Ctrl-C reaches Python within this bound.
inline constexpr microseconds kWaitSlice{100'000};
// Copies above this size release the GIL (smaller ones cost less than the release).
inline constexpr std::size_t kReleaseGilAbove = 256 * 1024;
inline constexpr std::size_t kAny = static_cast<std::size_t>(-1);

[[noreturn]] inline void raise(const pb::object& type, const std::string& message) {
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
         pb::tuple errors);

  // Dropping the stream (e.g. leaving a for loop early) waits for its jobs, like close().
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // The iterator protocol: the outputs of the next frame, in frame order. Frames are pulled from
  // the source to keep every slot busy (a frame is pulled before the wait that frees its slot, so
  // its checks overlap the jobs in flight); StopIteration once the source is exhausted and every
  // job collected. After an error (a job, a frame, the source, Ctrl-C) the stream is over, as a
  // generator would be, and the jobs still in flight are waited for.
  pb::object next();

  // next() for the type's iternext slot: a null object (no exception) once the stream is over.
  pb::object next_or_end();

  // Waits (up to the wait timeout each) for the jobs still in flight; a job that does not finish
  // leaves its slot abandoned: reused once the runtime is done with it, never freed before.
  void close();

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

  // close() without the re-entry check (also what the destructor does).
  void finish();

  // One step: copy mode (outputs copied into arrays of their own), zero-copy mode (outputs lent).
  pb::object next_copied();
  pb::object next_lent();

  // The source's next frame, or a null object when it is exhausted.
  pb::object pull();

  // Stages `frame` into a free slot (collecting a finished job first if none is, copy mode) and
  // submits it.
  void submit(const pb::handle& frame);

  // Raises for a submission of the next frame on slot k that did not start.
  void check_submitted(std::size_t k, const core::Status& s) const;

  // Slot k (taken off free_) now runs the next frame.
  void started_job(std::size_t k);

  void release_lent() noexcept;

  // Copies an exact frame into slot k in C++, anything else through the Python staging rule.
  void stage(std::size_t k, const pb::handle& frame, const Source& src);

  // Copy mode: collects one finished job into results_ and frees its slot. In completion order
  // when the engine reports it (a slow job then does not hold up the other slots), but the oldest
  // job when the results waiting for it are already 2x the slots (bounded memory behind a stall).
  void collect_one(Clock::time_point started = Clock::now());

  // The steady state of copy mode in one stretch without the GIL: waits for the first of our jobs
  // to finish, copies its outputs out and the (exact) frame into its slot, and submits the frame.
  // Saves the GIL hand-overs and Python-side steps between those, which on a tiny model are a good
  // part of the host's time per frame. False (nothing submitted) when the fast path does not
  // apply or the first report was not a plain success: the general path then takes over, keeping
  // whatever was learned.
  bool turnaround(const Source& src);

  // The output arrays prepared for the next collected job.
  pb::list take_spare();

  // Records the job at inflight_[at] as collected with status `s` and outputs `out`, frees its
  // slot, and raises if the job failed.
  void collected(std::size_t at, const core::Status& s, pb::list out);

  // Zero-copy mode: waits for the oldest job and lends its slot's own output arrays until the
  // next call.
  pb::object lend_oldest();

  // Engines that report completions: waits (the pipeline's adaptive spin, then blocking) until the
  // job at inflight_[want] - or with want == kAny, any of ours - is reported finished; returns its
  // position. Reports about other jobs of ours are remembered for later.
  std::size_t await_report(core::Pipeline& p, std::size_t want, Clock::time_point started = Clock::now());

  // Waits for slot k's job (sliced, so Ctrl-C is seen); raises WaitTimeoutError after the timeout.
  core::Status wait_for(core::Pipeline& p, std::size_t k, std::uint64_t frame);

  // The next wait's length: a slice (so Ctrl-C is seen), never past the deadline.
  static microseconds slice_until(Clock::time_point deadline);

  [[noreturn]] void failed(std::size_t k, std::uint64_t frame, const core::Status& s);

  [[noreturn]] void timed_out(std::size_t k, std::uint64_t frame);

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

}  // namespace vart_async::py::stream_detail
