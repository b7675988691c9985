#include "gateway/quarantine/quarantine.h"

#include <gtest/gtest.h>

#include "tests/support/ed25519_keys.h"
#include "tests/support/temp_dir.h"

namespace cg::quarantine {
namespace {

using testing::Ed25519Verifier;
using testing::TestKey;

constexpr std::int64_t now = 1'790'000'000LL * 1'000'000'000;

class QuarantineTest : public ::testing::Test {
 protected:
  QuarantineTest() : alice_("il/alice"), mallory_("sy/mallory"), root_key_("root/1") {
    capnp::MallocMessageBuilder mb;
    auto body = mb.initRoot<schema::TrustRoot>().initBody();
    body.setVersion(1);
    body.setExpires(now + 1'000'000'000'000'000);
    auto parties = body.initParties(2);
    parties[0].setId("il");
    parties[0].setReviewerThreshold(1);
    alice_.fill(parties[0].initReviewers(1)[0]);
    parties[1].setId("sy");
    parties[1].setReviewerThreshold(1);
    mallory_.fill(parties[1].initReviewers(1)[0]);
    root_key_.fill(body.initRootKeys(1)[0]);
    body.setRootThreshold(1);
    root_.emplace(*trust::TrustRoot::parse(wire::to_flat_bytes(mb), verifier_));
    env_ = *store::Env::open({.path = dir_.path()});
    q_.emplace(*Quarantine::open(*env_));
  }

  std::uint64_t hold(std::string_view dest, std::vector<std::uint8_t> item) {
    auto txn = *env_->begin_write();
    auto id = q_->hold(txn, now, dest, 7, "rule r3: ORCON goes to review", item);
    EXPECT_TRUE(id.ok()) << id.status().reason();
    EXPECT_TRUE(txn.commit().ok());
    return *id;
  }

  std::vector<std::uint8_t> sign(const TestKey& k, std::uint64_t id) {
    auto held = *q_->get(id);
    return *k.signer()(Quarantine::release_statement(*held, verifier_));
  }

  Ed25519Verifier verifier_;
  TestKey alice_, mallory_, root_key_;
  std::optional<trust::TrustRoot> root_;
  testing::TempDir dir_{"cg-quarantine"};
  std::unique_ptr<store::Env> env_;
  std::optional<Quarantine> q_;
};

TEST_F(QuarantineTest, HoldsDurablyInOrderWithExplanation) {
  EXPECT_EQ(hold("sy", {1, 2, 3}), 1u);
  EXPECT_EQ(hold("sy", {4}), 2u);
  EXPECT_EQ(hold("us", {5}), 3u);
  EXPECT_EQ(*q_->size(), 3u);
  auto all = *q_->list(0, 10);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].item, (std::vector<std::uint8_t>{1, 2, 3}));
  EXPECT_EQ(all[0].explanation, "rule r3: ORCON goes to review");
  EXPECT_EQ(all[0].rules_version, 7u);
  EXPECT_EQ(all[0].held_at, now);
  EXPECT_EQ(all[2].destination, "us");
  auto page = *q_->list(1, 1);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_EQ(page[0].id, 2u);
  // Reopened: same holds, ids keep counting.
  q_.reset();
  env_.reset();
  env_ = *store::Env::open({.path = dir_.path()});
  q_.emplace(*Quarantine::open(*env_));
  EXPECT_EQ(*q_->size(), 3u);
  EXPECT_EQ(hold("sy", {6}), 4u);
}

TEST_F(QuarantineTest, ReleaseNeedsAReviewerOfThePartyOverThisHold) {
  const auto a = hold("sy", {1, 2, 3});
  const auto b = hold("sy", {9, 9});
  // Another party's reviewer: refused, hold kept.
  {
    auto txn = *env_->begin_write();
    auto r = q_->release(txn, a, *root_, "il", mallory_.id(), sign(mallory_, a), verifier_);
    EXPECT_EQ(r.status().code(), Code::unauthenticated);
    EXPECT_NE(r.status().reason().find("not a reviewer"), std::string::npos);
  }
  // Alice's signature for hold b does not release hold a (statements name the hold + item).
  {
    auto txn = *env_->begin_write();
    auto r = q_->release(txn, a, *root_, "il", alice_.id(), sign(alice_, b), verifier_);
    EXPECT_EQ(r.status().code(), Code::unauthenticated);
    EXPECT_NE(r.status().reason().find("does not verify"), std::string::npos);
  }
  EXPECT_EQ(*q_->size(), 2u);
  {
    auto txn = *env_->begin_write();
    auto r = q_->release(txn, a, *root_, "il", alice_.id(), sign(alice_, a), verifier_);
    ASSERT_TRUE(r.ok()) << r.status().reason();
    EXPECT_EQ(r->item, (std::vector<std::uint8_t>{1, 2, 3}));
    ASSERT_TRUE(txn.commit().ok());
  }
  EXPECT_EQ(*q_->size(), 1u);
  // Released once: a replay of the same signature finds no hold.
  auto txn = *env_->begin_write();
  auto again = q_->release(txn, a, *root_, "il", alice_.id(), sign(alice_, b), verifier_);
  EXPECT_EQ(again.status().code(), Code::rejected);
}

TEST_F(QuarantineTest, UncommittedReleaseLeavesTheHold) {
  const auto a = hold("sy", {1});
  {
    auto txn = *env_->begin_write();
    ASSERT_TRUE(q_->release(txn, a, *root_, "il", alice_.id(), sign(alice_, a), verifier_).ok());
    // no commit: e.g. sealing failed, or the node crashed
  }
  EXPECT_EQ(*q_->size(), 1u);
}

std::vector<std::uint8_t> sign_reject(const TestKey& k, const Quarantine& q, std::uint64_t id,
                                      std::string_view reason, const trust::Verifier& v) {
  return *k.signer()(Quarantine::statement(Decision::reject, **q.get(id), reason, v));
}

// A reject is signed like a release, by a reviewer of the party, and covers its reason: an
// unsigned, wrongly signed, other-party or reason-swapped reject is refused and the hold kept.
TEST_F(QuarantineTest, RejectNeedsAReviewerOfThePartyOverThisHoldAndReason) {
  const auto a = hold("sy", {1});
  const auto b = hold("sy", {2});
  auto refused = [&](Bytes key_id, const std::vector<std::uint8_t>& sig, std::string_view reason,
                     Code code, std::string_view why) {
    auto txn = *env_->begin_write();
    auto r = q_->reject(txn, a, reason, *root_, "il", key_id, sig, verifier_);
    EXPECT_EQ(r.status().code(), code) << why;
    EXPECT_NE(r.status().reason().find(why), std::string::npos) << r.status().reason();
  };
  const auto good = sign_reject(alice_, *q_, a, "not for release", verifier_);
  refused(alice_.id(), {}, "not for release", Code::unauthenticated, "does not verify");
  refused(mallory_.id(), sign_reject(mallory_, *q_, a, "not for release", verifier_),
          "not for release", Code::unauthenticated, "not a reviewer");
  refused(root_key_.id(), sign_reject(root_key_, *q_, a, "not for release", verifier_),
          "not for release", Code::unauthenticated, "not a reviewer");
  refused(alice_.id(), good, "another reason", Code::unauthenticated, "does not verify");
  refused(alice_.id(), sign_reject(alice_, *q_, b, "not for release", verifier_), "not for release",
          Code::unauthenticated, "does not verify");
  refused(alice_.id(), *alice_.signer()(Quarantine::release_statement(**q_->get(a), verifier_)),
          "not for release", Code::unauthenticated, "does not verify");
  refused(alice_.id(), sign_reject(alice_, *q_, a, "", verifier_), "", Code::malformed, "reason");
  EXPECT_EQ(*q_->size(), 2u);
  auto txn = *env_->begin_write();
  EXPECT_EQ(q_->reject(txn, 99, "x", *root_, "il", alice_.id(), good, verifier_).status().code(),
            Code::rejected);
  std::string reviewer;
  ASSERT_TRUE(
      q_->reject(txn, a, "not for release", *root_, "il", alice_.id(), good, verifier_, &reviewer)
          .ok());
  EXPECT_EQ(reviewer, "il/alice");
  ASSERT_TRUE(txn.commit().ok());
  EXPECT_EQ(*q_->size(), 1u);
}

// Requests of both kinds round-trip through the store; a new request forgets an old verdict;
// verdicts are kept per hold and decision.
TEST_F(QuarantineTest, RequestsAndVerdictsRoundTrip) {
  const auto a = hold("sy", {1});
  auto txn = *env_->begin_write();
  Quarantine::Request rel{a, Decision::release, {1, 2}, {3, 4, 5}, ""};
  Quarantine::Request rej{a, Decision::reject, {6}, {7, 8}, "why"};
  ASSERT_TRUE(q_->record_verdict(txn, a, Decision::release, {false, "old"}).ok());
  ASSERT_TRUE(q_->request(txn, rel).ok());
  ASSERT_TRUE(q_->request(txn, rej).ok());
  Quarantine::Request no_reason = rej;
  no_reason.reason.clear();
  EXPECT_EQ(q_->request(txn, no_reason).code(), Code::malformed);
  Quarantine::Request no_hold = rel;
  no_hold.hold = 42;
  EXPECT_EQ(q_->request(txn, no_hold).code(), Code::rejected);
  auto all = *q_->requests(txn, 10);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].decision, Decision::release);
  EXPECT_EQ(all[0].key_id, rel.key_id);
  EXPECT_EQ(all[0].signature, rel.signature);
  EXPECT_EQ(all[1].decision, Decision::reject);
  EXPECT_EQ(all[1].key_id, rej.key_id);
  EXPECT_EQ(all[1].signature, rej.signature);
  EXPECT_EQ(all[1].reason, "why");
  ASSERT_TRUE(q_->drop_request(txn, a, Decision::reject).ok());
  EXPECT_EQ(q_->requests(txn, 10)->size(), 1u);
  ASSERT_TRUE(q_->record_verdict(txn, a, Decision::reject, {true, "rejected by il/alice"}).ok());
  ASSERT_TRUE(txn.commit().ok());
  EXPECT_FALSE(q_->verdict(a, Decision::release)->has_value()) << "forgotten by the new request";
  auto v = *q_->verdict(a, Decision::reject);
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(v->applied);
  EXPECT_EQ(v->detail, "rejected by il/alice");
}

TEST_F(QuarantineTest, BadInputIsRefused) {
  auto txn = *env_->begin_write();
  std::vector<std::uint8_t> item{1};
  EXPECT_EQ(q_->hold(txn, now, "bad\nname", 1, "x", item).status().code(), Code::malformed);
  EXPECT_EQ(q_->hold(txn, now, "sy", 1, "x", {}).status().code(), Code::malformed);
  std::string long_text(explanation_bytes_max + 10, 'x');
  auto id = q_->hold(txn, now, "sy", 1, long_text, item);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(txn.commit().ok());
  auto held = *q_->get(*id);
  EXPECT_EQ(held->explanation.size(), explanation_bytes_max);
  EXPECT_NE(held->explanation.find("[explanation cut]"), std::string::npos);
}

}  // namespace
}  // namespace cg::quarantine
