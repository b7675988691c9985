// Socket I/O for the link: sendmmsg on the sender's thread, recvmmsg into the Receiver.
// The receiver's socket is bound and read; no code path in this file writes to it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "gateway/common/assert.h"
#include "gateway/link/link.h"

namespace cg::link {
namespace {

Result<sockaddr_in> parse_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) return malformed("address must be host:port: " + text);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  const std::string host = text.substr(0, colon);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return malformed("not an IPv4 address: " + host);
  }
  const std::string port = text.substr(colon + 1);
  char* end = nullptr;
  const unsigned long value = std::strtoul(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || value > 65535) return malformed("bad port: " + port);
  addr.sin_port = htons(static_cast<std::uint16_t>(value));
  return addr;
}

}  // namespace

Status check_address(const std::string& host_port) { return parse_address(host_port).status(); }

namespace {

Status errno_status(const char* what) {
  return io_error(std::string(what) + ": " + std::strerror(errno));
}

}  // namespace

// --- UdpSender ----------------------------------------------------------------------------

Result<std::unique_ptr<UdpSender>> UdpSender::open(const SenderOptions& options,
                                                   const std::string& destination,
                                                   const crypto::Secret& key, const Clock& clock) {
  CG_RETURN_IF_ERROR(validate(options));
  if (key.size() != link_key_bytes) return malformed("link key must be 32 bytes");
  CG_ASSIGN_OR_RETURN(const sockaddr_in addr, parse_address(destination));
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_status("socket");
  // Not connected: ICMP errors from the far side (port unreachable while the receiver is
  // down) are not reported to an unconnected socket, so nothing at all flows back into the
  // sender. The sender never reads the socket.
  const int sndbuf = 4 << 20;
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  std::unique_ptr<UdpSender> sender(new UdpSender(options, key, clock, fd));
  sender->destination_ = addr;
  sender->thread_ = std::thread([s = sender.get()] { s->loop(); });
  return sender;
}

UdpSender::UdpSender(const SenderOptions& options, const crypto::Secret& key, const Clock& clock,
                     int fd)
    : clock_(clock), fd_(fd), sender_(options, key, clock) {}

UdpSender::~UdpSender() {
  stop();
  ::close(fd_);
}

void UdpSender::stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status UdpSender::submit(std::uint64_t seq, std::span<const std::uint8_t> envelope,
                         Precedence precedence) {
  Status s;
  {
    MutexLock lock(mu_);
    s = sender_.submit(seq, envelope, precedence);
  }
  if (s.ok()) wake_.notify_one();
  return s;
}

Result<std::uint64_t> UdpSender::submit_control(std::span<const std::uint8_t> payload,
                                                std::uint32_t repeats) {
  MutexLock lock(mu_);
  auto id = sender_.submit_control(payload, repeats);
  if (id.ok()) wake_.notify_one();
  return id;
}

std::uint64_t UdpSender::unsent_floor() {
  MutexLock lock(mu_);
  return std::min(sender_.unsent_floor(), in_transit_floor_);
}

Sender::Queued UdpSender::queued() {
  MutexLock lock(mu_);
  return sender_.queued();
}

bool UdpSender::idle() {
  MutexLock lock(mu_);
  return sender_.idle() && !in_transit_;
}

std::uint64_t UdpSender::session() {
  MutexLock lock(mu_);
  return sender_.session();
}

const SenderCounters& UdpSender::counters() {
  MutexLock lock(mu_);
  return sender_.counters();
}

