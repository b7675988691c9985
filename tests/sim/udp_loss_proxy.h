// A lossy UDP hop for multi-process tests: a thread receives datagrams on 127.0.0.1:<port>
// and forwards each to 127.0.0.1:<target> unless the seeded loss model drops it. Unlike
// LinkSim (in-process, driven by a fake clock) it sits between real sockets of real node
// processes; the loss decisions are the same splitmix64 draws (sim::Rng), one per datagram in
// arrival order, so the same seed and the same arrivals drop the same datagrams.
//
// Bounded: one batch of datagrams in memory (datagrams_per_batch × 64 KiB). Counters are atomics
// readable from any thread; start/stop from one thread. The destructor stops the thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "gateway/common/status.h"

namespace cg::sim {

struct ProxyCounters {
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> forwarded{0};
  std::atomic<std::uint64_t> dropped{0};  // by the loss model (random and bursts)
  std::atomic<std::uint64_t> dropped_in_bursts{0};
  std::atomic<std::uint64_t> send_failed{0};  // sendmmsg refused them (received = the sum of all)
};

// Besides the random drops, a burst: of every `every` datagrams received, the last `length`
// are dropped (none when every is 0). A burst longer than interleave_depth × parity fragments
// loses whole link blocks whatever the pace, so a test that must see loss beyond FEC sees it
// even when the sender is too slow to fill its blocks.
struct Bursts {
  std::uint64_t every = 0;
  std::uint64_t length = 0;
};

class UdpLossProxy final {
 public:
  static constexpr unsigned datagrams_per_batch = 32;
  static constexpr std::size_t datagram_bytes_max = 65536;

  // Binds 127.0.0.1:<listen_port> (0: an ephemeral port, see port()) and starts forwarding to
  // 127.0.0.1:<target_port>, dropping each datagram with probability `loss` (0..1) drawn from
  // a generator seeded with `seed`, and dropping `bursts`. Errors: malformed (loss outside
  // 0..1, a burst not shorter than its period), io (socket, bind).
  static Result<std::unique_ptr<UdpLossProxy>> start(std::uint16_t listen_port,
                                                     std::uint16_t target_port, double loss,
                                                     std::uint64_t seed, Bursts bursts = {});
  ~UdpLossProxy();
  UdpLossProxy(const UdpLossProxy&) = delete;
  UdpLossProxy& operator=(const UdpLossProxy&) = delete;

  std::uint16_t port() const { return port_; }
  std::uint64_t seed() const { return seed_; }
  const ProxyCounters& counters() const { return counters_; }
  // Stops the thread and closes the socket; idempotent.
  void stop();

 private:
  UdpLossProxy(int fd, std::uint16_t port, std::uint16_t target_port, double loss,
               std::uint64_t seed, Bursts bursts)
      : fd_(fd),
        port_(port),
        target_port_(target_port),
        loss_(loss),
        seed_(seed),
        bursts_(bursts) {}
  void loop();

  int fd_;
  const std::uint16_t port_;
  const std::uint16_t target_port_;
  const double loss_;
  const std::uint64_t seed_;
  const Bursts bursts_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  ProxyCounters counters_;
};

}  // namespace cg::sim
