// `vart_async._openvino`: creates OpenVINO engines. Import it through vart_async._openvino_loader,
// which imports `openvino` first (so the wheel's libopenvino.so.NNNN is already loaded) and checks
// that the installed release is the one this module was built against.
#include <pybind11/pybind11.h>

#include "engines/openvino/openvino_engine.hpp"
#include "py/engine_capsule.hpp"

PYBIND11_MODULE(_openvino, m) {
  m.doc() = "OpenVINO engine (private). Use vart_async.open().";
  m.attr("EMULATED") = false;
  m.attr("OPENVINO_VERSION") = vart_async::engines::openvino_build_version();
  m.attr("DESCRIPTION") = "OpenVINO " + vart_async::engines::openvino_runtime_version() + " (CPU)";
  vart_async::py::def_create(
      m, &vart_async::engines::create_openvino_engine,
      "Reads and compiles a model (.onnx or .xml); returns an engine capsule. Releases the GIL.\n\n"
      "Options (strings): device, hint, num_requests, streams, threads, precision, cache_dir, pin,\n"
      "shape, or OpenVINO properties in upper case. A bad option raises ValueError; a model that\n"
      "cannot be read or compiled raises RuntimeError.");
}
