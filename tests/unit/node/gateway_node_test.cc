// The gateway node over loopback: a source submits over CurveZMQ, the node judges under the
// approved bundle, seals, batch-signs and sends on a real UDP link; this test plays the far
// end of the link (it holds the receiver's key) and checks every envelope. Then the rules
// change under load: every envelope names the bundle that judged it and nothing is lost.
#include "gateway/node/gateway_node.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "bench/lab/synth/synth.h"
#include "crypto/keys.h"
#include "gateway/approval/approval.h"
#include "gateway/audit/audit.h"
#include "gateway/cli/cli.h"
#include "gateway/deliver/deliver.h"
#include "gateway/envelope/envelope.h"
#include "gateway/ingest/ingest.h"
#include "gateway/link/link.h"
#include "gateway/node/node_common.h"
#include "gateway/node/receiver_node.h"
#include "gateway/node/relay_node.h"
#include "gateway/quarantine/quarantine.h"
#include "gateway/recovery/recovery.h"
#include "tests/support/temp_dir.h"

namespace cg::node {
namespace {

// What a link delivers, sorted: envelopes, the relay's published tree heads, announcements and
// bundle chunks (controls), and the gateway's stream heads.
struct Collect final : link::Handler {
  std::vector<std::vector<std::uint8_t>> envelopes, controls, heads, stream_heads;
  void on_envelope(const link::Delivered& d) override {
    (envelope::is_published_head(d.bytes) ? heads : envelopes)
        .emplace_back(d.bytes.begin(), d.bytes.end());
  }
  void on_loss(const link::Loss&) override { ++losses; }
  void on_control(std::uint64_t, std::span<const std::uint8_t> p) override {
    (envelope::is_stream_head(p) ? stream_heads : controls).emplace_back(p.begin(), p.end());
  }
  void on_alert(const link::Alert&) override {}
  int losses = 0;
};

class GatewayNodeTest : public ::testing::Test {
 protected:
  GatewayNodeTest() : suite_(crypto::modern_suite()), verifier_(suite_) {
    gw_ = *crypto::write_node_keys(dir_.path(), "il-gw-1", suite_.id(), nullptr, true);
    rx_ = *crypto::write_node_keys(dir_.path(), "sy-rx-1", suite_.id(), nullptr, true);
    relay_ = *crypto::write_node_keys(dir_.path(), "us-relay", suite_.id(), nullptr, true);
    for (int i = 0; i < 3; ++i) reviewers_.push_back(suite_.generate_signing_key());
    root_key_ = suite_.generate_signing_key();
    // Trust root.
    capnp::MallocMessageBuilder mb;
    auto body = mb.initRoot<schema::TrustRoot>().initBody();
    body.setVersion(1);
    body.setExpires(clock_.now_ns() + 86'400LL * 1'000'000'000);
    auto party = body.initParties(1)[0];
    party.setId("il");
    party.setReviewerThreshold(2);
    auto revs = party.initReviewers(3);
    for (unsigned i = 0; i < 3; ++i) {
      approval::fill_public_key(revs[i], suite_.id(), reviewers_[i]->public_key(),
                                "il/r" + std::to_string(i));
    }
    auto nodes = body.initNodes(3);
    nodes[2].setId("us-relay");
    nodes[2].setParty("us");
    nodes[2].setRole(schema::Role::RELAY);
    approval::fill_public_key(nodes[2].initSigningKey(), suite_.id(),
                              crypto::read_public_key_file(relay_.signing_public)->public_key,
                              "us-relay");
    nodes[0].setId("il-gw-1");
    nodes[0].setParty("il");
    nodes[0].setRole(schema::Role::GATEWAY);
    approval::fill_public_key(nodes[0].initSigningKey(), suite_.id(),
                              crypto::read_public_key_file(gw_.signing_public)->public_key,
                              "il-gw-1");
    nodes[1].setId("sy-rx-1");
    nodes[1].setParty("sy");
    nodes[1].setRole(schema::Role::RECEIVER);
    approval::fill_public_key(nodes[1].initSigningKey(), suite_.id(),
                              crypto::read_public_key_file(rx_.signing_public)->public_key,
                              "sy-rx-1");
    approval::fill_public_key(nodes[1].initAgreementKey(), suite_.id(),
                              crypto::read_public_key_file(rx_.agreement_public)->public_key,
                              "sy-rx-1");
    approval::fill_public_key(body.initRootKeys(1)[0], suite_.id(), root_key_->public_key(),
                              "root");
    body.setRootThreshold(1);
    auto signed_root = *approval::add_root_signature(
        wire::canonical(mb.getRoot<schema::TrustRoot>().asReader()).root(),
        crypto::key_id(suite_.id(), root_key_->public_key()), signer(*root_key_));
    root_bytes_ = wire::to_flat_bytes(signed_root);
    EXPECT_TRUE(crypto::write_file(dir_.file("root.bin"), root_bytes_, 0644).ok());
    root_.emplace(*approval::TrustRoot::parse(root_bytes_, verifier_));
    // Link key, CURVE keys.
    link_key_ = crypto::Secret::random(32);
    EXPECT_TRUE(
        crypto::write_file(dir_.file("link.key"), crypto::encode_link_key(*link_key_), 0600).ok());
    link2_key_ = crypto::Secret::random(32);
    EXPECT_TRUE(
        crypto::write_file(dir_.file("link2.key"), crypto::encode_link_key(*link2_key_), 0600)
            .ok());
    gw_curve_ = ingest::curve_keypair();
    source_curve_ = ingest::curve_keypair();
    const std::string line = gw_curve_.secret_z85 + "\n";
    EXPECT_TRUE(
        crypto::write_file(dir_.file("gw.curve"),
                           {reinterpret_cast<const std::uint8_t*>(line.data()), line.size()}, 0600)
            .ok());
    rx_kx_ = std::move(*crypto::load_agreement_key_file(rx_.agreement, nullptr, true));
  }

