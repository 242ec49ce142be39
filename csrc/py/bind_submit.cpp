// Session.submit(inputs, callback=...) and infer_async: jobs for the core's completion thread.
// Conversions, the GIL and lifetimes only: slots, waits and completion are the job window's.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "core/completer.hpp"
#include "py/pipeline_handle.hpp"
#include "py/stream_parts.hpp"

namespace pb = pybind11;

namespace vart_async::py {
namespace {

using core::Clock;
using std::chrono::milliseconds;

// The completion thread's sink: one GIL hand-over per batch. `deliver(batch)` gets a list of
// (slot, tag, done, reason, message); each collected slot is released before the GIL is let go,
// so that whatever `deliver` woke (an event loop's waiters for a slot) finds it free.
core::Pipeline::Sink make_sink(core::Pipeline& p, const pb::object& deliver) {
  // The Python callable is dropped with the GIL held, whichever thread ends the completion thread.
  std::shared_ptr<pb::object> fn(new pb::object(deliver), [](pb::object* o) {
    const pb::gil_scoped_acquire gil;
    delete o;
  });
  core::JobWindow* window = &p.window();
  return [fn, window](const std::vector<core::Collected>& batch) {
    const pb::gil_scoped_acquire gil;
    try {
      pb::list items(batch.size());
      for (std::size_t i = 0; i < batch.size(); ++i) {
        const core::Collected& c = batch[i];
        items[i] =
            pb::make_tuple(c.slot, c.tag, c.done, std::string(core::to_string(c.outcome.reason)), c.outcome.message);
      }
      (*fn)(items);
    } catch (pb::error_already_set& e) {
      e.discard_as_unraisable("vart_async completion thread");
    }
    for (const core::Collected& c : batch) {
      if (c.done) window->release(c.slot);
    }
  };
}

class Submitter {
 public:
  // Starts the pipeline's completion thread (once), which hands batches to `deliver`.
  Submitter(PipelineHandle& h, const pb::object& deliver, std::int64_t wait_timeout_ms) : h_(h), check_(h.get()) {
    core::Pipeline& p = h.get();
    if (p.completer_if_started() == nullptr) p.completer(make_sink(p, deliver), milliseconds(wait_timeout_ms));
  }

  // A frame that already matches the slot (dtypes, C order): a free slot, the copy and the
  // submission in one stretch without the GIL. (slot, reason, message); slot -1 when the frame
  // needs the Python staging rule (nothing was done), -2 when no slot came free in time.
  pb::tuple submit(const pb::handle& frame, std::uint64_t tag, std::int64_t acquire_timeout_ms,
                   std::int64_t busy_timeout_ms) {
    const Source src = check_(frame);
    if (!src.exact) return pb::make_tuple(-1, "", "");
    const PipelineHandle::InUse in_use(h_);
    core::Pipeline& p = in_use.pipeline();
    const bool from_callback = p.on_completion_thread();
    // A free slot is taken without letting go of the GIL: when there is none and the caller does
    // not wait (asyncio), the refusal costs no GIL hand-over.
    std::size_t k = p.window().acquire(core::kCallbacks, Clock::time_point{});
    if (k == core::kNone && (acquire_timeout_ms <= 0 || from_callback)) return none_free(from_callback);
    core::Outcome o;
    {
      // Safe: the frame's arrays are referenced by our caller for the duration of this call; the
      // rest is the core's.
      const pb::gil_scoped_release release;
      if (k == core::kNone) k = take(p, from_callback, acquire_timeout_ms);
      if (k != core::kNone) {
        src.copy_to(p.slot(k).inputs());
        o = p.window().submit(k, tag, core::deadline_in(milliseconds(busy_timeout_ms)));
        if (!o.ok()) p.window().give_back(k);
      }
    }
    if (k == core::kNone) return none_free(from_callback);
    return pb::make_tuple(static_cast<std::int64_t>(k), std::string(core::to_string(o.reason)), o.message);
  }

