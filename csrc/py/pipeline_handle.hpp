// What the binding files share: the pipeline's Python-side holder, the Ctrl-C check handed to the
// core's waits, and the numpy dtype and shape of a tensor.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/pipeline.hpp"
#include "py/engine_capsule.hpp"

namespace vart_async::py {

// What a numpy view of a slot buffer keeps alive. The slot is released before the engine that
// allocated it (members are destroyed in reverse order).
struct SlotOwner {
  std::shared_ptr<core::Engine> engine;
  std::shared_ptr<core::Slot> slot;
};

// The core's interrupt check for waits made with the GIL released: takes the GIL once a slice to
// run Python's signal handlers (Ctrl-C). When it fires, the Python error is set: the caller raises
// it with pybind11::error_already_set once the core returns.
inline core::Interrupt python_signals() {
  return [] {
    const pybind11::gil_scoped_acquire gil;
    return PyErr_CheckSignals() != 0;
  };
}

// Holds the pipeline so close() can free it early (with the GIL released) while Python objects
// that refer to it still exist.
class PipelineHandle {
 public:
  PipelineHandle(const pybind11::capsule& engine, std::size_t jobs, std::uint64_t max_bytes) {
    std::shared_ptr<core::Engine> e = engine_from_capsule(engine);
    // Safe: slot allocation touches only C++ objects.
    const pybind11::gil_scoped_release release;
    pipeline_ = std::make_unique<core::Pipeline>(std::move(e), jobs, max_bytes);
  }
  ~PipelineHandle() {
    if (!pipeline_) return;
    if (pipeline_->on_completion_thread()) {  // dropped by a callback: it cannot wait for itself
      core::Pipeline::orphan(std::move(pipeline_));
      return;
    }
    // Safe: closing waits for jobs and the completion thread, never for Python.
    const pybind11::gil_scoped_release release;
    pipeline_.reset();
  }
  PipelineHandle(const PipelineHandle&) = delete;
  PipelineHandle& operator=(const PipelineHandle&) = delete;

  core::Pipeline& get() {
    if (!pipeline_) throw std::logic_error("the session is closed");
    return *pipeline_;
  }
  void close() {
    if (!pipeline_) return;
    if (pipeline_->on_completion_thread()) {
      throw std::logic_error(
          "close() from a callback: the completion thread cannot wait for itself; "
          "close the session after wait_all() on another thread");
    }
    if (pipeline_->running() || users_ > 0) {
      throw std::logic_error(
          "the session is in use by another thread (a run, a stream, submit() or wait() in "
          "progress): let it finish, or cancel it, before close()");
    }
    std::unique_ptr<core::Pipeline> p = std::move(pipeline_);
    bool interrupted = false;
    {
      // Safe: closing waits for jobs and the completion thread (which takes the GIL to deliver:
      // released here), never for Python itself.
      const pybind11::gil_scoped_release release;
      const core::Interrupt signals = python_signals();
      p->close(core::Pipeline::kCloseBound, [&] { return interrupted = interrupted || signals(); });
      p.reset();
    }
    if (interrupted) throw pybind11::error_already_set();
  }
  bool closed() const { return !pipeline_; }

  // Marks a native call that uses the pipeline with the GIL released, so that close() from another
  // thread refuses to free the pipeline under it. Made and dropped with the GIL held (which guards
  // the count).
  class InUse {
   public:
    explicit InUse(PipelineHandle& h) : h_(h), p_(h.get()) { ++h_.users_; }
    ~InUse() { --h_.users_; }
    InUse(const InUse&) = delete;
    InUse& operator=(const InUse&) = delete;
    core::Pipeline& pipeline() const noexcept { return p_; }

   private:
    PipelineHandle& h_;
    core::Pipeline& p_;
  };

 private:
  std::unique_ptr<core::Pipeline> pipeline_;
  int users_ = 0;
};

// numpy has no bfloat16: those buffers are shown as uint16 (same bits).
inline pybind11::dtype numpy_dtype(core::DType t) {
  return t == core::DType::kBFloat16 ? pybind11::dtype("uint16") : pybind11::dtype(std::string(core::dtype_name(t)));
}

// The numpy shape of a tensor's slot buffer: the spec's shape, or flat when the runtime pads the
// buffer (its size is not the shape's).
inline std::vector<pybind11::ssize_t> numpy_shape(const core::TensorSpec& spec, const pybind11::dtype& dt,
                                                  std::size_t nbytes) {
  std::vector<pybind11::ssize_t> shape(spec.shape.begin(), spec.shape.end());
  std::size_t count = 1;
  for (auto d : shape) count *= static_cast<std::size_t>(d);
  const auto itemsize = static_cast<std::size_t>(dt.itemsize());
  if (count * itemsize != nbytes) shape = {static_cast<pybind11::ssize_t>(nbytes / itemsize)};
  return shape;
}

// A core outcome as Python sees it: (reason name, message).
inline pybind11::tuple outcome_tuple(const core::Outcome& o) {
  return pybind11::make_tuple(std::string(core::to_string(o.reason)), o.message);
}

}  // namespace vart_async::py
