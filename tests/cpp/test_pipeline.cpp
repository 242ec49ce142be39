// Pipeline semantics against a scripted fake engine (no threads, exact control), plus an
// end-to-end check through the VART engine on the emulator.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "cancel_later.hpp"
#include "core/pipeline.hpp"
#include "engines/vart/vart_engine.hpp"

namespace vart_async::core {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Jobs finish `service` after submission unless scripted otherwise. Thread-safe enough for one
// driver thread plus cancel() from another.
class FakeEngine final : public Engine {
 public:
  struct FakeSlot final : Slot {
    explicit FakeSlot(std::size_t index) : index_(index), data_(8) {
      inputs_.push_back({data_.data(), 4});
      outputs_.push_back({data_.data() + 4, 4});
    }
    std::size_t index_;
    std::vector<std::byte> data_;
    std::uint64_t job = 0;  // 1-based submission number, 0 = none
    Clock::time_point done_at;
  };

  std::chrono::microseconds service{500};
  std::size_t capacity = 1000;       // jobs the "runtime" accepts at once
  std::set<std::uint64_t> fail_jobs;   // 1-based submission numbers
  std::set<std::uint64_t> stall_jobs;  // never finish
  std::uint64_t busy_storm = 0;        // answer busy to the next N submits
  // observations
  std::uint64_t submits = 0, busy_answers = 0;
  std::size_t in_flight = 0, max_seen = 0;
  std::vector<std::size_t> submit_slots, completion_slots;
  std::vector<std::uint32_t> seen_inputs;  // each job's input word, in submission order

  void declare_input() {  // a 4-byte input tensor, so that frames can be given
    TensorSpec t;
    t.name = "x";
    t.nbytes = 4;
    info_.inputs.push_back(t);
  }
  static void record_input(FakeSlot& slot, std::vector<std::uint32_t>& seen) {
    std::uint32_t v = 0;
    std::memcpy(&v, slot.data_.data(), 4);
    seen.push_back(v);
  }
  void record_input(FakeSlot& slot) { record_input(slot, seen_inputs); }

  FakeEngine() { info_.engine = "fake"; info_.batch_size = 1; }
  const EngineInfo& info() const noexcept override { return info_; }
  std::unique_ptr<Slot> create_slot() override { return std::make_unique<FakeSlot>(n_slots_++); }

  Status submit(Slot& s) noexcept override {
    auto& slot = static_cast<FakeSlot&>(s);
    EXPECT_EQ(slot.job, 0u) << "slot submitted while its job is in flight";
    if (busy_storm > 0 || in_flight >= capacity) {
      if (busy_storm > 0) --busy_storm;
      ++busy_answers;
      return Status::busy();
    }
    record_input(slot);
    slot.job = ++submits;
    slot.done_at = stall_jobs.count(slot.job) ? Clock::time_point::max() : Clock::now() + service;
    max_seen = std::max(max_seen, ++in_flight);
    submit_slots.push_back(slot.index_);
    return Status::ok();
  }

  Status wait(Slot& s, std::chrono::microseconds timeout) noexcept override {
    auto& slot = static_cast<FakeSlot&>(s);
    EXPECT_NE(slot.job, 0u) << "wait on a slot with no job";
    const auto limit = Clock::now() + timeout;
    if (slot.done_at > limit) {
      if (slot.done_at != Clock::time_point::max()) std::this_thread::sleep_until(limit);
      else std::this_thread::sleep_for(timeout);
      return Status::pending();
    }
    std::this_thread::sleep_until(slot.done_at);
    const bool fail = fail_jobs.count(slot.job) > 0;
    slot.job = 0;
    --in_flight;
    completion_slots.push_back(slot.index_);
    return fail ? Status::failed("scripted failure") : Status::ok();
  }

  Status run(Slot& s) noexcept override {
    auto& slot = static_cast<FakeSlot&>(s);
    record_input(slot);
    ++submits;
    submit_slots.push_back(slot.index_);
    std::this_thread::sleep_for(service);
    return fail_jobs.count(submits) ? Status::failed("scripted failure") : Status::ok();
  }

