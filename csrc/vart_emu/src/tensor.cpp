// NpuTensor and NpuTensorInfo: wrapping, accessors, printing.
#include <cstdio>
#include <stdexcept>
#include <string>

#include "log.hpp"
#include "names.hpp"
#include "tensor_priv.hpp"

namespace vart {
namespace {

void print_label(const char* label) { std::printf("%-24s", label); }

void print_list(const char* label, const std::vector<uint32_t>& values) {
  print_label(label);
  for (const uint32_t v : values) std::printf("%u ", v);
  std::printf("\n");
}

std::shared_ptr<NpuTensorPriv> wrap(const NpuTensorInfo& info, const void* buffer, MemoryType mem_type, bool writable) {
  if (buffer == nullptr) throw std::runtime_error("Buffer pointer cannot be null");
  switch (mem_type) {
    case MemoryType::UNKNOWN:
      throw std::runtime_error("MemoryType cannot be UNKNOWN");
    case MemoryType::XRT_BO:
      // On a board `buffer` would point at an xrt::bo; there is no XRT here to read it.
      throw std::runtime_error(
          "MemoryType XRT_BO: wrapping an xrt::bo is not supported by the VART-ML emulator (no XRT); "
          "allocate the tensor with Runner::allocate_npu_tensor instead");
    case MemoryType::DMA_FD:
    case MemoryType::USER_POINTER_CMA:
    case MemoryType::USER_POINTER_NON_CMA:
      break;
    default:
      throw std::runtime_error("Invalid MemoryType value " + std::to_string(static_cast<int>(mem_type)));
  }
  const std::string problem = emu::info_problem(info, /*require_strides=*/true);
  if (!problem.empty()) throw std::runtime_error("Invalid NpuTensorInfo provided: " + problem);
  if (info.tensor_type == TensorType::HW && mem_type == MemoryType::USER_POINTER_CMA) {
    throw std::runtime_error("MemoryType USER_POINTER_CMA is not supported for HW tensors (tensor '" + info.name +
                             "')");
  }
  auto priv = std::make_shared<NpuTensorPriv>();
  priv->info = info;
  priv->mem_type = mem_type;
  priv->buffer = buffer;
  // A dma-buf cannot be mapped by the emulator: such a tensor has no virtual address.
  priv->address = mem_type == MemoryType::DMA_FD ? nullptr : buffer;
  priv->writable = writable;
  return priv;
}

}  // namespace

namespace emu {

std::string info_problem(const NpuTensorInfo& info, bool require_strides) {
  const std::string who = "tensor '" + info.name + "': ";
  if (info.name.empty()) return "name is empty";
  if (element_size(info.data_type) == 0) return who + "data_type is " + std::string(to_string(info.data_type));
  if (info.direction != TensorDirection::INPUT && info.direction != TensorDirection::OUTPUT) {
    return who + "direction is neither INPUT nor OUTPUT";
  }
  if (info.tensor_type != TensorType::CPU && info.tensor_type != TensorType::HW) {
    return who + "tensor_type is neither CPU nor HW";
  }
  if (to_string(info.memory_layout) == "UNKNOWN") return who + "memory_layout is UNKNOWN";
  if (info.memory_layout == MemoryLayout::GENERIC && info.memory_layout_order.empty()) {
    return who + "memory_layout GENERIC needs a memory_layout_order";
  }
  if (info.size == 0) return who + "size (number of elements) is 0";
  if (info.size_in_bytes == 0) return who + "size_in_bytes is 0";
  if (info.shape.empty()) return who + "shape is empty";
  if (require_strides && info.strides.empty()) return who + "strides is empty";
  return {};
}

std::uint64_t fake_physical_address(const void* va) noexcept {
  // Distinct per buffer and offset-consistent (a sub-tensor is its parent's address + offset).
  return 0x4000000000000000ULL + static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(va));
}

}  // namespace emu

