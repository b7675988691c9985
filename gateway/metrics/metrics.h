// gateway/metrics: what a node exposes to Prometheus — a registry of metric families read at
// scrape time, fixed-bucket latency histograms, and a minimal HTTP/1.x endpoint that answers
// GET /metrics in the text exposition format (version 0.0.4) on a loopback address.
//
// Metrics are registered once at start-up by whoever wires the node (no globals, no
// self-registration); counters and gauges are read through callbacks from the atomics the
// modules already keep (ingest::Counters, ...), so the hot path pays nothing for metrics.
//
// Thread-safety: register everything before start(); after that render() and the HTTP thread
// only read. Histogram::observe is lock-free and may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "gateway/common/status.h"

namespace cg::metrics {

// Latency histogram with fixed bucket bounds (seconds, as Prometheus expects).
class Histogram final {
 public:
  // Upper bounds in nanoseconds, ascending; +Inf is implicit. At most 32.
  explicit Histogram(std::vector<std::int64_t> bounds_ns);
  // 50 µs … 10 s, roughly ×2.5 per step: fits item latency from FLASH to a backlog.
  static Histogram latency();

  void observe(std::int64_t value_ns);

  struct Snapshot {
    std::vector<std::int64_t> bounds_ns;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    std::uint64_t count = 0;
    double sum_s = 0;
  };
  Snapshot snapshot() const;
  // The value below which `q` (0..1) of observations fall, by linear interpolation within a
  // bucket (what histogram_quantile does). 0 when empty.
  static double quantile_s(const Snapshot& s, double q);

 private:
  static constexpr std::size_t buckets_max = 33;
  std::vector<std::int64_t> bounds_;
  std::array<std::atomic<std::uint64_t>, buckets_max> counts_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::int64_t> sum_ns_{0};
};

using Labels = std::vector<std::pair<std::string, std::string>>;

class Registry final {
 public:
  // `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*; label values are escaped. Registering the same
  // name twice with the same labels is a bug (asserts).
  void counter(std::string name, std::string help, Labels labels, std::function<double()> read);
  void gauge(std::string name, std::string help, Labels labels, std::function<double()> read);
  // Keeps a reference to `histogram`, which must outlive the registry.
  void histogram(std::string name, std::string help, Labels labels, const Histogram& histogram);

  // The whole exposition, families in registration order.
  std::string render() const;

 private:
  struct Sample {
    Labels labels;
    std::function<double()> read;
    const Histogram* histogram = nullptr;
  };
  struct Family {
    std::string name, help, type;
    std::vector<Sample> samples;
  };
  Family& family(const std::string& name, const std::string& help, const char* type);
  std::vector<Family> families_;
};

// An HTTP request line and headers, as far as the endpoint needs them.
struct Request {
  std::string method;
  std::string path;
};
// Parses the head of an HTTP/1.0 or 1.1 request (up to the blank line). Errors: malformed
// (bad request line, non-HTTP version, header too long, no end of head within `bytes`).
Result<Request> parse_request(std::span<const std::uint8_t> bytes);

struct ServerCounters {
  std::atomic<std::uint64_t> scrapes{0};
  std::atomic<std::uint64_t> bad_requests{0};
  std::atomic<std::uint64_t> not_found{0};
};

class Server final {
 public:
  // Keeps a reference to `registry`, which must outlive the server.
  explicit Server(const Registry& registry);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Listens on `host:port` ("127.0.0.1:9101", "[::1]:0"; port 0 = ephemeral) and serves
  // connections one at a time, each bounded in size and time. Errors: malformed, io.
  Status start(const std::string& listen);
  void stop();
  std::uint16_t port() const { return port_; }
  const ServerCounters& counters() const { return counters_; }

 private:
  void loop();
  void serve(int fd);
  const Registry& registry_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  ServerCounters counters_;
};

}  // namespace cg::metrics
