// The Python type of Session.stream()'s iterator (the loop itself: stream.hpp).
#include <pybind11/pybind11.h>

#include <cstdint>

#include "py/stream.hpp"

namespace pb = pybind11;

namespace vart_async::py {
namespace {

using stream_detail::Stream;

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
  cls.def(pb::init<PipelineHandle&, const pb::iterable&, bool, std::int64_t, std::int64_t, pb::object, pb::sequence,
                   pb::sequence, pb::object>(),
          pb::arg("pipeline"), pb::arg("frames"), pb::arg("copy"), pb::arg("busy_timeout_ms"),
          pb::arg("wait_timeout_ms"), pb::arg("stage"), pb::arg("slot_inputs"), pb::arg("slot_outputs"),
          pb::arg("error_for"), pb::keep_alive<1, 2>())
      .def("__iter__", [](pb::object self) { return self; })
      .def("__next__", &Stream::next,
           "The next frame's outputs, in frame order. Releases the GIL while it submits and waits.")
      .def("close", &Stream::close, "Ends the stream: waits for the jobs still in flight. Releases the GIL.");
  // After the defs: setting __next__ on the type points the slot at the generic dispatcher.
  reinterpret_cast<PyTypeObject*>(cls.ptr())->tp_iternext = &stream_iternext;
}

}  // namespace vart_async::py