void NpuTensorInfo::print() const {
  print_label("  Name:");
  std::printf("%s\n", name.c_str());
  print_label("  Data Type:");
  std::printf("%s\n", std::string(to_string(data_type)).c_str());
  print_label("  Direction:");
  std::printf("%s\n", std::string(to_string(direction)).c_str());
  print_label("  Tensor Type:");
  std::printf("%s\n", std::string(to_string(tensor_type)).c_str());
  print_label("  Memory Layout:");
  std::printf("%s\n", std::string(to_string(memory_layout)).c_str());
  if (memory_layout == MemoryLayout::GENERIC) print_list("  Memory Layout order:", memory_layout_order);
  print_list("  Shape:", shape);
  print_list("  Strides:", strides);
  print_label("  Size:");
  std::printf("%zu\n", size);
  print_label("  Size in Bytes:");
  std::printf("%zu\n", size_in_bytes);
  std::printf("\n");
  std::fflush(stdout);
}

NpuTensor::NpuTensor(const NpuTensorInfo& info, void* buffer, MemoryType mem_type)
    : priv_(wrap(info, buffer, mem_type, /*writable=*/true)) {}

NpuTensor::NpuTensor(const NpuTensorInfo& info, const void* buffer, MemoryType mem_type)
    : priv_(wrap(info, buffer, mem_type, /*writable=*/false)) {}

NpuTensor::NpuTensor() = default;

void* NpuTensor::get_buffer() {
  if (!priv_) return nullptr;
  if (!priv_->writable) {
    emu::log_error("get_buffer(): tensor '" + priv_->info.name + "' wraps a const buffer; use the const overload");
    return nullptr;
  }
  // The pointer was non-const when it was wrapped (writable), so casting constness back is sound.
  return const_cast<void*>(priv_->buffer);
}

const void* NpuTensor::get_buffer() const { return priv_ ? priv_->buffer : nullptr; }

void* NpuTensor::get_virtual_address() {
  if (!priv_) return nullptr;
  if (!priv_->writable) {
    emu::log_error("get_virtual_address(): tensor '" + priv_->info.name +
                   "' wraps a const buffer; use the const overload");
    return nullptr;
  }
  return const_cast<void*>(priv_->address);
}

const void* NpuTensor::get_virtual_address() const { return priv_ ? priv_->address : nullptr; }

uint64_t NpuTensor::get_physical_address() const {
  if (!priv_ || priv_->mem_type != MemoryType::XRT_BO || priv_->address == nullptr) return 0;
  return emu::fake_physical_address(priv_->address);
}

const NpuTensorInfo& NpuTensor::get_info() const {
  static const NpuTensorInfo kEmpty{};
  return priv_ ? priv_->info : kEmpty;
}

MemoryType NpuTensor::get_memory_type() const { return priv_ ? priv_->mem_type : MemoryType::UNKNOWN; }

void NpuTensor::sync_buffer() const {
  if (!priv_) throw std::runtime_error("sync_buffer(): the tensor is empty (default-constructed or moved-from)");
  if (!priv_->runner_allocated) {
    emu::log_error("sync_buffer(): tensor '" + priv_->info.name + "' wraps a user buffer");
    throw std::runtime_error("Buffer synchronization is not supported for wrapped tensors.");
  }
  // Runner-allocated memory is ordinary host memory in the emulator: nothing to flush/invalidate.
}

int NpuTensor::export_buffer() const {
  // No dma-buf exporter on the host: the emulator cannot hand out a file descriptor.
  return -1;
}

void NpuTensor::print_info() const {
  if (!priv_) {
    std::printf("NpuTensor Info: [Invalid - moved-from object]\n");
    std::fflush(stdout);
    return;
  }
  std::printf("NpuTensor Info:\n");
  priv_->info.print();
  std::printf(" Memory Type: %s\n", std::string(to_string(priv_->mem_type)).c_str());
  std::fflush(stdout);
}

}  // namespace vart
