// `vart_async._core`: the pipeline. No runtime dependency (engines come in as capsules).
#include <pybind11/pybind11.h>

namespace vart_async::py {
void bind_pipeline(pybind11::module_& m);
void bind_stream(pybind11::module_& m);
void bind_submit(pybind11::module_& m);
void bind_quant(pybind11::module_& m);
}  // namespace vart_async::py

PYBIND11_MODULE(_core, m) {
  m.doc() = "vart_async native core (private). Use the vart_async package.";
  vart_async::py::bind_pipeline(m);
  vart_async::py::bind_stream(m);
  vart_async::py::bind_submit(m);
  vart_async::py::bind_quant(m);
}
