// Node processes and the probes a supervisor needs (process.h).
#include "bench/lab/deploy/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "crypto/keys.h"

namespace cg::deploy {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr auto poll_interval = std::chrono::milliseconds(10);
constexpr std::size_t proc_file_bytes_max = 64u << 10;

std::string errno_text(int e) { return std::strerror(e); }

// In the child between fork and exec: only async-signal-safe calls, no allocation.
[[noreturn]] void exec_child(char* const* argv, int in_fd, int log_fd, int report_fd,
                             pid_t parent) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the test may block signals the node needs
  for (int sig : {SIGPIPE, SIGHUP, SIGINT, SIGTERM, SIGCHLD}) ::signal(sig, SIG_DFL);
  if (::dup2(in_fd, STDIN_FILENO) < 0 || ::dup2(log_fd, STDOUT_FILENO) < 0 ||
      ::dup2(log_fd, STDERR_FILENO) < 0) {
    const int e = errno;
    (void)!::write(report_fd, &e, sizeof e);
    ::_exit(127);
  }
  ::execv(argv[0], argv);
  const int e = errno;
  (void)!::write(report_fd, &e, sizeof e);
  ::_exit(127);
}

int decode_wait_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return -WTERMSIG(status);
  return -1;
}

// "127.0.0.1:9101" → an IPv4 socket address.
Result<sockaddr_in> parse_host_port(const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == host_port.size()) {
    return malformed(host_port + ": not host:port");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  const std::string host = host_port.substr(0, colon);
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return malformed(host_port + ": not an IPv4 address");
  }
  char* end = nullptr;
  const unsigned long port = std::strtoul(host_port.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port == 0 || port > 65535) return malformed(host_port + ": bad port");
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  return addr;
}

int remaining_ms(SteadyClock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// A connected TCP socket, or an error once the deadline passes.
Result<int> connect_by(const sockaddr_in& addr, const std::string& host_port,
                       SteadyClock::time_point deadline) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return io_error("socket: " + errno_text(errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return fd;
  if (errno != EINPROGRESS) {
    const int e = errno;
    ::close(fd);
    return io_error(host_port + ": connect: " + errno_text(e));
  }
  pollfd p{fd, POLLOUT, 0};
  int err = ETIMEDOUT;
  if (::poll(&p, 1, remaining_ms(deadline)) == 1) {
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  }
  if (err != 0) {
    ::close(fd);
    return io_error(host_port + ": connect: " + errno_text(err));
  }
  return fd;
}

Status send_all(int fd, std::string_view data, const std::string& host_port,
                SteadyClock::time_point deadline) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return io_error(host_port + ": send: " + errno_text(errno));
    }
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) == 0) return io_error(host_port + ": send timed out");
  }
  return {};
}

// Everything the peer sends until it closes, bounded in size and time.
Result<std::string> receive_all(int fd, const std::string& host_port,
                                SteadyClock::time_point deadline) {
  std::string out;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0) return out;
    if (n > 0) {
      if (out.size() + static_cast<std::size_t>(n) > scrape_bytes_max + 4096) {
        return malformed(host_port + ": answer larger than " + std::to_string(scrape_bytes_max) +
                         " bytes");
      }
      out.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (errno != EAGAIN && errno != EINTR) {
      return io_error(host_port + ": recv: " + errno_text(errno));
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) == 0) {
      return io_error(host_port + ": no complete answer in time");
    }
  }
}

// The body of an HTTP/1.x 200 answer. Errors: malformed.
Result<std::string> http_body(const std::string& answer, const std::string& host_port) {
  const auto line_end = answer.find("\r\n");
  const std::string status_line = answer.substr(0, line_end);
  if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
    return malformed(host_port + ": not an HTTP answer");
  }
  if (status_line.compare(9, 3, "200") != 0) {
    return malformed(host_port + ": answered '" + status_line + "'");
  }
  const auto head_end = answer.find("\r\n\r\n");
  if (head_end == std::string::npos) return malformed(host_port + ": answer has no end of head");
  std::string body = answer.substr(head_end + 4);
  std::string head = answer.substr(0, head_end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto cl = head.find("\r\ncontent-length:");
  if (cl != std::string::npos) {
    const unsigned long long length = std::strtoull(head.c_str() + cl + 17, nullptr, 10);
    if (length != body.size()) {
      return malformed(host_port + ": body of " + std::to_string(body.size()) +
                       " bytes, Content-Length " + std::to_string(length));
    }
  }
  return body;
}

