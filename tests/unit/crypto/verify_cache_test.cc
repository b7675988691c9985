// VerifiedSignatures: a signature verified once is remembered; a forgery never is.
#include "crypto/verify_cache.h"

#include <gtest/gtest.h>

#include "crypto/merkle.h"

namespace cg::crypto {
namespace {

class VerifyCacheTest : public ::testing::TestWithParam<SuiteId> {
 protected:
  const Suite& suite_ = **suite(GetParam());
};

TEST_P(VerifyCacheTest, RemembersOnlyWhatVerified) {
  auto key = suite_.generate_signing_key();
  const std::vector<std::uint8_t> msg{1, 2, 3, 4};
  std::vector<std::uint8_t> sig(suite_.signature_bytes());
  ASSERT_TRUE(key->sign(msg, sig).ok());
  VerifiedSignatures v(2);

  EXPECT_TRUE(v.verify(suite_, key->public_key(), msg, sig).ok());
  EXPECT_TRUE(v.verify(suite_, key->public_key(), msg, sig).ok());
  EXPECT_EQ(v.misses().load(), 1u);
  EXPECT_EQ(v.hits().load(), 1u);

  // Anything else about the triple differs: the suite is asked, and refuses.
  auto forged = sig;
  forged[3] ^= 1;
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(v.verify(suite_, key->public_key(), msg, forged).code(), Code::unauthenticated);
  }
  const std::vector<std::uint8_t> other{1, 2, 3, 5};
  EXPECT_EQ(v.verify(suite_, key->public_key(), other, sig).code(), Code::unauthenticated);
  auto stranger = suite_.generate_signing_key();
  EXPECT_FALSE(v.verify(suite_, stranger->public_key(), msg, sig).ok());
  EXPECT_EQ(v.hits().load(), 1u) << "a refusal is never answered from memory";
}

TEST_P(VerifyCacheTest, BoundedOldestForgottenFirst) {
  auto key = suite_.generate_signing_key();
  VerifiedSignatures v(2);
  std::vector<std::vector<std::uint8_t>> msgs{{1}, {2}, {3}}, sigs;
  for (const auto& m : msgs) {
    sigs.emplace_back(suite_.signature_bytes());
    ASSERT_TRUE(key->sign(m, sigs.back()).ok());
    ASSERT_TRUE(v.verify(suite_, key->public_key(), m, sigs.back()).ok());
  }
  ASSERT_EQ(v.misses().load(), 3u);
  ASSERT_TRUE(v.verify(suite_, key->public_key(), msgs[2], sigs[2]).ok());
  ASSERT_TRUE(v.verify(suite_, key->public_key(), msgs[1], sigs[1]).ok());
  EXPECT_EQ(v.hits().load(), 2u);
  ASSERT_TRUE(v.verify(suite_, key->public_key(), msgs[0], sigs[0]).ok());
  EXPECT_EQ(v.misses().load(), 4u) << "the oldest entry was evicted";
}

// A batch: the root signature is checked once, every item's path every time.
TEST_P(VerifyCacheTest, BatchItemsShareOneSignatureCheckButNotThePath) {
  auto key = suite_.generate_signing_key();
  const Hasher h = hasher_of(suite_);
  std::vector<Hash> leaves;
  for (std::uint8_t i = 0; i < 5; ++i) {
    const std::vector<std::uint8_t> data{i};
    const Bytes parts[] = {data};
    leaves.push_back(leaf_hash_parts(h, parts));
  }
  auto batch = sign_batch(suite_, *key, "il-gw-1", 9, leaves);
  ASSERT_TRUE(batch.ok()) << batch.status().reason();
  VerifiedSignatures v;
  for (std::uint32_t i = 0; i < leaves.size(); ++i) {
    EXPECT_TRUE(verify_batch_item(suite_, key->public_key(), "il-gw-1", 9, leaves[i], i, 5,
                                  batch->paths[i], batch->signature, &v)
                    .ok());
  }
  EXPECT_EQ(v.misses().load(), 1u);
  EXPECT_EQ(v.hits().load(), 4u);
  EXPECT_FALSE(verify_batch_item(suite_, key->public_key(), "il-gw-1", 9, leaves[0], 1, 5,
                                 batch->paths[1], batch->signature, &v)
                   .ok())
      << "a leaf at another's position gives another root: refused despite the memory";
}

INSTANTIATE_TEST_SUITE_P(Suites, VerifyCacheTest,
                         ::testing::Values(SuiteId::modern, SuiteId::cnsa),
                         [](const auto& info) { return std::string(suite_name(info.param)); });

}  // namespace
}  // namespace cg::crypto
