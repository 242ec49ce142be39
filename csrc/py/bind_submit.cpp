// Session.submit(inputs, callback=...) and infer_async: frames for the core's completion thread,
// which submits them (at once, or from its backlog as slots free) and delivers finished jobs in
// batches. Conversions, the GIL and lifetimes only: slots, waits and completion are the core's.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/completer.hpp"
#include "py/pipeline_handle.hpp"
#include "py/stream_parts.hpp"

namespace pb = pybind11;

namespace vart_async::py {
namespace {

using core::Clock;
using std::chrono::milliseconds;

// numpy arrays over a delivered job's copied-out outputs; each keeps the block alive.
struct OutputArrays {
  std::vector<pb::dtype> dtypes;
  std::vector<std::vector<pb::ssize_t>> shapes;

  pb::list wrap(const std::shared_ptr<core::OutputBlock>& block) const {
    auto* owner = new std::shared_ptr<core::OutputBlock>(block);
    const pb::capsule base(owner, [](void* o) { delete static_cast<std::shared_ptr<core::OutputBlock>*>(o); });
    pb::list out(block->outputs.size());
    for (std::size_t i = 0; i < block->outputs.size() && i < dtypes.size(); ++i) {
      out[i] = pb::array(dtypes[i], shapes[i], block->outputs[i].data(), base);
    }
    return out;
  }
};

// The completion thread's sink: one GIL hand-over per batch. `deliver(batch)` gets a list of
// (slot, tag, done, reason, message, outputs or None).
std::function<void(const std::vector<core::Delivery>&)> make_sink(const pb::object& deliver, OutputArrays arrays) {
  // The Python callable is dropped with the GIL held, whichever thread ends the completion thread.
  std::shared_ptr<pb::object> fn(new pb::object(deliver), [](pb::object* o) {
    const pb::gil_scoped_acquire gil;
    delete o;
  });
  // Holds numpy dtypes (Python objects): dropped with the GIL held too.
  std::shared_ptr<OutputArrays> shapes(new OutputArrays(std::move(arrays)), [](OutputArrays* a) {
    const pb::gil_scoped_acquire gil;
    delete a;
  });
  return [fn, shapes](const std::vector<core::Delivery>& batch) {
    const pb::gil_scoped_acquire gil;
    try {
      pb::list items(batch.size());
      for (std::size_t i = 0; i < batch.size(); ++i) {
        const core::Delivery& d = batch[i];
        const pb::object outputs = d.outputs ? pb::object(shapes->wrap(d.outputs)) : pb::object(pb::none());
        items[i] = pb::make_tuple(static_cast<std::int64_t>(d.job.slot == core::kNone ? -1 : d.job.slot), d.job.tag,
                                  d.job.done, std::string(core::to_string(d.job.outcome.reason)), d.job.outcome.message,
                                  outputs);
      }
      (*fn)(items);
    } catch (pb::error_already_set& e) {
      e.discard_as_unraisable("vart_async completion thread");
    }
  };
}

class Submitter {
 public:
  // Starts the pipeline's completion thread (once), which hands batches to `deliver`; up to
  // `backlog` frames may wait for a slot.
  Submitter(PipelineHandle& h, const pb::object& deliver, std::int64_t wait_timeout_ms, std::size_t backlog)
      : h_(h), check_(h.get()) {
    core::Pipeline& p = h.get();
    OutputArrays arrays;
    const core::EngineInfo& info = p.engine().info();
    for (std::size_t i = 0; i < info.outputs.size(); ++i) {
      arrays.dtypes.push_back(numpy_dtype(info.outputs[i].dtype));
      arrays.shapes.push_back(numpy_shape(info.outputs[i], arrays.dtypes.back(), p.slot(0).outputs()[i].nbytes));
    }
    completer_ = p.completer_if_started();
    if (completer_ == nullptr) {
      completer_ = &p.completer(make_sink(deliver, std::move(arrays)), milliseconds(wait_timeout_ms), backlog);
    }
  }