  // A free slot to stage into (Python's rule), or -2 after the timeout.
  std::int64_t acquire(std::int64_t timeout_ms) {
    const PipelineHandle::InUse in_use(h_);
    core::Pipeline& p = in_use.pipeline();
    const bool from_callback = p.on_completion_thread();
    std::size_t k = p.window().acquire(core::kCallbacks, Clock::time_point{});  // no GIL hand-over if one is free
    if (k == core::kNone && timeout_ms > 0 && !from_callback) {
      // Safe: waits in the core only; Ctrl-C is looked at once a slice.
      const pb::gil_scoped_release release;
      k = take(p, from_callback, timeout_ms);
    }
    if (k == core::kNone) return none_free(from_callback)[0].cast<std::int64_t>();
    return static_cast<std::int64_t>(k);
  }

  pb::tuple submit_slot(std::size_t k, std::uint64_t tag, std::int64_t busy_timeout_ms) {
    const PipelineHandle::InUse in_use(h_);
    core::Outcome o;
    {
      // Safe: retries "busy" in C++ only.
      const pb::gil_scoped_release release;
      o = in_use.pipeline().window().submit(k, tag, core::deadline_in(milliseconds(busy_timeout_ms)));
    }
    if (!o.ok()) in_use.pipeline().window().give_back(k);
    return outcome_tuple(o);
  }

  void give_back(std::size_t k) { h_.get().window().give_back(k); }

  bool wait_all(std::int64_t timeout_ms) {
    const PipelineHandle::InUse in_use(h_);
    core::Pipeline& p = in_use.pipeline();
    if (p.on_completion_thread()) {
      throw std::logic_error("wait_all() from a callback would wait for the callback itself to return");
    }
    bool idle = false;
    {
      // Safe: waits in the core only; Ctrl-C is looked at once a slice.
      const pb::gil_scoped_release release;
      idle = p.window().wait_released(core::kCallbacks, core::deadline_in(milliseconds(timeout_ms)), python_signals());
    }
    if (!idle && PyErr_Occurred() != nullptr) throw pb::error_already_set();
    return idle;
  }

 private:
  // From a callback, waiting for a slot would wait for the very thread that frees them.
  static std::size_t take(core::Pipeline& p, bool from_callback, std::int64_t timeout_ms) {
    const auto deadline = from_callback ? Clock::now() : core::deadline_in(milliseconds(timeout_ms));
    return p.window().acquire(core::kCallbacks, deadline, python_signals());
  }

  static pb::tuple none_free(bool from_callback) {
    if (PyErr_Occurred() != nullptr) throw pb::error_already_set();  // Ctrl-C
    if (from_callback) {
      throw std::logic_error(
          "submit() from a callback with every slot busy would wait for the callback itself "
          "to return: submit from another thread, or use more jobs");
    }
    return pb::make_tuple(-2, "", "");
  }

  PipelineHandle& h_;
  const FrameCheck check_;
};

}  // namespace

void bind_submit(pb::module_& m) {
  pb::class_<Submitter>(m, "Submitter")
      .def(pb::init<PipelineHandle&, const pb::object&, std::int64_t>(), pb::arg("pipeline"), pb::arg("deliver"),
           pb::arg("wait_timeout_ms"), pb::keep_alive<1, 2>(),
           "Jobs for the completion thread, which calls deliver(batch) with the GIL once per batch.")
      .def("submit", &Submitter::submit, pb::arg("frame"), pb::arg("tag"), pb::arg("acquire_timeout_ms"),
           pb::arg("busy_timeout_ms"),
           "Submits an exact frame in one native call: (slot, reason, message); slot -1: stage it in Python, "
           "-2: no slot came free in time. Releases the GIL; Ctrl-C raises.")
      .def("acquire", &Submitter::acquire, pb::arg("timeout_ms"),
           "A free slot, or -2 after the timeout. Releases the GIL; Ctrl-C raises.")
      .def("submit_slot", &Submitter::submit_slot, pb::arg("slot"), pb::arg("tag"), pb::arg("busy_timeout_ms"),
           "Submits acquired slot k: (reason, message). Releases the GIL.")
      .def("give_back", &Submitter::give_back, pb::arg("slot"))
      .def("wait_all", &Submitter::wait_all, pb::arg("timeout_ms"),
           "Waits until every job was delivered. Releases the GIL; Ctrl-C raises.");
}

}  // namespace vart_async::py
