// Approval against every TUF attack that applies to rules bundles and trust roots.
//
// Signatures here are Ed25519 straight from libsodium, so these tests stand alone; the
// deployment's suites plug in through the same Verifier interface.
#include "gateway/approval/approval.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "tests/support/ed25519_keys.h"
#include "tests/support/temp_dir.h"

namespace cg::approval {
namespace {

using testing::blake;
using testing::Ed25519Verifier;
using testing::TestKey;

constexpr std::int64_t s = 1'000'000'000;
constexpr std::int64_t now = 1'790'000'000LL * s;
constexpr std::int64_t day = 86'400LL * s;

struct PartyKeys {
  std::string id;
  std::vector<TestKey> reviewers;
  unsigned threshold;
};

class ApprovalTest : public ::testing::Test {
 protected:
  ApprovalTest() {
    if (sodium_init() < 0) std::abort();
    il_ = {"il", {TestKey("il/alice"), TestKey("il/bob"), TestKey("il/carol")}, 2};
    sy_ = {"sy", {TestKey("sy/dana"), TestKey("sy/eli")}, 1};
    roots_ = {TestKey("root/1"), TestKey("root/2"), TestKey("root/3")};
    root_bytes_ = make_root(1, il_, roots_, {0, 1});
  }

  // A trust root of version `version` with parties il_ (as given) and sy_, root keys `roots`
  // (threshold 2), signed by the keys `signers` (indices into `signer_keys`, default roots).
  std::vector<std::uint8_t> make_root(std::uint64_t version, const PartyKeys& il,
                                      const std::vector<TestKey>& roots, std::vector<int> signers,
                                      const std::vector<TestKey>* signer_keys = nullptr,
                                      std::int64_t expires = now + 365 * day) {
    capnp::MallocMessageBuilder mb;
    auto r = mb.initRoot<schema::TrustRoot>();
    auto body = r.initBody();
    body.setVersion(version);
    body.setExpires(expires);
    auto parties = body.initParties(2);
    for (unsigned p = 0; p < 2; ++p) {
      const PartyKeys& keys = p == 0 ? il : sy_;
      parties[p].setId(keys.id);
      parties[p].setReviewerThreshold(static_cast<std::uint8_t>(keys.threshold));
      auto rv = parties[p].initReviewers(static_cast<unsigned>(keys.reviewers.size()));
      for (unsigned i = 0; i < keys.reviewers.size(); ++i) keys.reviewers[i].fill(rv[i]);
    }
    auto rk = body.initRootKeys(static_cast<unsigned>(roots.size()));
    for (unsigned i = 0; i < roots.size(); ++i) roots[i].fill(rk[i]);
    body.setRootThreshold(2);
    auto message = wire::canonical(r.asReader());
    const auto& by = signer_keys ? *signer_keys : roots;
    for (int i : signers) {
      auto next = add_root_signature(message.root(), by[static_cast<std::size_t>(i)].id(),
                                     by[static_cast<std::size_t>(i)].signer());
      EXPECT_TRUE(next.ok()) << next.status().reason();
      message = std::move(*next);
    }
    return wire::to_flat_bytes(message);
  }

  TrustRoot root() {
    auto r = TrustRoot::bootstrap(root_bytes_, verifier_, now);
    EXPECT_TRUE(r.ok()) << r.status().reason();
    return std::move(*r);
  }

  // A bundle for `party` after `previous`, signed by reviewers `signers` of `keys`.
  std::vector<std::uint8_t> bundle(const PartyKeys& keys, std::vector<int> signers,
                                   const std::vector<std::uint8_t>* previous = nullptr,
                                   std::string policy = "levels = [\"U\"]\n",
                                   std::int64_t expires = now + 30 * day) {
    std::optional<wire::Message<schema::RulesBundle>> prev;
    if (previous) prev.emplace(*decode_bundle(*previous));
    schema::RulesBundle::Reader prev_reader;
    if (prev) prev_reader = prev->root();
    auto proposed = propose(keys.id, policy, prev ? &prev_reader : nullptr,
                            std::min(now - s, expires - day), expires, verifier_);
    EXPECT_TRUE(proposed.ok()) << proposed.status().reason();
    auto message = std::move(*proposed);
    for (int i : signers) {
      const auto& k = keys.reviewers[static_cast<std::size_t>(i)];
      auto next = add_signature(message.root(), k.id(), k.signer());
      EXPECT_TRUE(next.ok()) << next.status().reason();
      message = std::move(*next);
    }
    return wire::to_flat_bytes(message);
  }

