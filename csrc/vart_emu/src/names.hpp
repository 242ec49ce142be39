// Enum name tables shared by the tensor code, the descriptor parser and the runner.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <vart/vart_runner_factory.hpp>

namespace vart::emu {

// Case-insensitive lookup of an enumerator by its name; nullopt if there is none.
std::optional<DataType> parse_data_type(std::string_view name);
std::optional<MemoryLayout> parse_memory_layout(std::string_view name);
std::optional<StatusCode> parse_status_code(std::string_view name);
std::optional<RoundingMode> parse_rounding_mode(std::string_view name);

// "A, B, C": the valid names of an enum (UNKNOWN excluded), for error messages.
std::string data_type_names();
std::string memory_layout_names();
std::string status_code_names();

// Bytes per element; 0 for UNKNOWN or out-of-range values.
std::size_t element_size(DataType t) noexcept;

std::string to_upper(std::string_view s);

}  // namespace vart::emu
