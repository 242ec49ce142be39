// `vart_async._vart`: creates VART engines (libvart-ml or the emulator, fixed at build time).
#include <pybind11/pybind11.h>

#include "engines/vart/vart_engine.hpp"
#include "py/engine_capsule.hpp"

PYBIND11_MODULE(_vart, m) {
  m.doc() = "VART engine (private). Use vart_async.open().";
  m.attr("EMULATED") = vart_async::engines::vart_engine_emulated();
  vart_async::py::def_create(m, &vart_async::engines::create_vart_engine,
                             "Loads a model; returns an engine capsule. Releases the GIL.");
}
