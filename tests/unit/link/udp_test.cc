// The link over real UDP sockets on 127.0.0.1: a sender → receiver run that stops by itself,
// and the proof that the receiver sends nothing: it runs in a child process under a seccomp
// filter that kills the process on any send-family syscall (and on writes to its socket).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <thread>

#include "gateway/link/link.h"
#include "tests/unit/link/harness.h"

namespace cg::link {
namespace {

using testing::Collector;
using testing::envelope_bytes;
using testing::small_size;

SenderOptions sender_options() {
  SenderOptions o;
  o.settings.link_id = 9;
  o.pace_bytes_per_s = 4'000'000;
  return o;
}

ReceiverOptions receiver_options() {
  ReceiverOptions o;
  o.settings.link_id = 9;
  return o;
}

// Submits 1..n, backing off while the sender says overloaded.
void send_all(UdpSender& sender, std::uint64_t n) {
  for (std::uint64_t s = 1; s <= n;) {
    const auto st = sender.submit(s, envelope_bytes(s, small_size(s)));
    if (st.ok()) {
      ++s;
    } else {
      ASSERT_EQ(st.code(), Code::overloaded);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

// Every seq delivered or reported lost; the receiver side decides when it is done.
bool all_accounted(const Collector& c, std::uint64_t n) {
  for (std::uint64_t s = 1; s <= n; ++s) {
    if (c.delivered(s) + c.lost(s) == 0) return false;
  }
  return true;
}

TEST(LinkUdp, LoopbackSenderToReceiverStopsByItself) {
  constexpr std::uint64_t n = 20'000;
  const auto key = testing::test_key();
  SystemClock clock;
  Collector c(n);
  auto receiver = UdpReceiver::open(receiver_options(), "127.0.0.1:0", 4u << 20, key, clock, c);
  ASSERT_TRUE(receiver.ok()) << receiver.status().to_string();
  auto sender = UdpSender::open(sender_options(),
                                "127.0.0.1:" + std::to_string((*receiver)->port()), key, clock);
  ASSERT_TRUE(sender.ok()) << sender.status().to_string();
  std::thread producer([&] { send_all(**sender, n); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  // Stops when every envelope is delivered or reported lost (or at the deadline: a failure).
  while (c.delivered_total < n && std::chrono::steady_clock::now() < deadline) {
    ASSERT_TRUE((*receiver)->poll_once(10).ok());
    if (c.delivered_total + c.losses.size() > 0 && (*sender)->idle() && all_accounted(c, n)) break;
  }
  producer.join();
  (*sender)->stop();
  EXPECT_EQ(c.check_exact_accounting(), 0u)
      << "loopback lost envelopes; losses reported: " << c.losses.size();
  EXPECT_EQ(c.delivered_total, n);
  const auto& rc = (*receiver)->receiver().counters();
  EXPECT_EQ(rc.frames_bad_mac.load(), 0u);
  EXPECT_EQ(rc.sessions_started.load(), 1u);
  EXPECT_GT((*sender)->counters().frames_sent.load(), 0u);
  // Nothing came back to the sender.
  std::uint8_t byte = 0;
  const ssize_t got = ::recv((*sender)->fd(), &byte, 1, MSG_DONTWAIT);
  const int recv_errno = errno;
  EXPECT_EQ(got, -1);
  EXPECT_TRUE(recv_errno == EAGAIN || recv_errno == EWOULDBLOCK) << std::strerror(recv_errno);
}

// --- The receiver sends nothing ---------------------------------------------------------

#if defined(__x86_64__)
constexpr std::uint32_t audit_arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr std::uint32_t audit_arch = AUDIT_ARCH_AARCH64;
#endif

// Kills the process on: any sendto/sendmsg/sendmmsg/connect/dup*/io_uring_setup; any
// write/writev/pwrite*/sendfile whose fd (argument 0) is `socket_fd`; fcntl F_DUPFD*.
// Other writes (stderr, the result pipe) stay allowed.
bool forbid_sending(int socket_fd) {
  std::vector<sock_filter> f;
  const auto stmt = [&](std::uint16_t code, std::uint32_t k) { f.push_back(BPF_STMT(code, k)); };
  const std::vector<long> always = {SYS_sendto,
                                    SYS_sendmsg,
                                    SYS_sendmmsg,
                                    SYS_connect,
                                    SYS_dup,
                                    SYS_dup3,
                                    SYS_io_uring_setup
#ifdef SYS_dup2
                                    ,
                                    SYS_dup2
#endif
  };
  const std::vector<long> on_socket = {SYS_write,   SYS_writev,   SYS_pwrite64,
                                       SYS_pwritev, SYS_pwritev2, SYS_sendfile};
  // Layout (BPF jumps only go forward):
  //   [ld arch][arch?][ld nr][one jump per syscall][ALLOW]
  //   CHECK_FD:    [ld arg0][fd == socket?][ALLOW]
  //   CHECK_FCNTL: [ld arg1][F_DUPFD?][F_DUPFD_CLOEXEC?][ALLOW]
  //   KILL:        [kill]
  const std::size_t n_jumps = always.size() + on_socket.size() + 1;  // + fcntl
  const std::size_t allow = 3 + n_jumps;
  const std::size_t check_fd = allow + 1;
  const std::size_t check_fcntl = check_fd + 3;
  const std::size_t kill = check_fcntl + 4;
  const auto jump = [&](std::uint32_t k, std::size_t to_true, std::size_t to_false) {
    const std::size_t here = f.size();
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k,
                         static_cast<std::uint8_t>(to_true - here - 1),
                         static_cast<std::uint8_t>(to_false - here - 1)));
  };
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  jump(audit_arch, f.size() + 1, kill);
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
  for (long nr : always) jump(static_cast<std::uint32_t>(nr), kill, f.size() + 1);
  for (long nr : on_socket) jump(static_cast<std::uint32_t>(nr), check_fd, f.size() + 1);
  jump(SYS_fcntl, check_fcntl, f.size() + 1);
  if (f.size() != allow) return false;
  stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0]));
  jump(static_cast<std::uint32_t>(socket_fd), kill, f.size() + 1);
  stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  if (f.size() != check_fcntl) return false;
  stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1]));
  jump(F_DUPFD, kill, f.size() + 1);
  jump(F_DUPFD_CLOEXEC, kill, f.size() + 1);
  stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  if (f.size() != kill) return false;
  stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  sock_fprog prog{static_cast<unsigned short>(f.size()), f.data()};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  return ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}

