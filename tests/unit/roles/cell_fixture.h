// The fixture of the role tests: a trust root with one gateway (il-gw-1), one receiver
// (sy-rx-1) and one relay (us-relay), their keys, a rules bundle approved by two of three
// reviewers, link keys and CURVE keys in a temporary directory, and configs for the gateway
// and the relay. A test starts the nodes it needs over loopback and plays the rest.
// Not thread-safe (one test at a time).
#pragma once

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
#include "gateway/deliver/deliver.h"
#include "gateway/envelope/envelope.h"
#include "gateway/ingest/ingest.h"
#include "gateway/link/link.h"
#include "gateway/node/node_common.h"
#include "gateway/quarantine/quarantine.h"
#include "gateway/recovery/recovery.h"
#include "tests/support/temp_dir.h"

namespace cg::node::role_testing {

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

class CellFixture : public ::testing::Test {
 protected:
  CellFixture() : suite_(crypto::modern_suite()), verifier_(suite_) {
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

}  // namespace cg::node::role_testing