  approval::SignFn signer(const crypto::SigningKey& k) {
    return [&k, this](crypto::Bytes m) -> Result<std::vector<std::uint8_t>> {
      std::vector<std::uint8_t> sig(suite_.signature_bytes());
      CG_RETURN_IF_ERROR(k.sign(m, sig));
      return sig;
    };
  }

  // Writes bundle version `v` (after `previous`) approved by reviewers 0 and 2.
  std::vector<std::uint8_t> write_bundle(const std::vector<std::uint8_t>* previous,
                                         const std::string& extra) {
    auto text = crypto::read_file(
        std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/il-policy.toml", 1u << 20);
    std::string policy(text->begin(), text->end());
    policy += extra;
    std::optional<wire::Message<schema::RulesBundle>> prev;
    if (previous) prev.emplace(*approval::decode_bundle(*previous));
    schema::RulesBundle::Reader pr;
    if (prev) pr = prev->root();
    auto b = *approval::propose("il", policy, prev ? &pr : nullptr, clock_.now_ns() - 1'000'000'000,
                                clock_.now_ns() + 86'400LL * 1'000'000'000, verifier_);
    for (int i : {0, 2}) {
      const auto& k = *reviewers_[static_cast<std::size_t>(i)];
      b = *approval::add_signature(b.root(), crypto::key_id(suite_.id(), k.public_key()),
                                   signer(k));
    }
    auto bytes = wire::to_flat_bytes(b);
    EXPECT_TRUE(crypto::write_file(dir_.file("rules.bundle"), bytes, 0644).ok());
    return bytes;
  }

  config::NodeConfig config(std::uint16_t link_port) {
    config::NodeConfig c;
    c.source_file = dir_.file("gw.toml");
    c.id = "il-gw-1";
    c.party = "il";
    c.role = config::Role::gateway;
    c.store = dir_.file("store");
    c.store_bytes_max = 256u << 20;
    c.keys = config::Keys{gw_.signing, gw_.agreement, "", dir_.file("root.bin")};
    c.pipeline = config::Pipeline{};
    c.pipeline->rules_bundle = dir_.file("rules.bundle");
    c.pipeline->batch_items_max = 64;
    config::Ingest in;
    in.listen = "tcp://127.0.0.1:0";
    in.curve_secret_file = dir_.file("gw.curve");
    in.sources = {{"il-src-1", source_curve_.public_z85}};
    c.ingest = in;
    config::LinkOut lo;
    lo.name = "to-relay";
    lo.link_id = 7;
    lo.key_file = dir_.file("link.key");
    lo.peer = "127.0.0.1:" + std::to_string(link_port);
    lo.rate_bytes_per_s = 50'000'000;
    c.links_out = {lo};
    return c;
  }

  config::NodeConfig relay_config(std::uint16_t far_end_port) {
    config::NodeConfig c;
    c.source_file = dir_.file("relay.toml");
    c.id = "us-relay";
    c.party = "us";
    c.role = config::Role::relay;
    c.store = dir_.file("relay-store");
    c.store_bytes_max = 256u << 20;
    c.keys = config::Keys{relay_.signing, relay_.agreement, "", dir_.file("root.bin")};
    c.relay = config::Relay{};
    c.relay->routes = {"il->sy"};
    config::LinkIn li;
    li.name = "from-il";
    li.party = "il";
    li.link_id = 7;
    li.key_file = dir_.file("link.key");
    li.listen = "127.0.0.1:0";
    li.rcvbuf_bytes = 8u << 20;
    c.links_in = {li};
    config::LinkOut lo;
    lo.name = "to-sy";
    lo.party = "sy";
    lo.link_id = 8;
    lo.key_file = dir_.file("link2.key");
    lo.peer = "127.0.0.1:" + std::to_string(far_end_port);
    c.links_out = {lo};
    return c;
  }

  link::ReceiverOptions receiver_options() {
    link::ReceiverOptions ro;
    ro.settings.link_id = 7;
    return ro;
  }

  // The epoch keys of every announcement the far end received (bundle chunks skipped); each
  // must be accepted.
  void epoch_keys(const Collect& far_end, std::map<std::uint64_t, crypto::EpochKey>& keys) {
    for (const auto& a : far_end.controls) {
      if (is_bundle_chunk(a)) continue;
      auto k = envelope::accept_epoch(a, *root_, suite_, *rx_kx_, nullptr);
      ASSERT_TRUE(k.ok()) << k.status().reason();
      keys.emplace(k->epoch(), std::move(*k));
    }
  }

  // Sends `n` synthetic items from the configured source; returns how many were accepted.
  std::size_t send(const std::string& endpoint, std::uint64_t seed, std::size_t n) {
    auto client =
        ingest::SourceClient::connect(endpoint, gw_curve_.public_z85, source_curve_, 10'000);
    EXPECT_TRUE(client.ok()) << client.status().reason();
    synth::Generator gen({.seed = seed, .source = "il-src-1", .now_ns = clock_.now_ns()});
    std::size_t accepted = 0;
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_TRUE((*client)->send(gen.next_bytes()).ok());
      auto ack = (*client)->receive_ack(10'000);
      EXPECT_TRUE(ack.ok());
      if (ack.ok() && ack->accepted) ++accepted;
    }
    return accepted;
  }

  testing::TempDir dir_{"cg-gateway-node"};
  SystemClock clock_;
  const crypto::Suite& suite_;
  approval::SuiteVerifier verifier_;
  crypto::NodeKeyPaths gw_, rx_, relay_;
  std::vector<std::unique_ptr<crypto::SigningKey>> reviewers_;
  std::unique_ptr<crypto::SigningKey> root_key_;
  std::vector<std::uint8_t> root_bytes_;
  std::optional<approval::TrustRoot> root_;
  std::optional<crypto::Secret> link_key_, link2_key_;
  ingest::KeyPair gw_curve_, source_curve_;
  std::unique_ptr<crypto::AgreementKey> rx_kx_;
};

TEST_F(GatewayNodeTest, JudgesSealsSignsAndSendsAndRulesChangeUnderLoad) {
  const auto v1 = write_bundle(nullptr, "");
  Collect far_end;
  auto rx = *link::UdpReceiver::open(receiver_options(), "127.0.0.1:0", 8u << 20, *link_key_,
                                     clock_, far_end);
  auto node = GatewayNode::start(config(rx->port()), clock_);
  ASSERT_TRUE(node.ok()) << node.status().reason();
  EXPECT_EQ((*node)->rules_version(), 1u);

  auto pump_until = [&](auto done) {
    for (int i = 0; i < 3000 && !done(); ++i) ASSERT_TRUE(rx->poll_once(10).ok());
  };
  ASSERT_EQ(send((*node)->ingest_endpoint(), 1, 150), 150u);
  pump_until([&] {
    return (*node)->counters().items_judged.load() == 150 &&
           far_end.envelopes.size() == (*node)->counters().released.load();
  });
  const std::size_t first_wave = far_end.envelopes.size();

  // v2 replaces v1 while items keep coming.
  write_bundle(&v1, "\n# v2: reviewed again\n");
  std::thread more([&] { EXPECT_EQ(send((*node)->ingest_endpoint(), 2, 150), 150u); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto v = (*node)->reload_rules();
  ASSERT_TRUE(v.ok()) << v.status().reason();
  EXPECT_EQ(*v, 2u);
  more.join();
  // Until every envelope is here and v2's chunks too (they follow the swap within a
  // housekeeping turn).
  auto bundle_v2_arrived = [&] {
    BundleAssembler a;
    for (const auto& c : far_end.controls) {
      if (!is_bundle_chunk(c)) continue;
      auto whole = a.add(c);
      if (whole.ok() && *whole &&
          approval::decode_bundle(**whole)->root().getBody().getVersion() == 2)
        return true;
    }
    return false;
  };
  pump_until([&] {
    return (*node)->counters().items_judged.load() == 300 &&
           far_end.envelopes.size() == (*node)->counters().released.load() && bundle_v2_arrived();
  });
  const auto& c = (*node)->counters();
  EXPECT_EQ(c.items_judged.load(), 300u);
  EXPECT_EQ(c.released.load() + c.blocked.load() + c.quarantined.load(), 300u)
      << "one destination with a receiver: sy";
  EXPECT_GT(c.released.load(), 0u);
  EXPECT_GT(c.blocked.load(), 0u);
  EXPECT_GT(c.quarantined.load(), 0u);
  EXPECT_EQ(far_end.losses, 0);
  ASSERT_EQ(far_end.envelopes.size(), c.released.load());

  // The far end: epoch keys from the announcements, then every envelope verifies and opens,
  // and names exactly one of the two bundles, by version and hash.
  // The bundles in use went to the relay's side too, as chunked control records.
  std::map<std::uint64_t, crypto::EpochKey> keys;
  BundleAssembler assembler;
  std::set<std::uint64_t> bundle_versions;
  for (const auto& a : far_end.controls) {
    if (is_bundle_chunk(a)) {
      auto whole = assembler.add(a);
      ASSERT_TRUE(whole.ok()) << whole.status().reason();
      if (*whole)
        bundle_versions.insert(approval::decode_bundle(**whole)->root().getBody().getVersion());
      continue;
    }
    auto k = envelope::accept_epoch(a, *root_, suite_, *rx_kx_, nullptr);
    ASSERT_TRUE(k.ok()) << k.status().reason();
    keys.emplace(k->epoch(), std::move(*k));
  }
  EXPECT_EQ(bundle_versions, (std::set<std::uint64_t>{1, 2}));
  const auto hash_v1 = verifier_.hash(approval::body_bytes(approval::decode_bundle(v1)->root()));
  std::map<std::uint64_t, int> by_version;
  std::vector<std::uint64_t> seqs;
  for (const auto& e : far_end.envelopes) {
    auto checked = envelope::verify_origin(e, *root_, suite_);
    ASSERT_TRUE(checked.ok()) << checked.status().reason();
    const auto h = checked->envelope.root().getHeader();
    seqs.push_back(h.getSeq());
    by_version[h.getRulesVersion()]++;
    if (h.getRulesVersion() == 1) {
      EXPECT_TRUE(std::equal(hash_v1.begin(), hash_v1.end(), h.getRulesHash().begin(),
                             h.getRulesHash().end()));
    }
    auto key = keys.find(h.getEpoch());
    ASSERT_NE(key, keys.end());
    envelope::Accepted a{std::move(checked->envelope), std::move(checked->leaf),
                         checked->origin_party, 0};
    auto item = envelope::open(a, key->second);
    ASSERT_TRUE(item.ok()) << item.status().reason();
  }
  // Consecutive seqs, nothing lost, none twice. Arrival order is not seq order: a FLASH
  // envelope goes out in a block of its own ahead of routine blocks still being sent.
  std::sort(seqs.begin(), seqs.end());
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    EXPECT_EQ(seqs[i], i + 1) << "consecutive seqs, nothing lost, none twice";
  }
  EXPECT_GE(by_version[1], static_cast<int>(first_wave));
  EXPECT_GT(by_version[2], 0) << "items after the swap are judged by v2";
  EXPECT_EQ(by_version.size(), 2u);
  (*node)->stop();
  const std::uint64_t quarantined = c.quarantined.load();
  node->reset();
  // Every decision left an audit record, in an intact hash chain; every quarantined item is held.
  auto store = *store::Env::open({.path = dir_.file("store"), .read_only = true});
  auto report = audit::verify(*store);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->broken_at.has_value()) << report->problem;
  EXPECT_EQ(report->records, 300u);
  auto held = *quarantine::Quarantine::open(*store);
  EXPECT_EQ(*held.size(), quarantined);
}

TEST_F(GatewayNodeTest, WithoutAnApprovedBundleNothingIsJudgedAndNothingIsLost) {
  const auto v1 = write_bundle(nullptr, "");
  // Tamper with the bundle file: one reviewer's signature is no longer valid (below threshold).
  auto bad = v1;
  bad[bad.size() - 10] ^= 1;
  ASSERT_TRUE(crypto::write_file(dir_.file("rules.bundle"), bad, 0644).ok());
  Collect far_end;
  auto rx = *link::UdpReceiver::open(receiver_options(), "127.0.0.1:0", 8u << 20, *link_key_,
                                     clock_, far_end);
  ::testing::internal::CaptureStderr();
  auto node = GatewayNode::start(config(rx->port()), clock_);
  if (!node.ok()) ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(node.ok()) << node.status().reason();
  EXPECT_EQ((*node)->rules_version(), 0u);
  ASSERT_EQ(send((*node)->ingest_endpoint(), 3, 20), 20u)
      << "sources are still acknowledged: items are stored";
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(rx->poll_once(10).ok());
  EXPECT_EQ((*node)->counters().items_judged.load(), 0u);
  // Many passes find no usable bundle (the old code logged every 100th: 27 lines in 6 s).
  for (int i = 0; i < 6000 && (*node)->counters().waits_no_bundle.load() < 250; ++i)
    ASSERT_TRUE(rx->poll_once(10).ok());
  EXPECT_GE((*node)->counters().waits_no_bundle.load(), 250u);
  EXPECT_TRUE(far_end.envelopes.empty());
  // The approved bundle arrives: the held items are judged and sent.
  ASSERT_TRUE(crypto::write_file(dir_.file("rules.bundle"), v1, 0644).ok());
  ASSERT_TRUE((*node)->reload_rules().ok());
  for (int i = 0; i < 2000 && (*node)->counters().items_judged.load() < 20; ++i)
    ASSERT_TRUE(rx->poll_once(10).ok());
  EXPECT_EQ((*node)->counters().items_judged.load(), 20u);
  (*node)->stop();
  // Logged once per change of state: once when no bundle is usable, once when one is again.
  const std::string log = ::testing::internal::GetCapturedStderr();
  auto count = [&](const std::string& what) {
    std::size_t n = 0;
    for (auto at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("(judging nothing until that changes)"), 1u) << log;
  EXPECT_EQ(count("usable: judging again"), 1u) << log;
}

// gateway → relay → (this test as the receiver): the relay verifies, logs, countersigns and
// forwards; every envelope verifies with the relay's inclusion proof and opens; a replay sent
// to the relay is refused.
TEST_F(GatewayNodeTest, RelayVerifiesLogsCountersignsAndRefusesReplays) {
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

// The whole cell as three nodes in this process: gateway → relay → receiver → a consumer.
TEST_F(GatewayNodeTest, CellEndToEndToAConsumer) {
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

// A crash after a pass committed but before its envelopes left: here the store's on-the-wire
// mark is removed, as if the node died before it wrote it. The restarted gateway sends every
// envelope past the mark again, byte for byte, after the announcements of their epochs, and
// the far end can open them; new items continue the sequence without reusing a number.
TEST_F(GatewayNodeTest, AfterARestartWhatMayNotHaveLeftIsSentAgainUnchanged) {
  write_bundle(nullptr, "");
  Collect far_end;
  auto rx = *link::UdpReceiver::open(receiver_options(), "127.0.0.1:0", 8u << 20, *link_key_,
                                     clock_, far_end);
  auto node = GatewayNode::start(config(rx->port()), clock_);
  ASSERT_TRUE(node.ok()) << node.status().reason();
  ASSERT_EQ(send((*node)->ingest_endpoint(), 11, 80), 80u);
  auto pump_until = [&](auto done) {
    for (int i = 0; i < 3000 && !done(); ++i) ASSERT_TRUE(rx->poll_once(10).ok());
  };
  pump_until([&] {
    return (*node)->counters().items_judged.load() == 80 &&
           far_end.envelopes.size() == (*node)->counters().released.load();
  });
  const auto released = (*node)->counters().released.load();
  ASSERT_GT(released, 0u);
  ASSERT_EQ(far_end.envelopes.size(), released);
  (*node)->stop();
  node->reset();
  const auto first = far_end.envelopes;
  far_end.envelopes.clear();
  far_end.controls.clear();
  {
    auto env = *store::Env::open({.path = dir_.file("store")});
    auto marks = *env->table("marks");
    auto txn = *env->begin_write();
    const std::string key = "wire/sy";
    ASSERT_TRUE(*txn.erase(marks, {reinterpret_cast<const std::uint8_t*>(key.data()), key.size()}));
    ASSERT_TRUE(txn.commit().ok());
  }
  auto again = GatewayNode::start(config(rx->port()), clock_);
  ASSERT_TRUE(again.ok()) << again.status().reason();
  pump_until([&] { return far_end.envelopes.size() == released; });
  EXPECT_EQ((*again)->counters().resent_after_restart.load(), released);
  // The very same bytes (FLASH envelopes overtake routine ones on the link: compare as sets).
  auto sorted = [](std::vector<std::vector<std::uint8_t>> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  ASSERT_EQ(sorted(far_end.envelopes), sorted(first));
  std::map<std::uint64_t, crypto::EpochKey> keys;
  ASSERT_NO_FATAL_FAILURE(epoch_keys(far_end, keys));
  for (const auto& e : far_end.envelopes) {
    auto checked = envelope::verify_origin(e, *root_, suite_);
    ASSERT_TRUE(checked.ok());
    ASSERT_TRUE(keys.count(checked->envelope.root().getHeader().getEpoch()))
        << "the announcement of the old epoch was sent again";
  }
  // New items continue the sequence.
  far_end.envelopes.clear();
  ASSERT_EQ(send((*again)->ingest_endpoint(), 12, 40), 40u);
  pump_until([&] {
    return (*again)->counters().items_judged.load() == 40 &&
           far_end.envelopes.size() == (*again)->counters().released.load();
  });
  ASSERT_FALSE(far_end.envelopes.empty());
  auto first_new = envelope::verify_origin(far_end.envelopes.front(), *root_, suite_);
  ASSERT_TRUE(first_new.ok());
  EXPECT_EQ(first_new->envelope.root().getHeader().getSeq(), released + 1);
  (*again)->stop();
  // A clean stop stores the mark: the next start sends nothing again.
  again->reset();
  auto third = GatewayNode::start(config(rx->port()), clock_);
  ASSERT_TRUE(third.ok());
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(rx->poll_once(10).ok());
  EXPECT_EQ((*third)->counters().resent_after_restart.load(), 0u);
  (*third)->stop();
}

// A reviewer releases a held item: the running gateway verifies the signed release and sends
// exactly the held bytes; a release signed by someone who is not a reviewer is refused and
// the item stays held.
TEST_F(GatewayNodeTest, AReviewersSignedReleaseSendsTheHeldItem) {
  write_bundle(nullptr, "");
  Collect far_end;
  auto rx = *link::UdpReceiver::open(receiver_options(), "127.0.0.1:0", 8u << 20, *link_key_,
                                     clock_, far_end);
  auto node = GatewayNode::start(config(rx->port()), clock_);
  ASSERT_TRUE(node.ok()) << node.status().reason();
  ASSERT_EQ(send((*node)->ingest_endpoint(), 21, 200), 200u);
  auto pump_until = [&](auto done) {
    for (int i = 0; i < 3000 && !done(); ++i) ASSERT_TRUE(rx->poll_once(10).ok());
  };
  pump_until([&] {
    return (*node)->counters().items_judged.load() == 200 &&
           far_end.envelopes.size() == (*node)->counters().released.load();
  });
  ASSERT_GT((*node)->counters().quarantined.load(), 0u);
  const auto released_before = (*node)->counters().released.load();
  // The reviewer's side, as `cellgate quarantine release` does it, next to the running node.
  auto env = *store::Env::open({.path = dir_.file("store")});
  auto q = *quarantine::Quarantine::open(*env);
  auto holds = *q.list(0, 10);
  ASSERT_GE(holds.size(), 1u);
  const auto& hold = holds.front();
  const auto statement = quarantine::Quarantine::release_statement(hold, verifier_);
  auto request = [&](const crypto::SigningKey& k) {
    quarantine::Quarantine::ReleaseRequest r;
    r.hold = hold.id;
    r.key_id = crypto::key_id(suite_.id(), k.public_key());
    r.signature.resize(suite_.signature_bytes());
    EXPECT_TRUE(k.sign(statement, r.signature).ok());
    auto txn = *env->begin_write();
    EXPECT_TRUE(q.request_release(txn, r).ok());
    EXPECT_TRUE(txn.commit().ok());
  };
  request(*root_key_);  // the root key is no reviewer of il
  pump_until([&] { return (*node)->counters().releases_refused.load() == 1; });
  EXPECT_EQ((*node)->counters().releases_refused.load(), 1u);
  ASSERT_TRUE((*q.get(hold.id)).has_value()) << "a refused release leaves the item held";
  far_end.envelopes.clear();
  request(*reviewers_[1]);  // il/r1
  pump_until([&] { return far_end.envelopes.size() == 1; });
  EXPECT_EQ((*node)->counters().released_by_reviewer.load(), 1u);
  EXPECT_EQ((*node)->counters().released.load(), released_before + 1);
  ASSERT_EQ(far_end.envelopes.size(), 1u);
  EXPECT_FALSE((*q.get(hold.id)).has_value()) << "released: no longer held";
  // The envelope carries exactly the held bytes.
  std::map<std::uint64_t, crypto::EpochKey> keys;
  ASSERT_NO_FATAL_FAILURE(epoch_keys(far_end, keys));
  auto checked = envelope::verify_origin(far_end.envelopes[0], *root_, suite_);
  ASSERT_TRUE(checked.ok());
  auto key = keys.find(checked->envelope.root().getHeader().getEpoch());
  ASSERT_NE(key, keys.end());
  envelope::Accepted a{std::move(checked->envelope), std::move(checked->leaf),
                       checked->origin_party, 0};
  auto item = envelope::open(a, key->second);
  ASSERT_TRUE(item.ok());
  EXPECT_TRUE(std::equal(item->canonical_bytes().begin(), item->canonical_bytes().end(),
                         hold.item.begin(), hold.item.end()));
  (*node)->stop();
}

// `cellgate quarantine release|reject` next to a running gateway: each command checks what the
// gateway checks (with its code) and says the gateway's answer in its exit code; a reject is
// signed by a reviewer and audited with the reviewer's name; a wrongly signed reject that
// reaches the gateway is refused and audited; with the gateway stopped, the command says it got
// no verdict.
TEST_F(GatewayNodeTest, ReviewerCommandsCheckWhatTheGatewayChecksAndSayItsAnswer) {
  write_bundle(nullptr, "");
  Collect far_end;
  auto rx = *link::UdpReceiver::open(receiver_options(), "127.0.0.1:0", 8u << 20, *link_key_,
                                     clock_, far_end);
  const auto gw = config(rx->port());
  auto node = GatewayNode::start(gw, clock_);
  ASSERT_TRUE(node.ok()) << node.status().reason();
  ASSERT_EQ(send((*node)->ingest_endpoint(), 21, 200), 200u);
  auto pump_until = [&](auto done) {
    for (int i = 0; i < 3000 && !done(); ++i) ASSERT_TRUE(rx->poll_once(10).ok());
  };
  pump_until([&] { return (*node)->counters().items_judged.load() == 200; });
  ASSERT_GE((*node)->counters().quarantined.load(), 3u);
  auto key_file = [&](const crypto::SigningKey& k, const std::string& name) {
    auto file = *crypto::encode_private_key(suite_.id(), crypto::KeyKind::signing, k.public_key(),
                                            k.private_bytes(), nullptr, true);
    EXPECT_TRUE(crypto::write_file(dir_.file(name), file, 0600).ok());
    return cli::KeyOptions{dir_.file(name), "", true};
  };
  const auto root_key = key_file(*root_key_, "root.sign");
  const auto node_key = cli::KeyOptions{gw_.signing, "", true};
  const auto reviewer = key_file(*reviewers_[1], "r1.sign");  // il/r1
  auto env = *store::Env::open({.path = dir_.file("store")});
  auto q = *quarantine::Quarantine::open(*env);
  auto holds = *q.list(0, 10);
  ASSERT_GE(holds.size(), 3u);
  auto pending = [&] {
    auto txn = *env->begin_write();
    return q.requests(txn, 100)->size();
  };
  cli::QuarantineDecisionOptions o;
  o.hold = holds[0].id;
  o.wait_s = 60;
  o.reason = "not for sy";
  // Keys that are not reviewers of il: refused here, as the gateway would; nothing handed over.
  for (const auto& k : {root_key, node_key}) {
    o.key = k;
    EXPECT_EQ(cli::quarantine_release(gw, o), cli::exit_failed);
    EXPECT_EQ(cli::quarantine_reject(gw, o), cli::exit_failed);
  }
  EXPECT_EQ(pending(), 0u);
  EXPECT_EQ((*node)->counters().releases_refused.load(), 0u) << "refused before the gateway";
  EXPECT_EQ((*node)->counters().rejects_refused.load(), 0u) << "refused before the gateway";
  o.key = reviewer;
  o.reason.clear();
  EXPECT_EQ(cli::quarantine_reject(gw, o), cli::exit_usage) << "a reject needs a reason";
  EXPECT_EQ(pending(), 0u);
  ASSERT_TRUE((*q.get(holds[0].id)).has_value());
  // A reviewer's release: the gateway's verdict, sent.
  ::testing::internal::CaptureStdout();
  const int released = cli::quarantine_release(gw, o);
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(released, cli::exit_ok) << out;
  EXPECT_NE(out.find("released by reviewer il/r1"), std::string::npos) << out;
  EXPECT_FALSE((*q.get(holds[0].id)).has_value());
  EXPECT_EQ((*node)->counters().released_by_reviewer.load(), 1u);
  EXPECT_EQ(cli::quarantine_release(gw, o), cli::exit_failed) << "no such hold any more";
  // A reviewer's reject: signed, applied, audited with the reviewer and the reason.
  o.hold = holds[1].id;
  o.reason = "not for sy";
  ::testing::internal::CaptureStdout();
  const int rejected_rc = cli::quarantine_reject(gw, o);
  out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(rejected_rc, cli::exit_ok) << out;
  EXPECT_NE(out.find("rejected by reviewer il/r1"), std::string::npos) << out;
  EXPECT_FALSE((*q.get(holds[1].id)).has_value());
  EXPECT_EQ((*node)->counters().rejected_by_reviewer.load(), 1u);
  // A reject that did not come through the command (a bad signature) reaches the gateway:
  // refused, audited, answered; the item stays held.
  {
    quarantine::Quarantine::Request r;
    r.hold = holds[2].id;
    r.decision = quarantine::Decision::reject;
    r.key_id = crypto::key_id(suite_.id(), reviewers_[1]->public_key());
    r.signature.assign(suite_.signature_bytes(), 0x5a);
    r.reason = "forged";
    auto txn = *env->begin_write();
    ASSERT_TRUE(q.request(txn, r).ok());
    ASSERT_TRUE(txn.commit().ok());
  }
  std::optional<quarantine::Quarantine::Verdict> verdict;
  for (int i = 0; i < 3000 && !verdict; ++i) {
    ASSERT_TRUE(rx->poll_once(10).ok());
    verdict = *q.verdict(holds[2].id, quarantine::Decision::reject);
  }
  ASSERT_TRUE(verdict.has_value());
  EXPECT_FALSE(verdict->applied);
  EXPECT_NE(verdict->detail.find("does not verify"), std::string::npos) << verdict->detail;
  EXPECT_EQ((*node)->counters().rejects_refused.load(), 1u);
  EXPECT_TRUE((*q.get(holds[2].id)).has_value());
  // No gateway running: the command says it got no verdict (and the request waits for it).
  (*node)->stop();
  o.wait_s = 1;
  o.hold = holds[2].id;
  EXPECT_EQ(cli::quarantine_reject(gw, o), cli::exit_no_verdict);
  EXPECT_EQ(pending(), 1u) << "the signed reject waits for the gateway";
  // The audit log names who decided and why, and the refused reject.
  bool rejected_audited = false, refused_audited = false, released_audited = false;
  auto report = audit::verify(*env, [&](std::uint64_t, schema::AuditRecord::Reader r) {
    const std::string detail(wire::view(r.getDetail()));
    const std::string reason(wire::view(r.getReason()));
    if (r.getEvent() == schema::AuditEvent::QUARANTINE_REJECTED &&
        detail.find("il/r1") != std::string::npos && detail.find("not for sy") != std::string::npos)
      rejected_audited = true;
    if (r.getEvent() == schema::AuditEvent::QUARANTINE_RELEASED &&
        detail.find("il/r1") != std::string::npos)
      released_audited = true;
    if (r.getEvent() == schema::AuditEvent::REJECTED_INPUT && reason == "reject refused")
      refused_audited = true;
  });
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->broken_at.has_value());
  EXPECT_TRUE(rejected_audited);
  EXPECT_TRUE(released_audited);
  EXPECT_TRUE(refused_audited);
}

TEST(WireMark, OnlyWhatIsBelowTheSendersUnsentFloorHasLeft) {
  WireMark m;
  EXPECT_EQ(m.on_wire(UINT64_MAX), 0u) << "nothing submitted";
  for (std::uint64_t seq = 1; seq <= 10; ++seq) m.submitted(seq + 100, seq);  // link seqs 101..110
  EXPECT_EQ(m.on_wire(104), 3u) << "link seq 104 (seq 4) not yet handed to the kernel";
  EXPECT_EQ(m.on_wire(111), 10u);
  // Link seqs 111..115 carry re-sends (not reported); 116.. first sends of 11..20.
  for (std::uint64_t seq = 11; seq <= 20; ++seq) m.submitted(seq + 105, seq);
  EXPECT_EQ(m.on_wire(118), 12u) << "re-sends in between do not count";
  m.submitted(200, 15);  // not above what was submitted: not a first send, ignored
  EXPECT_EQ(m.last_submitted(), 20u);
  EXPECT_EQ(m.on_wire(UINT64_MAX), 20u) << "an empty sender has sent everything submitted";
  EXPECT_EQ(m.on_wire(1), 20u) << "never decreases (a new session starts lower)";
}

TEST(BundleChunks, ReassembleInAnyOrderAndRefuseWhatDoesNotFit) {
  std::vector<std::uint8_t> bundle(5000);
  for (std::size_t i = 0; i < bundle.size(); ++i) bundle[i] = static_cast<std::uint8_t>(i * 7);
  auto chunks = bundle_chunks(bundle, 1000);
  ASSERT_EQ(chunks.size(), 6u);  // 952 bytes of data each
  BundleAssembler a;
  for (std::size_t i : {5u, 0u, 3u, 3u, 1u, 4u}) {
    auto r = a.add(chunks[i]);
    ASSERT_TRUE(r.ok()) << r.status().reason();
    EXPECT_FALSE(r->has_value());
  }
  auto done = a.add(chunks[2]);
  ASSERT_TRUE(done.ok());
  ASSERT_TRUE(done->has_value());
  EXPECT_EQ(**done, bundle);
  // A chunk whose bytes were changed: the whole no longer matches its id.
  auto bad = chunks;
  bad[1][bundle_chunk_header_bytes + 5] ^= 1;
  BundleAssembler b;
  Status last;
  for (const auto& c : bad) {
    auto r = b.add(c);
    if (!r.ok()) last = r.status();
  }
  EXPECT_EQ(last.code(), Code::malformed);
  EXPECT_NE(last.reason().find("does not match its id"), std::string::npos);
  // Overlap, a length past the limit, a short record: each named.
  auto overlapping = chunks[1];
  overlapping[44] = static_cast<std::uint8_t>(overlapping[44] + 1);  // offset 953 overlaps 952
  BundleAssembler c;
  ASSERT_TRUE(c.add(chunks[1]).ok());
  EXPECT_NE(c.add(overlapping).status().reason().find("overlap"), std::string::npos);
  auto huge = chunks[0];
  huge[43] = 0x7f;
  EXPECT_NE(c.add(huge).status().reason().find("out of range"), std::string::npos);
  EXPECT_EQ(c.add(std::span(chunks[0]).first(20)).status().code(), Code::malformed);
  EXPECT_FALSE(is_bundle_chunk(std::vector<std::uint8_t>{0, 0, 0, 0, 1}));
}

TEST(ErrorLog, RepeatsWithinTenSecondsAreCountedNotPrinted) {
  ErrorLog log("n1");
  ::testing::internal::CaptureStderr();
  log.report("store full", 0);
  for (int i = 1; i <= 50; ++i) log.report("store full", i * 100'000'000LL);  // 5 s
  log.report("other", 6'000'000'000LL);
  log.report("other", 17'000'000'000LL);  // 11 s later: printed again
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(out,
            "[n1] store full\n"
            "[n1] (the last error repeated 50 more times)\n"
            "[n1] other\n"
            "[n1] other\n");
}

}  // namespace
}  // namespace cg::node
