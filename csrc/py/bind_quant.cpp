// Bindings of core/quant.hpp: numpy arrays in and out, the GIL released around each pass.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "core/quant.hpp"

namespace pb = pybind11;

namespace vart_async::py {
namespace {

using core::DType;

DType integer_dtype(const std::string& name) {
  static const std::pair<const char*, DType> kTypes[] = {{"int8", DType::kInt8},   {"uint8", DType::kUInt8},
                                                         {"int16", DType::kInt16}, {"uint16", DType::kUInt16},
                                                         {"int32", DType::kInt32}, {"uint32", DType::kUInt32}};
  for (const auto& [n, t] : kTypes) {
    if (name == n) return t;
  }
  throw std::invalid_argument("cannot quantize to " + name +
                              ": an integer type (int8, uint8, int16, uint16, int32, uint32) is needed");
}

core::Quant quant_of(double scale, std::int32_t zero_point, const std::string& rounding) {
  core::Quant q;
  q.scale = scale;
  q.zero_point = zero_point;
  if (rounding == "ROUND_TO_NEAREST_EVEN") {
    q.rounding = core::Rounding::kNearestEven;
  } else if (rounding == "ROUND_TOWARD_ZERO") {
    q.rounding = core::Rounding::kTowardZero;
  } else if (rounding != "UNKNOWN") {
    throw std::invalid_argument("rounding_mode must be ROUND_TO_NEAREST_EVEN, ROUND_TOWARD_ZERO or UNKNOWN (got '" +
                                rounding + "')");
  }
  return q;
}

using FloatArray = pb::array_t<float, pb::array::c_style | pb::array::forcecast>;

pb::array quantize(const FloatArray& x, double scale, std::int32_t zero_point, const std::string& rounding,
                   const std::string& dtype) {
  const DType to = integer_dtype(dtype);
  const core::Quant q = quant_of(scale, zero_point, rounding);
  pb::array out(pb::dtype(dtype), std::vector<pb::ssize_t>(x.shape(), x.shape() + x.ndim()));
  const float* src = x.data();
  void* dst = out.mutable_data();
  const auto n = static_cast<std::size_t>(x.size());
  {
    pb::gil_scoped_release release;  // plain memory on both sides; both arrays held by this frame
    core::quantize(src, n, q, to, dst);
  }
  return out;
}

pb::array dequantize(const pb::array& x, double scale, std::int32_t zero_point) {
  const std::string name = pb::str(x.dtype()).cast<std::string>();
  const DType from = integer_dtype(name);
  if ((x.flags() & pb::array::c_style) == 0) throw std::invalid_argument("the array must be C-contiguous");
  const core::Quant q = quant_of(scale, zero_point, "UNKNOWN");
  pb::array_t<float> out(std::vector<pb::ssize_t>(x.shape(), x.shape() + x.ndim()));
  const void* src = x.data();
  float* dst = out.mutable_data();
  const auto n = static_cast<std::size_t>(x.size());
  {
    pb::gil_scoped_release release;  // as above
    core::dequantize(src, from, n, q, dst);
  }
  return out;
}

pb::array to_bfloat16(const FloatArray& x) {
  pb::array_t<std::uint16_t> out(std::vector<pb::ssize_t>(x.shape(), x.shape() + x.ndim()));
  const float* src = x.data();
  std::uint16_t* dst = out.mutable_data();
  const auto n = static_cast<std::size_t>(x.size());
  {
    pb::gil_scoped_release release;  // as above
    core::to_bfloat16(src, n, dst);
  }
  return out;
}

pb::array from_bfloat16(const pb::array_t<std::uint16_t, pb::array::c_style | pb::array::forcecast>& x) {
  pb::array_t<float> out(std::vector<pb::ssize_t>(x.shape(), x.shape() + x.ndim()));
  const std::uint16_t* src = x.data();
  float* dst = out.mutable_data();
  const auto n = static_cast<std::size_t>(x.size());
  {
    pb::gil_scoped_release release;  // as above
    core::from_bfloat16(src, n, dst);
  }
  return out;
}

}  // namespace

void bind_quant(pb::module_& m) {
  m.def("quantize", &quantize, pb::arg("x"), pb::arg("scale"), pb::arg("zero_point"), pb::arg("rounding_mode"),
        pb::arg("dtype"),
        "saturate(round(x / scale) + zero_point) as `dtype` (float32 in, C order). Releases the GIL.");
  m.def("dequantize", &dequantize, pb::arg("q"), pb::arg("scale"), pb::arg("zero_point"),
        "float32((q - zero_point) * scale). Releases the GIL.");
  m.def("to_bfloat16", &to_bfloat16, pb::arg("x"),
        "float32 -> bfloat16 bits (uint16), ties to even. Releases the GIL.");
  m.def("from_bfloat16", &from_bfloat16, pb::arg("bits"), "bfloat16 bits (uint16) -> float32. Releases the GIL.");
}

}  // namespace vart_async::py
