// Jobs on the caller's memory (Engine::bind through JobWindow::submit with an External): on the
// VART engine over the emulator, CPU-typed tensors are wrapped as USER_POINTER_NON_CMA NpuTensors
// and HW-typed ones refused; the slot's own buffers are untouched and come back with the next job;
// what keeps the caller's memory alive is held until the slot is bound again.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/pipeline.hpp"
#include "engines/vart/vart_engine.hpp"

namespace vart_async::core {
namespace {

using namespace std::chrono_literals;

std::string descriptor(const std::string& name) {
  const std::string path = testing::TempDir() + name;
  std::ofstream(path) << R"({"name": "mem", "batch_size": 2, "compute_units": 2, "execution_slots": 2,
    "service_time_us": 200,
    "inputs": [{"name": "x", "data_type": "UINT8", "shape": [1, 16], "layout": "NC"}],
    "outputs": [{"name": "y", "data_type": "INT8", "shape": [1, 8], "layout": "NC"}]})";
  return path;
}

std::shared_ptr<Engine> engine(const std::string& types) {
  return engines::create_vart_engine(descriptor("mem_" + types + ".json"),
                                     {{"input_tensor_type", types}, {"output_tensor_type", types}});
}

// Submits one job on slot `k` (own buffers, or `ext`) and collects it.
Collected one_job(JobWindow& w, Owner owner, External* ext) {
  const std::size_t k = w.acquire(owner, deadline_in(1s));
  EXPECT_NE(k, kNone);
  const Outcome o = w.submit(k, 0, deadline_in(1s), nullptr, nullptr, ext);
  EXPECT_TRUE(o.ok()) << o.message;
  Collected c = w.collect(owner, JobWindow::Pick::kOldest, deadline_in(5s));
  EXPECT_TRUE(c.done);
  return c;
}

TEST(CallerMemory, HwTypedTensorsAreRefusedWithTheReason) {
  auto e = engine("HW");
  EXPECT_NE(e->bind_refusal(true, 0).find("HW-typed"), std::string::npos);
  EXPECT_NE(e->bind_refusal(false, 0).find("HW-typed"), std::string::npos);
  Pipeline p(e, 2);
  JobWindow& w = p.window();
  const Owner owner = w.new_owner();
  const std::size_t k = w.acquire(owner, deadline_in(1s));
  std::vector<std::byte> in(32), out(16);
  External ext{{Buffer{in.data(), in.size()}}, {Buffer{out.data(), out.size()}}, nullptr};
  const Outcome o = w.submit(k, 0, deadline_in(1s), nullptr, nullptr, &ext);
  EXPECT_EQ(o.reason, StopReason::kSubmitFailed);
  EXPECT_NE(o.message.find("HW-typed"), std::string::npos) << o.message;
  EXPECT_EQ(w.state(k), SlotState::kReserved);  // not started: still the caller's to give back
  w.give_back(k);
}

TEST(CallerMemory, CpuTypedJobsReadAndWriteTheCallersMemoryOnly) {
  Pipeline p(engine("CPU"), 1);
  JobWindow& w = p.window();
  const Owner owner = w.new_owner();
  const Slot& slot = w.slot(0);
  ASSERT_EQ(slot.inputs()[0].nbytes, 32u);
  ASSERT_EQ(slot.outputs()[0].nbytes, 16u);

  // The reference: the same input in the slot's own buffers.
  for (std::size_t i = 0; i < 32; ++i) slot.inputs()[0].data[i] = static_cast<std::byte>(i * 7 + 3);
  Collected c = one_job(w, owner, nullptr);
  EXPECT_FALSE(c.external);
  const std::vector<std::byte> want(slot.outputs()[0].data, slot.outputs()[0].data + 16);
  w.release(c.slot);

  std::vector<std::byte> in(slot.inputs()[0].data, slot.inputs()[0].data + 32), out(16, std::byte{0});
  std::memset(slot.inputs()[0].data, 0, 32);      // the slot's own input no longer matters
  std::memset(slot.outputs()[0].data, 0x5A, 16);  // nor is its own output written
  auto keep = std::make_shared<int>(1);
  const std::weak_ptr<int> kept = keep;
  External ext{{Buffer{in.data(), in.size()}}, {Buffer{out.data(), out.size()}}, keep};
  keep.reset();
  c = one_job(w, owner, &ext);
  EXPECT_TRUE(c.external);
  EXPECT_EQ(out, want);
  for (std::size_t i = 0; i < 16; ++i) EXPECT_EQ(slot.outputs()[0].data[i], std::byte{0x5A});
  EXPECT_FALSE(kept.expired());  // held by the slot until it is bound again
  w.release(c.slot);
  EXPECT_FALSE(kept.expired());

  // The next job on the slot's own buffers: its own output is written again, the keep let go.
  std::memcpy(slot.inputs()[0].data, in.data(), 32);
  c = one_job(w, owner, nullptr);
  EXPECT_FALSE(c.external);
  EXPECT_TRUE(kept.expired());
  EXPECT_EQ(std::vector<std::byte>(slot.outputs()[0].data, slot.outputs()[0].data + 16), want);
  w.release(c.slot);
}

TEST(CallerMemory, BuffersOfTheWrongSizeAreRefused) {
  Pipeline p(engine("CPU"), 1);
  JobWindow& w = p.window();
  const Owner owner = w.new_owner();
  const std::size_t k = w.acquire(owner, deadline_in(1s));
  std::vector<std::byte> in(31), out(16);
  External ext{{Buffer{in.data(), in.size()}}, {Buffer{out.data(), out.size()}}, nullptr};
  const Outcome o = w.submit(k, 0, deadline_in(1s), nullptr, nullptr, &ext);
  EXPECT_EQ(o.reason, StopReason::kSubmitFailed);
  EXPECT_NE(o.message.find("32 bytes"), std::string::npos) << o.message;
  w.give_back(k);
  // The slot still runs on its own buffers.
  const std::size_t k2 = w.acquire(owner, deadline_in(1s));
  EXPECT_TRUE(w.submit(k2, 0, deadline_in(1s)).ok());
  EXPECT_TRUE(w.collect(owner, JobWindow::Pick::kOldest, deadline_in(5s)).outcome.ok());
  w.release(k2);
}

TEST(CallerMemory, RunFramesCountTheBytesTheyCopy) {
  Pipeline p(engine("CPU"), 2);
  std::vector<std::byte> frame(32, std::byte{1});
  RunOptions o;
  o.iterations = 5;
  RunStats s = p.run(o);
  EXPECT_EQ(s.bytes_copied_in, 0u);  // a replay copies nothing
  o.frames = {{Buffer{frame.data(), frame.size()}}};
  s = p.run(o);
  EXPECT_EQ(s.bytes_copied_in, 5u * 32u);
  EXPECT_EQ(s.bytes_copied_out, 0u);
  EXPECT_EQ(p.window().copied_in(), 5u * 32u);
}

}  // namespace
}  // namespace vart_async::core
