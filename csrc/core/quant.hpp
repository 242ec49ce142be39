// Quantization and element conversions between a tensor's CPU view (float) and its HW view, as
// VART-ML describes them (QuantParameters: scale, zero_point, rounding_mode). Pure C++17, one pass
// over contiguous memory; the caller releases the GIL around them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/engine.hpp"

namespace vart_async::core {

// q = saturate(round(x / scale) + zero_point) into the integer type `to` (int8, uint8, int16,
// uint16, int32, uint32), computed in double. Rounding: kNearestEven (ties to even) or
// kTowardZero. Saturating: values past the type's range (and +-inf) give its limits; NaN gives
// the zero point (saturated). Throws std::invalid_argument for another type, a scale that is not
// finite and > 0, or an unknown rounding mode.
void quantize(const float* src, std::size_t n, const Quant& q, DType to, void* dst);

// x = float32((q - zero_point) * scale), computed in double. Same types and scale rule as quantize.
void dequantize(const void* src, DType from, std::size_t n, const Quant& q, float* dst);

// float32 <-> bfloat16 (the upper 16 bits; to bfloat16 rounds to nearest even, NaN stays NaN).
void to_bfloat16(const float* src, std::size_t n, std::uint16_t* dst);
void from_bfloat16(const std::uint16_t* src, std::size_t n, float* dst);

}  // namespace vart_async::core
