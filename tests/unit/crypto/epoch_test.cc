// Epoch keys and the misuse the issue names: nonce reuse impossible by construction, wrong
// key, wrong PSK, another stream's context, truncated ciphertext and a flipped bit in every
// position of a small sealed item — all refused, no plaintext released. Both suites.
#include "crypto/epoch.h"

#include <gtest/gtest.h>

#include <set>

namespace cg::crypto {
namespace {

class EpochTest : public ::testing::TestWithParam<SuiteId> {
 protected:
  const Suite& s() { return **suite(GetParam()); }
  EpochContext context(std::uint64_t epoch = 7) {
    EpochContext c;
    c.suite = GetParam();
    c.origin = "il-gw-1";
    c.destination = "sy";
    c.stream = 0;
    c.epoch = epoch;
    return c;
  }
};

TEST_P(EpochTest, BothSidesDeriveTheSameKeyAndItemsRoundTrip) {
  auto recipient = s().generate_agreement_key();
  auto started = start_epoch(s(), recipient->public_key(), nullptr, context());
  ASSERT_TRUE(started.ok()) << started.status().reason();
  auto ctx = context();
  ctx.ephemeral_public = started->ephemeral_public;
  ctx.recipient_public = recipient->public_key();
  auto accepted = accept_epoch(s(), *recipient, nullptr, ctx);
  ASSERT_TRUE(accepted.ok()) << accepted.status().reason();
  EXPECT_TRUE(accepted->equals(started->key));

  EpochKey sender(s(), 7, 100, std::move(started->key), 0);
  EpochKey receiver(s(), 7, 100, std::move(*accepted), 0);
  const std::uint8_t ad[] = {1, 2, 3};
  for (std::uint64_t seq = 100; seq < 110; ++seq) {
    const std::string text = "item " + std::to_string(seq);
    std::vector<std::uint8_t> ct, pt;
    ASSERT_TRUE(
        sender.seal(seq, ad, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, ct)
            .ok());
    ASSERT_TRUE(receiver.open(seq, ad, ct, pt).ok());
    EXPECT_EQ(std::string(pt.begin(), pt.end()), text);
    // The same ciphertext under another seq (another nonce) does not open.
    EXPECT_EQ(receiver.open(seq + 1, ad, ct, pt).code(), Code::unauthenticated);
    EXPECT_TRUE(pt.empty());
  }
  EXPECT_EQ(sender.sealed(), 10u);
}

TEST_P(EpochTest, NonceReuseIsImpossible) {
  EpochKey key(s(), 1, 5, Secret::random(32), 0);
  std::vector<std::uint8_t> out;
  const std::uint8_t m[] = {42};
  EXPECT_EQ(key.seal(4, {}, m, out).code(), Code::rejected);  // before the epoch
  ASSERT_TRUE(key.seal(5, {}, m, out).ok());
  EXPECT_EQ(key.seal(5, {}, m, out).code(), Code::rejected);  // same seq again
  ASSERT_TRUE(key.seal(9, {}, m, out).ok());
  EXPECT_EQ(key.seal(7, {}, m, out).code(), Code::rejected);  // going back
  // Nonces of distinct (epoch, seq) are distinct.
  std::set<std::vector<std::uint8_t>> seen;
  for (std::uint64_t e = 0; e < 4; ++e) {
    for (std::uint64_t q = 0; q < 64; ++q) {
      std::vector<std::uint8_t> n(s().nonce_bytes());
      epoch_nonce(s(), e, q << 20, n);
      EXPECT_TRUE(seen.insert(n).second);
    }
  }
}

TEST_P(EpochTest, WrongRecipientPskOrContextGivesAnotherKey) {
  auto recipient = s().generate_agreement_key();
  auto other = s().generate_agreement_key();
  const Secret psk = Secret::random(psk_bytes);
  auto started = *start_epoch(s(), recipient->public_key(), &psk, context());
  auto ctx = context();
  ctx.ephemeral_public = started.ephemeral_public;
  ctx.recipient_public = recipient->public_key();
  EXPECT_TRUE(accept_epoch(s(), *recipient, &psk, ctx)->equals(started.key));
  EXPECT_FALSE(accept_epoch(s(), *recipient, nullptr, ctx)->equals(started.key));
  const Secret wrong_psk = Secret::random(psk_bytes);
  EXPECT_FALSE(accept_epoch(s(), *recipient, &wrong_psk, ctx)->equals(started.key));
  EXPECT_FALSE(accept_epoch(s(), *other, &psk, ctx).ok());  // announced for another key
  auto stream2 = ctx;
  stream2.stream = 1;
  EXPECT_FALSE(accept_epoch(s(), *recipient, &psk, stream2)->equals(started.key));
  auto epoch8 = ctx;
  epoch8.epoch = 8;
  EXPECT_FALSE(accept_epoch(s(), *recipient, &psk, epoch8)->equals(started.key));
  auto to_us = ctx;
  to_us.destination = "us";
  EXPECT_FALSE(accept_epoch(s(), *recipient, &psk, to_us)->equals(started.key));
  const Secret short_psk = Secret::random(16);
  EXPECT_EQ(accept_epoch(s(), *recipient, &short_psk, ctx).status().code(), Code::malformed);
}

TEST_P(EpochTest, EveryFlippedBitAndTruncationIsRefusedWithNothingReleased) {
  const Secret k = Secret::random(32);
  EpochKey sender(s(), 3, 1, Secret::copy_of(k.bytes()), 0);
  EpochKey receiver(s(), 3, 1, Secret::copy_of(k.bytes()), 0);
  const std::uint8_t header[] = {'h', 'd', 'r', 0, 1, 2, 3, 4};
  const std::uint8_t item[] = {'S', 'E', 'C', 'R', 'E', 'T', ' ', 'i', 't', 'e', 'm'};
  std::vector<std::uint8_t> ct, pt;
  ASSERT_TRUE(sender.seal(1, header, item, ct).ok());
  for (std::size_t byte = 0; byte < ct.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      auto bad = ct;
      bad[byte] ^= static_cast<std::uint8_t>(1u << bit);
      EXPECT_EQ(receiver.open(1, header, bad, pt).code(), Code::unauthenticated);
      EXPECT_TRUE(pt.empty());
    }
  }
  for (std::size_t byte = 0; byte < sizeof header; ++byte) {
    std::uint8_t bad[sizeof header];
    std::copy(std::begin(header), std::end(header), bad);
    bad[byte] ^= 1;
    EXPECT_EQ(receiver.open(1, bad, ct, pt).code(), Code::unauthenticated);
  }
  for (std::size_t len = 0; len < ct.size(); ++len) {
    EXPECT_EQ(receiver.open(1, header, {ct.data(), len}, pt).code(), Code::unauthenticated);
    EXPECT_TRUE(pt.empty());
  }
  EpochKey wrong(s(), 3, 1, Secret::random(32), 0);
  EXPECT_EQ(wrong.open(1, header, ct, pt).code(), Code::unauthenticated);
  ASSERT_TRUE(receiver.open(1, header, ct, pt).ok());
  EXPECT_EQ(pt, std::vector<std::uint8_t>(std::begin(item), std::end(item)));
}

TEST_P(EpochTest, RotationIsDueByCountOrAge) {
  EpochKey key(s(), 1, 1, Secret::random(32), 1'000);
  const std::uint8_t m[] = {1};
  std::vector<std::uint8_t> out;
  EXPECT_FALSE(key.due_for_rotation(2, 500, 1'200));
  ASSERT_TRUE(key.seal(1, {}, m, out).ok());
  ASSERT_TRUE(key.seal(2, {}, m, out).ok());
  EXPECT_TRUE(key.due_for_rotation(2, 500, 1'200));
  EXPECT_TRUE(key.due_for_rotation(100, 500, 1'500));
}

TEST_P(EpochTest, InvalidEphemeralKeysAreRefused) {
  auto recipient = s().generate_agreement_key();
  auto ctx = context();
  std::vector<std::uint8_t> junk(s().agreement_public_bytes(), 0);
  ctx.ephemeral_public = junk;
  ctx.recipient_public = recipient->public_key();
  EXPECT_EQ(accept_epoch(s(), *recipient, nullptr, ctx).status().code(), Code::malformed);
}

INSTANTIATE_TEST_SUITE_P(Suites, EpochTest, ::testing::Values(SuiteId::modern, SuiteId::cnsa),
                         [](const auto& info) { return std::string(suite_name(info.param)); });

}  // namespace
}  // namespace cg::crypto
