// CPU-typed tensors as the runtime handles them (docs/emulator.md, "CPU views"): a CPU-typed input
// is converted to the tensor's HW view before the NPU sees it (reorder the layout, then quantize
// with its QuantParameters or convert the data type), and a CPU-typed output is converted back from
// the HW bytes the NPU wrote (convert or dequantize, then reorder).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <vart/vart_runner_factory.hpp>

#include "model.hpp"

namespace vart::emu {

struct ViewConversion {
  bool active = false;  // false: the accepted view is exchanged as is
  NpuTensorInfo cpu, hw;
  std::optional<QuantParameters> quant;
  std::vector<std::size_t> order;  // HW axis k is CPU axis order[k]
};

// How tensor `t`, exchanged in view `accepted`, reaches its HW view. Inactive for the HW view, a
// tensor without a HW view (a CPU-subgraph boundary) or identical views. Throws std::runtime_error
// "vart-emu: <path>: <input|output> tensor '<name>': cannot convert its CPU view to its HW view: ..."
// for layouts that are not a permutation of each other (nor GENERIC with an order) or shapes that
// do not match.
ViewConversion plan_conversion(const TensorDesc& t, TensorType accepted, const std::string& path, bool input);

// One batch row: `cpu` holds cpu.size_in_bytes bytes, `hw` hw.size_in_bytes.
void cpu_to_hw(const ViewConversion& c, const void* cpu, void* hw) noexcept;
void hw_to_cpu(const ViewConversion& c, const void* hw, void* cpu) noexcept;

}  // namespace vart::emu
