// Guards a running node keeps, tried with real `cellgate run` processes on loopback:
//   - one node per store: a second `run` on a store in use refuses to start, naming the
//     holder's pid, with a non-zero exit, and the first keeps running;
//   - an over-limit message at ingest is answered `tooLarge`, and the connection stays usable.
// No timing assertions: waits are bounded and end on progress.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "bench/lab/deploy/deploy.h"
#include "bench/lab/deploy/process.h"
#include "crypto/keys.h"
#include "gateway/ingest/ingest.h"
#include "tests/support/temp_dir.h"

namespace cg {
namespace {

using namespace std::chrono_literals;

class NodeGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deploy::Options o;
    o.dir = dir_.file("cell");
    o.policy_file = std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/il-policy.toml";
    auto c = deploy::create(o);
    ASSERT_TRUE(c.ok()) << c.status().reason();
    cell_ = std::move(*c);
  }
  std::string log_of(const std::string& name) {
    auto b = crypto::read_file(dir_.file(name), 1u << 20);
    return b.ok() ? std::string(b->begin(), b->end()) : std::string();
  }
  std::unique_ptr<deploy::NodeProcess> start_gateway(const std::string& log) {
    auto p = deploy::NodeProcess::start(CG_CELLGATE_BINARY, cell_.gateway_config, dir_.file(log));
    EXPECT_TRUE(p.ok()) << p.status().reason();
    return p.ok() ? std::move(*p) : nullptr;
  }

  testing::TempDir dir_{"cg-guard"};
  deploy::Deployment cell_;
};

TEST_F(NodeGuardTest, ASecondNodeOnAStoreInUseRefusesToStartNamingTheHolder) {
  auto first = start_gateway("first.log");
  ASSERT_TRUE(first);
  auto up = deploy::wait_for_tcp("127.0.0.1:" + std::to_string(cell_.gateway_metrics_port), 60'000);
  ASSERT_TRUE(up.ok()) << up.reason() << "\n" << log_of("first.log");

  auto second = start_gateway("second.log");
  ASSERT_TRUE(second);
  for (int i = 0; i < 6000 && second->running(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_FALSE(second->running()) << "a second node on the same store kept running\n"
                                  << log_of("second.log");
  EXPECT_EQ(second->exit_status(), 1) << log_of("second.log");
  EXPECT_NE(log_of("second.log")
                .find("is in use by another node (pid " + std::to_string(first->pid()) + ")"),
            std::string::npos)
      << log_of("second.log");

  EXPECT_TRUE(first->running()) << log_of("first.log");
  EXPECT_TRUE(
      deploy::wait_for_tcp("127.0.0.1:" + std::to_string(cell_.gateway_metrics_port), 5'000).ok());
  EXPECT_EQ(first->terminate(30'000), 0) << log_of("first.log");

  // The lock ends with its holder: the store can be run again.
  auto third = start_gateway("third.log");
  ASSERT_TRUE(third);
  up = deploy::wait_for_tcp("127.0.0.1:" + std::to_string(cell_.gateway_metrics_port), 60'000);
  EXPECT_TRUE(up.ok()) << up.reason() << "\n" << log_of("third.log");
  EXPECT_EQ(third->terminate(30'000), 0) << log_of("third.log");
}

// Issue 15: a 2 MiB message got no ack and its connection was dropped. The running gateway now
// answers tooLarge, and the connection stays: a later message gets its own answer on it.
TEST_F(NodeGuardTest, ATwoMebibyteMessageIsAnsweredTooLarge) {
  auto gw = start_gateway("gw.log");
  ASSERT_TRUE(gw);
  auto up = deploy::wait_for_tcp("127.0.0.1:" + std::to_string(cell_.gateway_metrics_port), 60'000);
  ASSERT_TRUE(up.ok()) << up.reason() << "\n" << log_of("gw.log");
  auto client = ingest::SourceClient::connect(cell_.ingest_endpoint, cell_.gateway_curve_public,
                                              cell_.source, 30'000);
  ASSERT_TRUE(client.ok()) << client.status().reason();
  for (std::size_t size : {std::size_t{2} << 20, (std::size_t{2} << 20) + 1000}) {
    ASSERT_TRUE((*client)->send(std::vector<std::uint8_t>(size, 0x42), 30'000).ok());
    auto ack = (*client)->receive_ack(30'000);
    ASSERT_TRUE(ack.ok()) << size << ": " << ack.status().reason() << "\n" << log_of("gw.log");
    EXPECT_FALSE(ack->accepted);
    EXPECT_EQ(ack->reason, "tooLarge") << ack->detail;
  }
  // Still connected: a small message gets its (malformed) answer on the same connection.
  ASSERT_TRUE((*client)->send(std::vector<std::uint8_t>(24, 0xff), 30'000).ok());
  auto ack = (*client)->receive_ack(30'000);
  ASSERT_TRUE(ack.ok()) << ack.status().reason();
  EXPECT_EQ(ack->reason, "malformed");
  EXPECT_EQ(gw->terminate(30'000), 0) << log_of("gw.log");
}

}  // namespace
}  // namespace cg