  std::unique_ptr<Approver> open(store::Env& env, std::optional<TrustRoot> r = std::nullopt) {
    auto a = Approver::open(env, "il", r ? *r : root(), shared_verifier_,
                            [this](std::string_view text) -> Result<CompiledPolicy> {
                              if (text.find("INVALID") != std::string_view::npos) {
                                return malformed("policy.toml:1:1: unknown level 'INVALID'");
                              }
                              ++compiles_;
                              return CompiledPolicy(std::make_shared<const std::string>(text));
                            });
    EXPECT_TRUE(a.ok()) << a.status().reason();
    return std::move(*a);
  }

  void expect_refused(Approver& a, const std::vector<std::uint8_t>& b, Refusal why,
                      std::string_view needle = "") {
    const auto before = a.current();
    const auto refused_before = a.counters().refused[static_cast<std::size_t>(why)].load();
    auto r = a.offer(b, now);
    ASSERT_FALSE(r.ok()) << "accepted a bundle that must be refused: " << to_string(why);
    EXPECT_EQ(r.status().code(), Code::rejected);
    EXPECT_EQ(a.last_refusal(), why) << r.status().reason();
    EXPECT_NE(r.status().reason().find(std::string(to_string(why))), std::string::npos)
        << r.status().reason();
    if (!needle.empty()) {
      EXPECT_NE(r.status().reason().find(std::string(needle)), std::string::npos)
          << r.status().reason();
    }
    EXPECT_EQ(a.counters().refused[static_cast<std::size_t>(why)].load(), refused_before + 1);
    EXPECT_EQ(a.current(), before) << "a refused bundle changed the current one";
  }

