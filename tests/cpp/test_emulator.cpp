// The VART-ML emulator against the documented API semantics (docs/emulator.md): descriptors,
// metadata and views, tensors and allocation, the async job rules, fault injection, logging, and the
// output function (known vectors shared with tests/test_emu_reference.py).
//
// Timing: jobs that must still be running when the test looks at them take hundreds of ms, and
// every "must finish" wait allows 30 s, so a loaded 2-core machine does not make tests flaky.
#include <gtest/gtest.h>

#include <any>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <limits>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <vart/vart_runner_factory.hpp>

// Private: the conversions and the jitter are checked directly against the shared constants.
#include "../../csrc/vart_emu/src/output_fn.hpp"

namespace {

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

constexpr std::chrono::milliseconds kLong = 30s;  // "this job must finish"

// ---- helpers ---------------------------------------------------------------------------------------

std::string temp_path(const std::string& name) {
  const auto* t = testing::UnitTest::GetInstance()->current_test_info();
  std::string dir_name = std::string("vart_emu_") + t->test_suite_name() + "_" + t->name();
  for (char& c : dir_name) c = (c == '/') ? '_' : c;
  const std::filesystem::path dir = std::filesystem::path(testing::TempDir()) / dir_name;
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

std::string write_file(const std::string& name, const std::string& body) {
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

std::shared_ptr<vart::Runner> open(const std::string& path, const Options& options = {}) {
  return vart::RunnerFactory::create_runner(vart::RunnerType::VAIML, path, options);
}

// Runner-allocated tensors, [rows][tensors], in the given view.
Rows allocate(const vart::Runner& r, TensorDirection d, std::size_t rows, TensorType type = TensorType::HW) {
  Rows out(rows);
  for (auto& row : out) {
    for (const NpuTensorInfo& info : r.get_tensors_info(d, type)) row.push_back(r.allocate_npu_tensor(info));
  }
  return out;
}

void fill(Rows& rows, unsigned seed) {
  for (std::size_t b = 0; b < rows.size(); ++b) {
    for (NpuTensor& t : rows[b]) {
      auto* p = static_cast<std::uint8_t*>(t.get_virtual_address());
      for (std::size_t i = 0; i < t.get_info().size_in_bytes; ++i)
        p[i] = static_cast<std::uint8_t>(seed + 31 * b + 7 * i);
    }
  }
}

std::vector<std::uint8_t> bytes_of(const NpuTensor& t) {
  const auto* p = static_cast<const std::uint8_t*>(t.get_virtual_address());
  return {p, p + t.get_info().size_in_bytes};
}

std::vector<std::uint8_t> row_bytes(const Rows& rows, std::size_t b) {
  std::vector<std::uint8_t> all;
  for (const NpuTensor& t : rows[b]) {
    const auto v = bytes_of(t);
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

std::string hex(const std::vector<std::uint8_t>& v) {
  std::string s;
  char buf[3];
  for (const std::uint8_t c : v) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    s += buf;
  }
  return s;
}

std::uint64_t fnv1a64(const std::vector<std::uint8_t>& v) {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (const std::uint8_t c : v) h = (h ^ c) * 0x100000001B3ULL;
  return h;
}

// The message of the std::exception `f` throws ("" if none).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

vart::JobHandle submit_retry(vart::Runner& r, const Rows& in, Rows& out) {
  const auto deadline = std::chrono::steady_clock::now() + kLong;
  for (;;) {
    const vart::JobHandle h = r.execute_async(in, out);
    if (h.status != StatusCode::RESOURCE_UNAVAILABLE || std::chrono::steady_clock::now() > deadline) return h;
    std::this_thread::sleep_for(1ms);
  }
}

NpuTensorInfo info_of(const std::string& name, DataType t, std::vector<std::uint32_t> shape, std::size_t elem) {
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

// ---- API surface -----------------------------------------------------------------------------------

TEST(Api, EnumValuesFollowTheNewestHeaders) {
  static_assert(static_cast<int>(DataType::UNKNOWN) == 0 && static_cast<int>(DataType::BF16) == 6 &&
                static_cast<int>(DataType::FLOAT32) == 10 && static_cast<int>(DataType::UINT64) == 12);
  static_assert(static_cast<int>(MemoryLayout::NWC) == 5 && static_cast<int>(MemoryLayout::NH2HWC4C) == 17 &&
                static_cast<int>(MemoryLayout::NH2C4HWC) == 18 && static_cast<int>(MemoryLayout::GENERIC) == 19);
  static_assert(static_cast<int>(MemoryType::XRT_BO) == 1 && static_cast<int>(MemoryType::USER_POINTER_NON_CMA) == 4);
  static_assert(static_cast<int>(TensorType::CPU) == 0 && static_cast<int>(TensorType::HW) == 1);
  static_assert(static_cast<int>(TensorDirection::OUTPUT) == 1);
  static_assert(static_cast<int>(StatusCode::JOB_PENDING) == 6 && static_cast<int>(StatusCode::INVALID_JOB_ID) == 7 &&
                static_cast<int>(StatusCode::RESOURCE_UNAVAILABLE) == 8 &&
                static_cast<int>(StatusCode::UNSUPPORTED) == 9);
  static_assert(static_cast<int>(vart::RoundingMode::ROUND_TOWARD_ZERO) == 2);
  static_assert(static_cast<int>(vart::RunnerType::VAIML) == 0);
}

TEST(Api, ToStringSpellsEnumerators) {
  EXPECT_EQ(vart::to_string(DataType::FLOAT32), "FLOAT32");
  EXPECT_EQ(vart::to_string(DataType::UINT64), "UINT64");
  EXPECT_EQ(vart::to_string(MemoryLayout::NH2C4HWC), "NH2C4HWC");
  EXPECT_EQ(vart::to_string(MemoryLayout::GENERIC), "GENERIC");
  EXPECT_EQ(vart::to_string(MemoryType::XRT_BO), "XRT_BO");
  EXPECT_EQ(vart::to_string(TensorDirection::OUTPUT), "OUTPUT");
  EXPECT_EQ(vart::to_string(TensorType::HW), "HW");
  EXPECT_EQ(vart::to_string(vart::RoundingMode::ROUND_TO_NEAREST_EVEN), "ROUND_TO_NEAREST_EVEN");
  EXPECT_EQ(vart::to_string(StatusCode::RESOURCE_UNAVAILABLE), "RESOURCE_UNAVAILABLE");
  EXPECT_EQ(vart::to_string(StatusCode::UNSUPPORTED), "UNSUPPORTED");
  EXPECT_EQ(vart::to_string(static_cast<StatusCode>(42)), "UNKNOWN");
  EXPECT_EQ(vart::to_string(static_cast<DataType>(-1)), "UNKNOWN");
}

TEST(Api, StructsAndHandles) {
  const NpuTensorInfo i{"x",    DataType::INT8, TensorDirection::OUTPUT, TensorType::CPU, MemoryLayout::NC, {}, 8, 8,
                        {1, 8}, {8, 1}};
  EXPECT_EQ(i.direction, TensorDirection::OUTPUT);
  EXPECT_EQ(i.strides, (std::vector<std::uint32_t>{8, 1}));
  const NpuTensorInfo d{};
  EXPECT_EQ(d.tensor_type, TensorType::HW);
  EXPECT_EQ(d.data_type, DataType::UNKNOWN);
  const vart::JobHandle none;
  EXPECT_EQ(none.status, StatusCode::FAILURE);
  EXPECT_EQ(none.job_id, 0u);
  const vart::JobHandle h(StatusCode::SUCCESS, 7);
  EXPECT_EQ(h.job_id, 7u);
  const vart::QuantParameters q;
  EXPECT_EQ(q.scale, 0.0);
  EXPECT_EQ(q.rounding_mode, vart::RoundingMode::UNKNOWN);
}

// ---- descriptors -----------------------------------------------------------------------------------

TEST(Descriptor, MissingFileBadJsonAndCompiledModels) {
  const std::string missing = temp_path("nope.json");
  EXPECT_EQ(error_of([&] { open(missing); }), "vart-emu: model path does not exist: " + missing);

  const std::string bad = write_file("bad.json", "{ not json");
  EXPECT_EQ(error_of([&] { open(bad); }).rfind("vart-emu: " + bad + ": invalid JSON: ", 0), 0u);

  const std::string compiled_tail =
      "' looks like a compiled VART-ML model (.rai or model cache directory); the VART-ML emulator cannot run "
      "compiled models. It runs emulator descriptors (.json, see docs/emulator.md); run compiled models on a Versal "
      "AI Edge Gen 2 board with the real libvart-ml.";
  const std::string rai = write_file("resnet50.rai", std::string(64, '\0'));
  EXPECT_EQ(error_of([&] { open(rai); }), "vart-emu: '" + rai + compiled_tail);
  const std::string dir = temp_path("model_cache");
  std::filesystem::create_directories(dir);
  EXPECT_EQ(error_of([&] { open(dir); }), "vart-emu: '" + dir + compiled_tail);
  const std::string bin = write_file("model.bin",
                                     "\x7f"
                                     "ELF binary");
  EXPECT_EQ(error_of([&] { open(bin); }), "vart-emu: '" + bin + compiled_tail);
  // Not named .json but a JSON object: read as a descriptor.
  EXPECT_NO_THROW(open(write_file("model.desc", Desc().json())));
  EXPECT_THROW(open(""), std::runtime_error);
}

TEST(Descriptor, EveryErrorNamesFileAndField) {
  struct Case {
    std::string body;
    std::string message;  // after "vart-emu: <path>: "
  };
  const auto with_inputs = [](const std::string& in) {
    Desc d;
    d.inputs = in;
    return d.json();
  };
  const auto with_extra = [](const std::string& extra) {
    Desc d;
    d.extra = extra;
    return d.json();
  };
  const auto with_batch = [](int batch) {
    Desc d;
    d.batch = batch;
    return d.json();
  };
  const auto with_service = [](double us) {
    Desc d;
    d.service_us = us;
    return d.json();
  };
  const std::vector<Case> cases = {
      {with_inputs(R"([{"name": "a", "data_type": "INT9", "shape": [1, 4], "layout": "NC"}])"),
       "inputs[0].data_type: unknown DataType 'INT9' ("},
      {with_inputs(R"([{"name": "a", "data_type": "UNKNOWN", "shape": [1, 4], "layout": "NC"}])"),
       "inputs[0].data_type: UNKNOWN is not a usable DataType"},
      {with_inputs(R"([{"name": "a", "data_type": "INT8", "shape": [1, 0], "layout": "NC"}])"),
       "inputs[0].shape[1]: must be >= 1 (got 0)"},
      {with_inputs(R"([{"name": "a", "data_type": "INT8", "shape": [-3], "layout": "NC"}])"),
       "inputs[0].shape[0]: must be >= 1 (got -3)"},
      {with_inputs(R"([{"name": "a", "data_type": "INT8", "shape": [], "layout": "NC"}])"),
       "inputs[0].shape: must be a non-empty array"},
      {with_inputs(R"([{"name": "a", "data_type": "INT8", "shape": [2], "layout": "NOPE"}])"),
       "inputs[0].layout: unknown MemoryLayout 'NOPE' ("},
      {with_inputs(R"([{"name": "a", "data_type": "INT8", "shape": [2], "layout": "UNKNOWN"}])"),
       "inputs[0].layout: UNKNOWN is not a usable MemoryLayout"},
      {with_inputs(R"([{"name": "a", "data_type": "INT8", "shape": [2, 3], "layout": "GENERIC"}])"),
       "inputs[0]: layout GENERIC requires 'layout_order'"},
      {with_inputs(
           R"([{"name": "a", "data_type": "INT8", "shape": [2, 3], "layout": "GENERIC", "layout_order": [1, 1]}])"),
       "inputs[0].layout_order[1]: repeats 1"},
      {with_inputs(R"([{"name": "a", "data_type": "INT8", "shape": [2, 3], "layout": "NC", "layout_order": [1, 0]}])"),
       "inputs[0].layout_order: only allowed with layout GENERIC"},
      {with_inputs(R"([{"name": "a", "dtype": "INT8", "shape": [2], "layout": "NC"}])"),
       "inputs[0].dtype: unknown key (expected one of: name, data_type, shape, layout, layout_order, quant, cpu, hw)"},
      {with_inputs(R"([{"name": "a", "data_type": "INT8", "shape": [2], "layout": "NC", "cpu": {"dtype": "INT8"}}])"),
       "inputs[0].cpu.dtype: unknown key"},
      {with_inputs(R"([{"name": "a", "data_type": "INT8", "shape": [2]}])"),
       "inputs[0]: missing required key 'layout'"},
      {with_inputs(R"([{"name": "", "data_type": "INT8", "shape": [2], "layout": "NC"}])"),
       "inputs[0].name: must not be empty"},
      {with_inputs(R"([{"name": "a", "data_type": "INT8", "shape": [2], "layout": "NC"},
                       {"name": "a", "data_type": "INT8", "shape": [2], "layout": "NC"}])"),
       "inputs[1].name: duplicate tensor name 'a' (also inputs[0])"},
      {with_inputs(R"([{"name": "a", "data_type": "INT8", "shape": [2], "layout": "NC", "hw": "no"}])"),
       "inputs[0].hw: must be true or false"},
      {with_inputs(R"([{"name": "a", "data_type": "INT8", "shape": [2], "layout": "NC", "quant": {"zero_point": 1}}])"),
       "inputs[0].quant: missing required key 'scale'"},
      {with_inputs(R"([{"name": "a", "data_type": "INT8", "shape": [65536, 65536], "layout": "NC"}])"),
       "inputs[0].shape: a batch row of this tensor exceeds the emulator's limit of 1 GiB"},
      {with_inputs("[]"), "inputs: must be a non-empty array of tensors"},
      {with_batch(0), "batch_size: must be >= 1 (got 0)"},
      {R"({"name": "t", "batch_size": 1, "compute_units": 1, "execution_slots": "two", "service_time_us": 0,
           "inputs": [], "outputs": []})",
       "execution_slots: must be an integer (got string \"two\")"},
      {R"({"name": "t", "batch_size": 1, "compute_units": 1, "service_time_us": 0, "inputs": [], "outputs": []})",
       "missing required key 'execution_slots'"},
      {with_extra(R"(, "batchsize": 2)"), "batchsize: unknown key (expected one of:"},
      {with_extra(R"(, "format": "vart-emu/2")"), "format: must be \"vart-emu/1\""},
      {with_service(-1), "service_time_us: must be a number in [0, "},
      {with_extra(R"(, "faults": {"fail_status": "SUCCESS"})"), "faults.fail_status: SUCCESS is not a failure status"},
      {with_extra(R"(, "faults": {"fail_jobs": [0]})"), "faults.fail_jobs[0]: must be >= 1 (got 0)"},
      {with_extra(R"(, "faults": {"busy_storm": {"after": 1, "count": 2}})"), "faults.busy_storm.after: unknown key"},
      {"[1, 2]", "must be an object (got array [1,2])"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string path = write_file("case" + std::to_string(i) + ".json", cases[i].body);
    const std::string message = error_of([&] { open(path); });
    EXPECT_EQ(message.rfind("vart-emu: " + path + ": " + cases[i].message, 0), 0u)
        << "case " << i << ": got '" << message << "'";
  }
}

TEST(Descriptor, FailCreateAndShippedModels) {
  Desc d;
  d.extra = R"(, "faults": {"fail_create": "simulated: device busy"})";
  const std::string path = d.write();
  EXPECT_EQ(error_of([&] { open(path); }), "simulated: device busy");

  const std::string models = std::string(VART_EMU_TEST_DATA) + "/../../../python/vart_async/models/";
  const auto resnet = open(models + "resnet50_int8.emu.json");
  EXPECT_EQ(std::any_cast<std::string>(resnet->get_property("model_name")), "resnet50_int8");
  EXPECT_EQ(resnet->get_tensors_info(TensorDirection::INPUT, TensorType::HW).at(0).size_in_bytes, 224u * 224 * 3);
  EXPECT_EQ(resnet->get_tensors_info(TensorDirection::INPUT, TensorType::CPU).at(0).size_in_bytes, 4u * 3 * 224 * 224);
  EXPECT_EQ(resnet->get_tensors_info(TensorDirection::OUTPUT, TensorType::CPU).at(0).data_type, DataType::FLOAT32);
  EXPECT_EQ(resnet->get_batch_size(), 1u);
  EXPECT_EQ(std::any_cast<std::size_t>(resnet->get_property("execution_slots")), 2u);
  const auto tiny = open(models + "tiny.emu.json");
  EXPECT_EQ(tiny->get_num_input_tensors(), 2u);
  EXPECT_EQ(tiny->get_num_output_tensors(), 2u);
  EXPECT_EQ(tiny->get_batch_size(), 2u);
}

// ---- metadata and views ----------------------------------------------------------------------------

TEST(Metadata, InfosBatchSizesAndProperties) {
  Desc d;
  d.extra = R"(, "output_batch_size": 1, "service_jitter_us": 5)";
  const auto r = open(d.write());
  EXPECT_EQ(r->get_num_input_tensors(), 2u);
  EXPECT_EQ(r->get_num_output_tensors(), 2u);
  EXPECT_EQ(r->get_batch_size(), 2u);
  EXPECT_EQ(r->get_batch_size(TensorDirection::INPUT), 2u);
  EXPECT_EQ(r->get_batch_size(TensorDirection::OUTPUT), 1u);
  const NpuTensorInfo& b = r->get_tensors_info(TensorDirection::INPUT, TensorType::HW).at(1);
  EXPECT_EQ(b.name, "b");
  EXPECT_EQ(b.data_type, DataType::FLOAT32);
  EXPECT_EQ(b.direction, TensorDirection::INPUT);
  EXPECT_EQ(b.tensor_type, TensorType::HW);
  EXPECT_EQ(b.memory_layout, MemoryLayout::NC);
  EXPECT_EQ(b.size, 4u);
  EXPECT_EQ(b.size_in_bytes, 16u);
  EXPECT_EQ(b.shape, (std::vector<std::uint32_t>{1, 4}));
  EXPECT_EQ(b.strides, (std::vector<std::uint32_t>{4, 1}));
  const NpuTensorInfo& z = r->get_tensor_info_by_name("z", TensorType::CPU);
  EXPECT_EQ(z.direction, TensorDirection::OUTPUT);
  EXPECT_EQ(z.tensor_type, TensorType::CPU);
  EXPECT_THROW(r->get_tensor_info_by_name("nope", TensorType::HW), std::runtime_error);
  EXPECT_THROW(r->get_quant_parameters("a"), std::runtime_error);
  EXPECT_THROW(r->get_quant_parameters("nope"), std::runtime_error);

  EXPECT_TRUE(std::any_cast<bool>(r->get_property("emulator")));
  EXPECT_EQ(std::any_cast<std::string>(r->get_property("model_name")), "tiny");
  EXPECT_EQ(std::any_cast<std::string>(r->get_property("runtime")), "VART-ML emulator 0.4.0-emu (no NPU)");
  EXPECT_EQ(std::any_cast<std::size_t>(r->get_property("compute_units")), 2u);
  EXPECT_EQ(std::any_cast<double>(r->get_property("service_time_us")), 0.0);
  EXPECT_EQ(error_of([&] { r->get_property("nb_ddrs"); }), "Unknown property: nb_ddrs");
  EXPECT_THROW(r->get_property("nb_ddrs"), std::invalid_argument);
  EXPECT_THROW(std::any_cast<int>(r->get_property("compute_units")), std::bad_any_cast);
}

const char* const kViewsInputs = R"([{"name": "img", "data_type": "INT8", "shape": [1, 4, 4, 3], "layout": "NHWC",
    "quant": {"scale": 0.5, "zero_point": -1},
    "cpu": {"data_type": "FLOAT32", "shape": [1, 3, 4, 4], "layout": "NCHW"}}])";