 private:
  EngineInfo info_;
  std::size_t n_slots_ = 0;
};

void expect_accounted(const RunStats& s) {
  EXPECT_EQ(s.submitted, s.completed + s.failed + s.cancelled);
  EXPECT_EQ(s.jobs.size(), s.submitted);
  std::uint64_t c = 0, f = 0, x = 0;
  for (const auto& r : s.jobs) {
    c += r.outcome == JobOutcome::kCompleted;
    f += r.outcome == JobOutcome::kFailed;
    x += r.outcome == JobOutcome::kCancelled;
  }
  EXPECT_EQ(c, s.completed);
  EXPECT_EQ(f, s.failed);
  EXPECT_EQ(x, s.cancelled);
}

TEST(Pipeline, ExactSubmissionCountFifoAndDepth) {
  for (std::size_t k : {1u, 2u, 3u, 8u}) {
    auto e = std::make_shared<FakeEngine>();
    Pipeline p(e, k);
    RunOptions o;
    o.iterations = 37;
    const RunStats s = p.run(o);
    EXPECT_EQ(s.reason, StopReason::kFinished);
    EXPECT_EQ(s.submitted, 37u);
    EXPECT_EQ(s.completed, 37u);
    EXPECT_EQ(e->submits, 37u);
    EXPECT_EQ(s.max_in_flight, std::min<std::size_t>(k, 37));
    EXPECT_LE(e->max_seen, k);
    // FIFO: completions are taken in submission order, so slots come back in the order they went.
    EXPECT_EQ(e->completion_slots, e->submit_slots);
    // Slots are reused round-robin.
    for (std::size_t i = 0; i < e->submit_slots.size(); ++i) EXPECT_EQ(e->submit_slots[i], i % k);
    for (std::size_t i = 1; i < s.jobs.size(); ++i) EXPECT_LE(s.jobs[i - 1].t_done, s.jobs[i].t_done);
    for (const auto& r : s.jobs) {
      EXPECT_LE(r.t_submit, r.t_started);
      EXPECT_LE(r.t_started, r.t_done);
    }
    expect_accounted(s);
  }
}

TEST(Pipeline, BusyIsRetriedNotAnError) {
  auto e = std::make_shared<FakeEngine>();
  e->capacity = 2;  // fewer runtime slots than pipeline slots: busy every round
  Pipeline p(e, 4);
  RunOptions o;
  o.iterations = 20;
  const RunStats s = p.run(o);
  EXPECT_EQ(s.reason, StopReason::kFinished);
  EXPECT_EQ(s.completed, 20u);
  EXPECT_GT(s.busy_retries, 0u);
  EXPECT_EQ(s.busy_retries, e->busy_answers);
  EXPECT_LE(e->max_seen, 2u);
}

TEST(Pipeline, BusyStormWithNothingInFlightBacksOff) {
  auto e = std::make_shared<FakeEngine>();
  e->busy_storm = 30;
  Pipeline p(e, 2);
  RunOptions o;
  o.iterations = 5;
  const auto t0 = Clock::now();
  const RunStats s = p.run(o);
  EXPECT_EQ(s.completed, 5u);
  EXPECT_EQ(s.busy_retries, 30u);
  // 30 backoffs starting at 50 us and capped at 5 ms: well above a spin, well below a hang.
  EXPECT_GT(Clock::now() - t0, 1ms);
}

TEST(Pipeline, EndlessBusyEndsWithBusyTimeout) {
  auto e = std::make_shared<FakeEngine>();
  e->busy_storm = 1'000'000;
  Pipeline p(e, 2);
  RunOptions o;
  o.iterations = 5;
  o.wait_timeout = 100ms;
  const RunStats s = p.run(o);
  EXPECT_EQ(s.reason, StopReason::kBusyTimeout);
  EXPECT_EQ(s.submitted, 0u);
  expect_accounted(s);
}

TEST(Pipeline, FailedJobStopsSubmittingAndDrains) {
  auto e = std::make_shared<FakeEngine>();
  e->fail_jobs = {5};
  Pipeline p(e, 3);
  RunOptions o;
  o.iterations = 100;
  const RunStats s = p.run(o);
  EXPECT_EQ(s.reason, StopReason::kJobFailed);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.jobs[4].outcome, JobOutcome::kFailed);
  EXPECT_EQ(s.submitted, 7u);  // jobs 6 and 7 were already in flight; nothing after
  EXPECT_EQ(s.completed, 6u);
  EXPECT_NE(s.message.find("scripted failure"), std::string::npos);
  expect_accounted(s);
  EXPECT_EQ(e->in_flight, 0u);
}

