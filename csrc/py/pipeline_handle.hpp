// What the binding files share: the pipeline's Python-side holder and the numpy dtype of a tensor.
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

// Holds the pipeline so close() can free it early (with the GIL released) while Python objects
// that refer to it still exist.
class PipelineHandle {
 public:
  PipelineHandle(const pybind11::capsule& engine, std::size_t jobs) {
    std::shared_ptr<core::Engine> e = engine_from_capsule(engine);
    // Safe: slot allocation touches only C++ objects.
    pybind11::gil_scoped_release release;
    pipeline_ = std::make_unique<core::Pipeline>(std::move(e), jobs);
  }
  core::Pipeline& get() {
    if (!pipeline_) throw std::logic_error("the session is closed");
    return *pipeline_;
  }
  void close() {
    if (pipeline_ && pipeline_->running()) throw std::logic_error("the session is running: cancel() the run first");
    if (users_ > 0) {
      throw std::logic_error("the session is in use by another thread (a stream, submit() or wait() in progress): "
                             "let it finish, or close the stream, before close()");
    }
    std::unique_ptr<core::Pipeline> p = std::move(pipeline_);
    // Safe: the destructor may wait for in-flight jobs; it never calls into Python.
    pybind11::gil_scoped_release release;
    p.reset();
  }
  bool closed() const { return !pipeline_; }

  // Marks a native call that uses the pipeline with the GIL released, so that close() from another
  // thread refuses to free the pipeline under it. Made and dropped with the GIL held (which guards
  // the count).
  class InUse {
   public:
    explicit InUse(PipelineHandle& h) : h_(h) { ++h_.users_; }
    ~InUse() { --h_.users_; }
    InUse(const InUse&) = delete;
    InUse& operator=(const InUse&) = delete;

   private:
    PipelineHandle& h_;
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

}  // namespace vart_async::py
