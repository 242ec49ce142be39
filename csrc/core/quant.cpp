#include "core/quant.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace vart_async::core {
namespace {

void check(const Quant& q, DType t) {
  if (!(std::isfinite(q.scale) && q.scale > 0)) {
    throw std::invalid_argument("the quantization scale must be finite and > 0 (got " + std::to_string(q.scale) + ")");
  }
  switch (t) {
    case DType::kInt8:
    case DType::kUInt8:
    case DType::kInt16:
    case DType::kUInt16:
    case DType::kInt32:
    case DType::kUInt32: return;
    default: break;
  }
  throw std::invalid_argument("cannot quantize to " + std::string(dtype_name(t)) +
                              ": an integer type (int8, uint8, int16, uint16, int32, uint32) is needed");
}

// Ties to even without depending on the floating-point environment's rounding mode.
double round_half_even(double v) {
  const double f = std::floor(v);
  const double d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return std::fmod(f, 2.0) == 0 ? f : f + 1;
}

template <typename T, bool kNearestEven>
void quantize_as(const float* src, std::size_t n, double scale, double zp, T* dst) {
  constexpr double lo = static_cast<double>(std::numeric_limits<T>::lowest());
  constexpr double hi = static_cast<double>(std::numeric_limits<T>::max());
  for (std::size_t i = 0; i < n; ++i) {
    double v = static_cast<double>(src[i]) / scale;
    v = kNearestEven ? round_half_even(v) : std::trunc(v);
    v += zp;
    if (std::isnan(v)) v = zp;  // NaN in: the zero point (saturated below)
    v = v < lo ? lo : (v > hi ? hi : v);
    dst[i] = static_cast<T>(v);
  }
}

template <typename T>
void quantize_to(const float* src, std::size_t n, const Quant& q, void* dst) {
  T* out = static_cast<T*>(dst);
  const double zp = q.zero_point;
  if (q.rounding == Rounding::kNearestEven) {
    quantize_as<T, true>(src, n, q.scale, zp, out);
  } else {
    quantize_as<T, false>(src, n, q.scale, zp, out);
  }
}

template <typename T>
void dequantize_from(const void* src, std::size_t n, const Quant& q, float* dst) {
  const T* in = static_cast<const T*>(src);
  const double zp = q.zero_point;
  for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>((static_cast<double>(in[i]) - zp) * q.scale);
}

}  // namespace

void quantize(const float* src, std::size_t n, const Quant& q, DType to, void* dst) {
  check(q, to);
  if (q.rounding != Rounding::kNearestEven && q.rounding != Rounding::kTowardZero) {
    throw std::invalid_argument(
        "the rounding mode is UNKNOWN: give ROUND_TO_NEAREST_EVEN or ROUND_TOWARD_ZERO to quantize");
  }
  switch (to) {
    case DType::kInt8: return quantize_to<std::int8_t>(src, n, q, dst);
    case DType::kUInt8: return quantize_to<std::uint8_t>(src, n, q, dst);
    case DType::kInt16: return quantize_to<std::int16_t>(src, n, q, dst);
    case DType::kUInt16: return quantize_to<std::uint16_t>(src, n, q, dst);
    case DType::kInt32: return quantize_to<std::int32_t>(src, n, q, dst);
    case DType::kUInt32: return quantize_to<std::uint32_t>(src, n, q, dst);
    default: break;
  }
}

void dequantize(const void* src, DType from, std::size_t n, const Quant& q, float* dst) {
  check(q, from);
  switch (from) {
    case DType::kInt8: return dequantize_from<std::int8_t>(src, n, q, dst);
    case DType::kUInt8: return dequantize_from<std::uint8_t>(src, n, q, dst);
    case DType::kInt16: return dequantize_from<std::int16_t>(src, n, q, dst);
    case DType::kUInt16: return dequantize_from<std::uint16_t>(src, n, q, dst);
    case DType::kInt32: return dequantize_from<std::int32_t>(src, n, q, dst);
    case DType::kUInt32: return dequantize_from<std::uint32_t>(src, n, q, dst);
    default: break;
  }
}

void to_bfloat16(const float* src, std::size_t n, std::uint16_t* dst) {
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &src[i], sizeof bits);
    if (std::isnan(src[i])) {
      dst[i] = static_cast<std::uint16_t>((bits >> 16) | 0x0040u);  // stays a (quiet) NaN
      continue;
    }
    bits += 0x7FFFu + ((bits >> 16) & 1u);  // round to nearest, ties to even
    dst[i] = static_cast<std::uint16_t>(bits >> 16);
  }
}

void from_bfloat16(const std::uint16_t* src, std::size_t n, float* dst) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t bits = static_cast<std::uint32_t>(src[i]) << 16;
    std::memcpy(&dst[i], &bits, sizeof bits);
  }
}

}  // namespace vart_async::core
