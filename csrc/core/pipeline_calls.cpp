// The pipeline's low-level calls, for callers with a loop of their own (Session.submit(k), the
// completion thread, Session.stream()). The run loop is in pipeline.cpp.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>

#include "core/pipeline.hpp"
#include "core/pipeline_detail.hpp"
#include "core/ready_queue.hpp"

namespace vart_async::core {

using namespace detail;

Status Pipeline::submit(std::size_t k, milliseconds busy_timeout) {
  CallCounter guard(low_level_calls_);
  if (running_.load()) throw std::logic_error("the pipeline is running: submit() is not available during run()");
  check_slot(k);
  const SlotState st = state_[k].load();
  if (st == SlotState::kInFlight) throw std::logic_error("slot " + std::to_string(k) + " already has a job in flight");
  if (st == SlotState::kAbandoned) {
    if (engine_->wait(*slots_[k], microseconds{0}).code == Status::Code::kPending) {
      throw std::logic_error("slot " + std::to_string(k) + " still holds a job that never finished");
    }
    state_[k].store(SlotState::kIdle);
  }
  const auto give_up = Clock::now() + busy_timeout;
  microseconds backoff = kBackoffMin;
  for (;;) {
    Status s = engine_->submit(*slots_[k]);
    if (s.is_ok()) state_[k].store(SlotState::kInFlight);
    if (s.code != Status::Code::kBusy || Clock::now() >= give_up) return s;
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, kBackoffMax);
  }
}

Status Pipeline::wait(std::size_t k, microseconds timeout) {
  CallCounter guard(low_level_calls_);
  if (running_.load()) throw std::logic_error("the pipeline is running: wait() is not available during run()");
  check_slot(k);
  if (state_[k].load() == SlotState::kIdle) throw std::logic_error("slot " + std::to_string(k) + " has no job in flight");
  Status s = engine_->wait(*slots_[k], timeout);
  if (s.code != Status::Code::kPending) state_[k].store(SlotState::kIdle);
  return s;
}

void Pipeline::abandon(std::size_t k) {
  CallCounter guard(low_level_calls_);
  if (running_.load()) throw std::logic_error("the pipeline is running: abandon() is not available during run()");
  check_slot(k);
  SlotState expected = SlotState::kInFlight;
  state_[k].compare_exchange_strong(expected, SlotState::kAbandoned);
}

std::size_t Pipeline::next_done(microseconds timeout) {
  CallCounter guard(low_level_calls_);
  if (running_.load()) throw std::logic_error("the pipeline is running: next_done() is not available during run()");
  if (!ready_) throw std::logic_error("the engine does not report which job finished first");
  const std::size_t k = ready_->pop(timeout);
  return k == kNone ? slots_.size() : k;
}

void Pipeline::set_spin(microseconds limit) {
  if (running_.load()) throw std::logic_error("the pipeline is running: set_spin() is not available during run()");
  if (limit < microseconds{0}) throw std::invalid_argument("the spin limit must be >= 0");
  if (ready_) ready_->set_spin(limit);
}

void Pipeline::forget_done() noexcept {
  if (ready_) ready_->clear();
}

}  // namespace vart_async::core