TEST(Pipeline, StallPastTimeoutAbandonsTheSlotAndReportsIt) {
  auto e = std::make_shared<FakeEngine>();
  e->stall_jobs = {3};
  Pipeline p(e, 2);
  RunOptions o;
  o.iterations = 10;
  o.wait_timeout = 200ms;
  const RunStats s = p.run(o);
  EXPECT_EQ(s.reason, StopReason::kWaitTimeout);
  EXPECT_EQ(s.jobs[2].outcome, JobOutcome::kFailed);
  EXPECT_EQ(s.submitted, 4u);
  expect_accounted(s);
  // The stalled job's slot is never reused while the runtime may still write to it.
  EXPECT_EQ(p.state(s.jobs[2].slot), SlotState::kAbandoned);
  const auto other = 1 - s.jobs[2].slot;
  EXPECT_EQ(p.state(other), SlotState::kIdle);
  // A second run works with the slot that is left.
  RunOptions again;
  again.iterations = 3;
  e->stall_jobs.clear();
  const RunStats s2 = p.run(again);
  EXPECT_EQ(s2.completed, 3u);
  for (const auto& r : s2.jobs) EXPECT_EQ(r.slot, other);
}

TEST(Pipeline, CancelDrainsInFlightJobs) {
  auto e = std::make_shared<FakeEngine>();
  e->service = 2ms;
  Pipeline p(e, 2);
  RunOptions o;
  o.time_limit_s = 30;
  std::thread canceller([&] {
    std::this_thread::sleep_for(50ms);
    p.cancel();
  });
  const auto t0 = Clock::now();
  const RunStats s = p.run(o);
  canceller.join();
  EXPECT_LT(Clock::now() - t0, 5s);
  EXPECT_EQ(s.reason, StopReason::kCancelled);
  EXPECT_GT(s.completed, 0u);
  EXPECT_EQ(s.cancelled, 0u);  // one cancel drains: every job in flight completed
  expect_accounted(s);
  EXPECT_EQ(e->in_flight, 0u);
}

TEST(Pipeline, SecondCancelAbandonsStuckJobs) {
  auto e = std::make_shared<FakeEngine>();
  e->stall_jobs = {1, 2};
  Pipeline p(e, 2);
  RunOptions o;
  o.iterations = 10;
  std::thread canceller = cancel_twice_later(p, 100ms, 100ms);
  const RunStats s = p.run(o);
  canceller.join();
  EXPECT_EQ(s.reason, StopReason::kCancelled);
  EXPECT_EQ(s.cancelled, 2u);
  expect_accounted(s);
  EXPECT_EQ(p.state(0), SlotState::kAbandoned);
}

TEST(Pipeline, TimeLimitAndBothLimits) {
  auto e = std::make_shared<FakeEngine>();
  Pipeline p(e, 2);
  RunOptions o;
  o.time_limit_s = 0.2;
  const RunStats s = p.run(o);
  EXPECT_GE(s.wall_ns, 200'000'000);
  EXPECT_EQ(s.reason, StopReason::kFinished);
  // benchmark_app's rule: with both limits the run goes on until both are met.
  o.iterations = 3;
  const RunStats s2 = p.run(o);
  EXPECT_GT(s2.submitted, 3u);
  o.time_limit_s = 0.001;
  o.iterations = 200;
  const RunStats s3 = p.run(o);
  EXPECT_EQ(s3.submitted, 200u);
}

TEST(Pipeline, SyncRunsOneAtATimeOverAllSlots) {
  auto e = std::make_shared<FakeEngine>();
  Pipeline p(e, 3);
  RunOptions o;
  o.iterations = 9;
  o.sync = true;
  const RunStats s = p.run(o);
  EXPECT_EQ(s.completed, 9u);
  EXPECT_EQ(s.max_in_flight, 1u);
  for (std::size_t i = 0; i < 9; ++i) EXPECT_EQ(e->submit_slots[i], i % 3);
}

TEST(Pipeline, WarmupIsExcluded) {
  auto e = std::make_shared<FakeEngine>();
  Pipeline p(e, 2);
  RunOptions o;
  o.iterations = 10;
  o.warmup = 4;
  const RunStats s = p.run(o);
  EXPECT_EQ(s.submitted, 10u);
  EXPECT_EQ(e->submits, 14u);
}

