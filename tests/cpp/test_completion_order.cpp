// Completion order: with an engine that reports finished jobs (as OpenVINO does through request
// callbacks), a replay run collects whichever job finishes first; without one, or when asked, the
// oldest first. The fake runs each job on its own thread and reports it *before* wait() can see it
// done, the order OpenVINO uses, so the pipeline's "report, then wait" path is exercised for real.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "cancel_later.hpp"
#include "core/pipeline.hpp"

namespace vart_async::core {
namespace {

using namespace std::chrono_literals;

class ReportingEngine final : public Engine {
 public:
  struct JobSlot final : Slot {
    explicit JobSlot(std::size_t i) : index(i) {}
    ~JobSlot() override {
      if (worker.joinable()) worker.join();  // the pipeline frees a slot only once its job is done
    }
    std::size_t index;
    std::mutex m;
    std::condition_variable cv;
    bool done = true;
    std::function<void()> report;
    std::thread worker;
  };

  // How long job n (1-based submission number) takes; < 0 = until release().
  std::function<std::chrono::microseconds(std::uint64_t)> duration = [](std::uint64_t) { return 1000us; };
  bool reports = true;
  std::atomic<std::uint64_t> submits{0};

  ReportingEngine() { info_.engine = "reporting-fake"; }

  const EngineInfo& info() const noexcept override { return info_; }
  std::unique_ptr<Slot> create_slot() override { return std::make_unique<JobSlot>(n_slots_++); }
  bool notify_when_done(Slot& s, std::function<void()> done) noexcept override {
    if (!reports) return false;
    static_cast<JobSlot&>(s).report = std::move(done);
    return true;
  }
  void release() {
    const std::lock_guard<std::mutex> lock(release_m_);
    released_ = true;
    release_cv_.notify_all();
  }

  Status submit(Slot& base) noexcept override {
    auto& s = static_cast<JobSlot&>(base);
    if (s.worker.joinable()) s.worker.join();  // the previous job's thread has reported and exited
    {
      const std::lock_guard<std::mutex> lock(s.m);
      EXPECT_TRUE(s.done) << "slot submitted while its job is in flight";
      s.done = false;
    }
    const auto d = duration(++submits);
    s.worker = std::thread([this, &s, d] {
      if (d < 0us) {
        std::unique_lock<std::mutex> lock(release_m_);
        release_cv_.wait(lock, [this] { return released_; });
      } else {
        std::this_thread::sleep_for(d);
      }
      if (s.report) s.report();  // reported first, then visible to wait(), as in OpenVINO
      std::this_thread::sleep_for(200us);
      {
        const std::lock_guard<std::mutex> lock(s.m);
        s.done = true;
      }
      s.cv.notify_all();
    });
    return Status::ok();
  }

  Status wait(Slot& base, std::chrono::microseconds timeout) noexcept override {
    auto& s = static_cast<JobSlot&>(base);
    std::unique_lock<std::mutex> lock(s.m);
    return s.cv.wait_for(lock, timeout, [&] { return s.done; }) ? Status::ok() : Status::pending();
  }

  Status run(Slot&) noexcept override { return Status::failed("not used"); }

