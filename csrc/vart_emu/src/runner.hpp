// The emulated VAIML runner: metadata from the descriptor, validation, allocation, and the
// execute/execute_async/wait calls, backed by a Device.
#pragma once

#include <any>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <vart/vart_runner_factory.hpp>

#include "device.hpp"

namespace vart::emu {

class EmuRunner final : public Runner {
 public:
  EmuRunner(const std::string& model_path, const std::unordered_map<std::string, std::any>& options);
  ~EmuRunner() override;
  EmuRunner(const EmuRunner&) = delete;
  EmuRunner& operator=(const EmuRunner&) = delete;

  const std::vector<NpuTensorInfo>& get_tensors_info(TensorDirection direction, TensorType type) const override;
  const NpuTensorInfo& get_tensor_info_by_name(const std::string& tensor_name, TensorType type) const override;
  const QuantParameters& get_quant_parameters(const std::string& tensor_name) const override;
  size_t get_num_input_tensors() const override;
  size_t get_num_output_tensors() const override;
  size_t get_batch_size() const override;
  size_t get_batch_size(TensorDirection direction) const override;
  std::any get_property(const std::string& key) const override;

  StatusCode execute(const std::vector<std::vector<NpuTensor>>& inputs,
                     std::vector<std::vector<NpuTensor>>& outputs) noexcept override;
  JobHandle execute_async(const std::vector<std::vector<NpuTensor>>& inputs,
                          std::vector<std::vector<NpuTensor>>& outputs) noexcept override;
  StatusCode wait(const JobHandle& job_handle, std::chrono::milliseconds timeout) noexcept override;
  JobHandle execute_async(const std::vector<std::vector<NpuTensor>>& inputs,
                          std::vector<std::vector<NpuTensor>>& outputs, ExecuteAsyncCallback cb) noexcept override;

  NpuTensor allocate_npu_tensor(const NpuTensorInfo& info) const override;
  NpuTensor allocate_npu_tensor(const NpuTensorInfo& info, uint32_t memory_bank) const override;
  NpuTensor allocate_sub_tensor(const NpuTensor& parent, const NpuTensorInfo& info, size_t offset) const override;

 private:
  // INVALID_INPUT / INVALID_OUTPUT (logged) unless the call matches the accepted views; fills `rows`.
  StatusCode check(const char* call, const std::vector<std::vector<NpuTensor>>& inputs,
                   std::vector<std::vector<NpuTensor>>& outputs, RowBuffers& rows) const noexcept;
  const TensorDesc* find(const std::string& name) const noexcept;

  std::shared_ptr<Device> device_;
  std::vector<NpuTensorInfo> hw_in_, hw_out_, cpu_in_, cpu_out_;
  std::vector<std::thread> workers_;
};

}  // namespace vart::emu
