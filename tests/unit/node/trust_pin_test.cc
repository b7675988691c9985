// The trust root a node pins in its store, and TUF's rule for its successor (§5.3) as the node
// itself enforces it: first root pinned; the same root kept; N+1 signed by a threshold of N's
// root keys and of its own accepted and pinned; rollback, a second root under one version, a
// skipped version and a successor without the old threshold refused, the pin unchanged.
#include "gateway/node/trust_pin.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <cstdlib>

#include "tests/support/ed25519_keys.h"
#include "tests/support/temp_dir.h"

namespace cg::node {
namespace {

using testing::Ed25519Verifier;
using testing::TestKey;

constexpr std::int64_t s = 1'000'000'000;
constexpr std::int64_t now = 1'790'000'000LL * s;
constexpr std::int64_t day = 86'400LL * s;

class TrustPinTest : public ::testing::Test {
 protected:
  TrustPinTest() {
    if (sodium_init() < 0) std::abort();
    roots1_ = {TestKey("root/1"), TestKey("root/2"), TestKey("root/3")};
    roots2_ = {roots1_[0], TestKey("root/4"), TestKey("root/5")};  // root/1 stays
  }

  // Version `version` with root keys `roots` (threshold 2), signed by `signers`.
  std::vector<std::uint8_t> make_root(std::uint64_t version, const std::vector<TestKey>& roots,
                                      const std::vector<TestKey>& signers,
                                      std::int64_t expires = now + 365 * day,
                                      const TestKey* reviewer = nullptr) {
    capnp::MallocMessageBuilder mb;
    auto r = mb.initRoot<schema::TrustRoot>();
    auto body = r.initBody();
    body.setVersion(version);
    body.setExpires(expires);
    auto parties = body.initParties(1);
    parties[0].setId("il");
    parties[0].setReviewerThreshold(1);
    parties[0].setReleaseThreshold(1);  // one reviewer: the root must say one releases
    (reviewer ? *reviewer : alice_).fill(parties[0].initReviewers(1)[0]);
    auto rk = body.initRootKeys(static_cast<unsigned>(roots.size()));
    for (unsigned i = 0; i < roots.size(); ++i) roots[i].fill(rk[i]);
    body.setRootThreshold(2);
    auto message = wire::canonical(r.asReader());
    for (const auto& k : signers) {
      auto next = approval::add_root_signature(message.root(), k.id(), k.signer());
      EXPECT_TRUE(next.ok()) << next.status().reason();
      message = std::move(*next);
    }
    return wire::to_flat_bytes(message);
  }
  std::vector<std::uint8_t> v1() { return make_root(1, roots1_, {roots1_[0], roots1_[1]}); }
  // v2: rotated to roots2_, signed by root/1 + root/2 (old threshold) and root/1 + root/4 (new).
  std::vector<std::uint8_t> v2() {
    return make_root(2, roots2_, {roots1_[0], roots1_[1], roots2_[1]});
  }

  std::unique_ptr<store::Env> env() {
    auto e = store::Env::open({.path = dir_.path()});
    EXPECT_TRUE(e.ok()) << e.status().reason();
    return std::move(*e);
  }

  // The refusal of `file` against what is pinned: its code and a part of its reason; the pin
  // stays at `pinned_version`.
  void expect_refused(store::Env& e, const std::vector<std::uint8_t>& file, Code code,
                      const std::string& because, std::uint64_t pinned_version_after) {
    auto judged = judge_trust_root(e, file, verifier_, now);
    ASSERT_FALSE(judged.ok());
    auto r = pin_trust_root(e, file, verifier_, now);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), code) << r.status().reason();
    EXPECT_NE(r.status().reason().find(because), std::string::npos) << r.status().reason();
    EXPECT_EQ(judged.status().reason(), r.status().reason());
    EXPECT_EQ(*pinned_version(e, verifier_), pinned_version_after);
  }

  testing::TempDir dir_{"cg-trust-pin"};
  Ed25519Verifier verifier_;
  std::vector<TestKey> roots1_, roots2_;
  TestKey alice_{"il/alice"}, mallory_{"il/mallory"};  // keys are random: made once
};

