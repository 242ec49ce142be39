// An emulator model descriptor (docs/emulator.md, "Descriptor"), parsed and validated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <vart/vart_runner_factory.hpp>

namespace vart::emu {

struct TensorDesc {
  NpuTensorInfo hw;   // tensor_type HW; only exposed when has_hw
  NpuTensorInfo cpu;  // tensor_type CPU (the ONNX-format view)
  bool has_hw = true;
  std::optional<QuantParameters> quant;
};

struct Faults {
  std::set<std::uint32_t> fail_jobs;
  StatusCode fail_status = StatusCode::RUNTIME_ERROR;
  std::set<std::uint32_t> stall_jobs;
  double stall_ms = 60000;
  std::uint64_t storm_after = 0;  // accepted submissions before the busy storm
  std::uint64_t storm_count = 0;  // execute_async calls answered RESOURCE_UNAVAILABLE (0 = no storm)
  bool out_of_order = false;
  std::uint32_t straggler_every = 0;  // jobs j with j % every == 0 are stragglers (0 = none)
  double straggler_factor = 1;        // their service time is multiplied by this
  std::optional<std::string> fail_create;
};

struct Model {
  std::string path;  // as given to create_runner
  std::string name;
  std::size_t batch_size = 1;
  std::size_t output_batch_size = 1;
  std::size_t compute_units = 1;
  std::size_t execution_slots = 1;
  double service_time_us = 0;
  double service_jitter_us = 0;
  std::vector<TensorDesc> inputs;
  std::vector<TensorDesc> outputs;
  Faults faults;
};

// Loads a descriptor. Throws std::runtime_error "vart-emu: <path>: <field>: <problem>" on any
// problem, and a clear "cannot run compiled models" error for .rai files and model directories.
Model load_model(const std::string& path);

// Parses descriptor text (`path` only names the file in messages).
Model parse_model(const std::string& text, const std::string& path);

// Row-major strides, in elements, of `shape`.
std::vector<std::uint32_t> row_major_strides(const std::vector<std::uint32_t>& shape);

}  // namespace vart::emu
