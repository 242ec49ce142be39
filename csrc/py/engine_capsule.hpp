// Engines cross extension-module boundaries as a PyCapsule holding a std::shared_ptr<core::Engine>:
// no pybind11 type has to be shared between modules (hidden visibility would break that).
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <string>
#include <utility>

#include "core/engine.hpp"

namespace vart_async::py {

inline constexpr const char* kEngineCapsule = "vart_async.Engine";

inline pybind11::capsule engine_to_capsule(std::unique_ptr<core::Engine> engine) {
  auto* holder = new std::shared_ptr<core::Engine>(std::move(engine));
  return pybind11::capsule(holder, kEngineCapsule, [](PyObject* cap) {
    // Runs with the GIL held; the engine's own destructor waits only for jobs it still runs.
    delete static_cast<std::shared_ptr<core::Engine>*>(PyCapsule_GetPointer(cap, kEngineCapsule));
  });
}

inline std::shared_ptr<core::Engine> engine_from_capsule(const pybind11::capsule& cap) {
  if (std::string(cap.name() ? cap.name() : "") != kEngineCapsule) {
    throw pybind11::type_error("expected an engine capsule");
  }
  return *static_cast<std::shared_ptr<core::Engine>*>(cap.get_pointer());
}

// Defines an engine module's `create(model, options) -> capsule`. `create_engine` runs with the GIL
// released: past the argument conversion only C++ objects are touched, and loading a model can
// take seconds.
template <typename CreateEngine>
void def_create(pybind11::module_& m, CreateEngine create_engine, const char* doc) {
  m.def(
      "create",
      [create_engine](const std::string& model, const std::map<std::string, std::string>& options) {
        std::unique_ptr<core::Engine> engine;
        {
          // Safe: see above.
          pybind11::gil_scoped_release release;
          engine = create_engine(model, options);
        }
        return engine_to_capsule(std::move(engine));
      },
      pybind11::arg("model"), pybind11::arg("options"), doc);
}

}  // namespace vart_async::py
