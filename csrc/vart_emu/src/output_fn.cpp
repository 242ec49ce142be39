#include "output_fn.hpp"

#include <cmath>
#include <cstring>

namespace vart::emu {
namespace {

// Four independent lanes: a single mix64 chain is latency-bound (~80 us for a 150 KB row), four
// chains let the CPU overlap them (~25 us). Word j of a tensor goes to lane j % 4.
constexpr std::uint64_t kLaneSeeds[4] = {0x243F6A8885A308D3ULL, 0x13198A2E03707344ULL, 0xA4093822299F31D0ULL,
                                         0x082EFA98EC4E6C89ULL};

inline std::uint64_t load_le64(const unsigned char* p) noexcept {
  std::uint64_t w = 0;
  std::memcpy(&w, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  w = __builtin_bswap64(w);
#endif
  return w;
}

class Stream {
 public:
  explicit Stream(std::uint64_t s) : s_(s) {}
  std::uint64_t next() noexcept {
    s_ += kGolden;
    return mix64(s_);
  }
  // In [-1, 1): 24 random bits, exactly representable as a float.
  float next_float() noexcept {
    const double u = static_cast<double>(next() >> 40) * (1.0 / 16777216.0);
    return static_cast<float>(u * 2.0 - 1.0);
  }

 private:
  std::uint64_t s_;
};

}  // namespace

void RowHasher::add(const void* data, std::size_t size_in_bytes) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t lane[4];
  for (int k = 0; k < 4; ++k) lane[k] = h_ ^ kLaneSeeds[k];
  std::size_t i = 0;
  for (; i + 32 <= size_in_bytes; i += 32) {
    lane[0] = mix64(lane[0] ^ load_le64(p + i));
    lane[1] = mix64(lane[1] ^ load_le64(p + i + 8));
    lane[2] = mix64(lane[2] ^ load_le64(p + i + 16));
    lane[3] = mix64(lane[3] ^ load_le64(p + i + 24));
  }
  // The remaining (up to 3) full words and the zero-padded partial word, continuing the lane order.
  for (int k = 0; i < size_in_bytes; ++k, i += 8) {
    unsigned char word[8] = {};
    std::memcpy(word, p + i, size_in_bytes - i < 8 ? size_in_bytes - i : 8);
    lane[k] = mix64(lane[k] ^ load_le64(word));
  }
  for (int k = 0; k < 4; ++k) h_ = mix64(h_ ^ lane[k]);
  h_ = mix64(h_ ^ static_cast<std::uint64_t>(size_in_bytes));
}

void fill_output(std::uint64_t row_hash, std::size_t output_index, DataType type, std::size_t elements,
                 std::size_t size_in_bytes, void* dst) noexcept {
  Stream stream(row_hash ^ (kOutputSalt * (static_cast<std::uint64_t>(output_index) + 1)));
  auto* out = static_cast<unsigned char*>(dst);
  switch (type) {
    case DataType::BOOLEAN:
      for (std::size_t e = 0; e < elements && e < size_in_bytes; ++e)
        out[e] = static_cast<unsigned char>(stream.next() & 1);
      return;
    case DataType::FLOAT32:
      for (std::size_t e = 0; e < elements && (e + 1) * 4 <= size_in_bytes; ++e) {
        const float f = stream.next_float();
        std::memcpy(out + e * 4, &f, 4);
      }
      return;
    case DataType::FP16:
    case DataType::BF16:
      for (std::size_t e = 0; e < elements && (e + 1) * 2 <= size_in_bytes; ++e) {
        const float f = stream.next_float();
        const std::uint16_t bits = type == DataType::FP16 ? float_to_half(f) : float_to_bfloat16(f);
        out[e * 2] = static_cast<unsigned char>(bits & 0xFF);
        out[e * 2 + 1] = static_cast<unsigned char>(bits >> 8);
      }
      return;
    default:  // integer types: the little-endian bytes of successive words
      for (std::size_t i = 0; i < size_in_bytes; i += 8) {
        std::uint64_t w = stream.next();
        for (std::size_t b = i; b < i + 8 && b < size_in_bytes; ++b, w >>= 8) out[b] = static_cast<unsigned char>(w);
      }
      return;
  }
}

std::uint16_t float_to_half(float f) noexcept {
  std::uint32_t x = 0;
  std::memcpy(&x, &f, 4);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000U);
  const std::uint32_t exp = (x >> 23) & 0xFFU;
  const std::uint32_t mant = x & 0x7FFFFFU;
  if (exp == 0xFF) return static_cast<std::uint16_t>(sign | 0x7C00U | (mant != 0 ? 0x200U : 0U));
  const int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 31) return static_cast<std::uint16_t>(sign | 0x7C00U);
  if (e <= 0) {  // half subnormal (or zero): units of 2^-24
    const int shift = 14 - e;
    if (shift > 24) return sign;
    const std::uint32_t full = mant | 0x800000U;
    std::uint32_t m = full >> shift;
    const std::uint32_t rem = full & ((1U << shift) - 1U);
    const std::uint32_t halfway = 1U << (shift - 1);
    if (rem > halfway || (rem == halfway && (m & 1U) != 0)) ++m;
    return static_cast<std::uint16_t>(sign | m);
  }
  std::uint32_t h = (static_cast<std::uint32_t>(e) << 10) | (mant >> 13);
  const std::uint32_t rem = mant & 0x1FFFU;
  if (rem > 0x1000U || (rem == 0x1000U && (h & 1U) != 0)) ++h;  // a carry may round up into the exponent
  return static_cast<std::uint16_t>(sign | h);
}

std::uint16_t float_to_bfloat16(float f) noexcept {
  std::uint32_t x = 0;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7F800000U) == 0x7F800000U && (x & 0x7FFFFFU) != 0) return static_cast<std::uint16_t>((x >> 16) | 0x40U);
  x += 0x7FFFU + ((x >> 16) & 1U);
  return static_cast<std::uint16_t>(x >> 16);
}

double jitter_us(std::uint32_t job_id, double jitter) noexcept {
  if (jitter <= 0) return 0;
  const double u = static_cast<double>(mix64(job_id) >> 11) * (1.0 / 9007199254740992.0);  // [0, 1)
  return jitter * u;
}

}  // namespace vart::emu
