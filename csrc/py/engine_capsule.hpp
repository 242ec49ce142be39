// Engines cross extension-module boundaries as a PyCapsule holding a std::shared_ptr<core::Engine>:
// no pybind11 type has to be shared between modules (hidden visibility would break that).
#pragma once

#include <pybind11/pybind11.h>

#include <memory>

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

}  // namespace vart_async::py