const char* const kViewsOutputs = R"([{"name": "cls", "data_type": "INT8", "shape": [1, 10], "layout": "NC",
    "cpu": {"data_type": "FLOAT32"}}])";

TEST(Views, HwAndCpuViewsAndTheAcceptedType) {
  Desc d;
  d.inputs = kViewsInputs;
  d.outputs = kViewsOutputs;
  const std::string path = d.write();
  const auto hw = open(path);
  const NpuTensorInfo& ih = hw->get_tensor_info_by_name("img", TensorType::HW);
  EXPECT_EQ(ih.data_type, DataType::INT8);
  EXPECT_EQ(ih.memory_layout, MemoryLayout::NHWC);
  EXPECT_EQ(ih.size_in_bytes, 48u);
  EXPECT_EQ(ih.strides, (std::vector<std::uint32_t>{48, 12, 3, 1}));
  const NpuTensorInfo& ic = hw->get_tensor_info_by_name("img", TensorType::CPU);
  EXPECT_EQ(ic.data_type, DataType::FLOAT32);
  EXPECT_EQ(ic.memory_layout, MemoryLayout::NCHW);
  EXPECT_EQ(ic.size_in_bytes, 192u);
  EXPECT_EQ(ic.strides, (std::vector<std::uint32_t>{48, 16, 4, 1}));
  const NpuTensorInfo& oc = hw->get_tensor_info_by_name("cls", TensorType::CPU);  // shape/layout inherited
  EXPECT_EQ(oc.shape, (std::vector<std::uint32_t>{1, 10}));
  EXPECT_EQ(oc.size_in_bytes, 40u);
  const vart::QuantParameters& q = hw->get_quant_parameters("img");
  EXPECT_EQ(q.scale, 0.5);
  EXPECT_EQ(q.zero_point, -1);
  EXPECT_EQ(q.rounding_mode, vart::RoundingMode::ROUND_TO_NEAREST_EVEN);

  // CPU-typed runner: CPU-sized buffers are accepted, HW-sized ones are too small.
  const auto cpu = open(path, {{"input_tensor_type", std::string("cpu")}, {"output_tensor_type", std::string("CPU")}});
  Rows in = allocate(*cpu, TensorDirection::INPUT, 1, TensorType::CPU);
  Rows out = allocate(*cpu, TensorDirection::OUTPUT, 1, TensorType::CPU);
  fill(in, 1);
  EXPECT_EQ(cpu->execute(in, out), StatusCode::SUCCESS);
  const auto* f = static_cast<const float*>(out[0][0].get_virtual_address());
  for (int k = 0; k < 10; ++k) EXPECT_TRUE(f[k] >= -1.0f && f[k] < 1.0f) << f[k];
  Rows small = allocate(*cpu, TensorDirection::INPUT, 1, TensorType::HW);
  EXPECT_EQ(cpu->execute(small, out), StatusCode::INVALID_INPUT);

  // Per-tensor override: HW inputs, CPU output.
  const auto mixed = open(path, {{"output_tensor_type.cls", std::string("CPU")}});
  Rows hin = allocate(*mixed, TensorDirection::INPUT, 1, TensorType::HW);
  Rows hout = allocate(*mixed, TensorDirection::OUTPUT, 1, TensorType::HW);  // 10 bytes < 40
  EXPECT_EQ(mixed->execute(hin, hout), StatusCode::INVALID_OUTPUT);
  EXPECT_EQ(mixed->execute(hin, out), StatusCode::SUCCESS);
  EXPECT_THROW(open(path, {{"output_tensor_type.nope", std::string("CPU")}}), std::runtime_error);
}

