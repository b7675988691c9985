// Test harness for the link: a Handler that records everything, envelopes whose bytes derive
// from their sequence number (so every delivery is checked), and a loop that drives a Sender
// and a Receiver over the seeded simulator with a FakeClock.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "gateway/link/link.h"
#include "tests/sim/link_sim.h"

namespace cg::link::testing {

inline crypto::Secret test_key(std::uint8_t base = 0) {
  std::vector<std::uint8_t> k(link_key_bytes);
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(base + i);
  return crypto::Secret::copy_of(k);
}

// Envelope `seq` of `size` bytes: the seq, then a pattern of it.
inline std::vector<std::uint8_t> envelope_bytes(std::uint64_t seq, std::size_t size) {
  std::vector<std::uint8_t> e(size);
  for (std::size_t i = 0; i < size; ++i) {
    e[i] = i < 8 ? static_cast<std::uint8_t>(seq >> (8 * i))
                 : static_cast<std::uint8_t>(seq * 31 + i * 7);
  }
  return e;
}
inline std::size_t small_size(std::uint64_t seq) { return 16 + seq % 48; }

class Collector final : public Handler {
 public:
  // Envelopes 1..n are expected; `size_of(seq)` says how long each is.
  explicit Collector(std::uint64_t n, std::size_t (*size_of)(std::uint64_t) = small_size)
      : delivered_(n + 1, 0), lost_(n + 1, 0), size_of_(size_of) {}

  void on_envelope(const Delivered& d) override {
    if (d.seq == 0 || d.seq >= delivered_.size()) {
      ++unexpected;
      return;
    }
    ++delivered_[d.seq];
    ++delivered_total;
    if (d.flash) flash_seqs.push_back(d.seq);
    const auto want = envelope_bytes(d.seq, size_of_(d.seq));
    if (!std::equal(want.begin(), want.end(), d.bytes.begin(), d.bytes.end())) ++corrupt;
  }
  void on_loss(const Loss& loss) override {
    losses.push_back(loss);
    if (!loss.range_known) return;
    for (std::uint64_t s = loss.first_seq; s < loss.first_seq + loss.count; ++s) {
      if (s == 0 || s >= lost_.size()) {
        ++unexpected;
      } else {
        ++lost_[s];
      }
    }
  }
  void on_control(std::uint64_t id, std::span<const std::uint8_t> payload) override {
    controls[id].assign(payload.begin(), payload.end());
    ++control_calls;
  }
  void on_alert(const Alert& alert) override { alerts.push_back(alert); }
  void on_refused(std::string_view reason, std::string_view what) override {
    ++refused[std::string(reason)];
    last_refusal = std::string(what);
  }

  std::uint64_t delivered(std::uint64_t seq) const { return delivered_.at(seq); }
  std::uint64_t lost(std::uint64_t seq) const { return lost_.at(seq); }

  // Every envelope 1..n delivered once or reported lost once, never both, never twice.
  // Returns the number of lost envelopes; fails the test on any accounting error.
  std::uint64_t check_exact_accounting() const {
    std::uint64_t lost_total = 0, bad = 0;
    for (std::size_t s = 1; s < delivered_.size(); ++s) {
      if (delivered_[s] + lost_[s] != 1) {
        if (++bad <= 5) {
          ADD_FAILURE() << "seq " << s << " delivered " << delivered_[s] << " times, reported lost "
                        << lost_[s] << " times";
        }
      }
      lost_total += lost_[s];
    }
    EXPECT_EQ(bad, 0u);
    EXPECT_EQ(unexpected, 0u);
    EXPECT_EQ(corrupt, 0u);
    return lost_total;
  }

  std::vector<Loss> losses;
  std::vector<Alert> alerts;
  std::map<std::string, std::uint64_t> refused;  // on_refused calls, by reason
  std::string last_refusal;
  std::map<std::uint64_t, std::vector<std::uint8_t>> controls;
  std::vector<std::uint64_t> flash_seqs;
  std::uint64_t control_calls = 0;
  std::uint64_t delivered_total = 0;
  std::uint64_t unexpected = 0;
  std::uint64_t corrupt = 0;

 private:
  std::vector<std::uint32_t> delivered_, lost_;
  std::size_t (*size_of_)(std::uint64_t);
};

// Sender → simulator → Receiver, all on one FakeClock.
struct Loop {
  Loop(const SenderOptions& so, const ReceiverOptions& ro, const sim::Faults& faults,
       Collector& collector)
      : key(test_key()),
        sender(so, key, clock),
        receiver(ro, key, clock, collector),
        sim(faults, clock),
        out(256) {}

  // One step: hand the sender's due datagrams to the simulator, deliver what is due, tick,
  // move the clock.
  void step(std::int64_t advance_ns) {
    const std::size_t n = sender.produce(out);
    for (std::size_t i = 0; i < n; ++i) sim.send(out[i]);
    sim.deliver_due([this](std::span<const std::uint8_t> d) { receiver.on_datagram(d); });
    receiver.tick();
    clock.advance_ns(advance_ns);
  }

  // Submits envelopes 1..n (sizes from size_of) as fast as the sender accepts them, runs
  // until everything is sent and delivered, then lets every timeout expire.
  void run(std::uint64_t n, std::size_t (*size_of)(std::uint64_t), std::int64_t step_ns,
           std::int64_t drain_ns) {
    std::uint64_t next = 1;
    while (next <= n || !sender.idle() || sim.in_flight() > 0) {
      while (next <= n) {
        const auto e = envelope_bytes(next, size_of(next));
        if (!sender.submit(next, e).ok()) break;
        ++next;
      }
      step(step_ns);
    }
    for (std::int64_t t = 0; t < drain_ns; t += step_ns) step(step_ns);
  }

  FakeClock clock;
  crypto::Secret key;
  Sender sender;
  Receiver receiver;
  sim::LinkSim sim;
  std::vector<std::span<const std::uint8_t>> out;
};

inline std::string seed_note(std::uint64_t seed) {
  return "simulator seed " + std::to_string(seed) + " (rerun with the same seed to replay)";
}

}  // namespace cg::link::testing