// The filter is real: a child that tries to send on the socket is killed with SIGSYS.
TEST(LinkUdp, TheSeccompFilterKillsASendingProcess) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (!forbid_sending(fd)) ::_exit(3);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const std::uint8_t byte = 0;
    (void)::sendto(fd, &byte, 1, 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to));
    ::_exit(0);  // not reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit code " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

TEST(LinkUdp, TheReceiverSendsNothing) {
  constexpr std::uint64_t n = 5000;
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The receiver, alone in its process, with every way of sending forbidden.
    ::close(pipe_fds[0]);
    const auto key = testing::test_key();
    SystemClock clock;
    Collector c(n);
    auto r = UdpReceiver::open(receiver_options(), "127.0.0.1:0", 4u << 20, key, clock, c);
    if (!r.ok()) {
      std::fprintf(stderr, "receiver: %s\n", r.status().to_string().c_str());
      ::_exit(2);
    }
    if (!forbid_sending((*r)->fd())) ::_exit(3);
    const std::uint16_t port = (*r)->port();
    if (::write(pipe_fds[1], &port, sizeof(port)) != sizeof(port)) ::_exit(4);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (c.delivered_total < n && std::chrono::steady_clock::now() < deadline) {
      if (!(*r)->poll_once(10).ok()) ::_exit(5);
    }
    ::_exit(c.delivered_total == n && c.corrupt == 0 ? 0 : 6);
  }
  ::close(pipe_fds[1]);
  std::uint16_t port = 0;
  ASSERT_EQ(::read(pipe_fds[0], &port, sizeof(port)), static_cast<ssize_t>(sizeof(port)));
  ::close(pipe_fds[0]);
  const auto key = testing::test_key();
  SystemClock clock;
  auto sender = UdpSender::open(sender_options(), "127.0.0.1:" + std::to_string(port), key, clock);
  ASSERT_TRUE(sender.ok()) << sender.status().to_string();
  send_all(**sender, n);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  (*sender)->stop();
  ASSERT_FALSE(WIFSIGNALED(status)) << "receiver killed by signal " << WTERMSIG(status)
                                    << (WTERMSIG(status) == SIGSYS ? " (it tried to send)" : "");
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "receiver did not get every envelope";
  std::uint8_t byte = 0;
  const ssize_t got = ::recv((*sender)->fd(), &byte, 1, MSG_DONTWAIT);
  const int recv_errno = errno;
  EXPECT_EQ(got, -1);
  EXPECT_TRUE(recv_errno == EAGAIN || recv_errno == EWOULDBLOCK) << std::strerror(recv_errno);
}

TEST(LinkUdp, ACappedReceiveBufferIsSaidPlainly) {
  const auto key = testing::test_key();
  SystemClock clock;
  Collector c(1);
  constexpr std::size_t want = 1u << 30;
  auto r = UdpReceiver::open(receiver_options(), "127.0.0.1:0", want, key, clock, c);
  ASSERT_TRUE(r.ok());
  const bool capped = (*r)->rcvbuf_granted_bytes() < want;
  ASSERT_EQ(c.alerts.size(), capped ? 1u : 0u);
  if (capped) {
    EXPECT_EQ(c.alerts[0].kind, AlertKind::rcvbuf_capped);
    EXPECT_NE(c.alerts[0].text.find("SO_RCVBUF capped"), std::string::npos);
  }
  EXPECT_FALSE(UdpReceiver::open(receiver_options(), "localhost:1", 1, key, clock, c).ok());
  EXPECT_FALSE(UdpSender::open(sender_options(), "127.0.0.1:99999", key, clock).ok());
}

}  // namespace
}  // namespace cg::link
