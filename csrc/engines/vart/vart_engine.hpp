// The VART engine: one model on libvart-ml (the board's SDK or our emulator), through the public
// VART-ML API only.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/engine.hpp"

namespace vart_async::engines {

// Options are strings as a user types them; keys the runtime expects with another type
// (bool, uint32) are converted. Known keys: input_tensor_type, output_tensor_type (HW|CPU),
// log_level, and the runtime's own (aie_columns_sharing, start_column, ...). One is ours, never
// passed to the runtime: completion = poll (Runner::wait; the default here) | callback (the
// execute_async callback overload reports each finished job, so the job window collects jobs in
// completion order).
// Throws std::runtime_error / std::invalid_argument with a message that names the model.
std::unique_ptr<core::Engine> create_vart_engine(const std::string& model,
                                                 const std::map<std::string, std::string>& options);

// True when built against vart_async's emulator instead of the real libvart-ml.
bool vart_engine_emulated() noexcept;

}  // namespace vart_async::engines
