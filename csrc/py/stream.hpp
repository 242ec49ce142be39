// Session.stream()'s iterator: a native iterator that drives the core's job window with one owner of
// its own. Each __next__ pulls frames from the caller's iterable, stages them into slots it acquires,
// submits them (the frame index is the job's tag) and collects finished jobs, returning the next
// outputs in frame order: one native call per frame, no Python frame. What is in flight, which job
// finished first, waits, deadlines and busy retry are the window's; this holds only the Python
// objects (the source, the outputs of frames not yet returned) and converts.
// stream.cpp: construction, stepping, staging, submission; stream_collect.cpp: collecting.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "py/pipeline_handle.hpp"
#include "py/stream_parts.hpp"

namespace vart_async::py::stream_detail {

namespace pb = pybind11;
using core::Clock;
using std::chrono::milliseconds;

// Copies above this size release the GIL (smaller ones cost less than the release).
inline constexpr std::size_t kReleaseGilAbove = 256 * 1024;

class Stream {
 public:
  // `stage(targets, frame)` is the Python staging rule (conversions, dicts, shape checks), used
  // whenever a frame is not already an exact match for the slot buffers. `error_for(reason,
  // message)` is the status -> exception table.
  Stream(PipelineHandle& pipe, const pb::iterable& frames, bool copy, std::int64_t busy_timeout_ms,
         std::int64_t wait_timeout_ms, pb::object stage, pb::sequence slot_inputs, pb::sequence slot_outputs,
         pb::object error_for);

  // Dropping the stream (e.g. leaving a for loop early) waits for its jobs, like close().
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // The iterator protocol: the outputs of the next frame, in frame order; StopIteration once the
  // source is exhausted and every job collected. After an error (a job, a frame, the source,
  // Ctrl-C) the stream is over, as a generator would be, and its jobs in flight are waited for.
  pb::object next();
  // next() for the type's iternext slot: a null object (no exception) once the stream is over.
  pb::object next_or_end();
  // Waits (up to the wait timeout) for the jobs still in flight; a job that does not finish leaves
  // its slot abandoned: reused once the runtime is done with it, never freed before.
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

  static bool outputs_bindable(const core::Engine& engine);
  void finish(bool interruptible);
  pb::object next_copied();
  pb::object next_lent();
  pb::object pull();  // the source's next frame, or a null object when it is exhausted
  void submit(const pb::handle& frame);
  // A slot for the next frame: a free one, or (copy mode) the slot of a job collected for it.
  std::size_t slot_for_next();
  void stage(std::size_t k, const pb::handle& frame, const Source& src);
  void submitted(std::size_t k, const core::Outcome& o);  // raises if the submission failed
  // Copy mode: collects one finished job into results_ and frees its slot. In completion order
  // when the engine reports it, but the oldest job when the outputs waiting for earlier frames
  // are already 2x the slots (bounded memory behind a stall).
  void collect_one();
  // Copy mode's steady state in one stretch without the GIL: the first of our jobs to finish, its
  // outputs copied out, the (exact) frame copied into its slot, submitted. False (nothing
  // submitted) when it does not apply or no job finished within a slice.
  bool turnaround(const Source& src);
  // The same for copy=False with bound outputs: the first of our jobs to finish gives its slot to
  // the next frame, bound to that frame and to new output arrays, without copying anything.
  bool turnaround_bound(const pb::handle& frame, const Source& src);
  pb::object lend_oldest();  // zero-copy mode: the oldest job's own output arrays, until the next call
  core::Collected collect(core::JobWindow::Pick pick);  // raises for a timeout or Ctrl-C
  pb::list take_spare();
  pb::list take_written(std::uint64_t tag);            // bound outputs: frame `tag`'s arrays, now the caller's
  void store(const core::Collected& c, pb::list out);  // raises if the job failed
  std::size_t waiting() const noexcept { return static_cast<std::size_t>(next_frame_ - next_out_) - in_flight_; }
  [[noreturn]] void raise(core::StopReason reason, const std::string& message) const;

  PipelineHandle& pipe_;
  core::JobWindow& window_;
  const core::Owner owner_;
  pb::iterator source_;
  const bool copy_;
  // copy=False: the frames are the jobs' inputs; the outputs are written straight into new arrays
  // of the job's own where the engine can bind them (`bound_out_`), else the slot's own arrays are
  // lent (`lend_`: until the next result).
  const bool bound_out_, lend_;
  const milliseconds busy_timeout_, wait_timeout_;
  pb::object stage_;
  pb::sequence slot_inputs_, slot_outputs_;
  const FrameCheck check_;
  OutputLists outputs_;  // copy mode
  pb::object error_for_;
  std::vector<pb::object> results_;  // copy mode: outputs by frame index % size (None: not collected)
  std::vector<pb::object> writing_;  // bound outputs: the arrays each frame's job writes into, until collected
  pb::object spare_ = pb::none();    // copy mode: output arrays ready for the next collected job
  std::optional<std::size_t> lent_;
  std::uint64_t next_frame_ = 0;  // frames submitted
  std::uint64_t next_out_ = 0;    // the next frame whose outputs are returned
  std::size_t in_flight_ = 0;
  bool by_completion_ = false;
  bool entered_ = false;    // a call is stepping the stream (see Entered)
  bool exhausted_ = false;  // the source has no more frames
  bool finished_ = false;   // StopIteration from now on
};

}  // namespace vart_async::py::stream_detail
