// The receiver role at the end of the whole cell in one process: gateway → relay → receiver →
// a consumer.
#include "gateway/roles/receiver/receiver.h"

#include <gtest/gtest.h>

#include "gateway/roles/gateway/gateway.h"
#include "gateway/roles/relay/relay.h"
#include "tests/unit/roles/cell_fixture.h"

namespace cg::node {
namespace {

using role_testing::Collect;

class ReceiverNodeTest : public role_testing::CellFixture {};

// The whole cell as three nodes in this process: gateway → relay → receiver → a consumer.
TEST_F(ReceiverNodeTest, CellEndToEndToAConsumer) {
  write_bundle(nullptr, "");
  const auto rx_curve = ingest::curve_keypair();
  const auto consumer_curve = ingest::curve_keypair();
  const std::string line = rx_curve.secret_z85 + "\n";
  ASSERT_TRUE(crypto::write_file(dir_.file("rx.curve"),
                                 {reinterpret_cast<const std::uint8_t*>(line.data()), line.size()},
                                 0600)
                  .ok());
  config::NodeConfig rc;
  rc.source_file = dir_.file("rx.toml");
  rc.id = "sy-rx-1";
  rc.party = "sy";
  rc.role = config::Role::receiver;
  rc.store = dir_.file("rx-store");
  rc.store_bytes_max = 256u << 20;
  rc.keys = config::Keys{rx_.signing, rx_.agreement, "", dir_.file("root.bin")};
  config::LinkIn li;
  li.name = "from-us";
  li.link_id = 8;
  li.key_file = dir_.file("link2.key");
  li.listen = "127.0.0.1:0";
  li.rcvbuf_bytes = 8u << 20;
  rc.links_in = {li};
  config::Deliver dl;
  dl.listen = "tcp://127.0.0.1:0";
  dl.curve_secret_file = dir_.file("rx.curve");
  dl.consumers = {{"sy-analyst", consumer_curve.public_z85}};
  rc.deliver = dl;
  auto receiver = ReceiverNode::start(rc, clock_);
  ASSERT_TRUE(receiver.ok()) << receiver.status().reason();
  auto relay = RelayNode::start(relay_config((*receiver)->link_in_ports()[0]), clock_);
  ASSERT_TRUE(relay.ok()) << relay.status().reason();
  auto gateway = GatewayNode::start(config((*relay)->link_in_ports()[0]), clock_);
  ASSERT_TRUE(gateway.ok()) << gateway.status().reason();
  ASSERT_EQ(send((*gateway)->ingest_endpoint(), 9, 120), 120u);
  for (int i = 0; i < 3000; ++i) {
    if ((*gateway)->counters().items_judged.load() == 120 &&
        (*gateway)->counters().guard_backlog.load() == 0 &&
        (*receiver)->counters().stored.load() == (*gateway)->counters().released.load()) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto released = (*gateway)->counters().released.load();
  ASSERT_GT(released, 0u);
  EXPECT_EQ((*receiver)->counters().stored.load(), released);
  EXPECT_EQ((*receiver)->counters().refused.load(), 0u);
  // A consumer gets every item, decodes it and acknowledges it.
  auto consumer = deliver::ConsumerClient::connect((*receiver)->deliver_endpoint(),
                                                   rx_curve.public_z85, consumer_curve, 64, 10'000);
  ASSERT_TRUE(consumer.ok()) << consumer.status().reason();
  std::set<std::uint64_t> seqs;
  for (std::uint64_t i = 0; i < released; ++i) {
    auto d = (*consumer)->receive(10'000);
    ASSERT_TRUE(d.ok()) << d.status().reason();
    EXPECT_EQ(d->origin, "il-gw-1");
    EXPECT_TRUE(wire::decode_canonical_item(d->item).ok());
    seqs.insert(d->seq);
    ASSERT_TRUE((*consumer)->acknowledge(*d).ok());
  }
  EXPECT_EQ(seqs.size(), released) << "each item once";
  EXPECT_EQ((*receiver)->counters().duplicates.load(), 0u);
  EXPECT_GT((*receiver)->counters().epochs.load(), 0u);
  (*gateway)->stop();
  (*relay)->stop();
  (*receiver)->stop();
}

}  // namespace
}  // namespace cg::node
