// `vart_async._openvino`: creates OpenVINO engines. Import it through vart_async._openvino_loader,
// which imports `openvino` first (so the wheel's libopenvino.so.NNNN is already loaded) and checks
// that the installed release is the one this module was built against.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "engines/openvino/openvino_engine.hpp"
#include "py/engine_capsule.hpp"

namespace pb = pybind11;

PYBIND11_MODULE(_openvino, m) {
  m.doc() = "OpenVINO engine (private). Use vart_async.open().";
  m.attr("EMULATED") = false;
  m.attr("OPENVINO_VERSION") = vart_async::engines::openvino_build_version();
  m.attr("DESCRIPTION") = "OpenVINO " + vart_async::engines::openvino_runtime_version() + " (CPU)";
  m.def(
      "create",
      [](const std::string& model, const std::map<std::string, std::string>& options) {
        std::unique_ptr<vart_async::core::Engine> engine;
        {
          // Safe: only C++ objects are touched past this point; reading and compiling a model can
          // take seconds.
          pb::gil_scoped_release release;
          engine = vart_async::engines::create_openvino_engine(model, options);
        }
        return vart_async::py::engine_to_capsule(std::move(engine));
      },
      pb::arg("model"), pb::arg("options"),
      "Reads and compiles a model (.onnx or .xml); returns an engine capsule. Releases the GIL.\n\n"
      "Options (strings): device, hint, num_requests, streams, threads, precision, cache_dir, pin,\n"
      "shape, or OpenVINO properties in upper case. A bad option raises ValueError; a model that\n"
      "cannot be read or compiled raises RuntimeError.");
}
