// Open-loop arrivals: when each job of a rate-driven run is due (constant spacing, or a Poisson
// process with a seed). A camera does not wait for the NPU: frames arrive on a schedule, and a job's
// latency runs from its arrival, so a backlog shows in the percentiles (no coordinated omission).
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

#include "core/window.hpp"

namespace vart_async::core {

class Arrivals {
 public:
  // rate_fps <= 0: a closed loop (no schedule). Arrival 0 is at t0.
  Arrivals(double rate_fps, bool poisson, std::uint64_t seed, Clock::time_point t0)
      : on_(rate_fps > 0), poisson_(poisson), mean_s_(on_ ? 1.0 / rate_fps : 0), t0_(t0), rng_(seed) {}

  bool on() const noexcept { return on_; }
  std::uint64_t count() const noexcept { return n_; }  // arrivals passed (submitted or dropped)
  // When arrival count() is due.
  Clock::time_point next() const noexcept { return saturating_add(t0_, offset_s_); }
  void pop() {
    ++n_;
    offset_s_ = poisson_ ? offset_s_ + std::exponential_distribution<double>(1.0)(rng_) * mean_s_
                         : static_cast<double>(n_) * mean_s_;  // no drift from summed rounding
  }

 private:
  bool on_, poisson_;
  double mean_s_;
  Clock::time_point t0_;
  std::mt19937_64 rng_;
  std::uint64_t n_ = 0;
  double offset_s_ = 0;
};

}  // namespace vart_async::core