Result<std::string> read_proc(const std::string& path) {
  CG_ASSIGN_OR_RETURN(auto bytes, crypto::read_file(path, proc_file_bytes_max));
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

// --- NodeProcess -------------------------------------------------------------------------

Result<std::unique_ptr<NodeProcess>> NodeProcess::start(const std::string& binary,
                                                        const std::string& config_file,
                                                        const std::string& log_file) {
  return start_argv({binary, "run", "--config", config_file}, log_file);
}

Result<std::unique_ptr<NodeProcess>> NodeProcess::start_argv(std::vector<std::string> argv,
                                                             const std::string& log_file) {
  if (argv.empty() || argv[0].empty()) return malformed("process: no program to start");
  std::unique_ptr<NodeProcess> p(new NodeProcess(std::move(argv), log_file));
  CG_RETURN_IF_ERROR(p->spawn());
  return p;
}

NodeProcess::~NodeProcess() {
  if (pid_ > 0 && !exit_status_) terminate();
}

Status NodeProcess::spawn() {
  const int log_fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return io_error(log_file_ + ": " + errno_text(errno));
  const int in_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int report[2];
  if (in_fd < 0 || ::pipe2(report, O_CLOEXEC) != 0) {
    const int e = errno;
    ::close(log_fd);
    if (in_fd >= 0) ::close(in_fd);
    return io_error("process: " + errno_text(e));
  }
  std::vector<char*> args;
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) exec_child(args.data(), in_fd, log_fd, report[1], parent);
  const int fork_errno = errno;
  ::close(report[1]);
  ::close(log_fd);
  ::close(in_fd);
  if (pid < 0) {
    ::close(report[0]);
    return io_error(argv_[0] + ": fork: " + errno_text(fork_errno));
  }
  ::setpgid(pid, pid);  // also in the child: whichever runs first; EACCES after exec is fine
  // The report pipe closes on a successful exec; otherwise it carries the child's errno.
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  pid_ = pid;
  exit_status_.reset();
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    reap(true);
    return io_error(argv_[0] + ": exec: " + errno_text(child_errno));
  }
  return {};
}

