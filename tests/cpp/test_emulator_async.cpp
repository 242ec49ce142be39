// The VART-ML emulator's job rules (docs/emulator.md): execute / execute_async / wait, job ids,
// execution slots and RESOURCE_UNAVAILABLE, timeouts and polling, callbacks, argument validation,
// concurrent submitters and runner teardown with jobs in flight.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "emu_test_helpers.hpp"

namespace vart_emu_test {
namespace {

// ---- execute / execute_async / wait ----------------------------------------------------------------

vart::JobHandle submit_retry(vart::Runner& r, const Rows& in, Rows& out) {
  const auto deadline = std::chrono::steady_clock::now() + kLong;
  for (;;) {
    const vart::JobHandle h = r.execute_async(in, out);
    if (h.status != StatusCode::RESOURCE_UNAVAILABLE || std::chrono::steady_clock::now() > deadline) return h;
    std::this_thread::sleep_for(1ms);
  }
}

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

}  // namespace
}  // namespace vart_emu_test
