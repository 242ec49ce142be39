// The OpenVINO engine: one model compiled for one device by the OpenVINO C++ runtime of the
// `openvino` pip wheel. Each job slot is one ov::InferRequest whose input and output tensors wrap
// buffers we own (zero-copy: the slot's Buffers are what OpenVINO reads and writes).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/engine.hpp"

namespace vart_async::engines {

// Loads an ONNX (.onnx) or OpenVINO IR (.xml + .bin) model. Options are strings, with
// benchmark_app's meanings:
//   device        OpenVINO device name (default "CPU")
//   hint          throughput | latency | cumulative_throughput | none. Default: "none" when streams,
//                 threads or pin is given (benchmark_app's rule: those knobs need no hint, and an
//                 explicit hint together with them is refused), else "throughput" (what an async
//                 pipeline wants). "none" leaves PERFORMANCE_HINT at the device's default.
//   num_requests  PERFORMANCE_HINT_NUM_REQUESTS (jobs the caller keeps in flight; caps the streams a
//                 hint picks)
//   streams       NUM_STREAMS: an integer >= 1, "auto" or "numa"
//   threads       INFERENCE_NUM_THREADS: an integer >= 1
//   precision     INFERENCE_PRECISION_HINT: f32 | bf16 | f16 (default: the device's choice, which is
//                 bf16 on CPUs with AMX)
//   cache_dir     CACHE_DIR: compiled-model cache folder
//   pin           ENABLE_CPU_PINNING: yes | no (also true/false, 1/0)
//   shape         static shapes for inputs: "name:[1,3,224,224]" (or benchmark_app's
//                 "name[1,3,224,224]"), several separated by commas; "[1,3,224,224]" for a
//                 single-input model. Required for every input with a dynamic dimension.
// Any option whose key is in upper case (e.g. "CPU_DENORMALS_OPTIMIZATION") is passed to
// compile_model as an OpenVINO property, as a string.
//
// The model's inputs and outputs keep the element types the model declares (no conversion is
// inserted). EngineInfo.batch_size is the leading dimension of the first input (1 for a scalar),
// and output_batch_size the same number (OpenVINO has no separate output batch).
// Throws std::invalid_argument for a bad option and std::runtime_error for anything else (model
// cannot be read or compiled, dynamic shape left open, unsupported element type); never an
// OpenVINO exception type.
std::unique_ptr<core::Engine> create_openvino_engine(const std::string& model,
                                                     const std::map<std::string, std::string>& options);

// The OpenVINO release this engine was built against (the pin, e.g. "2026.4.1").
const char* openvino_build_version() noexcept;

// The release of the OpenVINO library loaded in this process, e.g. "2026.4.1".
std::string openvino_runtime_version();

}  // namespace vart_async::engines