bool NodeProcess::reap(bool block) {
  if (exit_status_ || pid_ <= 0) return true;
  siginfo_t info{};
  const int flags = WEXITED | WNOWAIT | (block ? 0 : WNOHANG);
  while (::waitid(P_PID, static_cast<id_t>(pid_), &info, flags) != 0) {
    if (errno != EINTR) {  // not our child any more: nothing left to reap
      exit_status_ = -1;
      return true;
    }
  }
  if (info.si_pid == 0) return false;  // still running
  // The leader is a zombie, so its group id cannot be reused yet: stop what is left of it.
  ::kill(-pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exit_status_ = decode_wait_status(status);
  return true;
}

void NodeProcess::kill9() {
  if (pid_ <= 0 || exit_status_) return;
  ::kill(-pid_, SIGKILL);
  reap(true);
}

int NodeProcess::terminate(int timeout_ms) {
  if (pid_ <= 0) return -1;
  if (exit_status_) return *exit_status_;
  ::kill(-pid_, SIGTERM);
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  while (!reap(false)) {
    if (SteadyClock::now() >= deadline) {
      ::kill(-pid_, SIGKILL);
      reap(true);
      break;
    }
    std::this_thread::sleep_for(poll_interval);
  }
  return *exit_status_;
}

bool NodeProcess::running() { return !reap(false); }

Result<ProcessUsage> NodeProcess::usage() const {
  if (pid_ <= 0 || exit_status_) return io_error("process: not running");
  const std::string proc = "/proc/" + std::to_string(pid_);
  CG_ASSIGN_OR_RETURN(const std::string stat, read_proc(proc + "/stat"));
  CG_ASSIGN_OR_RETURN(const std::string status, read_proc(proc + "/status"));
  // Fields after "(comm)": state is field 3, utime 14 and stime 15 (proc(5)).
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos) return malformed(proc + "/stat: no ')'");
  const char* p = stat.c_str() + paren + 1;
  unsigned long long ticks[2] = {0, 0};
  for (int field = 3; field <= 15; ++field) {
    while (*p == ' ') ++p;
    if (*p == '\0') return malformed(proc + "/stat: too few fields");
    const char* start = p;
    while (*p != ' ' && *p != '\0') ++p;
    if (field >= 14) ticks[field - 14] = std::strtoull(start, nullptr, 10);
  }
  const auto hwm = status.find("\nVmHWM:");
  if (hwm == std::string::npos) return io_error(proc + ": not running (no VmHWM)");
  ProcessUsage u;
  u.peak_rss_kb = std::strtoull(status.c_str() + hwm + 7, nullptr, 10);
  auto field_kb = [&](const char* name) -> std::uint64_t {
    const auto at = status.find(name);
    return at == std::string::npos
               ? 0
               : std::strtoull(status.c_str() + at + std::strlen(name), nullptr, 10);
  };
  u.rss_anon_kb = field_kb("\nRssAnon:");
  u.rss_file_kb = field_kb("\nRssFile:");
  if (auto io = read_proc(proc + "/io"); io.ok()) {
    if (const auto at = io->find("\nwrite_bytes:"); at != std::string::npos)
      u.write_bytes = std::strtoull(io->c_str() + at + 13, nullptr, 10);
  }
  u.cpu_seconds =
      static_cast<double>(ticks[0] + ticks[1]) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  return u;
}

Status NodeProcess::restart() {
  if (running()) return rejected(argv_[0] + ": still running (pid " + std::to_string(pid_) + ")");
  return spawn();
}

// --- Probes ------------------------------------------------------------------------------

Status wait_for_tcp(const std::string& host_port, int timeout_ms) {
  CG_ASSIGN_OR_RETURN(const sockaddr_in addr, parse_host_port(host_port));
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto fd = connect_by(addr, host_port, deadline);
    if (fd.ok()) {
      ::close(*fd);
      return {};
    }
    if (SteadyClock::now() >= deadline) {
      return io_error(host_port + ": no connection accepted within " + std::to_string(timeout_ms) +
                      " ms (" + fd.status().reason() + ")");
    }
    std::this_thread::sleep_for(poll_interval);
  }
}

Result<std::string> scrape(const std::string& host_port, int timeout_ms) {
  CG_ASSIGN_OR_RETURN(const sockaddr_in addr, parse_host_port(host_port));
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  CG_ASSIGN_OR_RETURN(const int fd, connect_by(addr, host_port, deadline));
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: " + host_port + "\r\n\r\n";
  Status sent = send_all(fd, request, host_port, deadline);
  auto answer = sent.ok() ? receive_all(fd, host_port, deadline) : Result<std::string>(sent);
  ::close(fd);
  if (!answer.ok()) return answer.status();
  return http_body(*answer, host_port);
}

std::optional<double> metric(std::string_view exposition, std::string_view sample) {
  while (!exposition.empty()) {
    const auto nl = exposition.find('\n');
    const std::string_view line = exposition.substr(0, nl);
    exposition = nl == std::string_view::npos ? std::string_view() : exposition.substr(nl + 1);
    if (line.size() <= sample.size() || line.substr(0, sample.size()) != sample ||
        line[sample.size()] != ' ') {
      continue;
    }
    std::string_view value = line.substr(sample.size() + 1);
    value = value.substr(0, value.find(' '));  // a timestamp may follow
    const std::string text(value);
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0') return std::nullopt;
    return v;
  }
  return std::nullopt;
}

}  // namespace cg::deploy