TEST(Pipeline, LongRunsKeepABoundedRecordAndEveryLatency) {
  auto e = std::make_shared<FakeEngine>();
  e->service = std::chrono::microseconds{0};
  Pipeline p(e, 2);
  RunOptions o;
  o.iterations = 5000;
  o.max_records = 100;
  const RunStats s = p.run(o);
  EXPECT_EQ(s.completed, 5000u);
  EXPECT_EQ(s.jobs.size(), 100u);
  EXPECT_EQ(s.records_dropped, 4900u);
  EXPECT_EQ(s.latency.count(), 5000u);
  for (std::size_t i = 0; i < s.jobs.size(); ++i) EXPECT_EQ(s.jobs[i].seq, i);  // the first ones
}

TEST(Pipeline, FramesAreCycledOnePerJobIntoItsSlot) {
  for (const bool sync : {false, true}) {
    auto e = std::make_shared<FakeEngine>();
    e->declare_input();
    Pipeline p(e, 3);
    std::vector<std::uint32_t> words{11, 22, 33, 44, 55};
    RunOptions o;
    o.iterations = 12;
    o.warmup = 2;
    o.sync = sync;
    for (auto& w : words) o.frames.push_back({Buffer{reinterpret_cast<std::byte*>(&w), 4}});
    const RunStats s = p.run(o);
    EXPECT_EQ(s.completed, 12u);
    ASSERT_EQ(e->seen_inputs.size(), 14u);
    for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ(e->seen_inputs[i], words[i % 5]) << "warm-up job " << i;
    for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(e->seen_inputs[2 + i], words[i % 5]) << "job " << i;
    EXPECT_GE(s.first_job_ns, 0);
  }
}

TEST(Pipeline, FramesOfTheWrongShapeAreRefused) {
  auto e = std::make_shared<FakeEngine>();
  e->declare_input();
  Pipeline p(e, 2);
  std::uint64_t big = 0;
  RunOptions o;
  o.iterations = 1;
  o.frames.push_back({Buffer{reinterpret_cast<std::byte*>(&big), 8}});
  EXPECT_THROW(p.run(o), std::invalid_argument);
  o.frames = {{}};
  EXPECT_THROW(p.run(o), std::invalid_argument);
  o.frames = {{Buffer{nullptr, 4}}};
  EXPECT_THROW(p.run(o), std::invalid_argument);
  o.frames.clear();
  EXPECT_EQ(p.run(o).completed, 1u);  // nothing was left running
}

TEST(Pipeline, LowLevelSubmitWait) {
  auto e = std::make_shared<FakeEngine>();
  Pipeline p(e, 2);
  std::uint64_t seq = 0;
  EXPECT_TRUE(p.submit(0, 1000ms, &seq).ok());
  EXPECT_THROW(p.submit(0, 1000ms), std::logic_error);  // already in flight
  EXPECT_THROW(p.run(RunOptions{}), std::logic_error);   // a job from submit() is in flight
  const Collected c = p.wait(0, seq, 1'000'000us);
  EXPECT_TRUE(c.done);
  EXPECT_TRUE(c.outcome.ok());
  EXPECT_EQ(p.state(0), SlotState::kIdle);
  EXPECT_TRUE(p.wait(0, seq, 0us).outcome.ok());  // a second wait on the same job: its outcome again
  EXPECT_THROW(p.wait(0, seq + 7, 0us), std::logic_error);  // not a job of this slot
  EXPECT_THROW(p.slot(2), std::out_of_range);
}

TEST(Pipeline, DestructorWithJobsInFlightDoesNotFreeTheirBuffers) {
  auto e = std::make_shared<FakeEngine>();
  {
    Pipeline p(e, 2);
    EXPECT_TRUE(p.submit(0, 1000ms).ok());
  }  // waits for the job (it finishes within its service time)
  EXPECT_EQ(e->in_flight, 0u);
}

// ---- end to end through the VART engine on the emulator --------------------------------------

std::string write_descriptor(const std::string& name, const std::string& body) {
  const std::string path = testing::TempDir() + name;
  std::ofstream(path) << body;
  return path;
}

