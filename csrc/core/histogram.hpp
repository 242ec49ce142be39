// A fixed-size latency record for runs too long to keep every job: log-linear buckets (HDR-style),
// 128 per power of two from 1 ns to 2^41 ns (~36 min; longer values count in the last bucket).
// A value's bucket is within 1/128 of it, so a percentile read back as the bucket's middle is within
// 0.4 % (relative) of the exact nearest-rank percentile. 4,480 counters (35 KiB), whatever the run's
// length.
// Pure C++17.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vart_async::core {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 7;  // 128 sub-buckets per power of two
  static constexpr int kTopBit = 41;  // values up to 2^41 ns
  static constexpr std::size_t kSub = std::size_t{1} << kSubBits;
  static constexpr std::size_t kBuckets = (kTopBit - kSubBits + 1) * kSub;
  static constexpr double kRelativeError = 0.5 / kSub;  // of a percentile read as a bucket's middle

  LatencyHistogram() : counts_(kBuckets, 0) {}

  void add(std::int64_t ns) noexcept {
    const std::uint64_t v = ns < 0 ? 0 : static_cast<std::uint64_t>(ns);
    ++counts_[index(v)];
    ++count_;
  }
  std::uint64_t count() const noexcept { return count_; }
  const std::vector<std::uint64_t>& counts() const noexcept { return counts_; }

  // Bucket i holds the values [lower(i), lower(i + 1)).
  static std::uint64_t lower(std::size_t i) noexcept {
    if (i < kSub) return i;                                // exact below 128 ns
    const std::size_t exponent = i / kSub - 1 + kSubBits;  // the value's top bit
    const std::uint64_t step = std::uint64_t{1} << (exponent - kSubBits);
    return (std::uint64_t{1} << exponent) + (i % kSub) * step;
  }

 private:
  static std::size_t index(std::uint64_t v) noexcept {
    if (v < kSub) return static_cast<std::size_t>(v);
    int top = 63 - __builtin_clzll(v);
    if (top > kTopBit) return kBuckets - 1;
    const std::size_t sub = static_cast<std::size_t>((v >> (top - kSubBits)) & (kSub - 1));
    return std::min(kBuckets - 1, (static_cast<std::size_t>(top - kSubBits) + 1) * kSub + sub);
  }

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
};

}  // namespace vart_async::core
