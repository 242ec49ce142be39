// The pipeline's calls for callers with a loop of their own: the low-level submit(k) / wait (Job),
// and the completion thread behind callbacks. The run loop is in pipeline.cpp.
#include <stdexcept>
#include <string>

#include "core/completer.hpp"
#include "core/pipeline.hpp"
#include "core/pipeline_detail.hpp"

namespace vart_async::core {

using namespace detail;

Outcome Pipeline::submit(std::size_t k, std::chrono::milliseconds busy_timeout, std::uint64_t* seq) {
  if (closed_.load()) throw std::logic_error("the pipeline is closed");
  JobWindow& w = *window_;
  w.acquire_slot(kLowLevel, k);
  const Outcome o = w.submit(k, 0, saturating_add(Clock::now(), busy_timeout), nullptr, seq);
  if (!o.ok()) w.give_back(k);
  return o;
}

Collected Pipeline::wait(std::size_t k, std::uint64_t seq, std::chrono::microseconds timeout,
                         const Interrupt& interrupted) {
  if (closed_.load()) throw std::logic_error("the pipeline is closed");
  return window_->collect_job(k, seq, saturating_add(Clock::now(), timeout), interrupted);
}

Completer& Pipeline::completer(const std::function<void(const std::vector<Delivery>&)>& sink,
                               std::chrono::milliseconds wait_timeout, std::size_t backlog) {
  const std::lock_guard<std::mutex> lock(completer_mutex_);
  if (closed_.load()) throw std::logic_error("the pipeline is closed");
  if (!completer_) completer_ = std::make_unique<Completer>(*window_, sink, wait_timeout, backlog);
  return *completer_;
}

Completer* Pipeline::completer_if_started() noexcept {
  const std::lock_guard<std::mutex> lock(completer_mutex_);
  return completer_.get();
}

bool Pipeline::on_completion_thread() const noexcept {
  const std::lock_guard<std::mutex> lock(completer_mutex_);
  return completer_ && completer_->on_its_thread();
}

}  // namespace vart_async::core