TEST(Views, BoundaryWithoutHwViewNeedsCpuType) {
  Desc d;
  d.inputs = R"([{"name": "a", "data_type": "UINT8", "shape": [1, 8], "layout": "NC", "hw": false,
                  "cpu": {"data_type": "FLOAT32"}}])";
  const std::string path = d.write();
  EXPECT_EQ(error_of([&] { open(path); }),
            "vart-emu: " + path +
                ": input tensor 'a' is consumed by a CPU subgraph and has no HW view; create the runner with "
                "input_tensor_type=CPU");
  const auto r = open(path, {{"input_tensor_type", std::string("CPU")}});
  EXPECT_TRUE(r->get_tensors_info(TensorDirection::INPUT, TensorType::HW).empty());
  EXPECT_EQ(r->get_tensors_info(TensorDirection::INPUT, TensorType::CPU).size(), 1u);
  EXPECT_EQ(r->get_tensors_info(TensorDirection::OUTPUT, TensorType::HW).size(), 2u);
  EXPECT_THROW(r->get_tensor_info_by_name("a", TensorType::HW), std::runtime_error);
  EXPECT_NO_THROW(open(path, {{"input_tensor_type.a", std::string("CPU")}}));
}

TEST(Views, GenericLayoutOrder) {
  Desc d;
  d.inputs =
      R"([{"name": "a", "data_type": "INT8", "shape": [1, 2, 3], "layout": "GENERIC", "layout_order": [0, 2, 1]}])";
  const auto r = open(d.write());
  const NpuTensorInfo& a = r->get_tensor_info_by_name("a", TensorType::HW);
  EXPECT_EQ(a.memory_layout, MemoryLayout::GENERIC);
  EXPECT_EQ(a.memory_layout_order, (std::vector<std::uint32_t>{0, 2, 1}));
  EXPECT_EQ(r->get_tensor_info_by_name("a", TensorType::CPU).memory_layout_order, a.memory_layout_order);
}

// ---- options and logging ---------------------------------------------------------------------------

