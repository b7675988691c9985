#include "gateway/metrics/metrics.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

namespace cg::metrics {
namespace {

TEST(Registry, RendersTextExposition) {
  std::atomic<std::uint64_t> accepted{42};
  Histogram latency({1'000'000, 5'000'000});
  latency.observe(500'000);
  latency.observe(2'000'000);
  latency.observe(9'000'000);
  Registry r;
  r.counter("cellgate_items_total", "Items by decision.", {{"decision", "accepted"}},
            [&] { return static_cast<double>(accepted.load()); });
  r.counter("cellgate_items_total", "Items by decision.", {{"decision", "rejected\"x"}},
            [] { return 3.0; });
  r.gauge("cellgate_rules_version", "Version of the rules bundle in force.", {},
          [] { return 7.0; });
  r.histogram("cellgate_latency_seconds", "End-to-end latency.", {{"precedence", "flash"}},
              latency);
  EXPECT_EQ(r.render(),
            "# HELP cellgate_items_total Items by decision.\n"
            "# TYPE cellgate_items_total counter\n"
            "cellgate_items_total{decision=\"accepted\"} 42\n"
            "cellgate_items_total{decision=\"rejected\\\"x\"} 3\n"
            "# HELP cellgate_rules_version Version of the rules bundle in force.\n"
            "# TYPE cellgate_rules_version gauge\n"
            "cellgate_rules_version 7\n"
            "# HELP cellgate_latency_seconds End-to-end latency.\n"
            "# TYPE cellgate_latency_seconds histogram\n"
            "cellgate_latency_seconds_bucket{precedence=\"flash\",le=\"0.001\"} 1\n"
            "cellgate_latency_seconds_bucket{precedence=\"flash\",le=\"0.005\"} 2\n"
            "cellgate_latency_seconds_bucket{precedence=\"flash\",le=\"+Inf\"} 3\n"
            "cellgate_latency_seconds_sum{precedence=\"flash\"} 0.0115\n"
            "cellgate_latency_seconds_count{precedence=\"flash\"} 3\n");
}

TEST(Histogram, QuantilesInterpolateWithinBuckets) {
  Histogram h({1'000'000, 2'000'000, 4'000'000});
  for (int i = 0; i < 50; ++i) h.observe(500'000);    // bucket ≤1 ms
  for (int i = 0; i < 50; ++i) h.observe(1'500'000);  // bucket ≤2 ms
  auto s = h.snapshot();
  EXPECT_EQ(s.count, 100u);
  EXPECT_DOUBLE_EQ(Histogram::quantile_s(s, 0.5), 0.001);
  EXPECT_DOUBLE_EQ(Histogram::quantile_s(s, 0.75), 0.0015);
  EXPECT_DOUBLE_EQ(Histogram::quantile_s(Histogram({1}).snapshot(), 0.5), 0.0);
}

TEST(ParseRequest, AcceptsGetAndRefusesTheRest) {
  auto bytes = [](std::string_view s) {
    return std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  };
  auto ok = parse_request(bytes("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->method, "GET");
  EXPECT_EQ(ok->path, "/metrics");
  EXPECT_EQ(parse_request(bytes("GET /metrics HTTP/1.1\r\n")).status().reason(),
            "http: incomplete request head");
  EXPECT_EQ(parse_request(bytes("GET /metrics SPDY/3\r\n\r\n")).status().reason(),
            "http: unsupported version");
  EXPECT_EQ(parse_request(bytes("GET metrics HTTP/1.0\r\n\r\n")).status().reason(),
            "http: bad request line");
  EXPECT_EQ(parse_request(bytes("GET /a\x01 HTTP/1.0\r\n\r\n")).status().reason(),
            "http: control character");
}

std::string http_get(std::uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

TEST(Server, ServesMetricsOnLoopback) {
  Registry r;
  r.gauge("cellgate_up", "1 while the node runs.", {}, [] { return 1.0; });
  Server server(r);
  ASSERT_TRUE(server.start("127.0.0.1:0").ok());
  ASSERT_NE(server.port(), 0);
  std::string response = http_get(server.port(), "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(response.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("\r\n\r\n# HELP cellgate_up"), std::string::npos) << response;
  EXPECT_NE(response.find("cellgate_up 1\n"), std::string::npos);
  EXPECT_EQ(http_get(server.port(), "GET /other HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 404", 0), 0u);
  EXPECT_EQ(http_get(server.port(), "BLAH\r\n\r\n").rfind("HTTP/1.0 400", 0), 0u);
  EXPECT_EQ(server.counters().scrapes.load(), 1u);
  EXPECT_EQ(server.counters().not_found.load(), 1u);
  EXPECT_EQ(server.counters().bad_requests.load(), 1u);
}

TEST(Server, RefusesABadListenAddress) {
  Registry r;
  Server server(r);
  EXPECT_EQ(server.start("nonsense").code(), Code::malformed);
  EXPECT_EQ(server.start("127.0.0.1:99999").code(), Code::malformed);
}

}  // namespace
}  // namespace cg::metrics
