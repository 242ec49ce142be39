// `vart_async._vart`: creates VART engines (libvart-ml or the emulator, fixed at build time).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "engines/vart/vart_engine.hpp"
#include "py/engine_capsule.hpp"

namespace pb = pybind11;

PYBIND11_MODULE(_vart, m) {
  m.doc() = "VART engine (private). Use vart_async.open().";
  m.attr("EMULATED") = vart_async::engines::vart_engine_emulated();
  m.def(
      "create",
      [](const std::string& model, const std::map<std::string, std::string>& options) {
        std::unique_ptr<vart_async::core::Engine> engine;
        {
          // Safe: only C++ objects are touched past this point; loading a model can take seconds.
          pb::gil_scoped_release release;
          engine = vart_async::engines::create_vart_engine(model, options);
        }
        return vart_async::py::engine_to_capsule(std::move(engine));
      },
      pb::arg("model"), pb::arg("options"), "Loads a model; returns an engine capsule. Releases the GIL.");
}
