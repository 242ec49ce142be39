// Descriptor parsing and validation. Every error names the file and the JSON path of the field.
#include <cmath>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "descriptor_json.hpp"
#include "model.hpp"
#include "names.hpp"

namespace vart::emu {
namespace {

using nlohmann::json;

constexpr std::uint64_t kMaxRowBytes = std::uint64_t{1} << 30;
constexpr double kMaxServiceUs = 3.6e9;  // one hour
constexpr double kMaxStallMs = 3.6e6;
// With kMaxServiceUs and the out-of-order 1.5x this keeps a job's time (ns) far inside int64.
constexpr double kMaxStragglerFactor = 1000;

// Parsing context: the file name for messages.
class Parser {
 public:
  explicit Parser(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& path, const std::string& problem) const {
    // utf8_safe: the message becomes a Python str, and a path may hold any bytes.
    throw std::runtime_error(utf8_safe("vart-emu: " + file_ + ": " + (path.empty() ? "" : path + ": ") + problem));
  }

  void check_object(const json& v, const std::string& path) const {
    if (!v.is_object()) fail(path, "must be an object (got " + describe(v) + ")");
  }

  // Unknown keys are errors: a typo must not silently fall back to a default.
  void check_keys(const json& obj, const std::string& path, std::initializer_list<const char*> allowed) const {
    for (const auto& item : obj.items()) {
      bool known = false;
      std::string list;
      for (const char* a : allowed) {
        known = known || item.key() == a;
        list += list.empty() ? a : std::string(", ") + a;
      }
      if (!known) fail(join(path, item.key()), "unknown key (expected one of: " + list + ")");
    }
  }

  const json& require(const json& obj, const std::string& path, const char* key) const {
    const auto it = obj.find(key);
    if (it == obj.end()) fail(path, std::string("missing required key '") + key + "'");
    return *it;
  }

  std::int64_t integer(const json& v, const std::string& path, std::int64_t min, std::int64_t max) const {
    if (!v.is_number_integer()) fail(path, "must be an integer (got " + describe(v) + ")");
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
      fail(path, "must be <= " + std::to_string(max) + " (got " + v.dump() + ")");
    }
    const auto n = v.get<std::int64_t>();
    if (n < min) fail(path, "must be >= " + std::to_string(min) + " (got " + std::to_string(n) + ")");
    if (n > max) fail(path, "must be <= " + std::to_string(max) + " (got " + std::to_string(n) + ")");
    return n;
  }

  double number(const json& v, const std::string& path, double min, double max) const {
    if (!v.is_number()) fail(path, "must be a number (got " + describe(v) + ")");
    const auto d = v.get<double>();
    if (!std::isfinite(d) || d < min || d > max) {
      std::ostringstream os;
      os << "must be a number in [" << min << ", " << max << "] (got " << v.dump() << ")";
      fail(path, os.str());
    }
    return d;
  }

  // A number in (0, max]: a factor of 0 would turn a fault into a free job.
  double positive_number(const json& v, const std::string& path, double max) const {
    if (!v.is_number()) fail(path, "must be a number (got " + describe(v) + ")");
    const auto d = v.get<double>();
    if (!std::isfinite(d) || d <= 0 || d > max) {
      std::ostringstream os;
      os << "must be a number in (0, " << max << "] (got " << v.dump() << ")";
      fail(path, os.str());
    }
    return d;
  }

  std::string string(const json& v, const std::string& path, bool non_empty) const {
    if (!v.is_string()) fail(path, "must be a string (got " + describe(v) + ")");
    auto s = v.get<std::string>();
    if (non_empty && s.empty()) fail(path, "must not be empty");
    return s;
  }

  bool boolean(const json& v, const std::string& path) const {
    if (!v.is_boolean()) fail(path, "must be true or false (got " + describe(v) + ")");
    return v.get<bool>();
  }

