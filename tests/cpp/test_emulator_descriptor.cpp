// The VART-ML emulator's model descriptors (docs/emulator.md): loading and every parse error, the
// shipped models, metadata and properties, HW/CPU views and the accepted tensor type, runner
// options and logging.
#include <gtest/gtest.h>

#include <any>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "emu_test_helpers.hpp"

namespace vart_emu_test {
namespace {

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
      {with_extra(R"(, "faults": {"stragglers": {"every": 1, "factor": 8}})"),
       "faults.stragglers.every: must be >= 2 (got 1)"},
      {with_extra(R"(, "faults": {"stragglers": {"every": 4.5, "factor": 8}})"),
       "faults.stragglers.every: must be an integer"},
      {with_extra(R"(, "faults": {"stragglers": {"every": 4, "factor": 0}})"),
       "faults.stragglers.factor: must be a number in (0, 1000] (got 0)"},
      {with_extra(R"(, "faults": {"stragglers": {"every": 4, "factor": -2}})"),
       "faults.stragglers.factor: must be a number in (0, 1000] (got -2)"},
      {with_extra(R"(, "faults": {"stragglers": {"every": 4, "factor": 1001}})"),
       "faults.stragglers.factor: must be a number in (0, 1000] (got 1001)"},
      {with_extra(R"(, "faults": {"stragglers": {"every": 4, "factor": "8x"}})"),
       "faults.stragglers.factor: must be a number (got string"},
      {with_extra(R"(, "faults": {"stragglers": {"every": 4}})"), "faults.stragglers: missing required key 'factor'"},
      {with_extra(R"(, "faults": {"stragglers": {"factor": 8}})"), "faults.stragglers: missing required key 'every'"},
      {with_extra(R"(, "faults": {"stragglers": {"every": 4, "factor": 8, "offset": 1}})"),
       "faults.stragglers.offset: unknown key (expected one of: every, factor)"},
      {with_extra(R"(, "faults": {"stragglers": true})"), "faults.stragglers: must be an object"},
      {with_extra(R"(, "faults": {"straggler": {"every": 4, "factor": 8}})"), "faults.straggler: unknown key"},
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
  // The CPU-typed output is the HW (int8) output converted: without quantization parameters, a
  // plain cast to float (docs/emulator.md, "CPU views").
  const auto* f = static_cast<const float*>(out[0][0].get_virtual_address());
  for (int k = 0; k < 10; ++k) EXPECT_TRUE(f[k] >= -128.0f && f[k] <= 127.0f && f[k] == std::floor(f[k])) << f[k];
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

TEST(Views, CpuTypedTensorsTheEmulatorCannotConvertAreRefusedAtCreation) {
  Desc d;
  d.inputs = R"([{"name": "img", "data_type": "INT8", "shape": [1, 2, 4, 4, 4], "layout": "NC4HW4",
                  "cpu": {"data_type": "FLOAT32", "shape": [1, 8, 4, 4], "layout": "NCHW"}}])";
  const std::string path = d.write();
  EXPECT_NO_THROW(open(path));  // HW-typed: nothing to convert
  EXPECT_TRUE(contains(error_of([&] {
                         open(path, {{"input_tensor_type", std::string("CPU")}});
                       }),
                       "input tensor 'img': cannot convert its CPU view to its HW view"));
  Desc s;
  s.inputs = R"([{"name": "img", "data_type": "INT8", "shape": [1, 4, 4, 3], "layout": "NHWC",
                  "cpu": {"data_type": "FLOAT32", "shape": [1, 4, 3, 4], "layout": "NCHW"}}])";
  const std::string bad_shape = s.write("bad_shape.json");
  EXPECT_TRUE(contains(error_of([&] {
                         open(bad_shape, {{"input_tensor_type", std::string("CPU")}});
                       }),
                       "the HW shape is not the CPU shape reordered from NCHW to NHWC"));
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
  EXPECT_TRUE(contains(error_of([&] {
                         open(path, {{"input_tensor_type", "HW"}});
                       }),
                       "must be a std::string (got a C string"));
  EXPECT_TRUE(contains(error_of([&] {
                         open(path, {{"input_tensor_type", std::string("GPU")}});
                       }),
                       "\"HW\" or \"CPU\""));
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

}  // namespace
}  // namespace vart_emu_test
