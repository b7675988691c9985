#include "tests/sim/link_sim.h"

namespace cg::sim {

void LinkSim::send(std::span<const std::uint8_t> datagram) {
  ++counters_.sent;
  if (filter_ && filter_(datagram)) {
    ++counters_.dropped_by_filter;
    return;
  }
  if (burst_left_ == 0 && gap_left_ == 0 && faults_.burst_len > 0 &&
      rng_.chance(faults_.burst_start)) {
    burst_left_ = faults_.burst_len;
  }
  if (burst_left_ > 0) {
    if (--burst_left_ == 0) gap_left_ = faults_.burst_gap_min;
    ++counters_.dropped_burst;
    return;
  }
  if (gap_left_ > 0) --gap_left_;
  if (rng_.chance(faults_.drop)) {
    ++counters_.dropped_random;
    return;
  }
  enqueue(datagram);
  if (rng_.chance(faults_.duplicate)) {
    ++counters_.duplicated;
    enqueue(datagram);
  }
}

void LinkSim::enqueue(std::span<const std::uint8_t> datagram) {
  Pending p;
  p.due_ns = clock_.monotonic_ns() + faults_.delay_ns +
             static_cast<std::int64_t>(rng_.below(
                 static_cast<std::uint64_t>(faults_.jitter_ns > 0 ? faults_.jitter_ns : 0)));
  p.order = order_++;
  p.bytes.assign(datagram.begin(), datagram.end());
  if (!p.bytes.empty() && rng_.chance(faults_.corrupt)) {
    const std::uint64_t bit = rng_.below(p.bytes.size() * 8);
    p.bytes[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    ++counters_.corrupted;
  }
  queue_.push(std::move(p));
}

void LinkSim::deliver_due(const std::function<void(std::span<const std::uint8_t>)>& receive) {
  const std::int64_t now = clock_.monotonic_ns();
  while (!queue_.empty() && queue_.top().due_ns <= now) {
    // priority_queue::top is const; the bytes are moved out before pop.
    Pending p = std::move(const_cast<Pending&>(queue_.top()));
    queue_.pop();
    ++counters_.delivered;
    receive(p.bytes);
  }
}

}  // namespace cg::sim