TEST(VartOnEmulator, AsyncPipelineRunsAndAccounts) {
  const std::string path = write_descriptor("pipe_tiny.json", R"({
    "name": "tiny", "batch_size": 2, "compute_units": 2, "execution_slots": 2, "service_time_us": 200,
    "inputs": [{"name": "x", "data_type": "UINT8", "shape": [1, 16], "layout": "NC"}],
    "outputs": [{"name": "y", "data_type": "INT8", "shape": [1, 8], "layout": "NC"}]})");
  std::shared_ptr<Engine> engine = engines::create_vart_engine(path, {});
  EXPECT_EQ(engine->info().batch_size, 2u);
  EXPECT_EQ(engine->info().inputs.at(0).shape, (std::vector<std::int64_t>{2, 16}));
  EXPECT_EQ(engine->info().inputs.at(0).nbytes, 32u);
  Pipeline p(engine, 4);  // more pipeline slots than execution slots: busy answers happen
  RunOptions o;
  o.iterations = 50;
  const RunStats s = p.run(o);
  EXPECT_EQ(s.reason, StopReason::kFinished) << s.message;
  EXPECT_EQ(s.completed, 50u);
  expect_accounted(s);
}

// Slots hold batch_size input rows and output_batch_size output rows, each tensor's shape its own
// direction's batch; a job's one output row is the emulator's output of input row 0.
TEST(VartOnEmulator, OutputBatchDiffersFromInputBatch) {
  const std::string tensors = R"(
    "inputs": [{"name": "x", "data_type": "UINT8", "shape": [1, 16], "layout": "NC"}],
    "outputs": [{"name": "y", "data_type": "INT8", "shape": [1, 8], "layout": "NC"}]})";
  const std::string common = R"("compute_units": 1, "execution_slots": 2, "service_time_us": 0,)";
  std::shared_ptr<Engine> engine = engines::create_vart_engine(
      write_descriptor("pipe_4to1.json", R"({"name": "b41", "batch_size": 4, "output_batch_size": 1, )" + common +
                                             tensors),
      {});
  std::shared_ptr<Engine> one = engines::create_vart_engine(
      write_descriptor("pipe_1.json", R"({"name": "b1", "batch_size": 1, )" + common + tensors), {});
  const EngineInfo& info = engine->info();
  EXPECT_EQ(info.batch_size, 4u);
  EXPECT_EQ(info.output_batch_size, 1u);
  EXPECT_EQ(info.inputs.at(0).shape, (std::vector<std::int64_t>{4, 16}));
  EXPECT_EQ(info.inputs.at(0).nbytes, 64u);
  EXPECT_EQ(info.outputs.at(0).shape, (std::vector<std::int64_t>{1, 8}));
  EXPECT_EQ(info.outputs.at(0).nbytes, 8u);

  std::unique_ptr<Slot> slot = engine->create_slot();
  std::unique_ptr<Slot> ref = one->create_slot();
  ASSERT_EQ(slot->inputs().at(0).nbytes, 64u);
  ASSERT_EQ(slot->outputs().at(0).nbytes, 8u);
  for (std::size_t i = 0; i < 64; ++i) slot->inputs()[0].data[i] = static_cast<std::byte>(i * 5 + 1);
  std::memcpy(ref->inputs()[0].data, slot->inputs()[0].data, 16);  // row 0
  ASSERT_TRUE(engine->run(*slot).is_ok());
  ASSERT_TRUE(one->run(*ref).is_ok());
  EXPECT_EQ(std::memcmp(slot->outputs()[0].data, ref->outputs()[0].data, 8), 0);
  ASSERT_TRUE(engine->submit(*slot).is_ok());  // the async path passes the same row counts
  ASSERT_TRUE(engine->wait(*slot, std::chrono::seconds(30)).is_ok());
  EXPECT_EQ(std::memcmp(slot->outputs()[0].data, ref->outputs()[0].data, 8), 0);

  Pipeline p(engine, 2);
  RunOptions o;
  o.iterations = 10;
  const RunStats s = p.run(o);
  EXPECT_EQ(s.reason, StopReason::kFinished) << s.message;
  EXPECT_EQ(s.completed, 10u);
  expect_accounted(s);
}

TEST(VartOnEmulator, BadModelIsAClearError) {
  try {
    engines::create_vart_engine(testing::TempDir() + "missing.json", {});
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
  EXPECT_THROW(engines::create_vart_engine(testing::TempDir() + "x.json", {{"input_tensor_type", "GPU"}}),
               std::invalid_argument);
}

}  // namespace
}  // namespace vart_async::core
