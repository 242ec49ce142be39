// The completion thread behind callbacks and asyncio: collects the jobs of the kCallbacks owner as
// they finish, copies their outputs out and gives the slot back at once, refills it from the backlog
// of frames waiting for a slot, and hands the finished jobs on in batches, so that whoever delivers
// them (the bindings, which take the GIL) pays for one hand-over per batch, and no slot waits for
// that hand-over. Pure C++17.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/window.hpp"

namespace vart_async::core {

// A finished job's outputs, copied out of its slot (one buffer per output).
struct OutputBlock {
  std::vector<std::vector<std::byte>> outputs;
};

struct Delivery {
  Collected job;                         // done: collected; else given up / not submitted (outcome says)
  std::shared_ptr<OutputBlock> outputs;  // set when the job completed (and did not run on the caller's memory)
};

// A frame for a slot: where each input's bytes are (valid during enqueue() only: a frame that
// has to wait for a slot is copied into `owned` first, so the caller may reuse its arrays at once).
// With `external` the job runs on the caller's memory instead (no copy, not even in the backlog):
// its inputs and outputs, kept alive by external->keep.
struct Pending {
  std::uint64_t tag = 0;
  std::vector<const void*> inputs;
  std::vector<std::vector<std::byte>> owned;
  std::shared_ptr<External> external;
};

class Completer {
 public:
  using Sink = std::function<void(const std::vector<Delivery>&)>;
  static constexpr std::size_t kMaxBatch = 64;

  // `backlog`: frames that may wait for a slot (beyond those, enqueue() waits for room).
  Completer(JobWindow& window, Sink sink, std::chrono::milliseconds wait_timeout, std::size_t backlog);
  ~Completer();
  Completer(const Completer&) = delete;
  Completer& operator=(const Completer&) = delete;

  bool on_its_thread() const noexcept { return std::this_thread::get_id() == id_.load(); }

  // Submits `frame` on a free slot, or leaves it in the backlog for the next slot that frees (the
  // completion thread submits it then). Waits up to `deadline` for room in the backlog; false if
  // none came (or `interrupted` fired). A submission the runtime refuses is delivered as failed.
  bool enqueue(Pending frame, Clock::time_point deadline, const Interrupt& interrupted = {});
  // Frames in the backlog plus jobs in flight or being delivered.
  std::size_t outstanding() const;
  // Waits until nothing is outstanding; false at `deadline` or when `interrupted` fired.
  bool wait_idle(Clock::time_point deadline, const Interrupt& interrupted = {});

  // Delivers what is in flight (for up to `bound`; what is still running then is given up and
  // delivered as cancelled, and so is the backlog), then ends the thread. Throws std::logic_error on
  // the thread itself.
  void stop(std::chrono::milliseconds bound);
  // Tells the thread to end after delivering what has finished (no join; any thread).
  void request_stop() noexcept;

 private:
  void loop() noexcept;
  // Submits backlog frames into free slots; failures go to `failed`.
  void refill(std::vector<Delivery>* failed);
  // Copies a frame into reserved slot k and submits it; a refusal goes to `failed` (or refused_).
  void submit_into(std::size_t k, const Pending& frame, std::vector<Delivery>* failed);
  Delivery take(const Collected& c);  // copies the outputs out and releases the slot
  void deliver(std::vector<Delivery>& batch) noexcept;

  JobWindow& window_;
  Sink sink_;
  const std::chrono::milliseconds wait_timeout_;
  const std::size_t backlog_limit_;
  mutable std::mutex mutex_;
  std::condition_variable room_;  // backlog room, or nothing outstanding
  std::deque<Pending> backlog_;
  std::vector<Delivery> refused_;  // submissions of backlog frames refused outside the thread
  std::size_t delivering_ = 0;     // jobs collected but not delivered yet
  bool stopping_ = false;
  Clock::time_point stop_by_{};
  std::atomic<std::thread::id> id_{};
  std::thread thread_;
};

}  // namespace vart_async::core