  std::set<std::uint32_t> job_ids(const json& v, const std::string& path) const {
    if (!v.is_array()) fail(path, "must be an array of job ids (got " + describe(v) + ")");
    std::set<std::uint32_t> ids;
    for (std::size_t i = 0; i < v.size(); ++i) {
      ids.insert(static_cast<std::uint32_t>(integer(v[i], index(path, i), 1, UINT32_MAX)));
    }
    return ids;
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? excerpt(key) : path + "." + excerpt(key);
  }
  static std::string index(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

  // One view (HW, or the CPU view with defaults taken from `base`) of a tensor.
  NpuTensorInfo view(const json& obj, const std::string& path, TensorDirection direction, TensorType type,
                     const NpuTensorInfo* base) const {
    NpuTensorInfo info = base != nullptr ? *base : NpuTensorInfo{};
    info.direction = direction;
    info.tensor_type = type;

    if (base == nullptr || obj.contains("data_type")) {
      const std::string p = join(path, "data_type");
      const std::string s = string(base ? obj.at("data_type") : require(obj, path, "data_type"), p, false);
      const auto t = parse_data_type(s);
      if (!t) fail(p, "unknown DataType '" + excerpt(s) + "' (expected one of: " + data_type_names() + ")");
      if (*t == DataType::UNKNOWN) fail(p, "UNKNOWN is not a usable DataType");
      info.data_type = *t;
    }
    if (base == nullptr || obj.contains("shape")) {
      const std::string p = join(path, "shape");
      const json& s = base ? obj.at("shape") : require(obj, path, "shape");
      if (!s.is_array() || s.empty()) fail(p, "must be a non-empty array of dimensions (got " + describe(s) + ")");
      info.shape.clear();
      for (std::size_t i = 0; i < s.size(); ++i) {
        info.shape.push_back(static_cast<std::uint32_t>(integer(s[i], index(p, i), 1, UINT32_MAX)));
      }
    }
    const bool layout_given = base == nullptr || obj.contains("layout");
    if (layout_given) {
      const std::string p = join(path, "layout");
      const std::string s = string(base ? obj.at("layout") : require(obj, path, "layout"), p, false);
      const auto l = parse_memory_layout(s);
      if (!l) fail(p, "unknown MemoryLayout '" + excerpt(s) + "' (expected one of: " + memory_layout_names() + ")");
      if (*l == MemoryLayout::UNKNOWN) fail(p, "UNKNOWN is not a usable MemoryLayout");
      info.memory_layout = *l;
      info.memory_layout_order.clear();
    }
    // layout_order belongs to its layout: inherited only together with it.
    if (layout_given || obj.contains("layout_order")) {
      const std::string p = join(path, "layout_order");
      const auto it = obj.find("layout_order");
      if (info.memory_layout != MemoryLayout::GENERIC && it != obj.end()) {
        fail(p, "only allowed with layout GENERIC");
      }
      if (info.memory_layout == MemoryLayout::GENERIC) {
        if (it == obj.end()) fail(path, "layout GENERIC requires 'layout_order' (a permutation of the dimensions)");
        info.memory_layout_order = permutation(*it, p, info.shape.size());
      }
    } else if (info.memory_layout == MemoryLayout::GENERIC && info.memory_layout_order.size() != info.shape.size()) {
      fail(join(path, "shape"), "has a different rank than the inherited GENERIC layout_order; give 'layout_order'");
    }

    std::uint64_t elements = 1;
    for (const std::uint32_t d : info.shape) {
      elements *= d;
      if (elements > kMaxRowBytes) break;
    }
    const std::uint64_t bytes = elements * element_size(info.data_type);
    if (elements > kMaxRowBytes || bytes > kMaxRowBytes) {
      fail(join(path, "shape"), "a batch row of this tensor exceeds the emulator's limit of 1 GiB");
    }
    info.size = static_cast<std::size_t>(elements);
    info.size_in_bytes = static_cast<std::size_t>(bytes);
    info.strides = row_major_strides(info.shape);
    return info;
  }

  std::vector<std::uint32_t> permutation(const json& v, const std::string& path, std::size_t rank) const {
    if (!v.is_array() || v.size() != rank) {
      fail(path, "must be a permutation of 0.." + std::to_string(rank - 1) + " (got " + describe(v) + ")");
    }
    std::vector<std::uint32_t> order;
    std::vector<bool> seen(rank, false);
    for (std::size_t i = 0; i < rank; ++i) {
      const auto n = static_cast<std::size_t>(integer(v[i], index(path, i), 0, static_cast<std::int64_t>(rank) - 1));
      if (seen[n]) fail(index(path, i), "repeats " + std::to_string(n) + ": must be a permutation of the dimensions");
      seen[n] = true;
      order.push_back(static_cast<std::uint32_t>(n));
    }
    return order;
  }

  TensorDesc tensor(const json& obj, const std::string& path, TensorDirection direction) const {
    check_object(obj, path);
    check_keys(obj, path, {"name", "data_type", "shape", "layout", "layout_order", "quant", "cpu", "hw"});
    TensorDesc t;
    const std::string name = string(require(obj, path, "name"), join(path, "name"), true);
    t.hw = view(obj, path, direction, TensorType::HW, nullptr);
    t.hw.name = name;
    if (const auto it = obj.find("cpu"); it != obj.end()) {
      const std::string p = join(path, "cpu");
      check_object(*it, p);
      check_keys(*it, p, {"data_type", "shape", "layout", "layout_order"});
      t.cpu = view(*it, p, direction, TensorType::CPU, &t.hw);
    } else {
      t.cpu = t.hw;
      t.cpu.tensor_type = TensorType::CPU;
    }
    if (const auto it = obj.find("hw"); it != obj.end()) t.has_hw = boolean(*it, join(path, "hw"));
    if (const auto it = obj.find("quant"); it != obj.end()) {
      const std::string p = join(path, "quant");
      check_object(*it, p);
      check_keys(*it, p, {"scale", "zero_point", "rounding_mode"});
      QuantParameters q;
      q.scale = number(require(*it, p, "scale"), join(p, "scale"), -1e300, 1e300);
      if (it->contains("zero_point")) {
        q.zero_point =
            static_cast<std::int32_t>(integer(it->at("zero_point"), join(p, "zero_point"), INT32_MIN, INT32_MAX));
      }
      q.rounding_mode = RoundingMode::ROUND_TO_NEAREST_EVEN;
      if (it->contains("rounding_mode")) {
        const std::string rp = join(p, "rounding_mode");
        const std::string s = string(it->at("rounding_mode"), rp, false);
        const auto r = parse_rounding_mode(s);
        if (!r) {
          fail(rp, "unknown RoundingMode '" + excerpt(s) +
                       "' (expected UNKNOWN, ROUND_TO_NEAREST_EVEN or ROUND_TOWARD_ZERO)");
        }
        q.rounding_mode = *r;
      }
      t.quant = q;
    }
    return t;
  }

  std::vector<TensorDesc> tensors(const json& root, const char* key, TensorDirection direction) const {
    const json& arr = require(root, "", key);
    if (!arr.is_array() || arr.empty()) fail(key, "must be a non-empty array of tensors (got " + describe(arr) + ")");
    if (arr.size() > 1024) fail(key, "more than 1024 tensors");
    std::vector<TensorDesc> out;
    std::map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < arr.size(); ++i) {
      const std::string p = index(key, i);
      out.push_back(tensor(arr[i], p, direction));
      const auto [it, fresh] = seen.emplace(out.back().hw.name, i);
      if (!fresh) {
        fail(join(p, "name"),
             "duplicate tensor name '" + excerpt(it->first) + "' (also " + index(key, it->second) + ")");
      }
    }
    return out;
  }

