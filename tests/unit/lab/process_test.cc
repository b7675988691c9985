// NodeProcess runs, kills, terminates and restarts real processes (/bin/sh scripts stand in for
// nodes); scrape() and metric() read a real metrics endpoint.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include "bench/lab/deploy/deploy.h"
#include "gateway/metrics/metrics.h"
#include "tests/support/temp_dir.h"

namespace cg::deploy {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls `path` until it contains `text`; false after ~10 s (a bound, not a timing assertion).
bool wait_for_text(const std::string& path, const std::string& text) {
  for (int i = 0; i < 1000; ++i) {
    if (slurp(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

class ProcessTest : public ::testing::Test {
 protected:
  std::string log() const { return tmp_.file("node.log"); }
  testing::TempDir tmp_{"cg-process"};
};

TEST_F(ProcessTest, RunsReportsUsageAndKill9StopsIt) {
  auto p = NodeProcess::start_argv({"/bin/sh", "-c", "echo started; exec sleep 30"}, log());
  ASSERT_TRUE(p.ok()) << p.status().reason();
  EXPECT_GT((*p)->pid(), 0);
  ASSERT_TRUE(wait_for_text(log(), "started\n"));
  EXPECT_TRUE((*p)->running());
  EXPECT_FALSE((*p)->exit_status().has_value());
  EXPECT_EQ(::getpgid((*p)->pid()), (*p)->pid()) << "its own process group";
  auto usage = (*p)->usage();
  ASSERT_TRUE(usage.ok()) << usage.status().reason();
  EXPECT_GT(usage->peak_rss_kb, 0u);
  EXPECT_GE(usage->cpu_seconds, 0.0);
  (*p)->kill9();
  EXPECT_FALSE((*p)->running());
  EXPECT_EQ((*p)->exit_status(), -SIGKILL);
  EXPECT_EQ((*p)->terminate(), -SIGKILL) << "the same status again once it has ended";
  auto gone = (*p)->usage();
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), Code::io);
}

// What the bench reports per node besides CPU: anonymous RSS apart from mapped files, and the
// bytes the process had written to storage.
TEST_F(ProcessTest, UsageSeparatesAnonymousMemoryAndCountsBytesWritten) {
  const std::string file = tmp_.file("written");
  // 8 MiB in a shell variable (anonymous memory), written to a file by the shell itself
  // (printf is a builtin: the writes are the shell's, not a child's), then wait.
  auto p =
      NodeProcess::start_argv({"/bin/sh", "-c",
                               "x=$(head -c 8388608 /dev/zero | tr '\\0' a); printf %s \"$x\" > " +
                                   file + "; echo done; sleep 30"},
                              log());
  ASSERT_TRUE(p.ok()) << p.status().reason();
  ASSERT_TRUE(wait_for_text(log(), "done\n"));
  auto u = (*p)->usage();
  ASSERT_TRUE(u.ok()) << u.status().reason();
  EXPECT_GE(u->rss_anon_kb, 8192u) << "the variable";
  EXPECT_GT(u->rss_file_kb, 0u) << "the mapped binary and libraries";
  EXPECT_LE(u->rss_anon_kb + u->rss_file_kb, u->peak_rss_kb + 1024) << "both within the peak";
  (*p)->kill9();
  // Unless the kernel does not account writes on this filesystem (tmpfs).
  if (u->write_bytes == 0) GTEST_SKIP() << "write_bytes not accounted for " << file;
  EXPECT_GE(u->write_bytes, 8388608u);
}

TEST_F(ProcessTest, TerminateDeliversSigtermAndReturnsTheExitStatus) {
  auto p = NodeProcess::start_argv(
      {"/bin/sh", "-c", "trap 'echo bye; exit 3' TERM; echo ready; while :; do sleep 0.05; done"},
      log());
  ASSERT_TRUE(p.ok()) << p.status().reason();
  ASSERT_TRUE(wait_for_text(log(), "ready\n"));
  EXPECT_EQ((*p)->terminate(), 3);
  EXPECT_FALSE((*p)->running());
  EXPECT_NE(slurp(log()).find("bye\n"), std::string::npos);
}

TEST_F(ProcessTest, TerminateFallsBackToSigkill) {
  auto p = NodeProcess::start_argv(
      {"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"}, log());
  ASSERT_TRUE(p.ok()) << p.status().reason();
  ASSERT_TRUE(wait_for_text(log(), "ready\n"));
  EXPECT_EQ((*p)->terminate(200), -SIGKILL);
  EXPECT_FALSE((*p)->running());
}

TEST_F(ProcessTest, RestartRunsTheSameCommandAgainAndTheLogIsAppended) {
  std::ofstream(log()) << "an earlier run\n";
  auto p = NodeProcess::start_argv({"/bin/sh", "-c", "echo run; exit 0"}, log());
  ASSERT_TRUE(p.ok()) << p.status().reason();
  for (int i = 0; i < 1000 && (*p)->running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_FALSE((*p)->running());
  EXPECT_EQ((*p)->exit_status(), 0);
  ASSERT_TRUE((*p)->restart().ok());
  for (int i = 0; i < 1000 && (*p)->running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_FALSE((*p)->running());
  const std::string text = slurp(log());
  EXPECT_EQ(text.rfind("an earlier run\n", 0), 0u);
  EXPECT_EQ(count(text, "run\n"), 3u) << text;  // the earlier line ends in "run\n" too

  // A running process is not restarted.
  auto sleeper = NodeProcess::start_argv({"/bin/sleep", "30"}, log());
  ASSERT_TRUE(sleeper.ok());
  const Status again = (*sleeper)->restart();
  EXPECT_EQ(again.code(), Code::rejected);
  (*sleeper)->kill9();
  ASSERT_TRUE((*sleeper)->restart().ok());
  EXPECT_TRUE((*sleeper)->running());
}  // the destructor terminates the sleeper

TEST_F(ProcessTest, StartPassesRunConfig) {
  auto p = NodeProcess::start("/bin/echo", "/etc/cell/il-gw-1.toml", log());
  ASSERT_TRUE(p.ok()) << p.status().reason();
  for (int i = 0; i < 1000 && (*p)->running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ((*p)->exit_status(), 0);
  EXPECT_EQ(slurp(log()), "run --config /etc/cell/il-gw-1.toml\n");
}

TEST_F(ProcessTest, StartFailuresAreIoErrorsNamingTheCause) {
  auto missing = NodeProcess::start("/nonexistent/cellgate", "x.toml", log());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::io);
  EXPECT_NE(missing.status().reason().find("/nonexistent/cellgate"), std::string::npos);
  auto no_log = NodeProcess::start("/bin/true", "x.toml", tmp_.file("no/such/dir/log"));
  ASSERT_FALSE(no_log.ok());
  EXPECT_EQ(no_log.status().code(), Code::io);
  EXPECT_NE(no_log.status().reason().find("no/such/dir/log"), std::string::npos);
  EXPECT_EQ(NodeProcess::start_argv({}, log()).status().code(), Code::malformed);
}

// --- Probes ------------------------------------------------------------------------------

TEST(Probes, ScrapeAndMetricReadAMetricsEndpoint) {
  std::atomic<std::uint64_t> released{42};
  metrics::Registry registry;
  registry.counter("cg_gateway_items_total", "Items by decision.", {{"decision", "released"}},
                   [&] { return static_cast<double>(released.load()); });
  registry.counter("cg_gateway_items_total", "Items by decision.", {{"decision", "blocked"}},
                   [] { return 7.0; });
  registry.gauge("cg_rules_version", "Rules bundle in force.", {}, [] { return 3.0; });
  metrics::Server server(registry);
  ASSERT_TRUE(server.start("127.0.0.1:0").ok());
  const std::string at = "127.0.0.1:" + std::to_string(server.port());
  ASSERT_TRUE(wait_for_tcp(at, 5000).ok());
  auto body = scrape(at);
  ASSERT_TRUE(body.ok()) << body.status().reason();
  EXPECT_EQ(metric(*body, "cg_gateway_items_total{decision=\"released\"}"), 42.0);
  EXPECT_EQ(metric(*body, "cg_gateway_items_total{decision=\"blocked\"}"), 7.0);
  EXPECT_EQ(metric(*body, "cg_rules_version"), 3.0);
  EXPECT_FALSE(metric(*body, "cg_gateway_items_total").has_value()) << "labels must match";
  EXPECT_FALSE(metric(*body, "cg_rules").has_value()) << "names must match whole";
  released = 43;
  auto again = scrape(at);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(metric(*again, "cg_gateway_items_total{decision=\"released\"}"), 43.0);
  server.stop();
}

TEST(Probes, MetricParsesTheExpositionFormat) {
  const std::string text =
      "# HELP x_total A counter.\n"
      "# TYPE x_total counter\n"
      "x_total{a=\"1\"} 12 1700000000000\n"
      "x_total{a=\"2\"} +Inf\n"
      "y 1.5e3\n"
      "z not-a-number\n";
  EXPECT_EQ(metric(text, "x_total{a=\"1\"}"), 12.0);
  EXPECT_EQ(metric(text, "x_total{a=\"2\"}"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(metric(text, "y"), 1500.0);
  EXPECT_FALSE(metric(text, "z").has_value());
  EXPECT_FALSE(metric(text, "# HELP").has_value());
  EXPECT_FALSE(metric(text, "absent").has_value());
  EXPECT_FALSE(metric("", "y").has_value());
}

TEST(Probes, WaitForTcpTimesOutOnAClosedPort) {
  auto port = free_port(SOCK_STREAM);
  ASSERT_TRUE(port.ok());
  const Status s = wait_for_tcp("127.0.0.1:" + std::to_string(*port), 100);
  EXPECT_EQ(s.code(), Code::io);
  EXPECT_EQ(wait_for_tcp("localhost", 100).code(), Code::malformed);
  EXPECT_EQ(scrape("127.0.0.1:" + std::to_string(*port), 100).status().code(), Code::io);
}

// A one-shot HTTP server answering 503: scrape refuses a non-200 answer.
TEST(Probes, ScrapeRefusesANon200Answer) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  std::thread server([fd] {
    const int c = ::accept(fd, nullptr, nullptr);
    if (c < 0) return;
    char buf[512];
    (void)!::recv(c, buf, sizeof buf, 0);
    const char answer[] = "HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
    (void)!::send(c, answer, sizeof answer - 1, MSG_NOSIGNAL);
    ::close(c);
  });
  auto body = scrape("127.0.0.1:" + std::to_string(ntohs(a.sin_port)));
  server.join();
  ::close(fd);
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.status().code(), Code::malformed);
  EXPECT_NE(body.status().reason().find("503"), std::string::npos) << body.status().reason();
}

}  // namespace
}  // namespace cg::deploy