TEST(Options, TypesAndValues) {
  const std::string path = Desc().write();
  EXPECT_EQ(error_of([&] { open(path, {{"log_level", 3}}); }), "vart-emu: option 'log_level' must be a std::string");
  EXPECT_TRUE(
      contains(error_of([&] { open(path, {{"input_tensor_type", "HW"}}); }), "must be a std::string (got a C string"));
  EXPECT_TRUE(
      contains(error_of([&] { open(path, {{"input_tensor_type", std::string("GPU")}}); }), "\"HW\" or \"CPU\""));
  EXPECT_TRUE(contains(error_of([&] { open(path, {{"log_level", std::string("LOUD")}}); }), "log_level"));
  EXPECT_THROW(open(path, {{"log_level", std::string("LOUD")}}), std::runtime_error);
  EXPECT_THROW(vart::RunnerFactory::create_runner(static_cast<vart::RunnerType>(3), path), std::runtime_error);
}

TEST(Logging, LevelsFilterLines) {
  const std::string path = Desc().write();
  testing::internal::CaptureStderr();
  open(path);
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");

  testing::internal::CaptureStderr();
  open(path, {{"log_level", std::string("INFO")}});
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "[vart-emu] INFO VART-ML emulator: no NPU is used. Model 'tiny' (" +
                                                        path +
                                                        "): 2 compute unit(s), 2 execution slot(s), 0 us per job\n");

  const Options odd = {{"bogus", 1}, {"aie_columns_sharing", true}, {"start_column", std::uint32_t{4}}};
  testing::internal::CaptureStderr();
  open(path, odd);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err, "[vart-emu] WARNING unknown option 'bogus': ignored\n");

  Options quiet = odd;
  quiet["log_level"] = std::string("ERROR");
  testing::internal::CaptureStderr();
  {
    const auto r = open(path, quiet);
    r->wait(vart::JobHandle(StatusCode::SUCCESS, 0), 0ms);
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "[vart-emu] ERROR wait: Invalid job_id: 0 is not a valid job identifier\n");

  Options loud = odd;
  loud["log_level"] = std::string("DEBUG");
  testing::internal::CaptureStderr();
  open(path, loud);
  err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(contains(err, "[vart-emu] DEBUG option 'aie_columns_sharing' has no effect in the emulator")) << err;
  EXPECT_TRUE(contains(err, "[vart-emu] INFO VART-ML emulator: no NPU is used.")) << err;
}

// ---- tensors and allocation ------------------------------------------------------------------------

TEST(Tensors, AllocationIsAlignedZeroedOwnedAndShallowlyCopied) {
  NpuTensor kept;
  {
    const auto r = open(Desc().write());
    NpuTensorInfo info = r->get_tensors_info(TensorDirection::INPUT, TensorType::HW).at(1);
    NpuTensor t = r->allocate_npu_tensor(info);
    EXPECT_EQ(t.get_memory_type(), MemoryType::XRT_BO);
    auto* va = static_cast<std::uint8_t*>(t.get_virtual_address());
    ASSERT_NE(va, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(va) % 4096, 0u);
    EXPECT_EQ(t.get_buffer(), va);
    EXPECT_NE(t.get_physical_address(), 0u);
    for (std::size_t i = 0; i < info.size_in_bytes; ++i) EXPECT_EQ(va[i], 0);
    EXPECT_NO_THROW(t.sync_buffer());
    EXPECT_EQ(t.export_buffer(), -1);
    EXPECT_EQ(t.get_info().name, "b");
    kept = t;  // shallow: the same memory
    EXPECT_EQ(kept.get_virtual_address(), va);
    info.tensor_type = TensorType::CPU;  // CPU-typed infos may be allocated too
    EXPECT_NO_THROW(r->allocate_npu_tensor(info));
    EXPECT_EQ(error_of([&] { r->allocate_npu_tensor(info, 1); }),
              "memory bank 1 is not available (the emulator has one bank: 0)");
    EXPECT_NO_THROW(r->allocate_npu_tensor(info, 0));
  }
  // The runner is gone; the tensor still owns its memory (ASan checks this write).
  std::memset(kept.get_virtual_address(), 0x5A, kept.get_info().size_in_bytes);
  NpuTensor moved = std::move(kept);
  EXPECT_EQ(static_cast<const std::uint8_t*>(moved.get_virtual_address())[15], 0x5A);
}

TEST(Tensors, AllocationRejectsInvalidInfos) {
  const auto r = open(Desc().write());
  const NpuTensorInfo good = info_of("t", DataType::INT8, {1, 8}, 1);
  const std::vector<std::pair<std::function<void(NpuTensorInfo&)>, std::string>> cases = {
      {[](NpuTensorInfo& i) { i.name.clear(); }, "name is empty"},
      {[](NpuTensorInfo& i) { i.data_type = DataType::UNKNOWN; }, "data_type is UNKNOWN"},
      {[](NpuTensorInfo& i) { i.memory_layout = MemoryLayout::UNKNOWN; }, "memory_layout is UNKNOWN"},
      {[](NpuTensorInfo& i) { i.memory_layout = MemoryLayout::GENERIC; }, "GENERIC needs a memory_layout_order"},
      {[](NpuTensorInfo& i) { i.size = 0; }, "size (number of elements) is 0"},
      {[](NpuTensorInfo& i) { i.size_in_bytes = 0; }, "Tensor size is zero for tensor: t."},
      {[](NpuTensorInfo& i) { i.shape.clear(); }, "shape is empty"},
  };
  for (const auto& [change, message] : cases) {
    NpuTensorInfo bad = good;
    change(bad);
    EXPECT_THROW(r->allocate_npu_tensor(bad), std::invalid_argument) << message;
    EXPECT_TRUE(contains(error_of([&] { r->allocate_npu_tensor(bad); }), message)) << message;
  }
}

TEST(Tensors, SubTensorsViewARunnerAllocatedParent) {
  const auto r = open(Desc().write());
  const NpuTensorInfo whole = info_of("whole", DataType::UINT8, {4, 8}, 1);
  const NpuTensorInfo row = info_of("row", DataType::UINT8, {1, 8}, 1);
  NpuTensor sub;
  {
    NpuTensor parent = r->allocate_npu_tensor(whole);
    sub = r->allocate_sub_tensor(parent, row, 16);
    EXPECT_EQ(sub.get_virtual_address(), static_cast<std::uint8_t*>(parent.get_virtual_address()) + 16);
    EXPECT_EQ(sub.get_physical_address(), parent.get_physical_address() + 16);
    EXPECT_EQ(sub.get_memory_type(), MemoryType::XRT_BO);
    EXPECT_NO_THROW(r->allocate_sub_tensor(parent, row, 24));  // the last row fits exactly
    EXPECT_EQ(error_of([&] { r->allocate_sub_tensor(parent, row, 25); }),
              "Sub-tensor exceeds parent tensor bounds. Parent: whole, parent size: 32 bytes, offset: 25, "
              "sub-tensor size: 8 bytes.");
    EXPECT_THROW(r->allocate_sub_tensor(parent, row, std::numeric_limits<std::size_t>::max()), std::invalid_argument);
    EXPECT_EQ(error_of([&] { r->allocate_sub_tensor(sub, row, 0); }),
              "Cannot create sub-tensor from a sub-tensor: row");
    NpuTensorInfo empty = row;
    empty.size_in_bytes = 0;
    EXPECT_THROW(r->allocate_sub_tensor(parent, empty, 0), std::invalid_argument);
    EXPECT_THROW(r->allocate_sub_tensor(NpuTensor(), row, 0), std::invalid_argument);
  }
  // The parent is gone; the sub-tensor keeps its memory alive (ASan checks this write).
  std::memset(sub.get_virtual_address(), 1, 8);

  std::vector<std::uint8_t> user(32);
  const NpuTensor wrapped(whole, user.data(), MemoryType::USER_POINTER_NON_CMA);
  EXPECT_EQ(error_of([&] { r->allocate_sub_tensor(wrapped, row, 0); }),
            "Parent tensor is not runner-allocated, cannot create sub-tensor: whole");
}

