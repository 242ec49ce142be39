// VART-ML NpuTensor API (newest public header generation, "H3"), re-declared by vart-async's
// VART-ML *emulator* from the documented facts (docs/emulator.md). Names, enum member orders and
// values, struct member order and semantics follow the documented API so that application code
// builds unchanged against this header or the real SDK's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vart {

// Element type of a tensor. Which types a runner supports is runner specific.
enum class DataType {
  UNKNOWN,
  BOOLEAN,
  INT8,
  UINT8,
  INT16,
  UINT16,
  BF16,
  FP16,
  INT32,
  UINT32,
  FLOAT32,
  INT64,
  UINT64,
};

// Memory layout of a tensor. GENERIC means "the permutation in NpuTensorInfo::memory_layout_order".
enum class MemoryLayout {
  UNKNOWN,
  NC,
  NCH,
  NHC,
  NHW,
  NWC,
  NHWC,
  NCHW,
  NHWC4,
  NHWC8,
  NC4HW4,
  NC8HW8,
  HCWNC4,
  HCWNC8,
  HCWNC16,
  NHW16C4WC,
  NHW16WC4C,
  NH2HWC4C,
  NH2C4HWC,
  GENERIC,
};

// Kind of memory an NpuTensor refers to.
enum class MemoryType {
  UNKNOWN,
  XRT_BO,                // device buffer object (runner-allocated in the emulator)
  DMA_FD,                // dma-buf file descriptor; the buffer pointer points at the int fd
  USER_POINTER_CMA,      // user pointer to physically contiguous memory
  USER_POINTER_NON_CMA,  // user pointer to ordinary host memory
};

enum class TensorDirection {
  INPUT,
  OUTPUT,
};

// CPU: the tensor as the ONNX model describes it. HW: the accelerator-native format.
enum class TensorType {
  CPU,
  HW,
};

// The enumerator name, spelled exactly as the enumerator; "UNKNOWN" for out-of-range values.
std::string_view to_string(DataType value) noexcept;
std::string_view to_string(MemoryLayout value) noexcept;
std::string_view to_string(MemoryType value) noexcept;
std::string_view to_string(TensorDirection value) noexcept;
std::string_view to_string(TensorType value) noexcept;

// Metadata of one tensor (member order matters: applications aggregate-initialise it).
struct NpuTensorInfo {
  std::string name;
  DataType data_type = DataType::UNKNOWN;
  TensorDirection direction = TensorDirection::INPUT;
  TensorType tensor_type = TensorType::HW;
  MemoryLayout memory_layout = MemoryLayout::UNKNOWN;
  std::vector<uint32_t> memory_layout_order;  // only meaningful for MemoryLayout::GENERIC
  size_t size = 0;                            // number of elements
  size_t size_in_bytes = 0;
  std::vector<uint32_t> shape;
  std::vector<uint32_t> strides;  // in elements

  // Prints the metadata to stdout.
  void print() const;
};

class NpuTensorPriv;
class NpuTensorPrivAccess;

// A tensor: metadata plus a buffer. Copies are shallow (they share the buffer and its ownership).
// Tensors wrapping a user buffer never own it; tensors from Runner::allocate_npu_tensor /
// allocate_sub_tensor own their memory, released when the last copy (and every sub-tensor) dies.
class NpuTensor {
 public:
  // Wraps a user buffer without taking ownership. Throws std::runtime_error if `buffer` is null,
  // `mem_type` is invalid, or `info` is invalid.
  NpuTensor(const NpuTensorInfo& info, void* buffer, MemoryType mem_type);
  // Same for a read-only buffer: the mutable accessors then return nullptr.
  NpuTensor(const NpuTensorInfo& info, const void* buffer, MemoryType mem_type);
  // An empty tensor.
  NpuTensor();

  void* get_buffer();
  const void* get_buffer() const;
  // Address of the data; nullptr if none, for DMA_FD, or (mutable overload) if const-constructed.
  void* get_virtual_address();
  const void* get_virtual_address() const;
  // Only meaningful for XRT_BO, else 0.
  uint64_t get_physical_address() const;
  const NpuTensorInfo& get_info() const;
  MemoryType get_memory_type() const;
  // Cache maintenance by direction (INPUT: flush, OUTPUT: invalidate). Only for runner-allocated
  // tensors; throws std::runtime_error for wrapped tensors.
  void sync_buffer() const;
  // Exports the buffer as a dma-buf fd; -1 if that is not possible.
  int export_buffer() const;
  void print_info() const;

 private:
  std::shared_ptr<NpuTensorPriv> priv_;
  friend class NpuTensorPrivAccess;
};

}  // namespace vart
