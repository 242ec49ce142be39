// The VART-ML emulator's fault injection (failed, stalled, refused, out-of-order and straggling jobs) and its
// output function: outputs follow their inputs, known vectors shared with tests/test_emu_reference.py.
#include <gtest/gtest.h>

#include <algorithm>
#include <any>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "emu_test_helpers.hpp"

// Private: the conversions and the jitter are checked directly against the shared constants.
#include "../../csrc/vart_emu/src/output_fn.hpp"

namespace vart_emu_test {
namespace {

// Output rows as bytes, hex and a 64-bit digest: what the known vectors are written in.
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

// Device time of job `id` in ms, from the emulator's "device_times:<id>" property.
double device_ms(vart::Runner& r, std::uint32_t id) {
  const auto t = std::any_cast<std::array<std::int64_t, 3>>(r.get_property("device_times:" + std::to_string(id)));
  return static_cast<double>(t[1] - t[0]) / 1e6;
}

// Device times of jobs 1..n, run one at a time (each waited for before the next is submitted).
std::vector<double> one_at_a_time(const std::string& model, int n) {
  Io io(model, 1);
  std::vector<double> ms;
  for (int k = 0; k < n; ++k) {
    const vart::JobHandle h = io.r->execute_async(io.in, io.out);
    EXPECT_EQ(io.r->wait(h, kLong), StatusCode::SUCCESS);
    ms.push_back(device_ms(*io.r, h.job_id));
  }
  return ms;
}

// The emulator never runs a job faster than described, so the lower bounds are exact; a loaded
// host only makes jobs slower, so the upper bounds are ratios with wide margins.
TEST(Faults, StragglersTakeTheirFactorTheOthersTheirServiceTime) {
  Desc d;
  d.service_us = 20000;  // jobs 3 and 6: 100 ms, the others 20 ms
  d.extra = R"(, "faults": {"stragglers": {"every": 3, "factor": 5}})";
  const std::vector<double> ms = one_at_a_time(d.write(), 6);
  std::vector<double> others;
  for (std::size_t k = 0; k < ms.size(); ++k) {
    const bool straggler = (k + 1) % 3 == 0;
    EXPECT_GE(ms[k], straggler ? 100.0 : 20.0) << "job " << k + 1;
    if (!straggler) others.push_back(ms[k]);
  }
  std::sort(others.begin(), others.end());
  const double typical = (others[1] + others[2]) / 2;  // the median of the four
  EXPECT_GT(std::min(ms[2], ms[5]), 3 * typical) << "stragglers " << ms[2] << ", " << ms[5] << " ms";
}

TEST(Faults, StragglersMultiplyWithOutOfOrderAndAStallReplacesThem) {
  Desc d;
  d.service_us = 100000;  // job 1: 1.5 x 100 = 150 ms; job 2: 0.5 x 4 x 100 = 200 ms (not 400 ms)
  d.extra = R"(, "faults": {"out_of_order": true, "stragglers": {"every": 2, "factor": 4}})";
  const std::vector<double> ms = one_at_a_time(d.write(), 2);
  EXPECT_GE(ms[0], 150.0);
  EXPECT_GE(ms[1], 200.0);
  EXPECT_LT(ms[1], 300.0);

  Desc stall;
  stall.service_us = 10000;  // job 2 would straggle 1000 ms; its 50 ms stall wins
  stall.extra = R"(, "faults": {"stall_jobs": [2], "stall_ms": 50, "stragglers": {"every": 2, "factor": 100}})";
  const std::vector<double> st = one_at_a_time(stall.write("stall.json"), 2);
  EXPECT_GE(st[1], 50.0);
  EXPECT_LT(st[1], 500.0);
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

// Output row r comes from input row floor(r x in_rows / out_rows) (docs/emulator.md): checked
// against the same descriptor with equal batch sizes, whose row b comes from row b.
TEST(Outputs, DifferentOutputBatchTakesItsSourceRow) {
  Desc same;
  same.batch = 4;
  const auto ref = open(same.write("same.json"));
  Rows in = allocate(*ref, TensorDirection::INPUT, 4);
  fill(in, 11);
  Rows ref_out = allocate(*ref, TensorDirection::OUTPUT, 4);
  ASSERT_EQ(ref->execute(in, ref_out), StatusCode::SUCCESS);
  for (std::size_t b = 1; b < 4; ++b) ASSERT_NE(row_bytes(ref_out, b), row_bytes(ref_out, 0));

  Desc fan_in = same;  // 4 rows in, 1 out: from input row 0
  fan_in.extra = R"(, "output_batch_size": 1)";
  const auto r41 = open(fan_in.write("fan_in.json"));
  EXPECT_EQ(r41->get_batch_size(TensorDirection::OUTPUT), 1u);
  Rows one = allocate(*r41, TensorDirection::OUTPUT, 1);
  ASSERT_EQ(r41->execute(in, one), StatusCode::SUCCESS);
  EXPECT_EQ(row_bytes(one, 0), row_bytes(ref_out, 0));
  Rows async_one = allocate(*r41, TensorDirection::OUTPUT, 1);
  ASSERT_EQ(r41->wait(r41->execute_async(in, async_one), kLong), StatusCode::SUCCESS);
  EXPECT_EQ(row_bytes(async_one, 0), row_bytes(ref_out, 0));

  Desc fan_out = same;  // 2 rows in, 4 out: rows 0, 1 from input row 0; rows 2, 3 from input row 1
  fan_out.batch = 2;
  fan_out.extra = R"(, "output_batch_size": 4)";
  const auto r24 = open(fan_out.write("fan_out.json"));
  const Rows two_in(in.begin(), in.begin() + 2);
  Rows four = allocate(*r24, TensorDirection::OUTPUT, 4);
  ASSERT_EQ(r24->execute(two_in, four), StatusCode::SUCCESS);
  for (std::size_t r = 0; r < 4; ++r) EXPECT_EQ(row_bytes(four, r), row_bytes(ref_out, r / 2)) << r;
  const Rows one_in(in.begin() + 1, in.begin() + 2);  // a partial call at the model's ratio: 1 -> 2
  Rows two = allocate(*r24, TensorDirection::OUTPUT, 2);
  ASSERT_EQ(r24->execute(one_in, two), StatusCode::SUCCESS);
  EXPECT_EQ(row_bytes(two, 0), row_bytes(ref_out, 1));
  EXPECT_EQ(row_bytes(two, 1), row_bytes(ref_out, 1));

  // Any other ratio is refused, with a log line that says why.
  testing::internal::CaptureStderr();
  const Rows half_in(in.begin(), in.begin() + 2);
  EXPECT_EQ(r41->execute(half_in, one), StatusCode::INVALID_OUTPUT);
  EXPECT_EQ(r24->execute_async(one_in, four).status, StatusCode::INVALID_OUTPUT);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(contains(err, "[vart-emu] ERROR execute: 1 output rows for 2 input rows; the model gives 1 output "
                            "rows per 4 input rows -> INVALID_OUTPUT"))
      << err;
  EXPECT_TRUE(contains(err, "execute_async: 4 output rows for 1 input rows; the model gives 4 output rows per 2 "
                            "input rows"))
      << err;
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
}  // namespace vart_emu_test
