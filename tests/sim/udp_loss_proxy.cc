#include "tests/sim/udp_loss_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "tests/sim/link_sim.h"

namespace cg::sim {
namespace {

constexpr int poll_ms = 20;            // how soon stop() is noticed
constexpr int rcvbuf_bytes = 8 << 20;  // absorbs a burst while a batch is forwarded

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

}  // namespace

Result<std::unique_ptr<UdpLossProxy>> UdpLossProxy::start(std::uint16_t listen_port,
                                                          std::uint16_t target_port, double loss,
                                                          std::uint64_t seed, Bursts bursts) {
  if (!(loss >= 0 && loss <= 1)) return malformed("loss proxy: loss must be within 0..1");
  if (bursts.every != 0 && bursts.length >= bursts.every)
    return malformed("loss proxy: a burst must be shorter than its period");
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return io_error(std::string("loss proxy: socket: ") + std::strerror(errno));
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_bytes, sizeof rcvbuf_bytes);
  sockaddr_in addr = loopback(listen_port);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int e = errno;
    ::close(fd);
    return io_error("loss proxy: bind 127.0.0.1:" + std::to_string(listen_port) + ": " +
                    std::strerror(e));
  }
  std::unique_ptr<UdpLossProxy> p(
      new UdpLossProxy(fd, ntohs(addr.sin_port), target_port, loss, seed, bursts));
  p->thread_ = std::thread([raw = p.get()] { raw->loop(); });
  return p;
}

UdpLossProxy::~UdpLossProxy() { stop(); }

void UdpLossProxy::stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void UdpLossProxy::loop() {
  Rng rng(seed_);
  sockaddr_in target = loopback(target_port_);
  std::vector<std::uint8_t> buffers(std::size_t{datagrams_per_batch} * datagram_bytes_max);
  iovec in_iov[datagrams_per_batch];
  mmsghdr in[datagrams_per_batch];
  iovec out_iov[datagrams_per_batch];
  mmsghdr out[datagrams_per_batch];
  for (unsigned i = 0; i < datagrams_per_batch; ++i) {
    in_iov[i] = {buffers.data() + std::size_t{i} * datagram_bytes_max, datagram_bytes_max};
  }
  std::uint64_t index = 0;  // of the datagram in arrival order
  auto in_burst = [this](std::uint64_t i) {
    return bursts_.every != 0 && i % bursts_.every >= bursts_.every - bursts_.length;
  };
  while (!stopping_.load()) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, poll_ms) <= 0) continue;
    std::memset(in, 0, sizeof in);
    for (unsigned i = 0; i < datagrams_per_batch; ++i) {
      in[i].msg_hdr.msg_iov = &in_iov[i];
      in[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(fd_, in, datagrams_per_batch, MSG_DONTWAIT, nullptr);
    if (n <= 0) continue;
    counters_.received.fetch_add(static_cast<std::uint64_t>(n));
    unsigned kept = 0;
    std::memset(out, 0, sizeof out);
    for (int i = 0; i < n; ++i) {
      const bool random_drop = rng.chance(loss_);  // drawn for every datagram, as before
      if (in_burst(index++)) {
        counters_.dropped.fetch_add(1);
        counters_.dropped_in_bursts.fetch_add(1);
        continue;
      }
      if (random_drop) {
        counters_.dropped.fetch_add(1);
        continue;
      }
      out_iov[kept] = {in_iov[i].iov_base, in[i].msg_len};
      out[kept].msg_hdr.msg_iov = &out_iov[kept];
      out[kept].msg_hdr.msg_iovlen = 1;
      out[kept].msg_hdr.msg_name = &target;
      out[kept].msg_hdr.msg_namelen = sizeof target;
      ++kept;
    }
    unsigned sent = 0;
    while (sent < kept) {
      const int m = ::sendmmsg(fd_, out + sent, kept - sent, 0);
      if (m > 0) {
        sent += static_cast<unsigned>(m);
        counters_.forwarded.fetch_add(static_cast<std::uint64_t>(m));
        continue;
      }
      if (m < 0 && errno == EINTR) continue;
      ++sent;  // this datagram cannot go out (e.g. a refused target): count it, go on
      counters_.send_failed.fetch_add(1);
    }
  }
}

}  // namespace cg::sim
