// Two self-contained parts of the streaming loop (bind_stream.cpp): the check that lets a frame be
// copied into a slot without Python, and the recycling of the output lists it hands out.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/pipeline.hpp"
#include "py/pipeline_handle.hpp"

namespace vart_async::py {

// Models with more inputs than this always stage through Python, and with more outputs than this
// skip the stream's one-stretch turnaround (keeps those paths allocation-free).
inline constexpr std::size_t kMaxDirectTensors = 8;

// Where a frame that is exactly the slot's layout (same dtypes, C-contiguous, same sizes) can be
// copied from; `exact` is false for anything else (it goes through the Python staging rule).
struct Source {
  bool exact = false;
  bool aligned = true;  // every array's data is aligned to its element size (needed without a copy)
  std::size_t total = 0;
  const void* data[kMaxDirectTensors] = {};
  std::size_t nbytes[kMaxDirectTensors] = {};

  // The frame's own memory as a job's inputs (copy=False): the runtime only reads it.
  std::vector<core::Buffer> buffers(std::size_t n) const {
    std::vector<core::Buffer> out;
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(core::Buffer{const_cast<std::byte*>(static_cast<const std::byte*>(data[i])), nbytes[i]});
    }
    return out;
  }

  // Copies an exact frame into a slot's input buffers (no Python object is touched).
  void copy_to(const std::vector<core::Buffer>& inputs) const {
    for (std::size_t i = 0; i < inputs.size(); ++i) std::memcpy(inputs[i].data, data[i], inputs[i].nbytes);
  }
};

class FrameCheck {
 public:
  explicit FrameCheck(core::Pipeline& p) {
    const core::EngineInfo& info = p.engine().info();
    for (std::size_t i = 0; i < info.inputs.size(); ++i) {
      dtypes_.push_back(numpy_dtype(info.inputs[i].dtype));
      nbytes_.push_back(p.slot(0).inputs()[i].nbytes);
    }
  }

  // A frame is one array (single-input models) or a list or tuple of arrays in input order.
  Source operator()(const pybind11::handle& frame) const {
    namespace pb = pybind11;
    Source src;
    const std::size_t n = nbytes_.size();
    pb::handle arrays[kMaxDirectTensors];
    if (n > kMaxDirectTensors) return src;
    if (n == 1 && pb::isinstance<pb::array>(frame)) {
      arrays[0] = frame;
    } else if ((PyList_Check(frame.ptr()) || PyTuple_Check(frame.ptr())) &&
               static_cast<std::size_t>(PySequence_Fast_GET_SIZE(frame.ptr())) == n) {
      for (std::size_t i = 0; i < n; ++i)
        arrays[i] = PySequence_Fast_GET_ITEM(frame.ptr(), static_cast<pb::ssize_t>(i));
    } else {
      return src;
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (!pb::isinstance<pb::array>(arrays[i])) return src;
      const auto a = pb::reinterpret_borrow<pb::array>(arrays[i]);
      const pb::dtype dt = a.dtype();
      if (!(dt.is(dtypes_[i]) || dt.equal(dtypes_[i])) || (a.flags() & pb::array::c_style) == 0 ||
          static_cast<std::size_t>(a.nbytes()) != nbytes_[i]) {
        return src;
      }
      src.data[i] = a.data();
      src.nbytes[i] = nbytes_[i];
      src.total += nbytes_[i];
      if (reinterpret_cast<std::uintptr_t>(a.data()) % static_cast<std::uintptr_t>(dt.itemsize()) != 0) {
        src.aligned = false;
      }
    }
    src.exact = true;
    return src;
  }

 private:
  std::vector<pybind11::dtype> dtypes_;
  std::vector<std::size_t> nbytes_;
};

// What keeps a Python object (a frame, the caller's output arrays) alive for as long as a slot is
// bound to its memory; dropped with the GIL taken, whichever thread lets go of it.
inline std::shared_ptr<const void> keep_alive(const pybind11::object& o) {
  return std::shared_ptr<const void>(new pybind11::object(o), [](const void* p) {
    const pybind11::gil_scoped_acquire gil;
    delete static_cast<const pybind11::object*>(p);
  });
}

