// Clock: the one way cellgate code learns the time, so tests can control it (STYLE.md habit 1).
//
// Wall time (`now_ns`, nanoseconds since the Unix epoch) is for timestamps, expiry and
// freshness. Monotonic time (`monotonic_ns`) is for timeouts, pacing and latency.
// SystemClock is thread-safe. FakeClock is thread-safe (atomics) and only moves when told.
#pragma once

#include <atomic>
#include <cstdint>

namespace cg {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now_ns() const = 0;
  virtual std::int64_t monotonic_ns() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t now_ns() const override;
  std::int64_t monotonic_ns() const override;
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t start_ns = 1'700'000'000'000'000'000)
      : now_(start_ns), mono_(0) {}

  std::int64_t now_ns() const override { return now_.load(std::memory_order_relaxed); }
  std::int64_t monotonic_ns() const override { return mono_.load(std::memory_order_relaxed); }

  void advance_ns(std::int64_t delta_ns) {
    now_.fetch_add(delta_ns, std::memory_order_relaxed);
    mono_.fetch_add(delta_ns, std::memory_order_relaxed);
  }
  void set_now_ns(std::int64_t now_ns) { now_.store(now_ns, std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> now_;
  std::atomic<std::int64_t> mono_;
};

inline constexpr std::int64_t ns_per_s = 1'000'000'000;
inline constexpr std::int64_t ns_per_ms = 1'000'000;

}  // namespace cg