  Ed25519Verifier verifier_;
  std::shared_ptr<const Verifier> shared_verifier_ = std::make_shared<Ed25519Verifier>();
  PartyKeys il_, sy_;
  std::vector<TestKey> roots_;
  std::vector<std::uint8_t> root_bytes_;
  int compiles_ = 0;
  testing::TempDir dir_{"cg-approval"};
};

TEST_F(ApprovalTest, ThresholdOfDistinctReviewersIsAccepted) {
  auto env = *store::Env::open({.path = dir_.path()});
  auto a = open(*env);
  EXPECT_FALSE(a->usable(now).ok()) << "no bundle yet must fail closed";
  auto b1 = bundle(il_, {0, 2});
  auto r = a->offer(b1, now);
  ASSERT_TRUE(r.ok()) << r.status().reason();
  EXPECT_EQ((*r)->version, 1u);
  EXPECT_EQ((*r)->policy_text, "levels = [\"U\"]\n");
  EXPECT_EQ((*r)->hash, blake(body_bytes(decode_bundle(b1)->root())));
  EXPECT_TRUE(a->usable(now).ok());
  EXPECT_EQ(a->highest_version(), 1u);
  // Offering it again (a watched file re-read) is not a refusal.
  ASSERT_TRUE(a->offer(b1, now).ok());
  EXPECT_EQ(a->counters().unchanged.load(), 1u);
  EXPECT_EQ(compiles_, 1);
}

// The fuzz target's valid seeds (tests/fuzz/approval_decode.cc: first byte 1 = trust root,
// 0 = bundle) are what a node accepts: the root bootstraps, v1 and then v2 load. With
// CG_SEED_DIR set, they are also written there to refresh the seed corpus.
TEST_F(ApprovalTest, FuzzSeedsAreInputsANodeAccepts) {
  const auto b1 = bundle(il_, {0, 1});
  const auto b2 = bundle(il_, {0, 2}, &b1);
  auto env = *store::Env::open({.path = dir_.path()});
  auto a = open(*env);
  ASSERT_TRUE(a->offer(b1, now).ok());
  ASSERT_TRUE(a->offer(b2, now).ok());
  EXPECT_EQ(a->current()->version, 2u);
  const char* seeds = std::getenv("CG_SEED_DIR");
  if (seeds == nullptr) return;
  auto write = [&](const std::string& name, std::uint8_t tag, const std::vector<std::uint8_t>& b) {
    std::FILE* f = std::fopen((std::string(seeds) + "/" + name).c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputc(tag, f);
    std::fwrite(b.data(), 1, b.size(), f);
    std::fclose(f);
  };
  write("valid_trust_root", 1, root_bytes_);
  write("valid_bundle_v1", 0, b1);
  write("valid_bundle_v2", 0, b2);
}

TEST_F(ApprovalTest, ForgedSignatureDoesNotCount) {
  auto env = *store::Env::open({.path = dir_.path()});
  auto a = open(*env);
  auto b = bundle(il_, {0, 1});
  auto m = *decode_bundle(b);
  capnp::MallocMessageBuilder mb;
  mb.setRoot(m.root());
  auto sig = mb.getRoot<schema::RulesBundle>().getSignatures()[1].getSignature();
  sig[10] ^= 0x01;
  auto forged = wire::to_flat_bytes(mb);
  expect_refused(*a, forged, Refusal::below_threshold, "bad signature");
}

TEST_F(ApprovalTest, SameReviewerTwiceCountsOnce) {
  auto env = *store::Env::open({.path = dir_.path()});
  auto a = open(*env);
  // add_signature refuses a second signature by one key; an attacker builds it by hand.
  auto b = *decode_bundle(bundle(il_, {0}));
  capnp::MallocMessageBuilder mb;
  auto root = mb.initRoot<schema::RulesBundle>();
  root.setBody(b.root().getBody());
  auto sigs = root.initSignatures(2);
  sigs.setWithCaveats(0, b.root().getSignatures()[0]);
  sigs.setWithCaveats(1, b.root().getSignatures()[0]);
  expect_refused(*a, wire::to_flat_bytes(mb), Refusal::below_threshold, "duplicate");
  // And the reviewer's tool itself refuses.
  auto again = add_signature(b.root(), il_.reviewers[0].id(), il_.reviewers[0].signer());
  EXPECT_EQ(again.status().code(), Code::rejected);
}

TEST_F(ApprovalTest, ReviewerOfAnotherPartyDoesNotCount) {
  auto env = *store::Env::open({.path = dir_.path()});
  auto a = open(*env);
  auto b = *decode_bundle(bundle(il_, {0}));
  auto with_sy = add_signature(b.root(), sy_.reviewers[0].id(), sy_.reviewers[0].signer());
  ASSERT_TRUE(with_sy.ok());
  expect_refused(*a, wire::to_flat_bytes(*with_sy), Refusal::below_threshold, "unknown key");
}

TEST_F(ApprovalTest, BelowThresholdIsRefusedAndSaysWhichSignaturesCounted) {
  auto env = *store::Env::open({.path = dir_.path()});
  auto a = open(*env);
  expect_refused(*a, bundle(il_, {1}), Refusal::below_threshold, "1 of 2");
  EXPECT_FALSE(a->usable(now).ok());
}

TEST_F(ApprovalTest, BundleOfAnotherPartyIsRefused) {
  auto env = *store::Env::open({.path = dir_.path()});
  auto a = open(*env);
  expect_refused(*a, bundle(sy_, {0}), Refusal::unknown_party, "'sy'");
}

TEST_F(ApprovalTest, RollbackAndReplayAreRefusedAlsoAcrossRestart) {
  const auto b1 = bundle(il_, {0, 1});
  const auto b2 = bundle(il_, {0, 1}, &b1, "levels = [\"U\", \"R\"]\n");
  {
    auto env = *store::Env::open({.path = dir_.path()});
    auto a = open(*env);
    ASSERT_TRUE(a->offer(b1, now).ok());
    ASSERT_TRUE(a->offer(b2, now).ok());
    EXPECT_EQ(a->current()->version, 2u);
    expect_refused(*a, b1, Refusal::rollback,
                   "v1 is not above the highest version ever loaded, v2");
  }
  {
    // After a restart the node still holds v2 and still refuses v1.
    auto env = *store::Env::open({.path = dir_.path()});
    auto a = open(*env);
    ASSERT_NE(a->current(), nullptr);
    EXPECT_EQ(a->current()->version, 2u);
    EXPECT_EQ(a->current()->policy_text, "levels = [\"U\", \"R\"]\n");
    EXPECT_EQ(a->highest_version(), 2u);
    expect_refused(*a, b1, Refusal::rollback);
  }
}

TEST_F(ApprovalTest, SameVersionWithOtherContentIsRollback) {
  auto env = *store::Env::open({.path = dir_.path()});
  auto a = open(*env);
  ASSERT_TRUE(a->offer(bundle(il_, {0, 1}), now).ok());
  expect_refused(*a, bundle(il_, {0, 1}, nullptr, "levels = [\"X\"]\n"), Refusal::rollback);
}

TEST_F(ApprovalTest, ExpiredBundleIsRefusedAndAnExpiringCurrentOneFailsClosed) {
  auto env = *store::Env::open({.path = dir_.path()});
  auto a = open(*env);
  expect_refused(*a, bundle(il_, {0, 1}, nullptr, "levels = [\"U\"]\n", now - s), Refusal::expired);
  ASSERT_TRUE(a->offer(bundle(il_, {0, 1}, nullptr, "levels = [\"U\"]\n", now + day), now).ok());
  EXPECT_TRUE(a->usable(now).ok());
  auto later = a->usable(now + 2 * day);
  ASSERT_FALSE(later.ok());
  EXPECT_NE(later.status().reason().find("fail closed"), std::string::npos);
  EXPECT_NE(later.status().reason().find("expired"), std::string::npos);
}

TEST_F(ApprovalTest, TamperedPolicyBytesBreakEverySignature) {
  auto env = *store::Env::open({.path = dir_.path()});
  auto a = open(*env);
  auto b = *decode_bundle(bundle(il_, {0, 1, 2}));
  capnp::MallocMessageBuilder mb;
  mb.setRoot(b.root());
  auto policy = mb.getRoot<schema::RulesBundle>().getBody().getPolicy();
  policy[0] = 'L';  // "levels" → "Levels"
  expect_refused(*a, wire::to_flat_bytes(mb), Refusal::below_threshold, "0 of 2");
}

TEST_F(ApprovalTest, WrongPreviousHashIsRefused) {
  auto env = *store::Env::open({.path = dir_.path()});
  auto a = open(*env);
  const auto b1 = bundle(il_, {0, 1});
  const auto other = bundle(il_, {0, 1}, nullptr, "levels = [\"other\"]\n");
  ASSERT_TRUE(a->offer(b1, now).ok());
  // v2 built on a bundle this node never had.
  expect_refused(*a, bundle(il_, {0, 1}, &other), Refusal::previous_mismatch);
  // A first bundle that claims a predecessor is refused too.
  testing::TempDir fresh("cg-approval-fresh");
  auto env2 = *store::Env::open({.path = fresh.path()});
  auto a2 = open(*env2);
  expect_refused(*a2, bundle(il_, {0, 1}, &b1), Refusal::previous_mismatch);
}

TEST_F(ApprovalTest, InvalidPolicyIsRefusedAndTheCurrentBundleKept) {
  auto env = *store::Env::open({.path = dir_.path()});
  auto a = open(*env);
  const auto b1 = bundle(il_, {0, 1});
  ASSERT_TRUE(a->offer(b1, now).ok());
  expect_refused(*a, bundle(il_, {0, 1}, &b1, "levels = [\"INVALID\"]\n"), Refusal::policy_invalid,
                 "policy.toml:1:1");
  EXPECT_EQ(a->current()->version, 1u);
  EXPECT_EQ(a->highest_version(), 1u) << "a refused bundle must not raise the durable version";
}

TEST_F(ApprovalTest, MalformedBytesAreRefusedAndTheNodeKeepsRunning) {
  auto env = *store::Env::open({.path = dir_.path()});
  auto a = open(*env);
  std::vector<std::uint8_t> junk(100, 0xff);
  expect_refused(*a, junk, Refusal::malformed);
  ASSERT_TRUE(a->offer(bundle(il_, {0, 1}), now).ok());
}

TEST_F(ApprovalTest, CreatedInTheFutureIsNotYetValid) {
  auto env = *store::Env::open({.path = dir_.path()});
  auto a = open(*env);
  auto p = propose("il", "levels = [\"U\"]\n", nullptr, now + day, now + 2 * day, verifier_);
  ASSERT_TRUE(p.ok());
  auto m = std::move(*p);
  for (int i : {0, 1}) {
    m = *add_signature(m.root(), il_.reviewers[static_cast<std::size_t>(i)].id(),
                       il_.reviewers[static_cast<std::size_t>(i)].signer());
  }
  expect_refused(*a, wire::to_flat_bytes(m), Refusal::not_yet_valid);
}

TEST_F(ApprovalTest, TrustRootMustBeSignedByThresholdOfItsRootKeys) {
  auto one_sig = make_root(1, il_, roots_, {0});
  auto r = TrustRoot::bootstrap(one_sig, verifier_, now);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::unauthenticated);
  EXPECT_NE(r.status().reason().find("1 of 2"), std::string::npos) << r.status().reason();
  auto expired = make_root(1, il_, roots_, {0, 1}, nullptr, now - s);
  EXPECT_EQ(TrustRoot::bootstrap(expired, verifier_, now).status().code(), Code::rejected);
}

TEST_F(ApprovalTest, TrustRootWithDishonestKeyIdIsMalformed) {
  auto m = *wire::decode_message<schema::TrustRoot>(root_bytes_, wire::trust_root_limits);
  capnp::MallocMessageBuilder mb;
  mb.setRoot(m.root());
  mb.getRoot<schema::TrustRoot>().getBody().getParties()[0].getReviewers()[1].getKeyId()[0] ^= 1;
  auto r = TrustRoot::parse(wire::to_flat_bytes(mb), verifier_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::malformed);
  EXPECT_NE(r.status().reason().find("keyId is not the hash"), std::string::npos);
}

TEST_F(ApprovalTest, TrustRootRotationOldReviewerKeysStopCountingNewOnesStart) {
  auto env = *store::Env::open({.path = dir_.path()});
  const auto b1 = bundle(il_, {0, 1});
  // v2 of the root replaces il's reviewers (bob left; dave joins) and two of the root keys.
  PartyKeys il2{"il", {il_.reviewers[0], TestKey("il/dave"), il_.reviewers[2]}, 2};
  std::vector<TestKey> roots2{roots_[0], TestKey("root/4"), TestKey("root/5")};
  // Signed by a threshold of the old root (root/1, root/2) and of the new (root/1, root/4).
  std::vector<TestKey> signers{roots_[0], roots_[1], roots2[1]};
  auto next_bytes = make_root(2, il2, roots2, {0, 1, 2}, &signers);
  auto current = root();
  auto next = current.rotate(next_bytes, verifier_, now);
  ASSERT_TRUE(next.ok()) << next.status().reason();
  EXPECT_EQ(next->version(), 2u);

  // Only the old root keys: refused (the new root's threshold is not met).
  auto only_old = make_root(2, il2, roots2, {0, 1}, &signers);
  EXPECT_EQ(current.rotate(only_old, verifier_, now).status().code(), Code::unauthenticated);
  // Only new keys (root/4, root/5): refused (the current root did not approve it).
  std::vector<TestKey> new_only{roots2[1], roots2[2]};
  auto only_new = make_root(2, il2, roots2, {0, 1}, &new_only);
  EXPECT_EQ(current.rotate(only_new, verifier_, now).status().code(), Code::unauthenticated);
  // Not a successor: same version.
  EXPECT_EQ(current.rotate(root_bytes_, verifier_, now).status().code(), Code::rejected);

  auto a = open(*env);
  ASSERT_TRUE(a->offer(b1, now).ok());
  ASSERT_TRUE(a->set_trust_root(*next, now).ok());
  // b1 was signed by alice and bob; bob no longer counts, so b1 is no longer current.
  EXPECT_EQ(a->current(), nullptr);
  EXPECT_FALSE(a->usable(now).ok());
  // A v2 signed by alice and bob is refused; alice and dave is accepted.
  expect_refused(*a, bundle(il_, {0, 1}, &b1), Refusal::below_threshold, "unknown key");
  auto accepted = a->offer(bundle(il2, {0, 1}, &b1), now);
  ASSERT_TRUE(accepted.ok()) << accepted.status().reason();
  EXPECT_EQ((*accepted)->version, 2u);
}

TEST_F(ApprovalTest, ExpiredTrustRootFailsClosed) {
  auto env = *store::Env::open({.path = dir_.path()});
  auto short_root = make_root(1, il_, roots_, {0, 1}, nullptr, now + day);
  auto a = open(*env, *TrustRoot::bootstrap(short_root, verifier_, now));
  ASSERT_TRUE(
      a->offer(bundle(il_, {0, 1}, nullptr, "levels = [\"U\"]\n", now + 30 * day), now).ok());
  auto later = a->usable(now + 2 * day);
  ASSERT_FALSE(later.ok());
  EXPECT_NE(later.status().reason().find("trust root v1 expired"), std::string::npos);
  auto b2 = a->offer(bundle(il_, {0, 1}, &a->current()->bytes), now + 2 * day);
  EXPECT_EQ(a->last_refusal(), Refusal::trust_root_expired);
}

TEST_F(ApprovalTest, SwapIsAtomicForConcurrentReaders) {
  auto env = *store::Env::open({.path = dir_.path()});
  auto a = open(*env);
  std::vector<std::vector<std::uint8_t>> chain{bundle(il_, {0, 1}, nullptr, "v = 1\n")};
  for (int v = 2; v <= 20; ++v) {
    chain.push_back(bundle(il_, {0, 1}, &chain.back(), "v = " + std::to_string(v) + "\n"));
  }
  ASSERT_TRUE(a->offer(chain[0], now).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> mismatches{0};
  std::thread reader([&] {
    std::uint64_t last = 0;
    while (!stop.load()) {
      auto b = a->current();
      const auto compiled = std::static_pointer_cast<const std::string>(b->policy);
      // Everything in one snapshot belongs to one bundle, and versions only go up.
      if (b->policy_text != "v = " + std::to_string(b->version) + "\n" ||
          *compiled != b->policy_text || b->version < last) {
        mismatches.fetch_add(1);
      }
      last = b->version;
    }
  });
  for (std::size_t i = 1; i < chain.size(); ++i) ASSERT_TRUE(a->offer(chain[i], now).ok());
  stop.store(true);
  reader.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(a->current()->version, 20u);
}

}  // namespace
}  // namespace cg::approval

namespace cg::approval {
namespace {

// The deployment verifier: keys of both suites in one trust root, each checked by its own suite.
TEST(SuiteVerifier, MixedSuiteKeysVerifyAndKeyIdsAreChecked) {
  const auto& cnsa = crypto::cnsa_suite();
  const auto& modern = crypto::modern_suite();
  SuiteVerifier verifier(cnsa);
  auto r1 = cnsa.generate_signing_key(), r2 = modern.generate_signing_key();
  auto rev = cnsa.generate_signing_key();
  capnp::MallocMessageBuilder mb;
  auto root = mb.initRoot<schema::TrustRoot>();
  auto body = root.initBody();
  body.setVersion(1);
  body.setExpires(std::int64_t{1} << 62);
  auto party = body.initParties(1)[0];
  party.setId("il");
  party.setReviewerThreshold(1);
  party.setReleaseThreshold(1);
  fill_public_key(party.initReviewers(1)[0], crypto::SuiteId::cnsa, rev->public_key(), "il/alice");
  auto keys = body.initRootKeys(2);
  fill_public_key(keys[0], crypto::SuiteId::cnsa, r1->public_key(), "root/1");
  fill_public_key(keys[1], crypto::SuiteId::modern, r2->public_key(), "root/2");
  body.setRootThreshold(2);
  auto message = wire::canonical(root.asReader());
  for (auto* k : {r1.get(), r2.get()}) {
    const auto id = crypto::key_id(k->suite(), k->public_key());
    const crypto::Suite& suite = k->suite() == crypto::SuiteId::cnsa ? cnsa : modern;
    message =
        *add_root_signature(message.root(), id, [&](Bytes m) -> Result<std::vector<std::uint8_t>> {
          std::vector<std::uint8_t> sig(suite.signature_bytes());
          CG_RETURN_IF_ERROR(k->sign(m, sig));
          return sig;
        });
  }
  auto trusted = TrustRoot::bootstrap(wire::to_flat_bytes(message), verifier, 0);
  ASSERT_TRUE(trusted.ok()) << trusted.status().reason();
  EXPECT_EQ(verifier.hash(std::vector<std::uint8_t>{1}).size(), 48u);
}

}  // namespace
}  // namespace cg::approval
