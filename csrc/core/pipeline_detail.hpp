// Helpers shared by the pipeline's source files. Private to csrc/core.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <limits>
#include <string>

#include "core/window.hpp"

namespace vart_async::core::detail {

// CPU time of the whole process (every thread, the runtime's included), or -1.
inline std::int64_t process_cpu_ns() noexcept {
  timespec ts{};
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return -1;
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline std::string ms_text(std::chrono::milliseconds ms) { return std::to_string(ms.count()) + " ms"; }

using core::saturating_add;

}  // namespace vart_async::core::detail
