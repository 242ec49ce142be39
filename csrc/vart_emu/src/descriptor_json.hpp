// Reading and parsing a descriptor file with every resource bounded: the file's kind and size, the
// JSON nesting depth, and the length of anything quoted from the file in an error message. A
// descriptor comes from the user, and a hostile one must end in a clear error, never a crash or hang.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

namespace vart::emu {

constexpr std::size_t kMaxDescriptorBytes = std::size_t{4} << 20;  // 4 MiB: real descriptors are < 10 KiB
constexpr std::size_t kMaxDescriptorDepth = 64;                    // real descriptors nest 4 deep

// The whole file at `path`, which must be a regular file of at most kMaxDescriptorBytes. Never
// opens a FIFO or device (they could block or never end). Throws std::runtime_error "vart-emu: ...".
std::string read_descriptor_file(const std::string& path);

// Parses descriptor text: valid UTF-8, nesting at most kMaxDescriptorDepth, no duplicate keys, numbers
// that fit a double. Throws std::runtime_error "vart-emu: <file>: [<field>: ]<problem>".
nlohmann::json parse_descriptor_json(const std::string& text, const std::string& file);

// `s` for an error message: at most `max` bytes (cut at a character boundary, "..." appended),
// control characters and bytes that are not UTF-8 escaped as \xNN.
std::string excerpt(const std::string& s, std::size_t max = 40);

// `<type> <value>` for "got ..." in messages, built from a bounded prefix of the value.
std::string describe(const nlohmann::json& v);

// `s` with every byte that is not part of valid UTF-8 escaped as \xNN: messages reach Python as str.
std::string utf8_safe(const std::string& s);

}  // namespace vart::emu
