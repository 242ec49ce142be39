// Shared by the emulator tests (test_emulator_*.cpp): descriptors written into a per-test temp dir,
// runner and tensor allocation, and the error-message probe. Everything is inline so that each test
// file can use any subset without unused-function warnings.
//
// Timing: jobs that must still be running when the test looks at them take hundreds of ms, and
// every "must finish" wait allows 30 s, so a loaded 2-core machine does not make tests flaky.
#pragma once

#include <gtest/gtest.h>

#include <any>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <vart/vart_runner_factory.hpp>

namespace vart_emu_test {

using namespace std::chrono_literals;
using vart::DataType;
using vart::MemoryLayout;
using vart::MemoryType;
using vart::NpuTensor;
using vart::NpuTensorInfo;
using vart::StatusCode;
using vart::TensorDirection;
using vart::TensorType;
using Options = std::unordered_map<std::string, std::any>;
using Rows = std::vector<std::vector<NpuTensor>>;

inline constexpr std::chrono::milliseconds kLong = 30s;  // "this job must finish"

inline std::string temp_path(const std::string& name) {
  const auto* t = testing::UnitTest::GetInstance()->current_test_info();
  std::string dir_name = std::string("vart_emu_") + t->test_suite_name() + "_" + t->name();
  for (char& c : dir_name) c = (c == '/') ? '_' : c;
  const std::filesystem::path dir = std::filesystem::path(testing::TempDir()) / dir_name;
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

inline std::string write_file(const std::string& name, const std::string& body) {
  const std::string path = temp_path(name);
  std::ofstream(path, std::ios::binary) << body;
  return path;
}

// The tiny model of tests/conftest.py, with knobs.
struct Desc {
  int batch = 2;
  int compute_units = 2;
  int execution_slots = 2;
  double service_us = 0;
  std::string inputs = R"([{"name": "a", "data_type": "UINT8", "shape": [1, 8], "layout": "NC"},
                           {"name": "b", "data_type": "FLOAT32", "shape": [1, 4], "layout": "NC"}])";
  std::string outputs = R"([{"name": "y", "data_type": "INT8", "shape": [1, 16], "layout": "NC"},
                            {"name": "z", "data_type": "FLOAT32", "shape": [1, 3], "layout": "NC"}])";
  std::string extra;  // more top-level members, each starting with a comma

  std::string json() const {
    return R"({"name": "tiny", "batch_size": )" + std::to_string(batch) + R"(, "compute_units": )" +
           std::to_string(compute_units) + R"(, "execution_slots": )" + std::to_string(execution_slots) +
           R"(, "service_time_us": )" + std::to_string(service_us) + R"(, "inputs": )" + inputs + R"(, "outputs": )" +
           outputs + extra + "}";
  }
  std::string write(const std::string& name = "model.json") const { return write_file(name, json()); }
};

inline std::shared_ptr<vart::Runner> open(const std::string& path, const Options& options = {}) {
  return vart::RunnerFactory::create_runner(vart::RunnerType::VAIML, path, options);
}

// Runner-allocated tensors, [rows][tensors], in the given view.
inline Rows allocate(const vart::Runner& r, TensorDirection d, std::size_t rows, TensorType type = TensorType::HW) {
  Rows out(rows);
  for (auto& row : out) {
    for (const NpuTensorInfo& info : r.get_tensors_info(d, type)) row.push_back(r.allocate_npu_tensor(info));
  }
  return out;
}

inline void fill(Rows& rows, unsigned seed) {
  for (std::size_t b = 0; b < rows.size(); ++b) {
    for (NpuTensor& t : rows[b]) {
      auto* p = static_cast<std::uint8_t*>(t.get_virtual_address());
      for (std::size_t i = 0; i < t.get_info().size_in_bytes; ++i)
        p[i] = static_cast<std::uint8_t>(seed + 31 * b + 7 * i);
    }
  }
}

inline std::vector<std::uint8_t> bytes_of(const NpuTensor& t) {
  const auto* p = static_cast<const std::uint8_t*>(t.get_virtual_address());
  return {p, p + t.get_info().size_in_bytes};
}

// The message of the std::exception `f` throws ("" if none).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

inline NpuTensorInfo info_of(const std::string& name, DataType t, std::vector<std::uint32_t> shape, std::size_t elem) {
  NpuTensorInfo i;
  i.name = name;
  i.data_type = t;
  i.memory_layout = MemoryLayout::NC;
  i.shape = shape;
  i.size = 1;
  for (const auto d : shape) i.size *= d;
  i.size_in_bytes = i.size * elem;
  i.strides.assign(shape.size(), 1);
  for (std::size_t k = shape.size(); k-- > 1;) i.strides[k - 1] = i.strides[k] * shape[k];
  return i;
}

// Runner plus one set of runner-allocated inputs (filled) and outputs.
struct Io {
  std::shared_ptr<vart::Runner> r;
  Rows in, out;
  Io(const std::string& path, std::size_t rows, const Options& o = {}) : r(open(path, o)) {
    in = allocate(*r, TensorDirection::INPUT, rows);
    out = allocate(*r, TensorDirection::OUTPUT, rows);
    fill(in, 3);
  }
  // Jobs in flight at the same time must not share output buffers.
  Rows more_out() const { return allocate(*r, TensorDirection::OUTPUT, out.size()); }
};

}  // namespace vart_emu_test
