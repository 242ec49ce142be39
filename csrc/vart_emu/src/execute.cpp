// EmuRunner: argument validation, execute / execute_async / wait, and tensor allocation.
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>

#include "runner.hpp"
#include "tensor_priv.hpp"

namespace vart::emu {
namespace {

constexpr std::size_t kAlignment = 4096;

std::string where(const char* call, const char* dir, std::size_t row, std::size_t i, const NpuTensorInfo& view) {
  return std::string(call) + ": " + dir + " row " + std::to_string(row) + " tensor " + std::to_string(i) + " ('" +
         view.name + "')";
}

void check_alloc_info(const NpuTensorInfo& info) {
  if (!info.name.empty() && info.size_in_bytes == 0) {
    throw std::invalid_argument("Tensor size is zero for tensor: " + info.name + ".");
  }
  const std::string problem = info_problem(info, /*require_strides=*/false);
  if (!problem.empty()) throw std::invalid_argument("Invalid NpuTensorInfo: " + problem);
}

}  // namespace

StatusCode EmuRunner::check(const char* call, const std::vector<std::vector<NpuTensor>>& inputs,
                            std::vector<std::vector<NpuTensor>>& outputs, RowBuffers& rows) const noexcept {
  const Logger& log = device_->log();
  const auto reject = [&log](StatusCode st, const std::string& why) {
    log.error(why + " -> " + std::string(to_string(st)));
    return st;
  };
  try {
    const Model& m = device_->model();
    const std::vector<NpuTensorInfo>& in_views = device_->in_views();
    const std::vector<NpuTensorInfo>& out_views = device_->out_views();
    const std::string c = call;
    if (inputs.empty() || inputs.size() > m.batch_size) {
      return reject(StatusCode::INVALID_INPUT, c + ": " + std::to_string(inputs.size()) +
                                                   " input rows; the model takes 1.." + std::to_string(m.batch_size));
    }
    if (outputs.empty() || outputs.size() > m.output_batch_size) {
      return reject(StatusCode::INVALID_OUTPUT, c + ": " + std::to_string(outputs.size()) +
                                                    " output rows; the model takes 1.." +
                                                    std::to_string(m.output_batch_size));
    }
    // Partial calls keep the model's ratio of output to input rows (equal counts when the two batch
    // sizes are equal), so which input row each output row comes from is never ambiguous.
    if (outputs.size() * m.batch_size != inputs.size() * m.output_batch_size) {
      return reject(StatusCode::INVALID_OUTPUT, c + ": " + std::to_string(outputs.size()) + " output rows for " +
                                                    std::to_string(inputs.size()) + " input rows; the model gives " +
                                                    std::to_string(m.output_batch_size) + " output rows per " +
                                                    std::to_string(m.batch_size) + " input rows");
    }
    rows.in.assign(inputs.size(), {});
    rows.out.assign(outputs.size(), {});
    for (std::size_t b = 0; b < inputs.size(); ++b) {
      if (inputs[b].size() != in_views.size()) {
        return reject(StatusCode::INVALID_INPUT, c + ": input row " + std::to_string(b) + " has " +
                                                     std::to_string(inputs[b].size()) + " tensors; the model has " +
                                                     std::to_string(in_views.size()));
      }
      for (std::size_t i = 0; i < in_views.size(); ++i) {
        const NpuTensor& t = inputs[b][i];
        const void* va = t.get_virtual_address();
        if (va == nullptr) {
          return reject(StatusCode::INVALID_INPUT, where(call, "input", b, i, in_views[i]) + ": no virtual address");
        }
        if (t.get_info().size_in_bytes < in_views[i].size_in_bytes) {
          return reject(StatusCode::INVALID_INPUT, where(call, "input", b, i, in_views[i]) + ": size_in_bytes " +
                                                       std::to_string(t.get_info().size_in_bytes) + " < " +
                                                       std::to_string(in_views[i].size_in_bytes) + " of the model's " +
                                                       std::string(to_string(in_views[i].tensor_type)) + " view");
        }
        rows.in[b].push_back(va);
      }
    }
    for (std::size_t b = 0; b < outputs.size(); ++b) {
      if (outputs[b].size() != out_views.size()) {
        return reject(StatusCode::INVALID_OUTPUT, c + ": output row " + std::to_string(b) + " has " +
                                                      std::to_string(outputs[b].size()) + " tensors; the model has " +
                                                      std::to_string(out_views.size()));
      }
      for (std::size_t o = 0; o < out_views.size(); ++o) {
        NpuTensor& t = outputs[b][o];
        void* va = t.get_virtual_address();
        if (va == nullptr) {
          return reject(StatusCode::INVALID_OUTPUT,
                        where(call, "output", b, o, out_views[o]) + ": no writable virtual address");
        }
        if (t.get_info().size_in_bytes < out_views[o].size_in_bytes) {
          return reject(StatusCode::INVALID_OUTPUT, where(call, "output", b, o, out_views[o]) + ": size_in_bytes " +
                                                        std::to_string(t.get_info().size_in_bytes) + " < " +
                                                        std::to_string(out_views[o].size_in_bytes) +
                                                        " of the model's " +
                                                        std::string(to_string(out_views[o].tensor_type)) + " view");
        }
        rows.out[b].push_back(va);
      }
    }
    return StatusCode::SUCCESS;
  } catch (const std::bad_alloc&) {
    return StatusCode::OUT_OF_MEMORY;
  } catch (...) {
    return StatusCode::FAILURE;
  }
}

StatusCode EmuRunner::execute(const std::vector<std::vector<NpuTensor>>& inputs,
                              std::vector<std::vector<NpuTensor>>& outputs) noexcept {
  const auto start = std::chrono::steady_clock::now();
  RowBuffers rows;
  const StatusCode st = check("execute", inputs, outputs, rows);
  if (st != StatusCode::SUCCESS) return st;
  device_->compute(rows);
  // Synchronous runs take the plain service time on the caller's thread: no slot, no faults.
  const std::chrono::duration<double, std::micro> t(device_->model().service_time_us);
  if (t.count() > 0) {
    std::this_thread::sleep_until(start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(t));
  }
  return StatusCode::SUCCESS;
}

JobHandle EmuRunner::execute_async(const std::vector<std::vector<NpuTensor>>& inputs,
                                   std::vector<std::vector<NpuTensor>>& outputs) noexcept {
  return execute_async(inputs, outputs, nullptr);
}

JobHandle EmuRunner::execute_async(const std::vector<std::vector<NpuTensor>>& inputs,
                                   std::vector<std::vector<NpuTensor>>& outputs, ExecuteAsyncCallback cb) noexcept {
  try {
    auto job = std::make_shared<Job>();
    const StatusCode st = check("execute_async", inputs, outputs, job->rows);
    if (st != StatusCode::SUCCESS) return JobHandle(st, 0);
    job->inputs = inputs;
    job->outputs = outputs;
    job->callback = std::move(cb);
    return device_->submit(std::move(job));
  } catch (const std::bad_alloc&) {
    return JobHandle(StatusCode::OUT_OF_MEMORY, 0);
  } catch (...) {
    return JobHandle(StatusCode::FAILURE, 0);
  }
}

StatusCode EmuRunner::wait(const JobHandle& job_handle, std::chrono::milliseconds timeout) noexcept {
  return device_->wait(job_handle.job_id, timeout);
}

NpuTensor EmuRunner::allocate_npu_tensor(const NpuTensorInfo& info) const { return allocate_npu_tensor(info, 0); }

NpuTensor EmuRunner::allocate_npu_tensor(const NpuTensorInfo& info, uint32_t memory_bank) const {
  if (memory_bank != 0) {
    throw std::runtime_error("memory bank " + std::to_string(memory_bank) +
                             " is not available (the emulator has one bank: 0)");
  }
  check_alloc_info(info);
  void* p = ::operator new(info.size_in_bytes, std::align_val_t{kAlignment}, std::nothrow);
  if (p == nullptr) {
    throw std::runtime_error("Fail to allocate buffer for tensor: " + info.name +
                             ", Size: " + std::to_string(info.size_in_bytes) + " bytes.");
  }
  std::memset(p, 0, info.size_in_bytes);
  auto priv = std::make_shared<NpuTensorPriv>();
  priv->storage = std::shared_ptr<std::byte>(static_cast<std::byte*>(p),
                                             [](std::byte* q) { ::operator delete(q, std::align_val_t{kAlignment}); });
  priv->info = info;
  priv->mem_type = MemoryType::XRT_BO;
  priv->buffer = p;  // there is no xrt::bo: get_buffer() gives the data address, like get_virtual_address()
  priv->address = p;
  priv->runner_allocated = true;
  if (device_->log().enabled(LogLevel::kDebug)) {
    device_->log().debug("allocated " + std::to_string(info.size_in_bytes) + " bytes for tensor '" + info.name + "'");
  }
  return NpuTensorPrivAccess::make(std::move(priv));
}

NpuTensor EmuRunner::allocate_sub_tensor(const NpuTensor& parent, const NpuTensorInfo& info, size_t offset) const {
  const NpuTensorPriv* p = NpuTensorPrivAccess::get(parent);
  if (p == nullptr) {
    throw std::invalid_argument(
        "Parent tensor is empty (default-constructed or moved-from), cannot create sub-tensor: " + info.name);
  }
  check_alloc_info(info);
  if (!p->runner_allocated) {
    throw std::invalid_argument("Parent tensor is not runner-allocated, cannot create sub-tensor: " + p->info.name);
  }
  if (p->sub_tensor) throw std::invalid_argument("Cannot create sub-tensor from a sub-tensor: " + p->info.name);
  const std::size_t parent_size = p->info.size_in_bytes;
  if (offset > parent_size || info.size_in_bytes > parent_size - offset) {
    throw std::invalid_argument("Sub-tensor exceeds parent tensor bounds. Parent: " + p->info.name + ", parent size: " +
                                std::to_string(parent_size) + " bytes, offset: " + std::to_string(offset) +
                                ", sub-tensor size: " + std::to_string(info.size_in_bytes) + " bytes.");
  }
  auto priv = std::make_shared<NpuTensorPriv>();
  priv->info = info;
  priv->mem_type = p->mem_type;
  priv->address = static_cast<const std::byte*>(p->address) + offset;
  priv->buffer = priv->address;
  priv->runner_allocated = true;
  priv->sub_tensor = true;
  priv->storage = p->storage;  // the parent's memory lives as long as any sub-tensor
  return NpuTensorPrivAccess::make(std::move(priv));
}

}  // namespace vart::emu
