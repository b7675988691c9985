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
  QuarantineTest()
      : alice_("il/alice"),
        bob_("il/bob"),
        carol_("il/carol"),
        mallory_("sy/mallory"),
        root_key_("root/1") {
    capnp::MallocMessageBuilder mb;
    auto body = mb.initRoot<schema::TrustRoot>().initBody();
    body.setVersion(1);
    body.setExpires(now + 1'000'000'000'000'000);
    auto parties = body.initParties(2);
    parties[0].setId("il");
    parties[0].setReviewerThreshold(1);
    auto il = parties[0].initReviewers(3);  // release threshold: the default, 2
    alice_.fill(il[0]);
    bob_.fill(il[1]);
    carol_.fill(il[2]);
    parties[1].setId("sy");
    parties[1].setReviewerThreshold(1);
    parties[1].setReleaseThreshold(1);
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
  TestKey alice_, bob_, carol_, mallory_, root_key_;
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

TEST_F(QuarantineTest, ReleaseNeedsTwoDistinctReviewersOfThePartyOverThisHold) {
  const auto a = hold("sy", {1, 2, 3});
  const auto b = hold("sy", {9, 9});
  const auto bob_signed_a = sign(bob_, a);
  auto approve = [&](std::uint64_t id, const TestKey& k, std::uint64_t signed_for) {
    auto txn = *env_->begin_write();
    auto r = q_->approve_release(txn, id, *root_, "il", k.id(), sign(k, signed_for), verifier_);
    if (r.ok()) EXPECT_TRUE(txn.commit().ok());
    return r;
  };
  // Another party's reviewer: refused, nothing kept.
  auto other = approve(a, mallory_, a);
  EXPECT_EQ(other.status().code(), Code::unauthenticated);
  EXPECT_NE(other.status().reason().find("not a reviewer"), std::string::npos);
  // Alice's signature for hold b does not count for hold a (statements name the hold + item).
  auto wrong = approve(a, alice_, b);
  EXPECT_EQ(wrong.status().code(), Code::unauthenticated);
  EXPECT_NE(wrong.status().reason().find("does not verify"), std::string::npos);
  EXPECT_TRUE(q_->approval_keys(a)->empty());
  // Alice: counted, 1 of 2, still held.
  auto first = approve(a, alice_, a);
  ASSERT_TRUE(first.ok()) << first.status().reason();
  EXPECT_FALSE(first->released);
  EXPECT_EQ(first->threshold, 2u);
  EXPECT_EQ(first->reviewers, std::vector<std::string>{"il/alice"});
  EXPECT_EQ(*q_->size(), 2u);
  EXPECT_EQ(*q_->approvers(a, *root_, "il", verifier_), std::vector<std::string>{"il/alice"});
  // Alice again: never counts twice.
  auto twice = approve(a, alice_, a);
  EXPECT_EQ(twice.status().code(), Code::rejected);
  EXPECT_NE(twice.status().reason().find("counts once"), std::string::npos);
  EXPECT_EQ(q_->approval_keys(a)->size(), 1u);
  // Carol: 2 of 2, released, with both names; the approvals go with the hold.
  auto second = approve(a, carol_, a);
  ASSERT_TRUE(second.ok()) << second.status().reason();
  ASSERT_TRUE(second->released);
  EXPECT_EQ(second->held.item, (std::vector<std::uint8_t>{1, 2, 3}));
  EXPECT_EQ(second->reviewers.size(), 2u);
  EXPECT_EQ(*q_->size(), 1u);
  EXPECT_TRUE(q_->approval_keys(a)->empty());
  // Released once: a replay finds no hold.
  {
    auto txn = *env_->begin_write();
    EXPECT_EQ(q_->approve_release(txn, a, *root_, "il", bob_.id(), bob_signed_a, verifier_)
                  .status()
                  .code(),
              Code::rejected);
  }
  // A party whose root says one reviewer releases: one is enough.
  auto txn = *env_->begin_write();
  auto alone =
      q_->approve_release(txn, b, *root_, "sy", mallory_.id(), sign(mallory_, b), verifier_);
  ASSERT_TRUE(alone.ok()) << alone.status().reason();
  EXPECT_TRUE(alone->released);
}

TEST_F(QuarantineTest, AnApprovalByAKeyTheRootNoLongerListsStopsCounting) {
  const auto a = hold("sy", {1});
  {
    auto txn = *env_->begin_write();
    ASSERT_TRUE(
        q_->approve_release(txn, a, *root_, "il", alice_.id(), sign(alice_, a), verifier_).ok());
    ASSERT_TRUE(txn.commit().ok());
  }
  // The next root drops alice: her approval no longer counts, bob's alone is 1 of 2.
  capnp::MallocMessageBuilder mb;
  auto body = mb.initRoot<schema::TrustRoot>().initBody();
  body.setVersion(2);
  body.setExpires(now + 1'000'000'000'000'000);
  auto party = body.initParties(1)[0];
  party.setId("il");
  party.setReviewerThreshold(1);
  auto rv = party.initReviewers(2);
  bob_.fill(rv[0]);
  carol_.fill(rv[1]);
  root_key_.fill(body.initRootKeys(1)[0]);
  body.setRootThreshold(1);
  auto next = *trust::TrustRoot::parse(wire::to_flat_bytes(mb), verifier_);
  EXPECT_TRUE(q_->approvers(a, next, "il", verifier_)->empty());
  auto txn = *env_->begin_write();
  auto r = q_->approve_release(txn, a, next, "il", bob_.id(), sign(bob_, a), verifier_);
  ASSERT_TRUE(r.ok()) << r.status().reason();
  EXPECT_FALSE(r->released);
  EXPECT_EQ(r->reviewers, std::vector<std::string>{"il/bob"});
}

TEST_F(QuarantineTest, AReleaseThresholdAboveThePartysReviewersIsRefusedInTheTrustRoot) {
  capnp::MallocMessageBuilder mb;
  auto body = mb.initRoot<schema::TrustRoot>().initBody();
  body.setVersion(1);
  body.setExpires(now + 1'000'000'000'000'000);
  auto party = body.initParties(1)[0];
  party.setId("sy");
  party.setReviewerThreshold(1);
  mallory_.fill(party.initReviewers(1)[0]);  // one reviewer, release threshold left at 2
  root_key_.fill(body.initRootKeys(1)[0]);
  body.setRootThreshold(1);
  auto r = trust::TrustRoot::parse(wire::to_flat_bytes(mb), verifier_);
  EXPECT_EQ(r.status().code(), Code::malformed);
  EXPECT_NE(r.status().reason().find("release threshold 2 must be 1..1"), std::string::npos)
      << r.status().reason();
}

TEST_F(QuarantineTest, UncommittedReleaseLeavesTheHold) {
  const auto a = hold("sy", {1});
  {
    auto txn = *env_->begin_write();
    ASSERT_TRUE(
        q_->approve_release(txn, a, *root_, "il", alice_.id(), sign(alice_, a), verifier_).ok());
    ASSERT_TRUE(
        q_->approve_release(txn, a, *root_, "il", bob_.id(), sign(bob_, a), verifier_)->released);
    // no commit: e.g. sealing failed, or the node crashed
  }
  EXPECT_EQ(*q_->size(), 1u);
  EXPECT_TRUE(q_->approval_keys(a)->empty()) << "the uncommitted approvals are gone too";
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

// Requests of both kinds round-trip through the store, one per (hold, decision, key), so two
// reviewers' requests never replace each other; a new request forgets that key's old verdict.
TEST_F(QuarantineTest, RequestsAndVerdictsRoundTrip) {
  const auto a = hold("sy", {1});
  auto txn = *env_->begin_write();
  Quarantine::Request rel{a, Decision::release, {1, 2}, {3, 4, 5}, ""};
  Quarantine::Request rel2{a, Decision::release, {9}, {3, 4, 6}, ""};
  Quarantine::Request rej{a, Decision::reject, {6}, {7, 8}, "why"};
  ASSERT_TRUE(q_->record_verdict(txn, rel, {Quarantine::Outcome::refused, "old"}).ok());
  ASSERT_TRUE(q_->record_verdict(txn, rel2, {Quarantine::Outcome::counted, "1 of 2"}).ok());
  ASSERT_TRUE(q_->request(txn, rel).ok());
  ASSERT_TRUE(q_->request(txn, rel2).ok());
  ASSERT_TRUE(q_->request(txn, rej).ok());
  Quarantine::Request no_reason = rej;
  no_reason.reason.clear();
  EXPECT_EQ(q_->request(txn, no_reason).code(), Code::malformed);
  Quarantine::Request no_hold = rel;
  no_hold.hold = 42;
  EXPECT_EQ(q_->request(txn, no_hold).code(), Code::rejected);
  auto all = *q_->requests(txn, 10);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].decision, Decision::release);
  EXPECT_EQ(all[0].hold, a);
  EXPECT_EQ(all[0].key_id, rel.key_id);
  EXPECT_EQ(all[0].signature, rel.signature);
  EXPECT_EQ(all[1].key_id, rel2.key_id);
  EXPECT_EQ(all[2].decision, Decision::reject);
  EXPECT_EQ(all[2].key_id, rej.key_id);
  EXPECT_EQ(all[2].signature, rej.signature);
  EXPECT_EQ(all[2].reason, "why");
  ASSERT_TRUE(q_->drop_request(txn, rej).ok());
  EXPECT_EQ(q_->requests(txn, 10)->size(), 2u);
  ASSERT_TRUE(
      q_->record_verdict(txn, rej, {Quarantine::Outcome::applied, "rejected by il/alice"}).ok());
  ASSERT_TRUE(txn.commit().ok());
  EXPECT_FALSE(q_->verdict(a, Decision::release, rel.key_id)->has_value())
      << "forgotten by the new request";
  EXPECT_FALSE(q_->verdict(a, Decision::release, rel2.key_id)->has_value());
  auto v = *q_->verdict(a, Decision::reject, rej.key_id);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->outcome, Quarantine::Outcome::applied);
  EXPECT_EQ(v->detail, "rejected by il/alice");
  EXPECT_FALSE(q_->verdict(a, Decision::reject, rel.key_id)->has_value()) << "per key";
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
