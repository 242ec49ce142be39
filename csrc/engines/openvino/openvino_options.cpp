// The OpenVINO engine's options: parsing and checks (see openvino_options.hpp).
#include "engines/openvino/openvino_options.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <exception>
#include <stdexcept>

namespace vart_async::engines::openvino_options {
namespace {

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// `max`: the option's native type (int or uint32_t), so a larger value is an error, never truncated.
long long parse_int(const std::string& key, const std::string& value, long long min, long long max) {
  std::size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (value.empty() || used != value.size() || n < min || n > max) {
    throw std::invalid_argument("option " + key + " must be an integer >= " + std::to_string(min) + " and <= " +
                                std::to_string(max) + " (got '" + value.substr(0, 40) + "')");
  }
  return n;
}

bool parse_yes_no(const std::string& key, const std::string& value) {
  const std::string v = lower(value);
  if (v == "yes" || v == "true" || v == "1") return true;
  if (v == "no" || v == "false" || v == "0") return false;
  throw std::invalid_argument("option " + key + " must be yes or no (got '" + value + "')");
}

bool is_upper_key(const std::string& key) {
  return !key.empty() &&
         std::none_of(key.begin(), key.end(), [](char c) { return std::islower(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::pair<std::string, ov::Shape>> parse_shapes(const std::string& text) {
  std::vector<std::pair<std::string, ov::Shape>> out;
  const auto bad = [&](const std::string& why) {
    return std::invalid_argument("option shape: " + why + " in '" + text +
                                 "' (expected e.g. 'input:[1,3,224,224]', several separated by commas)");
  };
  std::size_t pos = 0;
  for (;;) {
    while (pos < text.size() && (text[pos] == ',' || std::isspace(static_cast<unsigned char>(text[pos])))) ++pos;
    if (pos == text.size()) break;
    const std::size_t lb = text.find('[', pos);
    if (lb == std::string::npos) throw bad("no '[' after '" + text.substr(pos) + "'");
    const std::size_t rb = text.find(']', lb);
    if (rb == std::string::npos) throw bad("no closing ']'");
    std::string name = trim(text.substr(pos, lb - pos));
    if (!name.empty() && name.back() == ':') name = trim(name.substr(0, name.size() - 1));
    ov::Shape dims;
    std::size_t d = lb + 1;
    while (d <= rb) {
      std::size_t comma = text.find(',', d);
      if (comma == std::string::npos || comma > rb) comma = rb;
      const std::string item = trim(text.substr(d, comma - d));
      if (item.empty() && comma == rb && dims.empty()) break;  // "[]": a scalar
      std::size_t used = 0;
      long long n = -1;
      try {
        n = std::stoll(item, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (item.empty() || used != item.size() || n < 1) throw bad("'" + item + "' is not a dimension >= 1");
      dims.push_back(static_cast<std::size_t>(n));
      d = comma + 1;
    }
    out.emplace_back(std::move(name), std::move(dims));
    pos = rb + 1;
  }
  if (out.empty()) throw bad("no shape given");
  return out;
}

Settings parse_options(const std::map<std::string, std::string>& options) {
  Settings settings;
  std::string hint = "throughput";  // benchmark_app's default for its async API (OpenVINO's own for CPU is LATENCY)
  for (const auto& [key, value] : options) {
    std::string v = lower(trim(value));
    if (key == "device") {
      settings.device = trim(value);
      if (settings.device.empty()) throw std::invalid_argument("option device must not be empty");
    } else if (key == "hint" || key == "PERFORMANCE_HINT") {
      if (v == "undefined") v = "none";  // how OpenVINO spells "no hint"
      if (v != "throughput" && v != "latency" && v != "cumulative_throughput" && v != "none") {
        throw std::invalid_argument("option hint must be throughput, latency, cumulative_throughput or none (got '" +
                                    value + "')");
      }
      hint = v;
    } else if (key == "num_requests") {
      settings.config.emplace(ov::hint::num_requests(static_cast<std::uint32_t>(parse_int(key, value, 1, UINT32_MAX))));
    } else if (key == "streams") {
      const ov::streams::Num n = v == "auto"   ? ov::streams::AUTO
                                 : v == "numa" ? ov::streams::NUMA
                                               : ov::streams::Num(static_cast<int>(parse_int(key, value, 1, INT32_MAX)));
      settings.config.emplace(ov::num_streams(n));
    } else if (key == "threads") {
      settings.config.emplace(ov::inference_num_threads(static_cast<int>(parse_int(key, value, 1, INT32_MAX))));
    } else if (key == "pin") {
      settings.config.emplace(ov::hint::enable_cpu_pinning(parse_yes_no(key, value)));
    } else if (key == "precision") {
      if (v != "f32" && v != "bf16" && v != "f16") {
        throw std::invalid_argument("option precision must be f32, bf16 or f16 (got '" + value + "')");
      }
      settings.config.emplace(ov::hint::inference_precision(v == "f32"    ? ov::element::f32
                                                       : v == "bf16" ? ov::element::bf16
                                                                     : ov::element::f16));
    } else if (key == "cache_dir") {
      settings.cache_dir = value;
    } else if (key == "shape") {
      settings.shape = value;
    } else if (is_upper_key(key)) {
      settings.config[key] = value;  // a raw OpenVINO property: the plugin parses the string (and it wins)
    } else {
      throw std::invalid_argument("unknown option '" + key +
                                  "' for the openvino engine (known: device, hint, num_requests, streams, threads, "
                                  "precision, cache_dir, pin, shape, or an OpenVINO property in upper case)");
    }
  }
  // OpenVINO's rule: low-level properties given next to a hint (streams, threads, pin, precision, a
  // raw property) take precedence over what the hint would choose.
  using Mode = ov::hint::PerformanceMode;
  if (hint != "none") {
    settings.config.emplace(ov::hint::performance_mode(hint == "latency"      ? Mode::LATENCY
                                                  : hint == "throughput" ? Mode::THROUGHPUT
                                                                         : Mode::CUMULATIVE_THROUGHPUT));
  }
  return settings;
}

}  // namespace vart_async::engines::openvino_options
