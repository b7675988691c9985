// The seeded lossy-link simulator (STYLE.md habit 10): an in-process transport between a
// link Sender and Receiver that drops (independently and in bursts), duplicates, delays,
// reorders and corrupts datagrams. Same seed, same faults: a failure replays exactly; tests
// print the seed with every failure.
//
// Time comes from the Clock the test drives (FakeClock). Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <span>
#include <vector>

#include "gateway/common/clock.h"

namespace cg::sim {

// splitmix64: tiny, fast, and the same on every platform (std distributions are not).
class Rng final {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool chance(double p) { return p > 0 && uniform() < p; }

 private:
  std::uint64_t state_;
};

struct Faults {
  std::uint64_t seed = 1;
  double drop = 0;                // independent loss, per datagram
  double burst_start = 0;         // chance a burst starts at a datagram (outside the gap)
  std::size_t burst_len = 0;      // consecutive datagrams a burst drops
  std::size_t burst_gap_min = 0;  // datagrams after a burst before another may start
  double duplicate = 0;           // the datagram is delivered twice
  double corrupt = 0;             // one random bit of a delivered copy is flipped
  std::int64_t delay_ns = 0;      // base one-way delay
  std::int64_t jitter_ns = 0;     // extra uniform delay in [0, jitter): reorders datagrams
};

struct SimCounters {
  std::uint64_t sent = 0;
  std::uint64_t dropped_random = 0;
  std::uint64_t dropped_burst = 0;
  std::uint64_t dropped_by_filter = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t corrupted = 0;  // corrupted copies delivered
  std::uint64_t delivered = 0;  // copies delivered, corrupted ones included
};

class LinkSim final {
 public:
  // Keeps a reference to `clock`, which must outlive the simulator.
  LinkSim(const Faults& faults, const Clock& clock)
      : faults_(faults), clock_(clock), rng_(faults.seed) {}

  // Optional: datagrams for which `filter` returns true are dropped (targeted loss in tests).
  void set_filter(std::function<bool(std::span<const std::uint8_t>)> filter) {
    filter_ = std::move(filter);
  }

  // Takes one datagram from the sender and applies the faults.
  void send(std::span<const std::uint8_t> datagram);

  // Hands every datagram due by now to `receive`, earliest first.
  void deliver_due(const std::function<void(std::span<const std::uint8_t>)>& receive);

  std::size_t in_flight() const { return queue_.size(); }
  const SimCounters& counters() const { return counters_; }
  std::uint64_t seed() const { return faults_.seed; }

 private:
  struct Pending {
    std::int64_t due_ns;
    std::uint64_t order;
    std::vector<std::uint8_t> bytes;
    bool operator>(const Pending& o) const {
      return due_ns != o.due_ns ? due_ns > o.due_ns : order > o.order;
    }
  };
  void enqueue(std::span<const std::uint8_t> datagram);

  const Faults faults_;
  const Clock& clock_;
  Rng rng_;
  std::function<bool(std::span<const std::uint8_t>)> filter_;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<>> queue_;
  std::uint64_t order_ = 0;
  std::size_t burst_left_ = 0;
  std::size_t gap_left_ = 0;
  SimCounters counters_;
};

}  // namespace cg::sim