TEST(Tensors, UserPointersAreWrappedNotOwned) {
  const NpuTensorInfo info = info_of("u", DataType::FLOAT32, {1, 4}, 4);
  auto storage = std::make_unique<std::vector<float>>(4, 1.5f);
  {
    NpuTensor t(info, storage->data(), MemoryType::USER_POINTER_NON_CMA);
    const NpuTensor copy = t;
    EXPECT_EQ(t.get_virtual_address(), storage->data());
    EXPECT_EQ(t.get_buffer(), storage->data());
    EXPECT_EQ(copy.get_virtual_address(), storage->data());
    EXPECT_EQ(t.get_physical_address(), 0u);
    EXPECT_EQ(t.get_memory_type(), MemoryType::USER_POINTER_NON_CMA);
    EXPECT_EQ(t.export_buffer(), -1);
    EXPECT_EQ(error_of([&] { t.sync_buffer(); }), "Buffer synchronization is not supported for wrapped tensors.");
  }
  storage.reset();  // the tensors never owned it: no double free (ASan)

  std::vector<float> data(4);
  const void* cdata = data.data();
  NpuTensor ro(info, cdata, MemoryType::USER_POINTER_NON_CMA);
  testing::internal::CaptureStderr();
  EXPECT_EQ(ro.get_virtual_address(), nullptr);  // mutable access to a const buffer
  EXPECT_EQ(ro.get_buffer(), nullptr);
  testing::internal::GetCapturedStderr();
  EXPECT_EQ(static_cast<const NpuTensor&>(ro).get_virtual_address(), cdata);
  EXPECT_EQ(static_cast<const NpuTensor&>(ro).get_buffer(), cdata);

  int fd = 42;
  NpuTensor dma(info, &fd, MemoryType::DMA_FD);
  EXPECT_EQ(dma.get_buffer(), &fd);
  EXPECT_EQ(dma.get_virtual_address(), nullptr);

  EXPECT_EQ(error_of([&] { NpuTensor(info, static_cast<void*>(nullptr), MemoryType::USER_POINTER_NON_CMA); }),
            "Buffer pointer cannot be null");
  EXPECT_EQ(error_of([&] { NpuTensor(info, data.data(), MemoryType::UNKNOWN); }), "MemoryType cannot be UNKNOWN");
  EXPECT_THROW(NpuTensor(info, data.data(), MemoryType::XRT_BO), std::runtime_error);
  EXPECT_THROW(NpuTensor(info, data.data(), MemoryType::USER_POINTER_CMA), std::runtime_error);  // HW + CMA
  NpuTensorInfo cpu = info;
  cpu.tensor_type = TensorType::CPU;
  EXPECT_NO_THROW(NpuTensor(cpu, data.data(), MemoryType::USER_POINTER_CMA));
  NpuTensorInfo no_strides = info;
  no_strides.strides.clear();
  EXPECT_EQ(error_of([&] {
              NpuTensor(no_strides, data.data(), MemoryType::USER_POINTER_NON_CMA);
            }).rfind("Invalid NpuTensorInfo provided", 0),
            0u);
}

TEST(Tensors, PrintFormats) {
  NpuTensorInfo info = info_of("img", DataType::INT8, {1, 2, 3}, 1);
  info.memory_layout = MemoryLayout::GENERIC;
  info.memory_layout_order = {0, 2, 1};
  std::vector<std::uint8_t> data(6);
  const NpuTensor t(info, data.data(), MemoryType::USER_POINTER_NON_CMA);
  testing::internal::CaptureStdout();
  t.print_info();
  EXPECT_EQ(testing::internal::GetCapturedStdout(),
            "NpuTensor Info:\n"
            "  Name:                 img\n"
            "  Data Type:            INT8\n"
            "  Direction:            INPUT\n"
            "  Tensor Type:          HW\n"
            "  Memory Layout:        GENERIC\n"
            "  Memory Layout order:  0 2 1 \n"
            "  Shape:                1 2 3 \n"
            "  Strides:              6 3 1 \n"
            "  Size:                 6\n"
            "  Size in Bytes:        6\n"
            "\n"
            " Memory Type: USER_POINTER_NON_CMA\n");
  NpuTensor a = t;
  const NpuTensor b = std::move(a);
  testing::internal::CaptureStdout();
  a.print_info();  // NOLINT(bugprone-use-after-move): documented moved-from behaviour
  EXPECT_EQ(testing::internal::GetCapturedStdout(), "NpuTensor Info: [Invalid - moved-from object]\n");
  EXPECT_EQ(a.get_memory_type(), MemoryType::UNKNOWN);
  EXPECT_TRUE(a.get_info().name.empty());
  EXPECT_EQ(b.get_info().name, "img");
}

// ---- execute / execute_async / wait ----------------------------------------------------------------

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

TEST(Async, IdsStartAtOneAndIncrease) {
  Io io(Desc().write(), 2);
  std::uint32_t last = 0;
  for (int k = 0; k < 5; ++k) {
    const vart::JobHandle h = io.r->execute_async(io.in, io.out);
    ASSERT_EQ(h.status, StatusCode::SUCCESS);
    EXPECT_EQ(h.job_id, last + 1);
    last = h.job_id;
    EXPECT_EQ(io.r->wait(h, kLong), StatusCode::SUCCESS);
  }
  Rows out2 = io.more_out();
  const vart::JobHandle a = submit_retry(*io.r, io.in, io.out);
  const vart::JobHandle b = submit_retry(*io.r, io.in, out2);
  EXPECT_EQ(a.job_id, 6u);
  EXPECT_EQ(b.job_id, 7u);
  EXPECT_EQ(io.r->wait(b, kLong), StatusCode::SUCCESS);  // any order
  EXPECT_EQ(io.r->wait(a, kLong), StatusCode::SUCCESS);
}

TEST(Async, BusyWhenAllSlotsAreInFlight) {
  Desc d;
  d.service_us = 600000;
  Io io(d.write(), 1);
  Rows out2 = io.more_out();
  Rows out3 = io.more_out();
  const vart::JobHandle a = io.r->execute_async(io.in, io.out);
  const vart::JobHandle b = io.r->execute_async(io.in, out2);
  ASSERT_EQ(a.status, StatusCode::SUCCESS);
  ASSERT_EQ(b.status, StatusCode::SUCCESS);
  const vart::JobHandle busy = io.r->execute_async(io.in, out3);
  EXPECT_EQ(busy.status, StatusCode::RESOURCE_UNAVAILABLE);
  EXPECT_EQ(busy.job_id, 0u);
  EXPECT_EQ(io.r->wait(a, kLong), StatusCode::SUCCESS);
  const vart::JobHandle c = io.r->execute_async(io.in, io.out);
  EXPECT_EQ(c.status, StatusCode::SUCCESS);
  EXPECT_EQ(c.job_id, 3u);  // the refused call used no id
  EXPECT_EQ(io.r->wait(b, kLong), StatusCode::SUCCESS);
  EXPECT_EQ(io.r->wait(c, kLong), StatusCode::SUCCESS);
}

TEST(Async, SlotIsFreedOnCompletionNotOnWait) {
  Desc d;
  d.execution_slots = 1;
  Io io(d.write(), 1);
  std::promise<vart::JobHandle> second;
  const vart::JobHandle first = io.r->execute_async(io.in, io.out, [&](const vart::JobHandle&) {
    // The job is complete, nobody has waited for it: its slot is already free.
    second.set_value(io.r->execute_async(io.in, io.out));
  });
  ASSERT_EQ(first.status, StatusCode::SUCCESS);
  auto f = second.get_future();
  ASSERT_EQ(f.wait_for(kLong), std::future_status::ready);
  const vart::JobHandle h = f.get();
  EXPECT_EQ(h.status, StatusCode::SUCCESS);
  EXPECT_EQ(io.r->wait(h, kLong), StatusCode::SUCCESS);
}

TEST(Async, SyncExecuteUsesNoSlot) {
  Desc d;
  d.execution_slots = 1;
  d.service_us = 300000;
  Io io(d.write(), 1);
  Rows out2 = io.more_out();
  const vart::JobHandle h = io.r->execute_async(io.in, io.out);
  ASSERT_EQ(h.status, StatusCode::SUCCESS);
  EXPECT_EQ(io.r->execute(io.in, out2), StatusCode::SUCCESS);
  EXPECT_EQ(io.r->wait(h, kLong), StatusCode::SUCCESS);
}

