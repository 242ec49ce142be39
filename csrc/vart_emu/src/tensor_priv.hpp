// The NpuTensor pimpl, and the access the runner needs to build owned (runner-allocated) tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <vart/vart_npu_tensor.hpp>

namespace vart {

class NpuTensorPriv {
 public:
  NpuTensorInfo info;
  MemoryType mem_type = MemoryType::UNKNOWN;
  const void* buffer = nullptr;   // what get_buffer() returns: the VA, or the address of the DMA_FD int
  const void* address = nullptr;  // what get_virtual_address() returns (nullptr for DMA_FD)
  bool writable = true;           // false when wrapped from a const pointer
  bool runner_allocated = false;
  bool sub_tensor = false;
  // Owns the memory of a runner-allocated tensor; sub-tensors hold a copy, so the parent's memory
  // lives until the parent and all its sub-tensors are gone.
  std::shared_ptr<std::byte> storage;
};

class NpuTensorPrivAccess {
 public:
  static NpuTensor make(std::shared_ptr<NpuTensorPriv> priv) {
    NpuTensor t;
    t.priv_ = std::move(priv);
    return t;
  }
  static const NpuTensorPriv* get(const NpuTensor& t) noexcept { return t.priv_.get(); }
};

namespace emu {

// Why `info` is not a valid tensor description, or an empty string. Checks what the documented
// implementation checks; strides are only required when `require_strides`.
std::string info_problem(const NpuTensorInfo& info, bool require_strides);

// The fake "physical address" the emulator reports for XRT_BO memory (there is no device).
std::uint64_t fake_physical_address(const void* va) noexcept;

}  // namespace emu
}  // namespace vart