void UdpSender::loop() {
  constexpr std::size_t send_batch = 32;
  std::vector<std::span<const std::uint8_t>> out(limits::io_batch_max);
  std::vector<mmsghdr> msgs(limits::io_batch_max);
  std::vector<iovec> iovs(limits::io_batch_max);
  SenderCounters* counters = nullptr;
  for (;;) {
    std::size_t n = 0;
    {
      MutexLock lock(mu_);
      if (stopping_) return;
      counters = &sender_.counters();
      in_transit_floor_ = sender_.unsent_floor();  // what this batch may carry
      // Small batches keep the lock short, so submit() from other threads gets in between.
      n = sender_.produce(std::span(out).first(send_batch));
      in_transit_ = n > 0;
      if (n == 0) {
        in_transit_floor_ = UINT64_MAX;
        const std::int64_t wait_ns = std::clamp<std::int64_t>(
            sender_.next_due_ns() - clock_.monotonic_ns(), 0, 50 * ns_per_ms);
        if (wait_ns > 0) wake_.wait_for(mu_, std::chrono::nanoseconds(wait_ns));
        continue;
      }
    }
    // The datagrams live in the Sender's buffers, which only this thread's produce() writes.
    for (std::size_t i = 0; i < n; ++i) {
      iovs[i] = {const_cast<std::uint8_t*>(out[i].data()), out[i].size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_name = &destination_;
      msgs[i].msg_hdr.msg_namelen = sizeof(destination_);
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    std::size_t sent = 0;
    while (sent < n) {
      const int r = ::sendmmsg(fd_, msgs.data() + sent, static_cast<unsigned>(n - sent), 0);
      if (r > 0) {
        sent += static_cast<std::size_t>(r);
      } else if (errno == EAGAIN || errno == ENOBUFS) {
        pollfd p{fd_, POLLOUT, 0};
        (void)::poll(&p, 1, 10);
      } else if (errno != EINTR) {
        // The datagram is lost, as any datagram may be; the receiver's loss reports say what
        // was hit.
        counters->send_errors.fetch_add(1, std::memory_order_relaxed);
        ++sent;
      }
    }
    MutexLock lock(mu_);
    in_transit_floor_ = UINT64_MAX;  // handed to the kernel
    in_transit_ = false;
  }
}

// --- UdpReceiver --------------------------------------------------------------------------

Result<std::unique_ptr<UdpReceiver>> UdpReceiver::open(const ReceiverOptions& options,
                                                       const std::string& listen,
                                                       std::size_t rcvbuf_bytes,
                                                       const crypto::Secret& key,
                                                       const Clock& clock, Handler& handler) {
  CG_RETURN_IF_ERROR(validate(options));
  if (key.size() != link_key_bytes) return malformed("link key must be 32 bytes");
  if (rcvbuf_bytes > (1u << 30)) return malformed("rcvbuf_bytes above 1 GiB");
  CG_ASSIGN_OR_RETURN(const sockaddr_in addr, parse_address(listen));
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_status("socket");
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    Status s = errno_status("bind");
    ::close(fd);
    return s;
  }
  std::unique_ptr<UdpReceiver> r(new UdpReceiver(options, key, clock, handler, fd));
  sockaddr_in bound{};
  socklen_t len = sizeof(bound);
  (void)::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  r->port_ = ntohs(bound.sin_port);

  const int want = static_cast<int>(rcvbuf_bytes);
  // SO_RCVBUFFORCE passes rmem_max when privileged; otherwise the kernel caps SO_RCVBUF.
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0) {
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
  }
  int got = 0;
  socklen_t got_len = sizeof(got);
  (void)::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &got_len);
  // Linux reports twice what it grants (bookkeeping overhead); compare the granted half.
  r->rcvbuf_granted_ = static_cast<std::size_t>(got) / 2;
  if (r->rcvbuf_granted_ < rcvbuf_bytes) {
    handler.on_alert({AlertKind::rcvbuf_capped,
                      "SO_RCVBUF capped by the kernel: asked for " + std::to_string(rcvbuf_bytes) +
                          " B, got " + std::to_string(r->rcvbuf_granted_) +
                          " B; raise net.core.rmem_max or grant CAP_NET_ADMIN, or bursts "
                          "will overflow the socket and show as loss"});
  }
  return r;
}

UdpReceiver::UdpReceiver(const ReceiverOptions& options, const crypto::Secret& key,
                         const Clock& clock, Handler& handler, int fd)
    : fd_(fd), receiver_(options, key, clock, handler) {
  // One byte more than a frame may have, so MSG_TRUNC means "oversized".
  buffers_.resize(limits::io_batch_max * (options.settings.datagram_bytes + 1u));
  msgs_.resize(limits::io_batch_max);
  iovs_.resize(limits::io_batch_max);
}

UdpReceiver::~UdpReceiver() { ::close(fd_); }

Status UdpReceiver::poll_once(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  const int ready = ::poll(&p, 1, timeout_ms);
  if (ready < 0 && errno != EINTR) return errno_status("poll");
  const std::size_t slot = buffers_.size() / limits::io_batch_max;
  std::vector<mmsghdr>& msgs = msgs_;
  std::vector<iovec>& iovs = iovs_;
  // Bounded work per call, so tick() runs regularly even under a flood.
  for (int batch = 0; ready > 0 && batch < 64; ++batch) {
    for (std::size_t i = 0; i < limits::io_batch_max; ++i) {
      iovs[i] = {buffers_.data() + i * slot, slot};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(fd_, msgs.data(), limits::io_batch_max, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      return errno_status("recvmmsg");
    }
    for (int i = 0; i < n; ++i) {
      const std::size_t len = msgs[i].msg_len;
      if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        auto& c = receiver_.counters();
        c.datagrams_received.fetch_add(1, std::memory_order_relaxed);
        c.frames_oversized.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      receiver_.on_datagram(std::span<const std::uint8_t>(buffers_.data() + i * slot, len));
    }
    if (static_cast<std::size_t>(n) < limits::io_batch_max) break;
  }
  receiver_.tick();
  return Status();
}

}  // namespace cg::link