TEST(Async, ZeroTimeoutPollsAndTimedOutWaitKeepsTheJob) {
  Desc d;
  d.service_us = 600000;
  Io io(d.write(), 1);
  const vart::JobHandle h = io.r->execute_async(io.in, io.out);
  ASSERT_EQ(h.status, StatusCode::SUCCESS);
  for (int k = 0; k < 5; ++k) EXPECT_EQ(io.r->wait(h, 0ms), StatusCode::JOB_PENDING);
  EXPECT_EQ(io.r->wait(h, 20ms), StatusCode::JOB_PENDING);
  EXPECT_EQ(io.r->wait(h, kLong), StatusCode::SUCCESS);
  testing::internal::CaptureStderr();
  EXPECT_EQ(io.r->wait(h, 0ms), StatusCode::INVALID_JOB_ID);  // consumed
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "[vart-emu] ERROR wait: No job found for job_id = 1.\n");

  // Polling a finished job returns its status once.
  const vart::JobHandle g = io.r->execute_async(io.in, io.out);
  ASSERT_EQ(g.status, StatusCode::SUCCESS);
  StatusCode st = StatusCode::JOB_PENDING;
  const auto deadline = std::chrono::steady_clock::now() + kLong;
  while (st == StatusCode::JOB_PENDING && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
    st = io.r->wait(g, 0ms);
  }
  EXPECT_EQ(st, StatusCode::SUCCESS);
  testing::internal::CaptureStderr();
  EXPECT_EQ(io.r->wait(g, 0ms), StatusCode::INVALID_JOB_ID);
  testing::internal::GetCapturedStderr();
}

TEST(Async, InvalidJobIds) {
  Io io(Desc().write(), 1);
  testing::internal::CaptureStderr();
  EXPECT_EQ(io.r->wait(vart::JobHandle(StatusCode::SUCCESS, 0), 0ms), StatusCode::INVALID_JOB_ID);
  EXPECT_EQ(io.r->wait(vart::JobHandle(), kLong), StatusCode::INVALID_JOB_ID);
  EXPECT_EQ(io.r->wait(vart::JobHandle(StatusCode::SUCCESS, 12345), 10ms), StatusCode::INVALID_JOB_ID);
  const vart::JobHandle h = io.r->execute_async(io.in, io.out);
  EXPECT_EQ(io.r->wait(h, kLong), StatusCode::SUCCESS);
  EXPECT_EQ(io.r->wait(h, kLong), StatusCode::INVALID_JOB_ID);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(contains(err, "No job found for job_id = 12345.")) << err;
}

TEST(Async, CallbackRunsOnAWorkerAndMayWait) {
  Io io(Desc().write(), 2);
  struct Seen {
    std::thread::id thread;
    vart::JobHandle handle;
    StatusCode waited = StatusCode::FAILURE;
  };
  std::promise<Seen> seen;
  vart::Runner* runner = io.r.get();  // not a shared_ptr: the callback must not keep the runner alive
  const vart::JobHandle h = io.r->execute_async(io.in, io.out, [&seen, runner](const vart::JobHandle& done) {
    Seen s;
    s.thread = std::this_thread::get_id();
    s.handle = done;
    s.waited = runner->wait(done, kLong);  // no runner lock is held during the callback
    seen.set_value(s);
  });
  ASSERT_EQ(h.status, StatusCode::SUCCESS);
  auto f = seen.get_future();
  ASSERT_EQ(f.wait_for(kLong), std::future_status::ready);
  const Seen s = f.get();
  EXPECT_NE(s.thread, std::this_thread::get_id());
  EXPECT_EQ(s.handle.job_id, h.job_id);
  EXPECT_EQ(s.handle.status, StatusCode::SUCCESS);
  EXPECT_EQ(s.waited, StatusCode::SUCCESS);
  testing::internal::CaptureStderr();
  EXPECT_EQ(io.r->wait(h, 0ms), StatusCode::INVALID_JOB_ID);  // consumed inside the callback
  testing::internal::GetCapturedStderr();
}

TEST(Async, UnwaitedCallbackJobIsConsumedAfterTheCallback) {
  Desc d;
  d.compute_units = 1;  // FIFO on one worker: job 1's callback has returned before job 2 completes
  Io io(d.write(), 1);
  std::atomic<int> calls{0};
  const vart::JobHandle a = io.r->execute_async(io.in, io.out, [&calls](const vart::JobHandle&) { ++calls; });
  const vart::JobHandle b = submit_retry(*io.r, io.in, io.out);
  ASSERT_EQ(a.status, StatusCode::SUCCESS);
  ASSERT_EQ(b.status, StatusCode::SUCCESS);
  EXPECT_EQ(io.r->wait(b, kLong), StatusCode::SUCCESS);
  EXPECT_EQ(calls.load(), 1);
  testing::internal::CaptureStderr();
  EXPECT_EQ(io.r->wait(a, 0ms), StatusCode::INVALID_JOB_ID);
  testing::internal::GetCapturedStderr();
}

TEST(Async, WaiterBlockedOnACallbackJobGetsItsStatus) {
  Desc d;
  d.service_us = 200000;  // the wait below is blocked well before the job completes
  Io io(d.write(), 1);
  for (int k = 0; k < 5; ++k) {
    std::atomic<bool> called{false};
    const vart::JobHandle h = io.r->execute_async(io.in, io.out, [&called](const vart::JobHandle&) { called = true; });
    ASSERT_EQ(h.status, StatusCode::SUCCESS);
    EXPECT_EQ(io.r->wait(h, kLong), StatusCode::SUCCESS);  // not INVALID_JOB_ID, however the race goes
    while (!called) std::this_thread::yield();
  }
}

TEST(Async, CallbackExceptionsAreContained) {
  Io io(Desc().write(), 1);
  testing::internal::CaptureStderr();
  Rows out2 = io.more_out();
  const vart::JobHandle a =
      io.r->execute_async(io.in, io.out, [](const vart::JobHandle&) { throw std::runtime_error("boom"); });
  const vart::JobHandle b = submit_retry(*io.r, io.in, out2);
  EXPECT_EQ(io.r->wait(b, kLong), StatusCode::SUCCESS);
  io.r.reset();  // joins the workers: the callback has run
  EXPECT_TRUE(contains(testing::internal::GetCapturedStderr(), "callback of job 1 threw: boom"));
  EXPECT_EQ(a.status, StatusCode::SUCCESS);
}

TEST(Async, ValidationRejectsBadArguments) {
  Io io(Desc().write(), 2);
  Rows none;
  testing::internal::CaptureStderr();
  EXPECT_EQ(io.r->execute(none, none), StatusCode::INVALID_INPUT);
  Rows three_in = io.in;
  three_in.push_back(io.in[0]);
  Rows three_out = io.out;
  three_out.push_back(io.out[0]);
  EXPECT_EQ(io.r->execute(three_in, three_out), StatusCode::INVALID_INPUT);  // more rows than the batch
  Rows one_out(io.out.begin(), io.out.begin() + 1);
  EXPECT_EQ(io.r->execute(io.in, one_out), StatusCode::INVALID_OUTPUT);  // row counts differ
  Rows short_in = io.in;
  short_in[1].pop_back();
  EXPECT_EQ(io.r->execute(short_in, io.out), StatusCode::INVALID_INPUT);
  Rows empty_in = io.in;
  empty_in[0][0] = NpuTensor();
  EXPECT_EQ(io.r->execute_async(empty_in, io.out).status, StatusCode::INVALID_INPUT);
  const NpuTensorInfo small = info_of("a", DataType::UINT8, {1, 4}, 1);
  Rows small_in = io.in;
  small_in[0][0] = io.r->allocate_npu_tensor(small);
  EXPECT_EQ(io.r->execute_async(small_in, io.out).status, StatusCode::INVALID_INPUT);
  std::vector<std::uint8_t> ro(64);
  Rows const_out = io.out;
  const_out[0][1] =
      NpuTensor(io.out[0][1].get_info(), static_cast<const void*>(ro.data()), MemoryType::USER_POINTER_NON_CMA);
  EXPECT_EQ(io.r->execute_async(io.in, const_out).status, StatusCode::INVALID_OUTPUT);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(contains(err, "[vart-emu] ERROR execute_async: input row 0 tensor 0 ('a'): size_in_bytes 4 < 8")) << err;
  // A const-wrapped input is fine: inputs are only read.
  Rows const_in = io.in;
  const_in[0][0] = NpuTensor(io.in[0][0].get_info(), static_cast<const void*>(io.in[0][0].get_virtual_address()),
                             MemoryType::USER_POINTER_NON_CMA);
  EXPECT_EQ(io.r->execute(const_in, io.out), StatusCode::SUCCESS);
}

