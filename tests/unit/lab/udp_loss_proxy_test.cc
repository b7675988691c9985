// The loss proxy drops exactly the datagrams its seeded model says, forwards the rest in order,
// and accounts for every datagram it received.
#include "tests/sim/udp_loss_proxy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "tests/sim/link_sim.h"

namespace cg::sim {
namespace {

constexpr std::uint64_t datagrams = 10'000;
constexpr std::uint64_t window = 64;  // in flight at once: well inside default socket buffers
constexpr std::size_t datagram_bytes = 200;

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

class UdpSocket final {
 public:
  UdpSocket() : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len), 0);
    port_ = ntohs(a.sin_port);
  }
  ~UdpSocket() { ::close(fd_); }
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  std::uint16_t port() const { return port_; }

  void send_index(std::uint64_t index, std::uint16_t to) {
    std::vector<std::uint8_t> d(datagram_bytes, 0xa5);
    std::memcpy(d.data(), &index, sizeof index);
    const sockaddr_in a = loopback(to);
    ASSERT_EQ(::sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&a), sizeof a),
              static_cast<ssize_t>(d.size()));
  }
  // The index in the next datagram, or nullopt when none arrives within `timeout_ms`.
  std::optional<std::uint64_t> receive_index(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return std::nullopt;
    std::uint8_t buf[2048];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    EXPECT_EQ(n, static_cast<ssize_t>(datagram_bytes));
    std::uint64_t index = 0;
    std::memcpy(&index, buf, sizeof index);
    return index;
  }

 private:
  int fd_;
  std::uint16_t port_ = 0;
};

// Sends `datagrams` numbered datagrams through `proxy` to `target`, a window at a time so no
// socket buffer overflows, and returns the indexes that arrived, in arrival order.
std::vector<std::uint64_t> pass_through(UdpLossProxy& proxy, UdpSocket& sender, UdpSocket& target) {
  std::vector<std::uint64_t> arrived;
  for (std::uint64_t sent = 0; sent < datagrams;) {
    for (std::uint64_t i = 0; i < window && sent < datagrams; ++i)
      sender.send_index(sent++, proxy.port());
    for (int i = 0; i < 1000 && proxy.counters().received.load() < sent; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(proxy.counters().received.load(), sent) << "the proxy missed datagrams";
    if (proxy.counters().received.load() != sent) return arrived;
    // The proxy counts a batch as forwarded once sendmmsg has handed it to the kernel.
    for (int i = 0;
         i < 1000 && proxy.counters().forwarded.load() + proxy.counters().dropped.load() < sent;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    while (arrived.size() < proxy.counters().forwarded.load()) {
      auto index = target.receive_index(10'000);
      EXPECT_TRUE(index.has_value()) << "a forwarded datagram did not arrive";
      if (!index) return arrived;
      arrived.push_back(*index);
    }
  }
  return arrived;
}

TEST(UdpLossProxy, DropsExactlyWhatItsSeededModelSaysAndForwardsTheRestInOrder) {
  constexpr std::uint64_t seed = 20'260'101;
  constexpr double loss = 0.05;
  UdpSocket sender, target;
  auto proxy = UdpLossProxy::start(0, target.port(), loss, seed);
  ASSERT_TRUE(proxy.ok()) << proxy.status().reason();
  EXPECT_NE((*proxy)->port(), 0);
  const auto arrived = pass_through(**proxy, sender, target);

  const auto& c = (*proxy)->counters();
  EXPECT_EQ(c.received.load(), datagrams) << "seed " << seed;
  EXPECT_EQ(c.forwarded.load() + c.dropped.load(), c.received.load());
  EXPECT_EQ(c.send_failed.load(), 0u);
  EXPECT_GT(c.dropped.load(), datagrams * 3 / 100) << "seed " << seed;
  EXPECT_LT(c.dropped.load(), datagrams * 7 / 100) << "seed " << seed;
  // The same draws, replayed: exactly these datagrams survive, in the order they were sent.
  Rng replay(seed);
  std::vector<std::uint64_t> expected;
  for (std::uint64_t i = 0; i < datagrams; ++i) {
    if (!replay.chance(loss)) expected.push_back(i);
  }
  EXPECT_EQ(arrived, expected) << "seed " << seed;
  EXPECT_EQ(c.dropped.load(), datagrams - expected.size());
}

TEST(UdpLossProxy, WithoutLossForwardsEverything) {
  UdpSocket sender, target;
  auto proxy = UdpLossProxy::start(0, target.port(), 0.0, 1);
  ASSERT_TRUE(proxy.ok()) << proxy.status().reason();
  const auto arrived = pass_through(**proxy, sender, target);
  ASSERT_EQ(arrived.size(), datagrams);
  for (std::uint64_t i = 0; i < datagrams; ++i) ASSERT_EQ(arrived[i], i);
  EXPECT_EQ((*proxy)->counters().dropped.load(), 0u);
  EXPECT_EQ((*proxy)->counters().forwarded.load(), datagrams);
  (*proxy)->stop();
  (*proxy)->stop();  // idempotent; the destructor stops it a third time
}

TEST(UdpLossProxy, DropsTheLastDatagramsOfEveryPeriodAsABurst) {
  constexpr std::uint64_t seed = 7;
  constexpr double loss = 0.05;
  constexpr Bursts bursts{100, 30};
  UdpSocket sender, target;
  auto proxy = UdpLossProxy::start(0, target.port(), loss, seed, bursts);
  ASSERT_TRUE(proxy.ok()) << proxy.status().reason();
  const auto arrived = pass_through(**proxy, sender, target);
  Rng replay(seed);
  std::vector<std::uint64_t> expected;
  std::uint64_t in_bursts = 0;
  for (std::uint64_t i = 0; i < datagrams; ++i) {
    const bool random_drop = replay.chance(loss);
    if (i % bursts.every >= bursts.every - bursts.length) {
      ++in_bursts;
      continue;
    }
    if (!random_drop) expected.push_back(i);
  }
  EXPECT_EQ(arrived, expected);
  EXPECT_EQ((*proxy)->counters().dropped_in_bursts.load(), in_bursts);
  EXPECT_EQ((*proxy)->counters().dropped.load(), datagrams - expected.size());
  EXPECT_EQ(UdpLossProxy::start(0, 9, 0.0, 1, Bursts{10, 10}).status().code(), Code::malformed);
}

TEST(UdpLossProxy, RefusesABadLossAndAPortInUse) {
  EXPECT_EQ(UdpLossProxy::start(0, 9, 1.5, 1).status().code(), Code::malformed);
  EXPECT_EQ(UdpLossProxy::start(0, 9, -0.1, 1).status().code(), Code::malformed);
  UdpSocket taken;
  auto p = UdpLossProxy::start(taken.port(), 9, 0.1, 1);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::io);
}

}  // namespace
}  // namespace cg::sim
