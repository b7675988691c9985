// The protocol in one process, both suites: a gateway seals and batch-signs, announces its
// epoch; the relay verifies the origin, logs the leaf in its transparency log and
// countersigns; the receiver verifies relay and origin, derives the epoch key from the
// announcement and opens exactly the bytes that were released. Every tampering is refused.
#include "gateway/envelope/envelope.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "gateway/approval/approval.h"
#include "gateway/translog/translog.h"
#include "tests/support/items.h"
#include "tests/support/temp_dir.h"

namespace cg::envelope {
namespace {

constexpr std::int64_t now = 1'790'000'000LL * 1'000'000'000;

struct Node {
  std::unique_ptr<crypto::SigningKey> sign;
  std::unique_ptr<crypto::AgreementKey> kx;
  Signer signer(const std::string& id, const crypto::Suite& s) const {
    return {id, &s, sign.get(), crypto::key_id(s.id(), sign->public_key())};
  }
};

class EnvelopeTest : public ::testing::TestWithParam<crypto::SuiteId> {
 protected:
  EnvelopeTest() : suite_(**crypto::suite(GetParam())) {
    for (Node* n : {&gw_, &relay_, &rx_, &rogue_}) {
      n->sign = suite_.generate_signing_key();
      n->kx = suite_.generate_agreement_key();
    }
    capnp::MallocMessageBuilder mb;
    auto body = mb.initRoot<schema::TrustRoot>().initBody();
    body.setVersion(1);
    body.setExpires(now * 2);
    auto nodes = body.initNodes(4);
    struct N {
      const char* id;
      const char* party;
      schema::Role role;
      Node* keys;
    } spec[] = {{"il-gw-1", "il", schema::Role::GATEWAY, &gw_},
                {"us-relay", "us", schema::Role::RELAY, &relay_},
                {"sy-rx-1", "sy", schema::Role::RECEIVER, &rx_},
                {"sy-rx-2", "sy", schema::Role::RECEIVER, &rogue_}};
    for (unsigned i = 0; i < 4; ++i) {
      nodes[i].setId(spec[i].id);
      nodes[i].setParty(spec[i].party);
      nodes[i].setRole(spec[i].role);
      trust::fill_public_key(nodes[i].initSigningKey(), suite_.id(),
                             spec[i].keys->sign->public_key(), spec[i].id);
      trust::fill_public_key(nodes[i].initAgreementKey(), suite_.id(),
                             spec[i].keys->kx->public_key(), spec[i].id);
    }
    trust::fill_public_key(body.initRootKeys(1)[0], suite_.id(), gw_.sign->public_key(), "root");
    body.setRootThreshold(1);
    const trust::SuiteVerifier verifier(suite_);
    auto root = trust::TrustRoot::parse(wire::to_flat_bytes(mb), verifier);
    EXPECT_TRUE(root.ok()) << root.status().reason();
    root_.emplace(std::move(*root));
  }

  std::vector<std::uint8_t> item(std::uint8_t n) {
    capnp::MallocMessageBuilder mb;
    auto it = mb.initRoot<schema::Item>();
    testing::fill_sample_item(it);
    it.getId()[15] = n;
    auto c = wire::canonical(it.asReader());
    return {c.canonical_bytes().begin(), c.canonical_bytes().end()};
  }

  HeaderFields fields(std::uint64_t seq) {
    HeaderFields f;
    f.destination = "sy";
    f.seq = seq;
    f.time_ns = now;
    f.kind = schema::Kind::INTELLIGENCE;
    f.precedence = schema::Precedence::ROUTINE;
    f.rules_version = 3;
    f.rules_hash = std::vector<std::uint8_t>(suite_.hash_bytes(), 0xab);
    return f;
  }

