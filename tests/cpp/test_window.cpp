// The job window under several threads at once, through the VART engine on the emulator (a real,
// threaded runtime): drivers with owners of their own, the completion thread, abandoning and the
// bounded close. Run under ASan/UBSan and TSan in CI.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/completer.hpp"
#include "core/pipeline.hpp"
#include "engines/vart/vart_engine.hpp"

namespace vart_async::core {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<Engine> emulated(const std::string& name, const std::string& extra) {
  const std::string path = testing::TempDir() + name;
  std::ofstream(path) << R"({"name": "w", "batch_size": 1, "compute_units": 2, "execution_slots": 4,
    "service_time_us": 200, "service_jitter_us": 200)"
                      << extra << R"(,
    "inputs": [{"name": "x", "data_type": "UINT8", "shape": [1, 16], "layout": "NC"}],
    "outputs": [{"name": "y", "data_type": "INT8", "shape": [1, 8], "layout": "NC"}]})";
  return engines::create_vart_engine(path, {});
}

TEST(JobWindow, DriversOnSeveralThreadsNeverShareASlotAndAccountForEveryJob) {
  Pipeline p(emulated("window_drivers.json", ""), 4);
  JobWindow& w = p.window();
  std::atomic<std::uint64_t> submitted{0}, collected{0};
  std::mutex seen_mutex;
  std::set<std::pair<Owner, std::uint64_t>> seen;  // (owner, tag): each job collected once, by its owner
  auto driver = [&] {
    const Owner me = w.new_owner();
    std::uint64_t tag = 0, held = 0;
    for (int round = 0; round < 300; ++round) {
      const std::size_t k = w.acquire(me, Clock::now() + 10ms);
      if (k != kNone) {
        ASSERT_EQ(w.state(k), SlotState::kReserved);
        ASSERT_TRUE(w.submit(k, tag++, Clock::now() + 1s).ok());
        ++submitted;
        ++held;
      }
      if (held > 0 && (k == kNone || round % 3 == 0)) {
        const Collected c = w.collect(me, JobWindow::Pick::kFirstDone, Clock::now() + 5s);
        ASSERT_TRUE(c.done);
        ASSERT_TRUE(c.outcome.ok()) << c.outcome.message;
        {
          const std::lock_guard<std::mutex> lock(seen_mutex);
          ASSERT_TRUE(seen.insert({me, c.tag}).second) << "collected twice";
        }
        w.release(c.slot);
        ++collected;
        --held;
      }
    }
    while (held > 0) {
      const Collected c = w.collect(me, JobWindow::Pick::kOldest, Clock::now() + 5s);
      ASSERT_TRUE(c.done);
      w.release(c.slot);
      ++collected;
      --held;
    }
    EXPECT_EQ(w.held(me), 0u);
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back(driver);
  for (auto& t : threads) t.join();
  EXPECT_GT(submitted.load(), 0u);
  EXPECT_EQ(submitted.load(), collected.load());
  for (std::size_t k = 0; k < p.jobs(); ++k) EXPECT_EQ(p.state(k), SlotState::kIdle);
}

TEST(JobWindow, CompletionThreadDeliversEveryJobInBatchesWhileOthersSubmit) {
  Pipeline p(emulated("window_completer.json", ""), 4);
  std::atomic<std::uint64_t> delivered{0}, batches{0};
  std::mutex tags_mutex;
  std::set<std::uint64_t> tags;
  Completer& c = p.completer(
      [&](const std::vector<Delivery>& batch) {
        ++batches;
        for (const Delivery& d : batch) {
          EXPECT_TRUE(d.job.done);
          ASSERT_TRUE(d.outputs);
          EXPECT_EQ(d.outputs->outputs.at(0).size(), 8u);
          const std::lock_guard<std::mutex> lock(tags_mutex);
          EXPECT_TRUE(tags.insert(d.job.tag).second) << "delivered twice";
          ++delivered;
        }
      },
      30s, 8);
  std::vector<std::byte> frame(16, std::byte{7});
  std::atomic<std::uint64_t> next_tag{0};
  auto submitter = [&] {
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(c.enqueue(Pending{next_tag++, {frame.data()}, {}, nullptr}, Clock::now() + 5s));
  };
  std::thread a(submitter), b(submitter);
  a.join();
  b.join();
  ASSERT_TRUE(c.wait_idle(Clock::now() + 10s));
  EXPECT_EQ(delivered.load(), 400u);
  EXPECT_LE(batches.load(), delivered.load());
  EXPECT_EQ(p.close(1s), 0u);
}

TEST(JobWindow, CloseWaitsForStalledJobsAllAtOnceUnderOneBound) {
  Pipeline p(emulated("window_stalls.json", R"(, "faults": {"stall_jobs": [1, 2, 3, 4], "stall_ms": 60000})"), 4);
  for (std::size_t k = 0; k < 4; ++k) ASSERT_TRUE(p.submit(k, 1s).ok());
  const auto t0 = Clock::now();
  EXPECT_EQ(p.close(300ms), 4u);  // kept forever, never freed under the runtime
  EXPECT_LT(Clock::now() - t0, 1s);
}

TEST(JobWindow, CloseAndCancelFromOtherThreadsDuringARun) {
  Pipeline p(emulated("window_cancel.json", ""), 3);
  RunOptions o;  // no limit: only cancel() ends it
  std::thread canceller([&] {
    std::this_thread::sleep_for(50ms);
    p.cancel();
  });
  const RunStats s = p.run(o);
  canceller.join();
  EXPECT_EQ(s.reason, StopReason::kCancelled);
  EXPECT_EQ(s.submitted, s.completed + s.failed + s.cancelled);
  // A low-level submit during a run is refused at once, never a second job on a slot.
  std::thread runner([&] {
    RunOptions r;
    r.iterations = 2000;
    for (;;) {
      try {
        EXPECT_EQ(p.run(r).completed, 2000u);
        return;
      } catch (const std::logic_error&) {  // a low-level job holds a slot: said at once, try again
        std::this_thread::sleep_for(1ms);
      }
    }
  });
  for (int i = 0; i < 50; ++i) {
    try {
      std::uint64_t seq = 0;
      if (p.submit(0, 0ms, &seq).ok()) (void)p.wait(0, seq, 1'000'000us);
    } catch (const std::logic_error&) {  // running, or the slot is in use: said at once
    }
  }
  runner.join();
}

}  // namespace
}  // namespace vart_async::core
