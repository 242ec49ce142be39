// The emulator's deterministic output function (docs/emulator.md, "Output function"; mirrored in
// tests/emu_reference.py): each output row is a pseudo-random function of its input row.
#pragma once

#include <cstddef>
#include <cstdint>

#include <vart/vart_npu_tensor.hpp>

namespace vart::emu {

inline constexpr std::uint64_t kGolden = 0x9E3779B97F4A7C15ULL;
inline constexpr std::uint64_t kOutputSalt = 0xD1B54A32D192ED03ULL;

inline std::uint64_t mix64(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Hash of one batch row: feed the row's input tensors in model order.
class RowHasher {
 public:
  void add(const void* data, std::size_t size_in_bytes) noexcept;
  std::uint64_t value() const noexcept { return h_; }

 private:
  std::uint64_t h_ = kGolden;
};

// Writes output tensor `output_index` of a row whose inputs hashed to `row_hash`:
// exactly `size_in_bytes` bytes holding `elements` elements of `type`.
void fill_output(std::uint64_t row_hash, std::size_t output_index, DataType type, std::size_t elements,
                 std::size_t size_in_bytes, void* dst) noexcept;

// IEEE binary16 / bfloat16 bits of `f`, rounded to nearest, ties to even.
std::uint16_t float_to_half(float f) noexcept;
std::uint16_t float_to_bfloat16(float f) noexcept;

// The job's extra service time in [0, jitter_us], a function of the job id only.
double jitter_us(std::uint32_t job_id, double jitter_us) noexcept;

}  // namespace vart::emu