TEST(Async, ManyThreadsSubmitAndWait) {
  Desc d;
  d.service_us = 200;
  d.execution_slots = 3;
  const std::string path = d.write();
  const auto r = open(path);
  std::mutex m;
  std::set<std::uint32_t> ids;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Rows in = allocate(*r, TensorDirection::INPUT, 1);
      Rows out = allocate(*r, TensorDirection::OUTPUT, 1);
      fill(in, static_cast<unsigned>(t));
      for (int k = 0; k < 40; ++k) {
        const vart::JobHandle h = submit_retry(*r, in, out);
        if (h.status != StatusCode::SUCCESS || r->wait(h, kLong) != StatusCode::SUCCESS) ++failures;
        const std::lock_guard<std::mutex> lock(m);
        ids.insert(h.job_id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ids.size(), 160u);
  EXPECT_EQ(*ids.begin(), 1u);
  EXPECT_EQ(*ids.rbegin(), 160u);
}

TEST(Async, DestructorWaitsForJobsInFlight) {
  Desc d;
  d.service_us = 200000;
  const std::string path = d.write();
  auto user_in = std::make_unique<std::vector<std::uint8_t>>(8, 9);
  auto user_out = std::make_unique<std::vector<std::uint8_t>>(16, 0);
  Rows in, out;
  std::atomic<int> calls{0};
  {
    const auto r = open(path);
    in = allocate(*r, TensorDirection::INPUT, 1);
    out = allocate(*r, TensorDirection::OUTPUT, 1);
    Rows in2 = in;
    Rows out2 = allocate(*r, TensorDirection::OUTPUT, 1);  // jobs in flight together: separate outputs
    in2[0][0] = NpuTensor(in[0][0].get_info(), user_in->data(), MemoryType::USER_POINTER_NON_CMA);
    out2[0][0] = NpuTensor(out[0][0].get_info(), user_out->data(), MemoryType::USER_POINTER_NON_CMA);
    ASSERT_EQ(r->execute_async(in, out).status, StatusCode::SUCCESS);
    ASSERT_EQ(r->execute_async(in2, out2, [&calls](const vart::JobHandle&) { ++calls; }).status, StatusCode::SUCCESS);
  }  // neither job has been waited for
  // Both jobs finished before the runner was gone: their outputs are written.
  EXPECT_EQ(calls.load(), 1);
  const auto y = bytes_of(out[0][0]);
  EXPECT_NE(std::vector<std::uint8_t>(16, 0), y);
  EXPECT_NE(std::vector<std::uint8_t>(16, 0), *user_out);
  user_in.reset();
  user_out.reset();
}

TEST(Async, CallbackMayDropTheLastRunnerReference) {
  std::shared_ptr<vart::Runner> r = open(Desc().write());
  Rows in = allocate(*r, TensorDirection::INPUT, 1);
  Rows out = allocate(*r, TensorDirection::OUTPUT, 1);
  std::promise<void> called;
  auto keep = r;  // the callback owns this reference; the runner dies on the worker thread
  std::weak_ptr<vart::Runner> weak = r;
  ASSERT_EQ(r->execute_async(in, out, [keep, &called](const vart::JobHandle&) mutable { called.set_value(); }).status,
            StatusCode::SUCCESS);
  keep.reset();
  r.reset();
  ASSERT_EQ(called.get_future().wait_for(kLong), std::future_status::ready);
  const auto deadline = std::chrono::steady_clock::now() + kLong;
  while (!weak.expired() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(weak.expired());
  std::this_thread::sleep_for(50ms);  // let the detached worker exit before the process does
}

// ---- fault injection -------------------------------------------------------------------------------

TEST(Faults, FailedJobsReportTheirStatusAndWriteNothing) {
  Desc d;
  d.extra = R"(, "faults": {"fail_jobs": [2, 4], "fail_status": "out_of_memory"})";
  Io io(d.write(), 1);
  std::vector<StatusCode> got;
  for (int k = 0; k < 4; ++k) {
    std::memset(io.out[0][0].get_virtual_address(), 0xAB, 16);
    const vart::JobHandle h = io.r->execute_async(io.in, io.out);
    got.push_back(io.r->wait(h, kLong));
    if (got.back() != StatusCode::SUCCESS) {
      EXPECT_EQ(bytes_of(io.out[0][0]), std::vector<std::uint8_t>(16, 0xAB));
    }
  }
  EXPECT_EQ(got, (std::vector<StatusCode>{StatusCode::SUCCESS, StatusCode::OUT_OF_MEMORY, StatusCode::SUCCESS,
                                          StatusCode::OUT_OF_MEMORY}));
  EXPECT_EQ(io.r->execute(io.in, io.out), StatusCode::SUCCESS);  // sync runs are not fault-injected

  Desc dflt;
  dflt.extra = R"(, "faults": {"fail_jobs": [1]})";
  Io io2(dflt.write("default.json"), 1);
  std::promise<StatusCode> cb;
  io2.r->execute_async(io2.in, io2.out, [&cb](const vart::JobHandle& h) { cb.set_value(h.status); });
  auto f = cb.get_future();
  ASSERT_EQ(f.wait_for(kLong), std::future_status::ready);
  EXPECT_EQ(f.get(), StatusCode::RUNTIME_ERROR);
}

TEST(Faults, StallOutlastsAWaitTimeout) {
  Desc d;
  d.extra = R"(, "faults": {"stall_jobs": [2], "stall_ms": 1500})";
  Io io(d.write(), 1);
  const vart::JobHandle a = io.r->execute_async(io.in, io.out);
  EXPECT_EQ(io.r->wait(a, kLong), StatusCode::SUCCESS);
  const vart::JobHandle b = io.r->execute_async(io.in, io.out);
  EXPECT_EQ(io.r->wait(b, 100ms), StatusCode::JOB_PENDING);
  EXPECT_EQ(io.r->wait(b, 0ms), StatusCode::JOB_PENDING);
  Rows out2 = io.more_out();
  const vart::JobHandle c = io.r->execute_async(io.in, out2);  // the other slot still works
  EXPECT_EQ(io.r->wait(c, kLong), StatusCode::SUCCESS);
  EXPECT_EQ(io.r->wait(b, kLong), StatusCode::SUCCESS);
}

TEST(Faults, BusyStorm) {
  Desc d;
  d.extra = R"(, "faults": {"busy_storm": {"after_submissions": 2, "count": 3}})";
  Io io(d.write(), 1);
  for (int k = 0; k < 2; ++k) EXPECT_EQ(io.r->wait(io.r->execute_async(io.in, io.out), kLong), StatusCode::SUCCESS);
  for (int k = 0; k < 3; ++k) {
    const vart::JobHandle h = io.r->execute_async(io.in, io.out);  // every slot is free
    EXPECT_EQ(h.status, StatusCode::RESOURCE_UNAVAILABLE);
    EXPECT_EQ(h.job_id, 0u);
  }
  const vart::JobHandle h = io.r->execute_async(io.in, io.out);
  EXPECT_EQ(h.status, StatusCode::SUCCESS);
  EXPECT_EQ(h.job_id, 3u);
  EXPECT_EQ(io.r->wait(h, kLong), StatusCode::SUCCESS);
}

TEST(Faults, OutOfOrderCompletionWithTwoComputeUnits) {
  Desc d;
  d.service_us = 400000;  // job 1: 600 ms, job 2: 200 ms
  d.extra = R"(, "faults": {"out_of_order": true}, "service_jitter_us": 1000)";
  Io io(d.write(), 1);
  Rows out2 = io.more_out();
  std::mutex m;
  std::vector<std::uint32_t> order;
  const auto record = [&](const vart::JobHandle& h) {
    const std::lock_guard<std::mutex> lock(m);
    order.push_back(h.job_id);
  };
  const vart::JobHandle a = io.r->execute_async(io.in, io.out, record);
  const vart::JobHandle b = io.r->execute_async(io.in, out2, record);
  ASSERT_EQ(a.status, StatusCode::SUCCESS);
  ASSERT_EQ(b.status, StatusCode::SUCCESS);
  EXPECT_EQ(io.r->wait(a, kLong), StatusCode::SUCCESS);
  io.r.reset();  // joins the workers: both callbacks have run
  EXPECT_EQ(order, (std::vector<std::uint32_t>{2, 1}));
}

// ---- the output function ---------------------------------------------------------------------------

TEST(Outputs, FollowTheirInputs) {
  Io io(Desc().write(), 2);
  fill(io.in, 7);
  for (std::size_t i = 0; i < io.in[0].size(); ++i) {  // row 1 = row 0
    std::memcpy(io.in[1][i].get_virtual_address(), io.in[0][i].get_virtual_address(),
                io.in[0][i].get_info().size_in_bytes);
  }
  ASSERT_EQ(io.r->execute(io.in, io.out), StatusCode::SUCCESS);
  const auto row0 = row_bytes(io.out, 0);
  EXPECT_EQ(row0, row_bytes(io.out, 1));  // equal inputs, equal outputs

  static_cast<std::uint8_t*>(io.in[1][1].get_virtual_address())[3] ^= 1;  // one bit of row 1
  ASSERT_EQ(io.r->wait(io.r->execute_async(io.in, io.out), kLong), StatusCode::SUCCESS);
  EXPECT_EQ(row_bytes(io.out, 0), row0);  // row 0 depends on row 0 only
  for (std::size_t o = 0; o < io.out[1].size(); ++o) EXPECT_NE(bytes_of(io.out[1][o]), bytes_of(io.out[0][o]));

  Rows sync_out = allocate(*io.r, TensorDirection::OUTPUT, 2);
  ASSERT_EQ(io.r->execute(io.in, sync_out), StatusCode::SUCCESS);  // execute == execute_async
  EXPECT_EQ(row_bytes(sync_out, 0), row_bytes(io.out, 0));
  EXPECT_EQ(row_bytes(sync_out, 1), row_bytes(io.out, 1));
}

TEST(Outputs, RowsBeyondTheInputRowsAreUntouched) {
  const auto r = open(Desc().write());
  const NpuTensorInfo& a = r->get_tensors_info(TensorDirection::INPUT, TensorType::HW)[0];
  const NpuTensorInfo& b = r->get_tensors_info(TensorDirection::INPUT, TensorType::HW)[1];
  const NpuTensorInfo& y = r->get_tensors_info(TensorDirection::OUTPUT, TensorType::HW)[0];
  const NpuTensorInfo& z = r->get_tensors_info(TensorDirection::OUTPUT, TensorType::HW)[1];
  NpuTensorInfo whole_y = y;
  whole_y.size_in_bytes *= 2;
  whole_y.size *= 2;
  whole_y.shape[0] = 2;
  NpuTensor parent = r->allocate_npu_tensor(whole_y);
  Rows in = {{r->allocate_npu_tensor(a), r->allocate_npu_tensor(b)}};
  Rows out = {{r->allocate_sub_tensor(parent, y, 0), r->allocate_npu_tensor(z)}};
  ASSERT_EQ(r->execute(in, out), StatusCode::SUCCESS);
  const auto* p = static_cast<const std::uint8_t*>(parent.get_virtual_address());
  EXPECT_NE(std::vector<std::uint8_t>(p, p + 16), std::vector<std::uint8_t>(16, 0));
  EXPECT_EQ(std::vector<std::uint8_t>(p + 16, p + 32), std::vector<std::uint8_t>(16, 0));
}

// Shared with tests/test_emu_reference.py: the same constants are asserted there.
constexpr std::uint64_t kMix64OfGolden = 0xE220A8397B1DCDAFULL;
constexpr std::uint64_t kMix64OfOne = 0x5692161D100B05E5ULL;
struct Known {
  std::uint64_t row_hash;
  const char* outputs_hex;
};
const Known kZero = {
    0xD6E18700A2D5DAD0ULL,
    "55120be81d5bfb5e48be273294f82601be88acc03e6846833e52b914395939883946be7c3f653fb8bc0001010001f4e414"
    "0e151918561db9b8f3"};
const Known kRamp = {
    0x795591FFA9568594ULL,
    "29bc18c3aa46f180bb6e7c7e9ec61d483f888ea4beba25483fed3639b96e3214bb2abf81be0c3ea2be000100000094748032"
    "bd91104d94f94a91"};
constexpr std::uint64_t kBigRowHash = 0xB658102A348807E1ULL;
constexpr std::uint64_t kBigOutputsFnv1a = 0xF94A669BC4E1CA29ULL;

TEST(Outputs, KnownVectorsSharedWithThePythonReference) {
  EXPECT_EQ(vart::emu::mix64(vart::emu::kGolden), kMix64OfGolden);
  EXPECT_EQ(vart::emu::mix64(1), kMix64OfOne);
  const auto r = open(std::string(VART_EMU_TEST_DATA) + "/emu_known_vectors.json");
  Rows in = allocate(*r, TensorDirection::INPUT, 2);
  Rows out = allocate(*r, TensorDirection::OUTPUT, 2);
  vart::emu::RowHasher zero, ramp;
  for (NpuTensor& t : in[1]) {  // row 0 stays zero; row 1 holds 0, 1, 2, ... in every tensor
    auto* p = static_cast<std::uint8_t*>(t.get_virtual_address());
    for (std::size_t i = 0; i < t.get_info().size_in_bytes; ++i) p[i] = static_cast<std::uint8_t>(i);
  }
  for (std::size_t i = 0; i < in[0].size(); ++i) {
    zero.add(in[0][i].get_virtual_address(), in[0][i].get_info().size_in_bytes);
    ramp.add(in[1][i].get_virtual_address(), in[1][i].get_info().size_in_bytes);
  }
  EXPECT_EQ(zero.value(), kZero.row_hash);
  EXPECT_EQ(ramp.value(), kRamp.row_hash);
  ASSERT_EQ(r->execute(in, out), StatusCode::SUCCESS);
  EXPECT_EQ(hex(row_bytes(out, 0)), kZero.outputs_hex);
  EXPECT_EQ(hex(row_bytes(out, 1)), kRamp.outputs_hex);

  Rows one_in = {in[1]};
  Rows one_out = allocate(*r, TensorDirection::OUTPUT, 1);
  ASSERT_EQ(r->wait(r->execute_async(one_in, one_out), kLong), StatusCode::SUCCESS);
  EXPECT_EQ(hex(row_bytes(one_out, 0)), kRamp.outputs_hex);
}

TEST(Outputs, BigRowDigestSharedWithThePythonReference) {
  Desc d;
  d.batch = 1;
  d.inputs = R"([{"name": "img", "data_type": "UINT8", "shape": [1, 224, 224, 3], "layout": "NHWC"}])";
  d.outputs = R"([{"name": "h", "data_type": "FP16", "shape": [2048], "layout": "NC"},
                  {"name": "g", "data_type": "BF16", "shape": [2048], "layout": "NC"},
                  {"name": "f", "data_type": "FLOAT32", "shape": [1000], "layout": "NC"},
                  {"name": "i", "data_type": "INT8", "shape": [1000], "layout": "NC"}])";
  Io io(d.write(), 1);
  auto* p = static_cast<std::uint8_t*>(io.in[0][0].get_virtual_address());
  for (std::size_t i = 0; i < 150528; ++i) p[i] = static_cast<std::uint8_t>((i * 7 + 3) % 256);
  vart::emu::RowHasher h;
  h.add(p, 150528);
  EXPECT_EQ(h.value(), kBigRowHash);
  ASSERT_EQ(io.r->execute(io.in, io.out), StatusCode::SUCCESS);
  EXPECT_EQ(fnv1a64(row_bytes(io.out, 0)), kBigOutputsFnv1a);
}