 private:
  EngineInfo info_;
  std::size_t n_slots_ = 0;
  std::mutex release_m_;
  std::condition_variable release_cv_;
  bool released_ = false;
};

// Odd jobs are slow, even jobs fast: in completion order the fast slot keeps cycling.
std::chrono::microseconds slow_odd(std::uint64_t n) { return n % 2 == 1 ? 30'000us : 1'000us; }

bool in_submission_order(const RunStats& s) {
  return std::is_sorted(s.jobs.begin(), s.jobs.end(),
                        [](const JobRecord& a, const JobRecord& b) { return a.t_done < b.t_done; });
}

TEST(CompletionOrder, ReplayCollectsWhicheverJobFinishesFirst) {
  auto e = std::make_shared<ReportingEngine>();
  e->duration = slow_odd;
  Pipeline p(e, 2);
  EXPECT_TRUE(p.knows_completion_order());
  RunOptions o;
  o.iterations = 12;
  const RunStats s = p.run(o);
  EXPECT_TRUE(s.completion_order);
  EXPECT_EQ(s.reason, StopReason::kFinished);
  EXPECT_EQ(s.submitted, 12u);
  EXPECT_EQ(s.completed, 12u);
  EXPECT_FALSE(in_submission_order(s)) << "fast jobs should be collected before an older slow one";
  for (const JobRecord& r : s.jobs) {
    EXPECT_EQ(r.outcome, JobOutcome::kCompleted);
    EXPECT_GE(r.t_done, r.t_started);
  }
}

TEST(CompletionOrder, InOrderOptionAndSilentEnginesWaitForTheOldest) {
  for (const bool engine_reports : {true, false}) {
    auto e = std::make_shared<ReportingEngine>();
    e->duration = slow_odd;
    e->reports = engine_reports;
    Pipeline p(e, 2);
    EXPECT_EQ(p.knows_completion_order(), engine_reports);
    RunOptions o;
    o.iterations = 8;
    o.completion_order = false;
    const RunStats fifo = p.run(o);
    EXPECT_FALSE(fifo.completion_order);
    EXPECT_TRUE(in_submission_order(fifo));
    o.completion_order = true;
    EXPECT_EQ(p.run(o).completion_order, engine_reports);
  }
}

TEST(CompletionOrder, NothingFinishingTimesOutTheOldestAndAbandonsIt) {
  auto e = std::make_shared<ReportingEngine>();
  e->duration = [](std::uint64_t n) { return n == 3 ? -1us : 1'000us; };  // job 3 stalls
  Pipeline p(e, 2);
  RunOptions o;
  o.iterations = 1000;  // the other slot could go on far longer than the timeout
  o.wait_timeout = 100ms;
  const RunStats s = p.run(o);
  EXPECT_EQ(s.reason, StopReason::kWaitTimeout);
  EXPECT_EQ(s.submitted, s.completed + s.failed + s.cancelled);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.jobs[2].outcome, JobOutcome::kFailed);  // the stalled one, not a younger job
  EXPECT_EQ(p.state(s.jobs[2].slot), SlotState::kAbandoned);
  // Detected within the timeout of its start, though the other slot kept finishing jobs.
  EXPECT_LT(s.jobs[2].t_done - s.jobs[2].t_started, std::chrono::nanoseconds(400ms).count());
  e->release();  // the job ends; the next run reclaims its slot
  std::this_thread::sleep_for(20ms);
  o.iterations = 4;
  const RunStats again = p.run(o);
  EXPECT_EQ(again.completed, 4u);
  EXPECT_TRUE(again.completion_order);
}

TEST(CompletionOrder, CancelDrainsAndSecondCancelAbandons) {
  auto e = std::make_shared<ReportingEngine>();
  e->duration = [](std::uint64_t n) { return n >= 5 ? -1us : 1'000us; };  // from job 5 on, nothing ends
  Pipeline p(e, 2);
  RunOptions o;  // no limit: only cancel() ends it
  std::thread canceller = cancel_twice_later(p, 50ms, 100ms);
  const RunStats s = p.run(o);
  canceller.join();
  EXPECT_EQ(s.reason, StopReason::kCancelled);
  EXPECT_EQ(s.completed, 4u);
  EXPECT_EQ(s.cancelled, 2u);
  EXPECT_EQ(s.submitted, 6u);
  e->release();
}

TEST(CompletionOrder, TheWindowHandsOutWhicheverJobFinishedFirst) {
  auto e = std::make_shared<ReportingEngine>();
  e->duration = [](std::uint64_t n) { return n == 1 ? 40'000us : 1'000us; };
  Pipeline p(e, 2);
  JobWindow& w = p.window();
  ASSERT_TRUE(w.reports_completions());
  const Owner me = w.new_owner();
  for (std::uint64_t tag : {10u, 11u}) {  // 10 is slow, 11 fast
    const std::size_t k = w.acquire(me, Clock::now());
    ASSERT_NE(k, kNone);
    ASSERT_TRUE(w.submit(k, tag, Clock::now()).ok());
  }
  Collected c = w.collect(me, JobWindow::Pick::kFirstDone, Clock::now() + 1s);
  ASSERT_TRUE(c.done);
  EXPECT_EQ(c.tag, 11u);
  w.release(c.slot);
  c = w.collect(me, JobWindow::Pick::kFirstDone, Clock::now());  // nothing else finished yet
  EXPECT_FALSE(c.done);
  EXPECT_EQ(c.outcome.reason, StopReason::kWaitTimeout);
  EXPECT_EQ(c.tag, 10u);  // the late one is named
  c = w.collect(me, JobWindow::Pick::kFirstDone, Clock::now() + 1s);
  ASSERT_TRUE(c.done);
  EXPECT_EQ(c.tag, 10u);
  w.release(c.slot);
}

TEST(CompletionOrder, SpinIsOptional) {
  for (const auto spin : {0us, 100us}) {  // runs are the same either way
    auto e = std::make_shared<ReportingEngine>();
    e->duration = [](std::uint64_t) { return 50us; };
    Pipeline p(e, 2);
    p.set_spin(spin);
    RunOptions o;
    o.iterations = 200;
    const RunStats s = p.run(o);
    EXPECT_EQ(s.completed, 200u);
    EXPECT_TRUE(s.completion_order);
    EXPECT_GE(s.cpu_ns, 0);
  }
  Pipeline p(std::make_shared<ReportingEngine>(), 1);
  EXPECT_THROW(p.set_spin(-1us), std::invalid_argument);
}

}  // namespace
}  // namespace vart_async::core
