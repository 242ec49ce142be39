// Shared by the C++ pipeline tests: cancel() a run from another thread, twice (drain, then abandon).
#pragma once

#include <chrono>
#include <thread>

#include "core/pipeline.hpp"

namespace vart_async::core {

// Calls p.cancel() after `first`, and again `second` later. Join the thread after p.run().
inline std::thread cancel_twice_later(Pipeline& p, std::chrono::milliseconds first, std::chrono::milliseconds second) {
  return std::thread([&p, first, second] {
    std::this_thread::sleep_for(first);
    p.cancel();
    std::this_thread::sleep_for(second);
    p.cancel();
  });
}

}  // namespace vart_async::core
