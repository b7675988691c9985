// The relay role over loopback, between a gateway and this test as the far end: it verifies,
// logs, countersigns and forwards, and refuses replays.
#include "gateway/roles/relay/relay.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "gateway/roles/gateway/gateway.h"
#include "tests/unit/roles/cell_fixture.h"

namespace cg::node {
namespace {

using role_testing::Collect;

class RelayNodeTest : public role_testing::CellFixture {};

// gateway → relay → (this test as the receiver): the relay verifies, logs, countersigns and
// forwards; every envelope verifies with the relay's inclusion proof and opens; a replay sent
// to the relay is refused.
TEST_F(RelayNodeTest, RelayVerifiesLogsCountersignsAndRefusesReplays) {
  const auto v1 = write_bundle(nullptr, "");
  Collect far_end;
  link::ReceiverOptions ro;
  ro.settings.link_id = 8;
  auto rx_open = link::UdpReceiver::open(ro, "127.0.0.1:0", 8u << 20, *link2_key_, clock_, far_end);
  ASSERT_TRUE(rx_open.ok()) << rx_open.status().reason();
  auto rx = std::move(*rx_open);
  auto relay = RelayNode::start(relay_config(rx->port()), clock_);
  ASSERT_TRUE(relay.ok()) << relay.status().reason();
  auto gateway = GatewayNode::start(config((*relay)->link_in_ports()[0]), clock_);
  ASSERT_TRUE(gateway.ok()) << gateway.status().reason();
  ASSERT_EQ(send((*gateway)->ingest_endpoint(), 5, 120), 120u);
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(rx->poll_once(10).ok());
    if ((*gateway)->counters().items_judged.load() == 120 &&
        (*gateway)->counters().guard_backlog.load() == 0 &&
        far_end.envelopes.size() == (*gateway)->counters().released.load()) {
      break;
    }
  }
  const auto released = (*gateway)->counters().released.load();
  ASSERT_GT(released, 0u);
  ASSERT_EQ(far_end.envelopes.size(), released);
  EXPECT_EQ((*relay)->counters().relayed.load(), released);
  EXPECT_EQ((*relay)->counters().refused_origin.load(), 0u);
  EXPECT_GT((*relay)->counters().announcements_forwarded.load(), 0u);
  std::map<std::uint64_t, crypto::EpochKey> keys;
  ASSERT_NO_FATAL_FAILURE(epoch_keys(far_end, keys));
  std::set<std::uint64_t> log_indexes;
  // Every envelope's countersignature names a head the relay also published, in one
  // append-only history.
  recovery::HeadChain chain(crypto::hasher_of(suite_));
  for (const auto& h : far_end.heads) {
    auto v = envelope::verify_published_head(h, *root_, suite_);
    ASSERT_TRUE(v.ok()) << v.status().reason();
    EXPECT_TRUE(chain.add_published(*v, 0).empty());
  }
  EXPECT_EQ(far_end.heads.size(), (*relay)->counters().heads_published.load());
  EXPECT_EQ(chain.counters().linked + 1, far_end.heads.size()) << "each head linked to the last";
  for (const auto& e : far_end.envelopes) {
    auto a = envelope::verify_delivery(e, *root_, suite_);
    ASSERT_TRUE(a.ok()) << a.status().reason();
    log_indexes.insert(a->log_index);
    auto key = keys.find(a->envelope.root().getHeader().getEpoch());
    ASSERT_NE(key, keys.end());
    ASSERT_TRUE(envelope::open(*a, key->second).ok());
    EXPECT_TRUE(chain.add_countersigned(a->relay, a->head, 0).empty());
  }
  EXPECT_EQ(chain.counters().evidence, 0u);
  EXPECT_EQ(chain.counters().heads, far_end.heads.size()) << "no head that was not published";
  EXPECT_EQ(log_indexes.size(), released) << "one log entry per envelope";
  // The first envelope sent to the relay again, unchanged (what a gateway does to fill a
  // receiver's gap): forwarded again under a fresh head, with the same log index, not logged
  // twice.
  link::SenderOptions so;
  so.settings.link_id = 7;
  auto replayer = *link::UdpSender::open(
      so, "127.0.0.1:" + std::to_string((*relay)->link_in_ports()[0]), *link_key_, clock_);
  auto first = envelope::verify_delivery(far_end.envelopes[0], *root_, suite_);
  ASSERT_TRUE(first.ok());
  const std::uint64_t tree_before = (*relay)->counters().tree_size.load();
  ASSERT_TRUE(replayer->submit(1, far_end.envelopes[0]).ok());
  for (int i = 0; i < 300 && far_end.envelopes.size() == released; ++i)
    ASSERT_TRUE(rx->poll_once(10).ok());
  ASSERT_EQ(far_end.envelopes.size(), released + 1);
  // The relay counts the re-forward after handing it to its link: the envelope may arrive
  // before the count does.
  for (int i = 0; i < 300 && (*relay)->counters().reforwarded.load() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ((*relay)->counters().reforwarded.load(), 1u);
  EXPECT_EQ((*relay)->counters().relayed.load(), released) << "not logged twice";
  EXPECT_EQ((*relay)->counters().tree_size.load(), tree_before);
  auto again = envelope::verify_delivery(far_end.envelopes.back(), *root_, suite_);
  ASSERT_TRUE(again.ok()) << again.status().reason();
  EXPECT_EQ(again->log_index, first->log_index);
  EXPECT_GT(again->head.serial, first->head.serial);
  EXPECT_EQ(again->leaf, first->leaf);
  EXPECT_EQ((*relay)->counters().bundles_accepted.load(), 1u) << "v1 arrived from the gateway";

  // Another envelope under that seq, signed by the gateway's key and naming the approved
  // bundle: a replay (or an origin signing twice), refused and not forwarded.
  auto gw_key_first = crypto::load_signing_key_file(gw_.signing, nullptr, true);
  ASSERT_TRUE(gw_key_first.ok());
  {
    const envelope::Signer twice{"il-gw-1", &suite_, gw_key_first->get(),
                                 crypto::key_id(suite_.id(), (*gw_key_first)->public_key())};
    auto ep = envelope::start_epoch(twice, "sy", 0, 78, 1,
                                    crypto::read_public_key_file(rx_.agreement_public)->public_key,
                                    nullptr, clock_.now_ns());
    ASSERT_TRUE(ep.ok());
    envelope::HeaderFields f;
    f.destination = "sy";
    f.seq = first->envelope.root().getHeader().getSeq();
    f.time_ns = clock_.now_ns();
    f.kind = schema::Kind::INTELLIGENCE;
    f.rules_version = 1;
    f.rules_hash = verifier_.hash(approval::body_bytes(approval::decode_bundle(v1)->root()));
    synth::Generator gen({.seed = 98, .source = "il-src-1", .now_ns = clock_.now_ns()});
    auto item = wire::decode_item(gen.next_bytes());
    ASSERT_TRUE(item.ok());
    auto sealed = envelope::seal(twice, f, ep->key, item->canonical_bytes());
    ASSERT_TRUE(sealed.ok()) << sealed.status().reason();
    auto other = envelope::sign_batch(twice, 1, std::span(&*sealed, 1));
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE(replayer->submit(2, (*other)[0]).ok());
    for (int i = 0; i < 300 && (*relay)->counters().refused_replay.load() == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ((*relay)->counters().refused_replay.load(), 1u);
    EXPECT_EQ((*relay)->counters().relayed.load(), released) << "nothing forwarded for it";
    EXPECT_EQ((*relay)->counters().reforwarded.load(), 1u);
  }

  // An envelope signed by the gateway's key that names bundle v1 with another hash (as if
  // judged by rules nobody approved): refused, under its own reason.
  auto gw_key_r = crypto::load_signing_key_file(gw_.signing, nullptr, true);
  ASSERT_TRUE(gw_key_r.ok()) << gw_key_r.status().reason();
  auto gw_key = std::move(*gw_key_r);
  const envelope::Signer forger{"il-gw-1", &suite_, gw_key.get(),
                                crypto::key_id(suite_.id(), gw_key->public_key())};
  auto epoch = envelope::start_epoch(forger, "sy", 0, 77, 1'000'000,
                                     crypto::read_public_key_file(rx_.agreement_public)->public_key,
                                     nullptr, clock_.now_ns());
  ASSERT_TRUE(epoch.ok()) << epoch.status().reason();
  envelope::HeaderFields f;
  f.destination = "sy";
  f.seq = 1'000'000;
  f.time_ns = clock_.now_ns();
  f.kind = schema::Kind::INTELLIGENCE;
  f.rules_version = 1;
  f.rules_hash.assign(32, 0);
  synth::Generator gen({.seed = 99, .source = "il-src-1", .now_ns = clock_.now_ns()});
  auto item = wire::decode_item(gen.next_bytes());
  ASSERT_TRUE(item.ok());
  auto sealed = envelope::seal(forger, f, epoch->key, item->canonical_bytes());
  ASSERT_TRUE(sealed.ok()) << sealed.status().reason();
  auto forged = envelope::sign_batch(forger, 1, std::span(&*sealed, 1));
  ASSERT_TRUE(forged.ok()) << forged.status().reason();
  ASSERT_TRUE(replayer->submit(3, (*forged)[0]).ok());
  for (int i = 0; i < 300 && (*relay)->counters().refused_bundle.load() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ((*relay)->counters().refused_bundle.load(), 1u);
  EXPECT_EQ((*relay)->counters().relayed.load(), released);
  replayer->stop();
  (*gateway)->stop();
  (*relay)->stop();
}

}  // namespace
}  // namespace cg::node
