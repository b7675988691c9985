#include "gateway/metrics/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "gateway/common/assert.h"
#include "gateway/common/limits.h"

namespace cg::metrics {
namespace {

constexpr int request_timeout_ms = 2000;

bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string render_labels(const Labels& labels, const char* extra_key = nullptr,
                          const std::string& extra_value = "") {
  if (labels.empty() && !extra_key) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k + "=\"" + escape_label(v) + "\"";
  }
  if (extra_key) {
    if (!first) out += ',';
    out += std::string(extra_key) + "=\"" + extra_value + "\"";
  }
  return out + "}";
}

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  } else {
    std::snprintf(buf, sizeof(buf), "%.9g", v);
  }
  return buf;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

// --- Histogram ----------------------------------------------------------------------------

Histogram::Histogram(std::vector<std::int64_t> bounds_ns) : bounds_(std::move(bounds_ns)) {
  CG_ASSERT(!bounds_.empty() && bounds_.size() < buckets_max);
  for (std::size_t i = 1; i < bounds_.size(); ++i) CG_ASSERT(bounds_[i - 1] < bounds_[i]);
}

Histogram Histogram::latency() {
  return Histogram({50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000, 10'000'000,
                    25'000'000, 50'000'000, 100'000'000, 250'000'000, 500'000'000, 1'000'000'000,
                    2'500'000'000, 5'000'000'000, 10'000'000'000});
}

void Histogram::observe(std::int64_t value_ns) {
  std::size_t i = 0;
  while (i < bounds_.size() && value_ns > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(value_ns, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds_ns = bounds_;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum_s = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

double Histogram::quantile_s(const Snapshot& s, double q) {
  if (s.count == 0) return 0;
  const double rank = q * static_cast<double>(s.count);
  for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
    if (static_cast<double>(s.cumulative[i]) < rank) continue;
    if (i == s.bounds_ns.size()) return static_cast<double>(s.bounds_ns.back()) / 1e9;  // +Inf
    const double lo = i == 0 ? 0 : static_cast<double>(s.bounds_ns[i - 1]);
    const double hi = static_cast<double>(s.bounds_ns[i]);
    const double below = i == 0 ? 0 : static_cast<double>(s.cumulative[i - 1]);
    const double in_bucket = static_cast<double>(s.cumulative[i]) - below;
    const double frac = in_bucket > 0 ? (rank - below) / in_bucket : 0;
    return (lo + (hi - lo) * frac) / 1e9;
  }
  return static_cast<double>(s.bounds_ns.back()) / 1e9;
}

// --- Registry -----------------------------------------------------------------------------

Registry::Family& Registry::family(const std::string& name, const std::string& help,
                                   const char* type) {
  CG_ASSERT_MSG(valid_name(name), "bad metric name");
  for (auto& f : families_) {
    if (f.name == name) {
      CG_ASSERT(f.type == type);
      return f;
    }
  }
  families_.push_back({name, help, type, {}});
  return families_.back();
}

void Registry::counter(std::string name, std::string help, Labels labels,
                       std::function<double()> read) {
  family(name, help, "counter").samples.push_back({std::move(labels), std::move(read), nullptr});
}

void Registry::gauge(std::string name, std::string help, Labels labels,
                     std::function<double()> read) {
  family(name, help, "gauge").samples.push_back({std::move(labels), std::move(read), nullptr});
}

void Registry::histogram(std::string name, std::string help, Labels labels,
                         const Histogram& histogram) {
  family(name, help, "histogram").samples.push_back({std::move(labels), nullptr, &histogram});
}

std::string Registry::render() const {
  std::string out;
  for (const auto& f : families_) {
    out += "# HELP " + f.name + " " + f.help + "\n# TYPE " + f.name + " " + f.type + "\n";
    for (const auto& s : f.samples) {
      if (!s.histogram) {
        out += f.name + render_labels(s.labels) + " " + number(s.read()) + "\n";
        continue;
      }
      const auto snap = s.histogram->snapshot();
      for (std::size_t i = 0; i < snap.cumulative.size(); ++i) {
        const std::string le = i < snap.bounds_ns.size()
                                   ? number(static_cast<double>(snap.bounds_ns[i]) / 1e9)
                                   : "+Inf";
        out += f.name + "_bucket" + render_labels(s.labels, "le", le) + " " +
               number(static_cast<double>(snap.cumulative[i])) + "\n";
      }
      out += f.name + "_sum" + render_labels(s.labels) + " " + number(snap.sum_s) + "\n";
      out += f.name + "_count" + render_labels(s.labels) + " " +
             number(static_cast<double>(snap.count)) + "\n";
    }
  }
  return out;
}

// --- HTTP ---------------------------------------------------------------------------------

Result<Request> parse_request(std::span<const std::uint8_t> bytes) {
  std::string_view head(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const auto end = head.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (head.size() >= limits::metrics_request_bytes_max)
      return malformed("http: request head too long");
    return malformed("http: incomplete request head");
  }
  const auto line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return malformed("http: bad request line");
  std::string_view method = line.substr(0, sp1);
  std::string_view path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.0" && version != "HTTP/1.1") return malformed("http: unsupported version");
  if (method.empty() || method.size() > 16 || path.empty() || path[0] != '/' ||
      path.size() > 1024) {
    return malformed("http: bad request line");
  }
  for (char c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return malformed("http: control character");
  }
  return Request{std::string(method), std::string(path)};
}

Server::Server(const Registry& registry) : registry_(registry) {}
Server::~Server() { stop(); }

Status Server::start(const std::string& listen) {
  // host:port with host 127.x.y.z, localhost or [::1]
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return malformed("metrics: listen must be host:port");
  std::string host = listen.substr(0, colon);
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    return malformed("metrics: bad port in '" + listen + "'");
  }
  if (port < 0 || port > 65535) return malformed("metrics: bad port in '" + listen + "'");
  const bool v6 = host.size() > 2 && host.front() == '[' && host.back() == ']';
  if (host == "localhost") host = "127.0.0.1";
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a->sin6_addr) != 1) {
      return malformed("metrics: bad address '" + host + "'");
    }
    addr_len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) {
      return malformed("metrics: bad address '" + host + "'");
    }
    addr_len = sizeof(sockaddr_in);
  }
  listen_fd_ = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return io_error(std::string("metrics: socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    Status s = io_error("metrics: cannot listen on " + listen + ": " + std::strerror(errno));
    ::close(listen_fd_);
    listen_fd_ = -1;
    return s;
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  thread_ = std::thread([this] { loop(); });
  return {};
}

void Server::stop() {
  stopping_.store(true);
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
}

void Server::loop() {
  while (!stopping_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    serve(fd);
    ::close(fd);
  }
}

void Server::serve(int fd) {
  std::vector<std::uint8_t> buf;
  buf.reserve(1024);
  Result<Request> request = malformed("http: incomplete request head");
  // Read until the head is complete, the size bound is hit, or the time runs out.
  for (int waited = 0;
       waited < request_timeout_ms && buf.size() < limits::metrics_request_bytes_max;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) {
      waited += 100;
      continue;
    }
    std::uint8_t chunk[1024];
    ssize_t n = ::recv(fd, chunk,
                       std::min(sizeof(chunk), limits::metrics_request_bytes_max - buf.size()), 0);
    if (n <= 0) break;
    buf.insert(buf.end(), chunk, chunk + n);
    request = parse_request(buf);
    if (request.ok() || request.status().reason() != "http: incomplete request head") break;
  }
  if (!request.ok()) {
    counters_.bad_requests.fetch_add(1);
    write_all(fd, "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }
  if (request->method != "GET" || (request->path != "/metrics" && request->path != "/")) {
    counters_.not_found.fetch_add(1);
    write_all(fd, "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }
  counters_.scrapes.fetch_add(1);
  const std::string body = registry_.render();
  const std::string head =
      "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  if (write_all(fd, head)) write_all(fd, body);
}

}  // namespace cg::metrics