TEST_F(TrustPinTest, TheFirstRootIsPinnedAndKeptOnEveryStart) {
  auto e = env();
  EXPECT_EQ(*pinned_version(*e, verifier_), 0u);
  auto judged = judge_trust_root(*e, v1(), verifier_, now);
  ASSERT_TRUE(judged.ok()) << judged.status().reason();
  EXPECT_STREQ(judged->outcome, "pinned");
  EXPECT_EQ(*pinned_version(*e, verifier_), 0u) << "judging changes nothing";
  auto first = pin_trust_root(*e, v1(), verifier_, now);
  ASSERT_TRUE(first.ok()) << first.status().reason();
  EXPECT_STREQ(first->outcome, "pinned");
  EXPECT_EQ(*pinned_version(*e, verifier_), 1u);
  auto again = pin_trust_root(*e, v1(), verifier_, now);
  ASSERT_TRUE(again.ok()) << again.status().reason();
  EXPECT_STREQ(again->outcome, "kept");
  // A first root must meet its own threshold: one signature of two is not pinned.
  testing::TempDir other("cg-trust-pin-2");
  auto e2 = *store::Env::open({.path = other.path()});
  auto weak = pin_trust_root(*e2, make_root(1, roots1_, {roots1_[0]}), verifier_, now);
  EXPECT_EQ(weak.status().code(), Code::unauthenticated);
  EXPECT_EQ(*pinned_version(*e2, verifier_), 0u);
}

TEST_F(TrustPinTest, ASuccessorSignedByBothThresholdsIsPinnedAndTheOldRootIsThenARollback) {
  auto e = env();
  ASSERT_TRUE(pin_trust_root(*e, v1(), verifier_, now).ok());
  auto next = pin_trust_root(*e, v2(), verifier_, now);
  ASSERT_TRUE(next.ok()) << next.status().reason();
  EXPECT_STREQ(next->outcome, "rotated");
  EXPECT_EQ(next->previous_version, 1u);
  EXPECT_EQ(next->root.version(), 2u);
  EXPECT_EQ(*pinned_version(*e, verifier_), 2u);
  expect_refused(*e, v1(), Code::rejected, "rollback", 2);
  // Reopened (a restart): the pin holds.
  e.reset();
  auto reopened = env();
  EXPECT_EQ(*pinned_version(*reopened, verifier_), 2u);
  EXPECT_STREQ(pin_trust_root(*reopened, v2(), verifier_, now)->outcome, "kept");
}

TEST_F(TrustPinTest, ASuccessorWithoutTheOldRootsThresholdIsRefused) {
  auto e = env();
  ASSERT_TRUE(pin_trust_root(*e, v1(), verifier_, now).ok());
  // Signed only by the new keys (root/4, root/5): the pinned root did not approve it.
  expect_refused(*e, make_root(2, roots2_, {roots2_[1], roots2_[2]}), Code::unauthenticated,
                 "successor v2 refused", 1);
  // Signed by the old threshold only, not by its own.
  expect_refused(*e, make_root(2, roots2_, {roots1_[1], roots1_[2]}), Code::unauthenticated,
                 "successor v2 refused", 1);
  // One old signature and two new: the old threshold (2) is not met.
  expect_refused(*e, make_root(2, roots2_, {roots1_[0], roots2_[1]}), Code::unauthenticated,
                 "successor v2 refused", 1);
}

TEST_F(TrustPinTest, AnotherRootUnderTheSameVersionASkippedVersionAndAnExpiredSuccessorAreRefused) {
  auto e = env();
  ASSERT_TRUE(pin_trust_root(*e, v1(), verifier_, now).ok());
  expect_refused(*e, make_root(1, roots1_, {roots1_[0], roots1_[1]}, now + 365 * day, &mallory_),
                 Code::rejected, "same version", 1);
  expect_refused(*e, make_root(3, roots2_, {roots1_[0], roots1_[1], roots2_[1]}), Code::rejected,
                 "v2 first", 1);
  expect_refused(*e, make_root(2, roots2_, {roots1_[0], roots1_[1], roots2_[1]}, now - s),
                 Code::rejected, "successor v2 refused", 1);
  expect_refused(*e, std::vector<std::uint8_t>{1, 2, 3}, Code::malformed, "", 1);
}

TEST_F(TrustPinTest, AStoreWithoutAPinIsJudgedReadOnlyAsAFirstStart) {
  {
    auto e = env();  // creates the store, pins nothing
  }
  auto ro = store::Env::open({.path = dir_.path(), .read_only = true});
  ASSERT_TRUE(ro.ok()) << ro.status().reason();
  auto judged = judge_trust_root(**ro, v1(), verifier_, now);
  ASSERT_TRUE(judged.ok()) << judged.status().reason();
  EXPECT_STREQ(judged->outcome, "pinned");
  EXPECT_EQ(pinned_suite(**ro).status().code(), Code::rejected);
}

}  // namespace
}  // namespace cg::node