  Faults faults(const json& obj) const {
    const std::string path = "faults";
    check_object(obj, path);
    check_keys(obj, path,
               {"fail_jobs", "fail_status", "stall_jobs", "stall_ms", "busy_storm", "out_of_order", "stragglers",
                "fail_create"});
    Faults f;
    if (obj.contains("fail_jobs")) f.fail_jobs = job_ids(obj.at("fail_jobs"), "faults.fail_jobs");
    if (obj.contains("fail_status")) {
      const std::string s = string(obj.at("fail_status"), "faults.fail_status", false);
      const auto st = parse_status_code(s);
      if (!st) {
        fail("faults.fail_status",
             "unknown StatusCode '" + excerpt(s) + "' (expected one of: " + status_code_names() + ")");
      }
      if (*st == StatusCode::SUCCESS || *st == StatusCode::JOB_PENDING) {
        fail("faults.fail_status", s + " is not a failure status");
      }
      f.fail_status = *st;
    }
    if (obj.contains("stall_jobs")) f.stall_jobs = job_ids(obj.at("stall_jobs"), "faults.stall_jobs");
    if (obj.contains("stall_ms")) f.stall_ms = number(obj.at("stall_ms"), "faults.stall_ms", 0, kMaxStallMs);
    if (const auto it = obj.find("busy_storm"); it != obj.end()) {
      const std::string p = "faults.busy_storm";
      check_object(*it, p);
      check_keys(*it, p, {"after_submissions", "count"});
      if (it->contains("after_submissions")) {
        f.storm_after = static_cast<std::uint64_t>(
            integer(it->at("after_submissions"), join(p, "after_submissions"), 0, INT64_MAX));
      }
      f.storm_count = static_cast<std::uint64_t>(integer(require(*it, p, "count"), join(p, "count"), 0, INT64_MAX));
    }
    if (obj.contains("out_of_order")) f.out_of_order = boolean(obj.at("out_of_order"), "faults.out_of_order");
    if (const auto it = obj.find("stragglers"); it != obj.end()) {
      // Both keys are required: neither has a neutral default. every >= 2: with every 1 all jobs
      // would straggle, which is just a longer service_time_us, not a straggler.
      const std::string p = "faults.stragglers";
      check_object(*it, p);
      check_keys(*it, p, {"every", "factor"});
      f.straggler_every =
          static_cast<std::uint32_t>(integer(require(*it, p, "every"), join(p, "every"), 2, UINT32_MAX));
      f.straggler_factor = positive_number(require(*it, p, "factor"), join(p, "factor"), kMaxStragglerFactor);
    }
    if (obj.contains("fail_create")) f.fail_create = string(obj.at("fail_create"), "faults.fail_create", false);
    return f;
  }

