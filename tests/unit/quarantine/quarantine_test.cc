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
    root_.emplace(*approval::TrustRoot::parse(wire::to_flat_bytes(mb), verifier_));
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
  std::optional<approval::TrustRoot> root_;
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

TEST_F(QuarantineTest, RejectRemovesAndUnknownIdsAreRejected) {
  const auto a = hold("sy", {1});
  auto txn = *env_->begin_write();
  EXPECT_EQ(q_->reject(txn, 99).status().code(), Code::rejected);
  ASSERT_TRUE(q_->reject(txn, a).ok());
  ASSERT_TRUE(txn.commit().ok());
  EXPECT_EQ(*q_->size(), 0u);
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
