#include "convert.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "names.hpp"
#include "output_fn.hpp"

namespace vart::emu {
namespace {

bool is_integer(DataType t) {
  switch (t) {
    case DataType::BOOLEAN:
    case DataType::INT8:
    case DataType::UINT8:
    case DataType::INT16:
    case DataType::UINT16:
    case DataType::INT32:
    case DataType::UINT32:
    case DataType::INT64:
    case DataType::UINT64: return true;
    default: return false;
  }
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = (h & 0x8000U) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1FU;
  const std::uint32_t mant = h & 0x3FFU;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24
    const float f = std::ldexp(static_cast<float>(mant), -24);
    return sign != 0 ? -f : f;
  }
  std::uint32_t bits = sign;
  if (exp == 0x1F) {
    bits |= 0x7F800000U | (mant << 13);
  } else {
    bits |= ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f = 0;
  std::memcpy(&f, &bits, 4);
  return f;
}

double read(DataType t, const unsigned char* p) {
  switch (t) {
#define VART_EMU_READ(TYPE, CT)    \
  case DataType::TYPE: {           \
    CT v;                          \
    std::memcpy(&v, p, sizeof v);  \
    return static_cast<double>(v); \
  }
    VART_EMU_READ(INT8, std::int8_t)
    VART_EMU_READ(UINT8, std::uint8_t)
    VART_EMU_READ(INT16, std::int16_t)
    VART_EMU_READ(UINT16, std::uint16_t)
    VART_EMU_READ(INT32, std::int32_t)
    VART_EMU_READ(UINT32, std::uint32_t)
    VART_EMU_READ(INT64, std::int64_t)
    VART_EMU_READ(UINT64, std::uint64_t)
    VART_EMU_READ(FLOAT32, float)
#undef VART_EMU_READ
    case DataType::BOOLEAN: return *p != 0 ? 1.0 : 0.0;
    case DataType::FP16:
    case DataType::BF16: {
      std::uint16_t bits = 0;
      std::memcpy(&bits, p, 2);
      if (t == DataType::FP16) return half_to_float(bits);
      const std::uint32_t wide = static_cast<std::uint32_t>(bits) << 16;
      float f = 0;
      std::memcpy(&f, &wide, 4);
      return f;
    }
    default: return 0;
  }
}

template <typename T>
void store_integer(double v, unsigned char* p) {
  // v is integral or +-inf here; NaN was mapped before.
  constexpr double lo = static_cast<double>(std::numeric_limits<T>::lowest());
  constexpr double hi = static_cast<double>(std::numeric_limits<T>::max());  // may round up (64 bits)
  T out;
  if (v <= lo) {
    out = std::numeric_limits<T>::lowest();
  } else if (v >= hi) {
    out = std::numeric_limits<T>::max();
  } else {
    out = static_cast<T>(v);
  }
  std::memcpy(p, &out, sizeof out);
}

double round_half_even(double v) {
  const double f = std::floor(v);
  const double d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return std::fmod(f, 2.0) == 0 ? f : f + 1;
}

// Writes value x as type t. Integer targets: quantized with q (or cast, ties to even), saturating;
// NaN gives the zero point.
void write(DataType t, double x, const std::optional<QuantParameters>& q, unsigned char* p) {
  if (is_integer(t)) {
    double zp = 0;
    double v = x;
    if (q) {
      zp = q->zero_point;
      v = x / q->scale;
      v = q->rounding_mode == RoundingMode::ROUND_TOWARD_ZERO ? std::trunc(v) : round_half_even(v);
      v += zp;
    } else {
      v = round_half_even(v);
    }
    if (std::isnan(v)) v = zp;
    switch (t) {
      case DataType::BOOLEAN: *p = v != 0 ? 1 : 0; return;
      case DataType::INT8: return store_integer<std::int8_t>(v, p);
      case DataType::UINT8: return store_integer<std::uint8_t>(v, p);
      case DataType::INT16: return store_integer<std::int16_t>(v, p);
      case DataType::UINT16: return store_integer<std::uint16_t>(v, p);
      case DataType::INT32: return store_integer<std::int32_t>(v, p);
      case DataType::UINT32: return store_integer<std::uint32_t>(v, p);
      case DataType::INT64: return store_integer<std::int64_t>(v, p);
      case DataType::UINT64: return store_integer<std::uint64_t>(v, p);
      default: return;
    }
  }
  const float f = static_cast<float>(x);
  if (t == DataType::FLOAT32) {
    std::memcpy(p, &f, 4);
    return;
  }
  const std::uint16_t bits = t == DataType::FP16 ? float_to_half(f) : float_to_bfloat16(f);
  std::memcpy(p, &bits, 2);
}

// For each element in HW order (the HW view's row-major index), its CPU-order element index.
template <typename Fn>
void for_each_element(const ViewConversion& c, Fn&& fn) {
  const std::size_t rank = c.hw.shape.size();
  std::vector<std::size_t> cpu_strides(c.cpu.shape.size(), 1);
  for (std::size_t d = c.cpu.shape.size(); d-- > 1;) cpu_strides[d - 1] = cpu_strides[d] * c.cpu.shape[d];
  std::vector<std::size_t> step(rank), index(rank, 0);
  for (std::size_t k = 0; k < rank; ++k) step[k] = cpu_strides[c.order[k]];
  std::size_t cpu_at = 0;
  for (std::size_t e = 0; e < c.hw.size; ++e) {
    fn(e, cpu_at);
    for (std::size_t k = rank; k-- > 0;) {  // next HW index, carrying into slower axes
      cpu_at += step[k];
      if (++index[k] < c.hw.shape[k]) break;
      cpu_at -= step[k] * index[k];
      index[k] = 0;
    }
  }
}

[[noreturn]] void cannot(const TensorDesc& t, const std::string& path, bool input, const std::string& why) {
  throw std::runtime_error("vart-emu: " + path + ": " + (input ? "input" : "output") + " tensor '" + t.hw.name +
                           "': cannot convert its CPU view to its HW view: " + why);
}

}  // namespace

ViewConversion plan_conversion(const TensorDesc& t, TensorType accepted, const std::string& path, bool input) {
  ViewConversion c;
  if (accepted != TensorType::CPU || !t.has_hw) return c;
  const NpuTensorInfo& cpu = t.cpu;
  const NpuTensorInfo& hw = t.hw;
  if (cpu.data_type == hw.data_type && cpu.memory_layout == hw.memory_layout && cpu.shape == hw.shape &&
      cpu.memory_layout_order == hw.memory_layout_order) {
    return c;  // the same bytes either way
  }
  c.cpu = cpu;
  c.hw = hw;
  c.quant = t.quant;
  if (cpu.size != hw.size) {
    cannot(t, path, input,
           std::to_string(cpu.size) + " elements in the CPU view, " + std::to_string(hw.size) + " in the HW view");
  }
  const std::string a(to_string(cpu.memory_layout)), b(to_string(hw.memory_layout));
  const std::size_t rank = hw.shape.size();
  if (hw.memory_layout == MemoryLayout::GENERIC) {
    c.order.assign(hw.memory_layout_order.begin(), hw.memory_layout_order.end());
  } else if (a == b) {
    for (std::size_t k = 0; k < rank; ++k) c.order.push_back(k);
  } else {
    const auto plain = [](const std::string& s) {
      std::string sorted = s;
      std::sort(sorted.begin(), sorted.end());
      return std::all_of(s.begin(), s.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; }) &&
             std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
    };
    std::string sa = a, sb = b;
    std::sort(sa.begin(), sa.end());
    std::sort(sb.begin(), sb.end());
    if (!plain(a) || !plain(b) || sa != sb || a.size() != rank) {
      cannot(t, path, input,
             "the emulator reorders permutations of the same axes (such as NCHW <-> NHWC) and "
             "GENERIC with an order, not " +
                 a + " -> " + b);
    }
    for (char ch : b) c.order.push_back(a.find(ch));
  }
  if (c.order.size() != rank || cpu.shape.size() != rank) cannot(t, path, input, "the views have different ranks");
  for (std::size_t k = 0; k < rank; ++k) {
    if (c.order[k] >= rank || hw.shape[k] != cpu.shape[c.order[k]]) {
      cannot(t, path, input, "the HW shape is not the CPU shape reordered from " + a + " to " + b);
    }
  }
  if (t.quant && !(std::isfinite(t.quant->scale) && t.quant->scale > 0)) {
    cannot(t, path, input, "its quantization scale is not finite and > 0");
  }
  c.active = true;
  return c;
}