TEST(Outputs, HalfAndBfloat16RoundToNearestEven) {
  struct Conversion {
    double value;
    std::uint16_t half, bf16;
  };
  const Conversion shared[] = {
      // also in tests/test_emu_reference.py
      {1.0 / 3, 0x3555, 0x3EAB},     {0x1p-24, 0x0001, 0x3380},
      {0x1p-25, 0x0000, 0x3300},     {3 * 0x1p-25, 0x0002, 0x33C0},
      {0.1, 0x2E66, 0x3DCD},         {-0.5, 0xB800, 0xBF00},
      {1 + 0x1p-11, 0x3C00, 0x3F80}, {1 + 3 * 0x1p-11, 0x3C02, 0x3F80},
      {1 + 0x1p-8, 0x3C04, 0x3F80},  {1 + 3 * 0x1p-8, 0x3C0C, 0x3F82},
      {-1.0, 0xBC00, 0xBF80},
  };
  for (const Conversion& c : shared) {
    const auto f = static_cast<float>(c.value);
    EXPECT_EQ(vart::emu::float_to_half(f), c.half) << c.value;
    EXPECT_EQ(vart::emu::float_to_bfloat16(f), c.bf16) << c.value;
  }
  EXPECT_EQ(vart::emu::float_to_half(65520.0f), 0x7C00);  // rounds up to infinity
  EXPECT_EQ(vart::emu::float_to_half(65504.0f), 0x7BFF);  // the largest half
  EXPECT_EQ(vart::emu::float_to_half(-0.0f), 0x8000);
}

TEST(Outputs, JitterIsAFunctionOfTheJobId) {
  EXPECT_DOUBLE_EQ(vart::emu::jitter_us(1, 1000.0), 338.16660127198975);  // also in the Python test
  EXPECT_DOUBLE_EQ(vart::emu::jitter_us(2, 1000.0), 858.6764687735633);
  EXPECT_DOUBLE_EQ(vart::emu::jitter_us(7, 250.0), 18.242599645212326);
  EXPECT_EQ(vart::emu::jitter_us(7, 0.0), 0.0);
}

}  // namespace