// The caller's output arrays for a job without copies (copy=False, out=...): one writable,
// C-contiguous, aligned array per output of exactly the output's dtype and size. Checked here too
// (Python checks first, with names and shapes in its messages), so nothing unsafe gets through.
inline std::vector<core::Buffer> output_buffers(const pybind11::handle& outs, core::Pipeline& p) {
  namespace pb = pybind11;
  const core::EngineInfo& info = p.engine().info();
  const auto list = pb::reinterpret_borrow<pb::sequence>(outs);
  if (static_cast<std::size_t>(pb::len(list)) != info.outputs.size()) {
    throw std::invalid_argument("out= needs one array per model output (" + std::to_string(info.outputs.size()) + ")");
  }
  std::vector<core::Buffer> bufs;
  for (std::size_t i = 0; i < info.outputs.size(); ++i) {
    const pb::object item = list[i];
    if (!pb::isinstance<pb::array>(item)) throw std::invalid_argument("out[" + std::to_string(i) + "] is not an array");
    auto a = pb::reinterpret_borrow<pb::array>(item);
    const pb::dtype want = numpy_dtype(info.outputs[i].dtype);
    const std::size_t n = p.slot(0).outputs()[i].nbytes;
    if (!(a.dtype().is(want) || a.dtype().equal(want)) || (a.flags() & pb::array::c_style) == 0 || !a.writeable() ||
        static_cast<std::size_t>(a.nbytes()) != n ||
        reinterpret_cast<std::uintptr_t>(a.data()) % static_cast<std::uintptr_t>(want.itemsize()) != 0) {
      throw std::invalid_argument("out[" + std::to_string(i) + "] must be a writable, C-contiguous, aligned " +
                                  std::string(core::dtype_name(info.outputs[i].dtype)) + " array of " +
                                  std::to_string(n) + " bytes");
    }
    bufs.push_back(core::Buffer{static_cast<std::byte*>(a.mutable_data()), n});
  }
  return bufs;
}

// Output arrays for collected jobs. A list handed out earlier is used again when nothing but us can
// see it or its arrays any more (reference counts of 1: no name, container, view or buffer of the
// caller's refers to them) and it is still what we made (same length, dtypes, shapes, C order,
// writeable): saves an allocation per frame and keeps the frame's memory warm.
class OutputLists {
 public:
  explicit OutputLists(core::Pipeline& p) {
    const core::EngineInfo& info = p.engine().info();
    for (std::size_t i = 0; i < info.outputs.size(); ++i) {
      dtypes_.push_back(numpy_dtype(info.outputs[i].dtype));
      shapes_.push_back(numpy_shape(info.outputs[i], dtypes_.back(), p.slot(0).outputs()[i].nbytes));
    }
  }

  // A list of output arrays to fill: a recycled one, or a new one.
  pybind11::list make() {
    for (pybind11::object& l : handed_) {
      if (l && reusable(l)) {
        return pybind11::reinterpret_steal<pybind11::list>(l.release());
      }
    }
    pybind11::list out(dtypes_.size());
    for (std::size_t i = 0; i < dtypes_.size(); ++i) out[i] = pybind11::array(dtypes_[i], shapes_[i]);
    return out;
  }

  // Remembers a list handed out (the last few), to use it again once the caller is done with it.
  void hand_out(const pybind11::object& out) { handed_[next_++ % handed_.size()] = out; }

  void forget() {
    for (pybind11::object& l : handed_) l = pybind11::object();
  }

 private:
  // Lists remembered: the caller's loop variable still holds the last one or two.
  static constexpr std::size_t kRecycleDepth = 4;

  bool reusable(pybind11::handle l) const {  // a handle: looking must not add a reference
    namespace pb = pybind11;
    if (Py_REFCNT(l.ptr()) != 1 || !PyList_Check(l.ptr()) ||
        PyList_GET_SIZE(l.ptr()) != static_cast<pb::ssize_t>(dtypes_.size()))
      return false;
    for (std::size_t i = 0; i < dtypes_.size(); ++i) {
      PyObject* item = PyList_GET_ITEM(l.ptr(), static_cast<pb::ssize_t>(i));
      if (Py_REFCNT(item) != 1 || !pb::isinstance<pb::array>(item)) return false;
      const auto a = pb::reinterpret_borrow<pb::array>(item);
      if (!a.dtype().is(dtypes_[i]) || (a.flags() & pb::array::c_style) == 0 || !a.writeable() ||
          a.ndim() != static_cast<pb::ssize_t>(shapes_[i].size()) ||
          !std::equal(shapes_[i].begin(), shapes_[i].end(), a.shape())) {
        return false;
      }
    }
    return true;
  }

  std::vector<pybind11::dtype> dtypes_;
  std::vector<std::vector<pybind11::ssize_t>> shapes_;
  std::array<pybind11::object, kRecycleDepth> handed_;  // null: none
  std::size_t next_ = 0;
};

}  // namespace vart_async::py