  Model model(const json& root) const {
    check_object(root, "");
    check_keys(root, "",
               {"format", "name", "description", "batch_size", "output_batch_size", "compute_units", "execution_slots",
                "service_time_us", "service_jitter_us", "inputs", "outputs", "faults"});
    if (const auto it = root.find("format"); it != root.end() && string(*it, "format", false) != "vart-emu/1") {
      fail("format", "must be \"vart-emu/1\" (got " + describe(*it) + ")");
    }
    if (const auto it = root.find("description"); it != root.end()) string(*it, "description", false);
    Model m;
    m.name = string(require(root, "", "name"), "name", true);
    m.batch_size = static_cast<std::size_t>(integer(require(root, "", "batch_size"), "batch_size", 1, 65536));
    m.output_batch_size = m.batch_size;
    if (root.contains("output_batch_size")) {
      m.output_batch_size =
          static_cast<std::size_t>(integer(root.at("output_batch_size"), "output_batch_size", 1, 65536));
    }
    m.compute_units = static_cast<std::size_t>(integer(require(root, "", "compute_units"), "compute_units", 1, 64));
    m.execution_slots =
        static_cast<std::size_t>(integer(require(root, "", "execution_slots"), "execution_slots", 1, 65536));
    m.service_time_us = number(require(root, "", "service_time_us"), "service_time_us", 0, kMaxServiceUs);
    if (root.contains("service_jitter_us")) {
      m.service_jitter_us = number(root.at("service_jitter_us"), "service_jitter_us", 0, kMaxServiceUs);
    }
    m.inputs = tensors(root, "inputs", TensorDirection::INPUT);
    m.outputs = tensors(root, "outputs", TensorDirection::OUTPUT);
    if (const auto it = root.find("faults"); it != root.end()) m.faults = faults(*it);
    return m;
  }

 private:
  std::string file_;
};

bool ends_with_ci(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && to_upper(s.substr(s.size() - suffix.size())) == to_upper(suffix);
}

[[noreturn]] void compiled_model(const std::string& path) {
  throw std::runtime_error("vart-emu: '" + path +
                           "' looks like a compiled VART-ML model (.rai or model cache directory); the VART-ML "
                           "emulator cannot run compiled models. It runs emulator descriptors (.json, see "
                           "docs/emulator.md); run compiled models on a Versal AI Edge Gen 2 board with the real "
                           "libvart-ml.");
}

}  // namespace

std::vector<std::uint32_t> row_major_strides(const std::vector<std::uint32_t>& shape) {
  std::vector<std::uint32_t> strides(shape.size(), 1);
  for (std::size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

Model parse_model(const std::string& text, const std::string& path) {
  Model m = Parser(path).model(parse_descriptor_json(text, path));
  m.path = path;
  return m;
}

Model load_model(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) throw std::runtime_error("vart-emu: model path is empty: pass an emulator descriptor (.json)");
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) throw std::runtime_error("vart-emu: model path does not exist: " + path);
  if (fs::is_directory(st) || (fs::is_regular_file(st) && ends_with_ci(path, ".rai"))) compiled_model(path);
  const std::string body = read_descriptor_file(path);  // refuses FIFOs, devices and oversized files
  if (!ends_with_ci(path, ".json")) {
    // Not named .json: only treat it as a descriptor if it at least starts like a JSON object.
    const auto first = body.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || body[first] != '{') compiled_model(path);
  }
  return parse_model(body, path);
}

}  // namespace vart::emu
