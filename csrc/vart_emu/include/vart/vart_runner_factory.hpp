// VART-ML Runner API (newest public header generation, "H3"), re-declared by vart-async's
// VART-ML *emulator* from the documented facts (docs/emulator.md). The virtual methods of Runner
// are declared in the documented order; the emulated runner behind RunnerFactory reads an emulator
// model descriptor (.json), not a compiled model.
#pragma once

#include <any>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "vart_npu_tensor.hpp"

namespace vart {

enum class RunnerType {
  VAIML,
};

enum class RoundingMode {
  UNKNOWN,
  ROUND_TO_NEAREST_EVEN,
  ROUND_TOWARD_ZERO,
};

struct QuantParameters {
  double scale = 0.0;
  int32_t zero_point = 0;
  RoundingMode rounding_mode = RoundingMode::UNKNOWN;
};

enum class StatusCode {
  SUCCESS = 0,
  FAILURE,
  INVALID_INPUT,
  INVALID_OUTPUT,
  OUT_OF_MEMORY,
  RUNTIME_ERROR,
  JOB_PENDING,  // the job has not finished: a normal polling outcome, not an error
  INVALID_JOB_ID,
  RESOURCE_UNAVAILABLE,  // all execution slots are busy: transient, retry
  UNSUPPORTED,
};

std::string_view to_string(RoundingMode value) noexcept;
std::string_view to_string(StatusCode value) noexcept;

// Result of a submission. job_id 0 is reserved as invalid; valid ids start at 1.
struct JobHandle {
  StatusCode status;
  uint32_t job_id;

  JobHandle(StatusCode stat, uint32_t id) : status(stat), job_id(id) {}
  JobHandle() : status(StatusCode::FAILURE), job_id(0) {}
};

// A loaded model. Instances are thread-safe and meant to be shared through std::shared_ptr.
class Runner {
 public:
  virtual ~Runner() = default;

  virtual const std::vector<NpuTensorInfo>& get_tensors_info(TensorDirection direction, TensorType type) const = 0;
  // Throws std::runtime_error if there is no tensor of that name.
  virtual const NpuTensorInfo& get_tensor_info_by_name(const std::string& tensor_name, TensorType type) const = 0;
  // Throws std::runtime_error if the tensor has no quantisation parameters.
  virtual const QuantParameters& get_quant_parameters(const std::string& tensor_name) const = 0;
  virtual size_t get_num_input_tensors() const = 0;
  virtual size_t get_num_output_tensors() const = 0;
  // The most batch rows one execute/execute_async call accepts.
  virtual size_t get_batch_size() const = 0;
  virtual size_t get_batch_size(TensorDirection direction) const = 0;
  // Throws std::invalid_argument for an unsupported key.
  virtual std::any get_property(const std::string& key) const = 0;

  // inputs/outputs are [batch row][tensor], the tensors in get_tensors_info() order.
  virtual StatusCode execute(const std::vector<std::vector<NpuTensor>>& inputs,
                             std::vector<std::vector<NpuTensor>>& outputs) noexcept = 0;
  // Non-blocking. The buffers must stay valid until the job completes. RESOURCE_UNAVAILABLE means
  // every execution slot is busy: transient, retry later.
  virtual JobHandle execute_async(const std::vector<std::vector<NpuTensor>>& inputs,
                                  std::vector<std::vector<NpuTensor>>& outputs) noexcept = 0;
  // Waits for a job; a zero timeout only checks. JOB_PENDING if the job has not finished.
  virtual StatusCode wait(const JobHandle& job_handle, std::chrono::milliseconds timeout) noexcept = 0;

  // Called with the job's completion status and id, possibly on an internal worker thread.
  using ExecuteAsyncCallback = std::function<void(const JobHandle&)>;

  virtual JobHandle execute_async(const std::vector<std::vector<NpuTensor>>& inputs,
                                  std::vector<std::vector<NpuTensor>>& outputs, ExecuteAsyncCallback cb) noexcept = 0;

  // Contiguous, owned memory (MemoryType::XRT_BO). std::invalid_argument on an invalid info,
  // std::runtime_error if the allocation fails.
  virtual NpuTensor allocate_npu_tensor(const NpuTensorInfo& info) const = 0;
  virtual NpuTensor allocate_npu_tensor(const NpuTensorInfo& info, uint32_t memory_bank) const = 0;
  // A view at byte `offset` into a runner-allocated parent; keeps the parent's memory alive.
  virtual NpuTensor allocate_sub_tensor(const NpuTensor& parent, const NpuTensorInfo& info, size_t offset) const = 0;

 protected:
  explicit Runner(const std::string& /*model_path*/,
                  const std::unordered_map<std::string, std::any>& /*options*/ = {}) {}
};

class RunnerFactory {
 public:
  // Throws std::runtime_error if the runner type is unsupported or the runner cannot be created.
  static std::shared_ptr<Runner> create_runner(RunnerType runner_type, const std::string& model_path,
                                               const std::unordered_map<std::string, std::any>& options = {});
};

}  // namespace vart