  // A frame that matches the slots (dtypes, C order): submitted, or left in the backlog for the next
  // slot that frees, waiting up to `timeout_ms` for room there. 1: done; 0: no room in time; -1:
  // the frame needs converting first (nothing was done). The frame must stay alive until its job
  // is delivered.
  // With `outputs` (a list of arrays, not None) the job runs on the caller's memory, the frame's
  // and those arrays (copy=False): nothing is copied, and both are kept alive until the slot is
  // bound again; the frame must then be exact (else ValueError: the caller checks first).
  int submit(const pb::handle& frame, std::uint64_t tag, std::int64_t timeout_ms, const pb::object& outputs) {
    const Source src = check_(frame);
    const bool external = !outputs.is_none();
    if (!src.exact || (external && !src.aligned)) {
      if (external) throw std::invalid_argument("copy=False needs a frame of exactly the inputs' dtypes and sizes");
      return -1;
    }
    const PipelineHandle::InUse in_use(h_);
    core::Pipeline& p = in_use.pipeline();
    const std::size_t n_in = p.engine().info().inputs.size();
    core::Pending pending{tag, std::vector<const void*>(src.data, src.data + n_in), {}, nullptr};
    if (external) {
      auto ext = std::make_shared<core::External>();
      ext->inputs = src.buffers(n_in);
      ext->outputs = output_buffers(outputs, p);
      ext->keep = keep_alive(pb::make_tuple(frame, outputs));
      pending.external = std::move(ext);
    }
    // From a callback, waiting for room would wait for the very thread that makes it.
    const bool from_callback = p.on_completion_thread();
    bool queued = false;
    {
      // Safe: the frame's arrays are kept alive by our caller until the job is delivered; the
      // rest is the core's.
      const pb::gil_scoped_release release;
      const auto deadline = from_callback ? Clock::now() : core::deadline_in(milliseconds(timeout_ms));
      queued = completer_->enqueue(std::move(pending), deadline, python_signals());
    }
    if (queued) return 1;
    if (PyErr_Occurred() != nullptr) throw pb::error_already_set();  // Ctrl-C
    if (from_callback) {
      throw std::logic_error(
          "submit() from a callback with every slot and the backlog full would wait for the "
          "callback itself to return: submit from another thread, or use more jobs");
    }
    return 0;
  }

  bool wait_all(std::int64_t timeout_ms) {
    const PipelineHandle::InUse in_use(h_);
    if (in_use.pipeline().on_completion_thread()) {
      throw std::logic_error("wait_all() from a callback would wait for the callback itself to return");
    }
    bool idle = false;
    {
      // Safe: waits in the core only; Ctrl-C is looked at once a slice.
      const pb::gil_scoped_release release;
      idle = completer_->wait_idle(core::deadline_in(milliseconds(timeout_ms)), python_signals());
    }
    if (!idle && PyErr_Occurred() != nullptr) throw pb::error_already_set();
    return idle;
  }

 private:
  PipelineHandle& h_;
  const FrameCheck check_;
  core::Completer* completer_ = nullptr;  // owned by the pipeline, which h_ (kept alive) holds
};

}  // namespace

void bind_submit(pb::module_& m) {
  pb::class_<Submitter>(m, "Submitter")
      .def(pb::init<PipelineHandle&, const pb::object&, std::int64_t, std::size_t>(), pb::arg("pipeline"),
           pb::arg("deliver"), pb::arg("wait_timeout_ms"), pb::arg("backlog"), pb::keep_alive<1, 2>(),
           "Frames for the completion thread, which calls deliver(batch) with the GIL once per batch.")
      .def("submit", &Submitter::submit, pb::arg("frame"), pb::arg("tag"), pb::arg("timeout_ms"),
           pb::arg("outputs") = pb::none(),
           "Submits an exact frame or leaves it in the backlog: 1 done, 0 no room in time, -1 convert it first. "
           "Releases the GIL; Ctrl-C raises.")
      .def("wait_all", &Submitter::wait_all, pb::arg("timeout_ms"),
           "Waits until every frame was delivered. Releases the GIL; Ctrl-C raises.");
}

}  // namespace vart_async::py
