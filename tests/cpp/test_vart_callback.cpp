// Completion by callback: the VART engine with completion="callback" submits through the
// execute_async callback overload, whose callback reports the job to the job window, so a run
// collects whichever job finished first. On the emulator: in order, out of order, failed jobs,
// stalls past the wait timeout, cancel, low-level jobs and a pipeline dropped with jobs in flight.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "cancel_later.hpp"
#include "core/pipeline.hpp"
#include "engines/vart/vart_engine.hpp"

namespace vart_async::core {
namespace {

using namespace std::chrono_literals;

std::string descriptor(const std::string& name, const std::string& extra) {
  const std::string path = testing::TempDir() + name;
  std::ofstream(path) << R"({"name": "cb", "batch_size": 1, "compute_units": 2, "execution_slots": 4,
    "inputs": [{"name": "x", "data_type": "UINT8", "shape": [1, 16], "layout": "NC"}],
    "outputs": [{"name": "y", "data_type": "INT8", "shape": [1, 8], "layout": "NC"}])"
                      << extra << "}";
  return path;
}

std::shared_ptr<Engine> engine(const std::string& path, const std::string& completion = "callback") {
  return engines::create_vart_engine(path, {{"completion", completion}});
}

std::string property(const std::shared_ptr<Engine>& e, const std::string& key) {
  for (const auto& [k, v] : e->info().properties) {
    if (k == key) return v;
  }
  return "(none)";
}

void expect_accounted(const RunStats& s) {
  EXPECT_EQ(s.submitted, s.completed + s.failed + s.cancelled);
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

// Whether some job was seen done before a job submitted earlier.
bool overtaken(const RunStats& s) {
  for (std::size_t i = 1; i < s.jobs.size(); ++i) {
    if (s.jobs[i].t_done >= 0 && s.jobs[i].t_done < s.jobs[i - 1].t_done) return true;
  }
  return false;
}

TEST(VartCallback, TheEngineSaysWhichCompletionItUses) {
  const std::string path = descriptor("cb_info.json", R"(, "service_time_us": 100)");
  EXPECT_EQ(property(engine(path), "completion"), "callback");
  EXPECT_EQ(property(engine(path, "poll"), "completion"), "poll");
  EXPECT_EQ(property(engines::create_vart_engine(path, {}), "completion"), "poll");
  EXPECT_THROW(engine(path, "interrupt"), std::invalid_argument);
  EXPECT_EQ(property(engine(path), "compute_units"), "2");  // get_property, where the runtime has the key
  EXPECT_EQ(property(engine(path), "execution_slots"), "4");
  EXPECT_EQ(property(engine(path), "nb_ddrs"), "(none)");
}

TEST(VartCallback, InOrderJobsAllComplete) {
  Pipeline p(engine(descriptor("cb_in_order.json", R"(, "service_time_us": 300)")), 4);
  EXPECT_TRUE(p.knows_completion_order());
  RunOptions o;
  o.iterations = 200;
  const RunStats s = p.run(o);
  EXPECT_EQ(s.reason, StopReason::kFinished) << s.message;
  EXPECT_EQ(s.completed, 200u);
  EXPECT_TRUE(s.completion_order);
  expect_accounted(s);
}

TEST(VartCallback, OutOfOrderJobsAreCollectedAsTheyFinish) {
  const std::string path = descriptor("cb_ooo.json", R"(, "service_time_us": 4000, "faults": {"out_of_order": true})");
  RunOptions o;
  o.iterations = 40;
  {
    Pipeline p(engine(path), 4);
    const RunStats s = p.run(o);
    EXPECT_EQ(s.completed, 40u) << s.message;
    EXPECT_TRUE(s.completion_order);
    EXPECT_TRUE(overtaken(s)) << "short even jobs should be collected before the long odd ones before them";
    expect_accounted(s);
  }
  {
    Pipeline p(engine(path, "poll"), 4);  // the same runtime, polled oldest first
    const RunStats s = p.run(o);
    EXPECT_EQ(s.completed, 40u) << s.message;
    EXPECT_FALSE(s.completion_order);
    EXPECT_FALSE(overtaken(s));
  }
}

TEST(VartCallback, AFailedJobIsReportedWithItsStatus) {
  Pipeline p(engine(descriptor("cb_fail.json", R"(, "service_time_us": 200, "faults": {"fail_jobs": [5]})")), 4);
  RunOptions o;
  o.iterations = 50;
  const RunStats s = p.run(o);
  EXPECT_EQ(s.reason, StopReason::kJobFailed);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_NE(s.message.find("RUNTIME_ERROR"), std::string::npos) << s.message;
  EXPECT_LT(s.submitted, 50u);
  expect_accounted(s);
  o.iterations = 10;  // the pipeline is still usable (job ids go on: no fault any more)
  EXPECT_EQ(p.run(o).completed, 10u);
}

TEST(VartCallback, AStallPastTheWaitTimeoutAbandonsItsSlotUntilTheRuntimeIsDone) {
  Pipeline p(engine(descriptor("cb_stall.json",
                               R"(, "service_time_us": 200, "faults": {"stall_jobs": [3], "stall_ms": 600})")),
             2);
  RunOptions o;
  o.iterations = 20;
  o.wait_timeout = 100ms;
  const auto t0 = std::chrono::steady_clock::now();
  const RunStats s = p.run(o);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(s.reason, StopReason::kWaitTimeout) << s.message;
  expect_accounted(s);
  ASSERT_GE(s.jobs.size(), 3u);
  EXPECT_EQ(s.jobs[2].outcome, JobOutcome::kFailed);  // the late job, counted once
  EXPECT_EQ(p.state(s.jobs[2].slot), SlotState::kAbandoned);
  std::this_thread::sleep_for(700ms);  // the stalled job's callback has come by now
  o.wait_timeout = 5000ms;
  const RunStats again = p.run(o);
  EXPECT_EQ(again.completed, 20u) << again.message;  // both slots back
  EXPECT_EQ(again.max_in_flight, 2u);
}

TEST(VartCallback, CancelDrainsAndASecondCancelAbandons) {
  Pipeline p(engine(descriptor("cb_cancel.json",
                               R"(, "service_time_us": 1000, "faults": {"stall_jobs": [7, 8], "stall_ms": 1500})")),
             2);
  RunOptions o;
  o.time_limit_s = 30;
  std::thread canceller = cancel_twice_later(p, 200ms, 150ms);
  const auto t0 = std::chrono::steady_clock::now();
  const RunStats s = p.run(o);
  canceller.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(s.reason, StopReason::kCancelled);
  EXPECT_EQ(s.cancelled, 2u);  // the two stalled jobs
  expect_accounted(s);
}

TEST(VartCallback, LowLevelSubmitAndWait) {
  Pipeline p(engine(descriptor("cb_low.json", R"(, "service_time_us": 500)")), 2);
  std::uint64_t a = 0, b = 0;
  ASSERT_TRUE(p.submit(0, 1000ms, &a).ok());
  ASSERT_TRUE(p.submit(1, 1000ms, &b).ok());
  EXPECT_TRUE(p.wait(1, b, 5'000'000us).done);
  EXPECT_TRUE(p.wait(0, a, 5'000'000us).done);
}

TEST(VartCallback, DroppingThePipelineWithJobsInFlightIsSafe) {
  // The callbacks of jobs still running come after the pipeline (and then the engine) is gone.
  auto e = engine(descriptor("cb_drop.json", R"(, "service_time_us": 300000)"));
  {
    Pipeline p(e, 2);
    std::uint64_t seq = 0;
    ASSERT_TRUE(p.submit(0, 1000ms, &seq).ok());
    ASSERT_TRUE(p.submit(1, 1000ms, &seq).ok());
    (void)p.close(10ms);  // gives up on them
  }
  e.reset();  // the runner finishes its jobs (their callbacks run) before it is destroyed
}

}  // namespace
}  // namespace vart_async::core