  const crypto::Suite& suite_;
  Node gw_, relay_, rx_, rogue_;
  std::optional<trust::TrustRoot> root_;
};

TEST_P(EnvelopeTest, GatewayRelayReceiverRoundTripAndTampering) {
  const Signer gw = gw_.signer("il-gw-1", suite_);
  auto started = start_epoch(gw, "sy", 0, 1, 1, rx_.kx->public_key(), nullptr, now);
  ASSERT_TRUE(started.ok()) << started.status().reason();

  // A batch of four, then a FLASH item alone (a batch of one).
  std::vector<std::vector<std::uint8_t>> items;
  std::vector<Sealed> batch;
  for (std::uint8_t i = 1; i <= 4; ++i) {
    items.push_back(item(i));
    auto s = seal(gw, fields(i), started->key, items.back());
    ASSERT_TRUE(s.ok()) << s.status().reason();
    batch.push_back(std::move(*s));
  }
  EXPECT_EQ(seal(gw, fields(4), started->key, items[0]).status().code(), Code::rejected)
      << "a seq the epoch already sealed";
  auto envelopes = *sign_batch(gw, 77, batch);
  items.push_back(item(5));
  auto flash = *seal(gw, fields(5), started->key, items.back());
  auto single = *sign_batch(gw, 78, std::span(&flash, 1));
  envelopes.push_back(single[0]);

  // Relay: verify, log, countersign.
  testing::TempDir dir("cg-envelope");
  auto env = *store::Env::open({.path = dir.path()});
  auto log = *translog::Log::open(*env, "relay", crypto::hasher_of(suite_));
  std::vector<Checked> checked;
  for (const auto& e : envelopes) {
    auto c = verify_origin(e, *root_, suite_);
    ASSERT_TRUE(c.ok()) << c.status().reason();
    EXPECT_EQ(c->origin_party, "il");
    auto txn = *env->begin_write();
    ASSERT_TRUE(log.append(txn, c->leaf).ok());
    ASSERT_TRUE(txn.commit().ok());
    checked.push_back(std::move(*c));
  }
  const Signer relay = relay_.signer("us-relay", suite_);
  const auto size = *log.size();
  auto head = *sign_tree_head(relay, /*serial=*/1, size, *log.root(size), now);
  std::vector<std::vector<std::uint8_t>> delivered;
  for (std::uint64_t i = 0; i < checked.size(); ++i) {
    auto out = countersign(relay, checked[i].envelope, i, head, *log.inclusion_proof(i, size));
    ASSERT_TRUE(out.ok()) << out.status().reason();
    delivered.push_back(std::move(*out));
  }

  // Receiver: the epoch key from the announcement, then verify and open.
  Announcement fields_seen;
  auto key = accept_epoch(started->announcement, *root_, suite_, *rx_.kx, nullptr, &fields_seen);
  ASSERT_TRUE(key.ok()) << key.status().reason();
  EXPECT_EQ(fields_seen.origin, "il-gw-1");
  EXPECT_EQ(fields_seen.first_seq, 1u);
  EXPECT_EQ(
      accept_epoch(started->announcement, *root_, suite_, *rogue_.kx, nullptr).status().code(),
      Code::rejected);
  for (std::size_t i = 0; i < delivered.size(); ++i) {
    auto a = verify_delivery(delivered[i], *root_, suite_);
    ASSERT_TRUE(a.ok()) << a.status().reason();
    EXPECT_EQ(a->log_index, i);
    auto opened = open(*a, *key);
    ASSERT_TRUE(opened.ok()) << opened.status().reason();
    const auto got = opened->canonical_bytes();
    EXPECT_TRUE(std::equal(got.begin(), got.end(), items[i].begin(), items[i].end()))
        << "receiver must get exactly the released bytes";
  }
  // With CG_SEED_DIR set, the envelopes become the fuzz target's seeds.
  if (const char* seeds = std::getenv("CG_SEED_DIR")) {
    for (std::size_t i = 0; i < 2; ++i) {
      for (const auto* set : {&envelopes, &delivered}) {
        const std::string name =
            std::string(seeds) + "/" + std::string(crypto::suite_name(suite_.id())) +
            (set == &envelopes ? "-origin-" : "-countersigned-") + std::to_string(i);
        std::FILE* f = std::fopen(name.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        std::fwrite((*set)[i * 4].data(), 1, (*set)[i * 4].size(), f);
        std::fclose(f);
      }
    }
  }
  // Not countersigned: refused at the receiver.
  EXPECT_EQ(verify_delivery(envelopes[0], *root_, suite_).status().code(), Code::unauthenticated);

  // Every flipped byte (a sample for the slow suite) is refused, or leaves everything that is
  // signed as it was: the header and ciphertext (a flip in padding or in bits no field uses
  // changes no field).
  const auto& target = delivered[1];
  const auto original = *decode(target);
  const auto signed_part = [](const wire::Message<schema::Envelope>& m) {
    auto h = wire::canonical(m.root().getHeader());
    std::vector<std::uint8_t> out(h.canonical_bytes().begin(), h.canonical_bytes().end());
    const auto c = m.root().getCiphertext();
    out.insert(out.end(), c.begin(), c.end());
    return out;
  };
  const auto original_signed = signed_part(original);
  const std::size_t step = suite_.id() == crypto::SuiteId::cnsa ? 13 : 1;
  std::size_t refused = 0, harmless = 0;
  for (std::size_t i = 0; i < target.size(); i += step) {
    auto bad = target;
    bad[i] ^= 0x10;
    auto a = verify_delivery(bad, *root_, suite_);
    if (!a.ok()) {
      ++refused;
      EXPECT_TRUE(a.status().code() == Code::unauthenticated ||
                  a.status().code() == Code::malformed)
          << a.status().reason();
      continue;
    }
    ASSERT_EQ(signed_part(a->envelope), original_signed)
        << "byte " << i << ": a changed envelope was accepted";
    ASSERT_TRUE(open(*a, *key).ok());
    ++harmless;
  }
  EXPECT_GT(refused, harmless);
}

TEST_P(EnvelopeTest, RolesAndKeysAreChecked) {
  // A relay's key signing as an origin, under the gateway's name, is refused.
  const Signer forged{"il-gw-1", &suite_, relay_.sign.get(),
                      crypto::key_id(suite_.id(), relay_.sign->public_key())};
  crypto::EpochKey epoch(suite_, 1, 1, crypto::Secret::random(32), now);
  auto s = *seal(forged, fields(1), epoch, item(1));
  auto e = *sign_batch(forged, 1, std::span(&s, 1));
  auto r = verify_origin(e[0], *root_, suite_);
  EXPECT_EQ(r.status().code(), Code::unauthenticated);
  EXPECT_NE(r.status().reason().find("key id is not its signing key's"), std::string::npos)
      << r.status().reason();
  // The relay node signing under its own name as an origin: not a gateway.
  const Signer relay_as_origin = relay_.signer("us-relay", suite_);
  crypto::EpochKey epoch2(suite_, 1, 1, crypto::Secret::random(32), now);
  auto s2 = *seal(relay_as_origin, fields(1), epoch2, item(1));
  auto e2 = *sign_batch(relay_as_origin, 1, std::span(&s2, 1));
  auto r2 = verify_origin(e2[0], *root_, suite_);
  EXPECT_NE(r2.status().reason().find("role"), std::string::npos) << r2.status().reason();
  // Junk never crashes and is malformed.
  std::vector<std::uint8_t> junk(300, 0x5a);
  EXPECT_EQ(verify_delivery(junk, *root_, suite_).status().code(), Code::malformed);
}

INSTANTIATE_TEST_SUITE_P(Suites, EnvelopeTest,
                         ::testing::Values(crypto::SuiteId::modern, crypto::SuiteId::cnsa),
                         [](const auto& info) {
                           return std::string(crypto::suite_name(info.param));
                         });

}  // namespace
}  // namespace cg::envelope
