// core/quant.hpp: rounding modes on ties, saturation at both ends (and +-inf, NaN), dequantize,
// bfloat16, and the argument checks. (The NumPy-reference sweep is tests/test_quant.py.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "core/quant.hpp"

namespace vart_async::core {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(Quant, RoundingModesOnTiesAndSaturation) {
  const std::vector<float> x = {0.5F, 1.5F, 2.5F, -0.5F, -2.5F, 2.7F, 1000.0F, -1000.0F, kInf, -kInf, std::nanf("")};
  std::vector<std::int8_t> q(x.size());
  quantize(x.data(), x.size(), {1.0, 0, Rounding::kNearestEven}, DType::kInt8, q.data());
  EXPECT_EQ(q, (std::vector<std::int8_t>{0, 2, 2, 0, -2, 3, 127, -128, 127, -128, 0}));
  quantize(x.data(), x.size(), {1.0, 0, Rounding::kTowardZero}, DType::kInt8, q.data());
  EXPECT_EQ(q, (std::vector<std::int8_t>{0, 1, 2, 0, -2, 2, 127, -128, 127, -128, 0}));
  std::vector<std::uint8_t> u(x.size());
  quantize(x.data(), x.size(), {0.5, 10, Rounding::kNearestEven}, DType::kUInt8, u.data());
  EXPECT_EQ(u, (std::vector<std::uint8_t>{11, 13, 15, 9, 5, 15, 255, 0, 255, 0, 10}));
}

TEST(Quant, DequantizeAndBfloat16) {
  const std::vector<std::int16_t> q = {-32768, -1, 0, 5, 32767};
  std::vector<float> x(q.size());
  dequantize(q.data(), DType::kInt16, q.size(), {0.25, 1, Rounding::kUnknown}, x.data());
  EXPECT_EQ(x, (std::vector<float>{-8192.25F, -0.5F, -0.25F, 1.0F, 8191.5F}));
  const std::vector<float> f = {1.0F, 1.0F + 0x1p-8F, 1.0F + 0x3p-8F, -kInf, std::nanf("")};
  std::vector<std::uint16_t> b(f.size());
  to_bfloat16(f.data(), f.size(), b.data());
  EXPECT_EQ(b[0], 0x3F80);
  EXPECT_EQ(b[1], 0x3F80);  // a tie: to even
  EXPECT_EQ(b[2], 0x3F82);  // a tie: to even (up)
  EXPECT_EQ(b[3], 0xFF80);
  std::vector<float> back(f.size());
  from_bfloat16(b.data(), b.size(), back.data());
  EXPECT_TRUE(std::isnan(back[4]));
  EXPECT_EQ(back[0], 1.0F);
}

TEST(Quant, BadArgumentsAreInvalidArgument) {
  const float x = 1.0F;
  std::int32_t q = 0;
  EXPECT_THROW(quantize(&x, 1, {0.0, 0, Rounding::kNearestEven}, DType::kInt32, &q), std::invalid_argument);
  EXPECT_THROW(quantize(&x, 1, {std::nan(""), 0, Rounding::kNearestEven}, DType::kInt32, &q), std::invalid_argument);
  EXPECT_THROW(quantize(&x, 1, {1.0, 0, Rounding::kUnknown}, DType::kInt32, &q), std::invalid_argument);
  EXPECT_THROW(quantize(&x, 1, {1.0, 0, Rounding::kNearestEven}, DType::kFloat32, &q), std::invalid_argument);
}

}  // namespace
}  // namespace vart_async::core