namespace {

// The common case, float32 quantized to 8 bits, in a typed loop: the same arithmetic as write()
// (x / scale, rounded, + zero point, saturated; NaN gives the zero point), without its per-element
// dispatch. std::nearbyint in the default rounding mode is round_half_even() for every double.
template <typename Q>
void quantize_float32(const ViewConversion& c, const unsigned char* in, unsigned char* out) noexcept {
  const double scale = c.quant->scale, zp = c.quant->zero_point;
  const bool toward_zero = c.quant->rounding_mode == RoundingMode::ROUND_TOWARD_ZERO;
  constexpr double lo = std::numeric_limits<Q>::lowest(), hi = std::numeric_limits<Q>::max();
  for_each_element(c, [&](std::size_t e, std::size_t from) {
    float x = 0;
    std::memcpy(&x, in + from * 4, 4);
    double v = static_cast<double>(x) / scale;
    v = (toward_zero ? std::trunc(v) : std::nearbyint(v)) + zp;
    if (std::isnan(v)) v = zp;
    const Q q = v <= lo   ? std::numeric_limits<Q>::lowest()
                : v >= hi ? std::numeric_limits<Q>::max()
                          : static_cast<Q>(v);
    std::memcpy(out + e, &q, 1);
  });
}

}  // namespace

void cpu_to_hw(const ViewConversion& c, const void* cpu, void* hw) noexcept {
  const auto* in = static_cast<const unsigned char*>(cpu);
  auto* out = static_cast<unsigned char*>(hw);
  if (c.cpu.data_type == DataType::FLOAT32 && c.quant) {
    if (c.hw.data_type == DataType::INT8) return quantize_float32<std::int8_t>(c, in, out);
    if (c.hw.data_type == DataType::UINT8) return quantize_float32<std::uint8_t>(c, in, out);
  }
  const std::size_t ci = element_size(c.cpu.data_type), hi = element_size(c.hw.data_type);
  for_each_element(c, [&](std::size_t e, std::size_t from) {
    write(c.hw.data_type, read(c.cpu.data_type, in + from * ci), c.quant, out + e * hi);
  });
}

void hw_to_cpu(const ViewConversion& c, const void* hw, void* cpu) noexcept {
  const auto* in = static_cast<const unsigned char*>(hw);
  auto* out = static_cast<unsigned char*>(cpu);
  const std::size_t ci = element_size(c.cpu.data_type), hi = element_size(c.hw.data_type);
  const bool dequantize = c.quant && is_integer(c.hw.data_type);
  for_each_element(c, [&](std::size_t e, std::size_t to) {
    double x = read(c.hw.data_type, in + e * hi);
    if (dequantize) x = (x - c.quant->zero_point) * c.quant->scale;
    // Back to the CPU type: a plain (saturating) conversion, no quantization.
    write(c.cpu.data_type, x, std::nullopt, out + to * ci);
  });
}

}  // namespace vart::emu
