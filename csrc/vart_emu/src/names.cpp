#include "names.hpp"

#include <array>
#include <cctype>

namespace vart {
namespace {

// Each table lists the enumerators in declaration order, so the index is the enumerator's value.
constexpr std::array<std::string_view, 13> kDataTypes = {"UNKNOWN", "BOOLEAN", "INT8",  "UINT8", "INT16",
                                                         "UINT16",  "BF16",    "FP16",  "INT32", "UINT32",
                                                         "FLOAT32", "INT64",   "UINT64"};
constexpr std::array<std::string_view, 20> kLayouts = {
    "UNKNOWN", "NC",     "NCH",    "NHC",    "NHW",     "NWC",       "NHWC",      "NCHW",     "NHWC4",    "NHWC8",
    "NC4HW4",  "NC8HW8", "HCWNC4", "HCWNC8", "HCWNC16", "NHW16C4WC", "NHW16WC4C", "NH2HWC4C", "NH2C4HWC", "GENERIC"};
constexpr std::array<std::string_view, 5> kMemoryTypes = {"UNKNOWN", "XRT_BO", "DMA_FD", "USER_POINTER_CMA",
                                                          "USER_POINTER_NON_CMA"};
constexpr std::array<std::string_view, 2> kDirections = {"INPUT", "OUTPUT"};
constexpr std::array<std::string_view, 2> kTensorTypes = {"CPU", "HW"};
constexpr std::array<std::string_view, 3> kRoundingModes = {"UNKNOWN", "ROUND_TO_NEAREST_EVEN", "ROUND_TOWARD_ZERO"};
constexpr std::array<std::string_view, 10> kStatusCodes = {
    "SUCCESS",       "FAILURE",     "INVALID_INPUT",  "INVALID_OUTPUT",       "OUT_OF_MEMORY",
    "RUNTIME_ERROR", "JOB_PENDING", "INVALID_JOB_ID", "RESOURCE_UNAVAILABLE", "UNSUPPORTED"};

template <typename E, std::size_t N>
std::string_view name_of(const std::array<std::string_view, N>& table, E value) noexcept {
  const auto i = static_cast<long long>(value);
  return i >= 0 && static_cast<std::size_t>(i) < N ? table[static_cast<std::size_t>(i)] : std::string_view("UNKNOWN");
}

template <typename E, std::size_t N>
std::optional<E> value_of(const std::array<std::string_view, N>& table, std::string_view name) {
  const std::string upper = emu::to_upper(name);
  for (std::size_t i = 0; i < N; ++i) {
    if (table[i] == upper) return static_cast<E>(i);
  }
  return std::nullopt;
}

template <std::size_t N>
std::string join(const std::array<std::string_view, N>& table, std::size_t first) {
  std::string out;
  for (std::size_t i = first; i < N; ++i) {
    if (!out.empty()) out += ", ";
    out += table[i];
  }
  return out;
}

}  // namespace

std::string_view to_string(DataType value) noexcept { return name_of(kDataTypes, value); }
std::string_view to_string(MemoryLayout value) noexcept { return name_of(kLayouts, value); }
std::string_view to_string(MemoryType value) noexcept { return name_of(kMemoryTypes, value); }
std::string_view to_string(TensorDirection value) noexcept { return name_of(kDirections, value); }
std::string_view to_string(TensorType value) noexcept { return name_of(kTensorTypes, value); }
std::string_view to_string(RoundingMode value) noexcept { return name_of(kRoundingModes, value); }
std::string_view to_string(StatusCode value) noexcept { return name_of(kStatusCodes, value); }

namespace emu {

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::optional<DataType> parse_data_type(std::string_view name) { return value_of<DataType>(kDataTypes, name); }
std::optional<MemoryLayout> parse_memory_layout(std::string_view name) {
  return value_of<MemoryLayout>(kLayouts, name);
}
std::optional<StatusCode> parse_status_code(std::string_view name) { return value_of<StatusCode>(kStatusCodes, name); }
std::optional<RoundingMode> parse_rounding_mode(std::string_view name) {
  return value_of<RoundingMode>(kRoundingModes, name);
}

std::string data_type_names() { return join(kDataTypes, 1); }
std::string memory_layout_names() { return join(kLayouts, 1); }
std::string status_code_names() { return join(kStatusCodes, 0); }

std::size_t element_size(DataType t) noexcept {
  switch (t) {
    case DataType::BOOLEAN:
    case DataType::INT8:
    case DataType::UINT8:
      return 1;
    case DataType::INT16:
    case DataType::UINT16:
    case DataType::BF16:
    case DataType::FP16:
      return 2;
    case DataType::INT32:
    case DataType::UINT32:
    case DataType::FLOAT32:
      return 4;
    case DataType::INT64:
    case DataType::UINT64:
      return 8;
    default:
      return 0;
  }
}

}  // namespace emu
}  // namespace vart
