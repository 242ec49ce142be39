// The OpenVINO engine's options (benchmark_app's meaning) turned into compile_model properties.
// Private to csrc/engines/openvino.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <openvino/openvino.hpp>

namespace vart_async::engines::openvino_options {

// What the options ask for: compile_model's properties, plus what is applied elsewhere.
struct Settings {
  std::string device = "CPU", shape, cache_dir;
  ov::AnyMap config;
};

// Throws std::invalid_argument for an unknown option or a bad value.
Settings parse_options(const std::map<std::string, std::string>& options);

// "name:[1,3,224,224],other[1,8]" or "[1,3,224,224]" -> (name or "", dims) pairs.
std::vector<std::pair<std::string, ov::Shape>> parse_shapes(const std::string& text);

std::string lower(std::string s);

}  // namespace vart_async::engines::openvino_options
