// Helpers shared by the job window's source files. Private to csrc/core.
#pragma once

#include <algorithm>
#include <chrono>
#include <string>

#include "core/window.hpp"

namespace vart_async::core::detail {

using std::chrono::microseconds;

// "Busy" is retried with exponential backoff between these bounds.
inline constexpr microseconds kBackoffMin{50};
inline constexpr microseconds kBackoffMax{5'000};

// The next engine wait's length: a slice, never past the deadline.
inline microseconds slice_until(Clock::time_point deadline) {
  return std::clamp(std::chrono::duration_cast<microseconds>(deadline - Clock::now()), microseconds{0}, kWaitSlice);
}

// The one mapping from an engine's answer to an outcome.
inline Outcome outcome_of(const Status& s, bool submission) {
  switch (s.code) {
    case Status::Code::kOk: return {};
    case Status::Code::kPending: return {StopReason::kWaitTimeout, "still running"};
    case Status::Code::kBusy:
      return {StopReason::kBusyTimeout, s.message.empty() ? "the runtime stayed busy" : s.message};
    case Status::Code::kFailed: break;
  }
  return {submission ? StopReason::kSubmitFailed : StopReason::kJobFailed, s.message.empty() ? "failed" : s.message};
}

inline std::string slot_text(std::size_t k) { return "slot " + std::to_string(k); }

}  // namespace vart_async::core::detail
