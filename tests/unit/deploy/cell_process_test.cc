// The deployment run as an operator runs it: three `cellgate run --config` processes under
// NodeProcess, the gateway's link through a 5 % loss proxy, items from the deployment's source
// to its consumer. Every released item arrives once (FEC repairs the loss), and every node stops
// cleanly on SIGTERM.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "gateway/deliver/deliver.h"
#include "gateway/deploy/deploy.h"
#include "gateway/synth/synth.h"
#include "gateway/wire/wire.h"
#include "tests/sim/udp_loss_proxy.h"
#include "tests/support/temp_dir.h"

namespace cg::deploy {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool wait_for_text(const std::string& path, const std::string& text) {
  for (int i = 0; i < 3000; ++i) {
    if (slurp(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string host_port(const std::string& tcp_endpoint) {
  return tcp_endpoint.substr(tcp_endpoint.find("://") + 3);
}

TEST(CellProcesses, ThreeNodeProcessesCarryItemsOverALossyLink) {
  constexpr std::uint64_t seed = 7;
  testing::TempDir tmp("cg-cell-processes");
  auto relay_port = free_port(SOCK_DGRAM);
  ASSERT_TRUE(relay_port.ok());
  auto proxy_port = free_port(SOCK_DGRAM);
  ASSERT_TRUE(proxy_port.ok());
  Options o;
  o.dir = tmp.file("cell");
  o.policy_file = std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/il-policy.toml";
  o.gateway_link_peer_port = *proxy_port;
  o.link_rate_bytes_per_s = 20'000'000;
  auto d = create(o);
  ASSERT_TRUE(d.ok()) << d.status().reason();
  auto proxy = sim::UdpLossProxy::start(*proxy_port, d->relay_link_in_port, 0.05, seed);
  ASSERT_TRUE(proxy.ok()) << proxy.status().reason();

  const std::string logs = tmp.file("logs-");
  auto receiver = NodeProcess::start(CG_CELLGATE_BINARY, d->receiver_config, logs + "rx");
  ASSERT_TRUE(receiver.ok()) << receiver.status().reason();
  ASSERT_TRUE(wait_for_tcp(host_port(d->deliver_endpoint), 30'000).ok()) << slurp(logs + "rx");
  auto relay = NodeProcess::start(CG_CELLGATE_BINARY, d->relay_config, logs + "relay");
  ASSERT_TRUE(relay.ok()) << relay.status().reason();
  ASSERT_TRUE(wait_for_text(logs + "relay", "relay running")) << slurp(logs + "relay");
  auto gateway = NodeProcess::start(CG_CELLGATE_BINARY, d->gateway_config, logs + "gw");
  ASSERT_TRUE(gateway.ok()) << gateway.status().reason();
  ASSERT_TRUE(wait_for_tcp(host_port(d->ingest_endpoint), 30'000).ok()) << slurp(logs + "gw");
  auto usage = (*gateway)->usage();
  ASSERT_TRUE(usage.ok()) << usage.status().reason();
  EXPECT_GT(usage->peak_rss_kb, 0u);

  constexpr std::size_t items = 200;
  {
    auto source = ingest::SourceClient::connect(d->ingest_endpoint, d->gateway_curve_public,
                                                d->source, 10'000);
    ASSERT_TRUE(source.ok()) << source.status().reason();
    const std::int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    synth::Generator gen({.seed = seed, .source = d->source_id, .now_ns = now_ns});
    for (std::size_t i = 0; i < items; ++i) {
      ASSERT_TRUE((*source)->send(gen.next_bytes()).ok());
      auto ack = (*source)->receive_ack(10'000);
      ASSERT_TRUE(ack.ok()) << ack.status().reason();
      EXPECT_TRUE(ack->accepted) << ack->reason << ": " << ack->detail;
    }
  }
  // Take deliveries until none has come for a while; the gateway's own count decides.
  auto consumer = deliver::ConsumerClient::connect(d->deliver_endpoint, d->receiver_curve_public,
                                                   d->consumer, 64, 10'000);
  ASSERT_TRUE(consumer.ok()) << consumer.status().reason();
  std::set<std::uint64_t> seqs;
  std::uint64_t deliveries = 0;
  for (;;) {
    auto item = (*consumer)->receive(5'000);
    if (!item.ok()) break;
    ++deliveries;
    EXPECT_EQ(item->origin, "il-gw-1");
    EXPECT_TRUE(wire::decode_canonical_item(item->item).ok());
    seqs.insert(item->seq);
    ASSERT_TRUE((*consumer)->acknowledge(*item).ok());
  }
  EXPECT_EQ((*gateway)->terminate(), 0) << slurp(logs + "gw");
  EXPECT_EQ((*relay)->terminate(), 0) << slurp(logs + "relay");
  EXPECT_EQ((*receiver)->terminate(), 0) << slurp(logs + "rx");
  (*proxy)->stop();

  const std::string gw_log = slurp(logs + "gw");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(gw_log, m, std::regex(R"((\d+) judged, (\d+) released)")))
      << gw_log;
  EXPECT_EQ(std::stoull(m[1]), items);
  const std::uint64_t released = std::stoull(m[2]);
  EXPECT_GT(released, 0u);
  EXPECT_EQ(deliveries, released) << "seed " << seed;
  EXPECT_EQ(seqs.size(), released) << "each once";
  EXPECT_GT((*proxy)->counters().dropped.load(), 0u) << "the link really lost datagrams";
  EXPECT_EQ((*proxy)->counters().forwarded.load() + (*proxy)->counters().dropped.load() +
                (*proxy)->counters().send_failed.load(),
            (*proxy)->counters().received.load());
}

}  // namespace
}  // namespace cg::deploy
