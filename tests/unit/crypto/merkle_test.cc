// Merkle trees against the Certificate Transparency reference tree (SHA-256), and batch
// signatures in both suites: one item verifies alone; any change to it, its path, its
// position, the batch or the origin is refused.
#include "crypto/merkle.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include "gateway/common/hex.h"

namespace cg::crypto {
namespace {

Hasher sha256() {
  return {crypto_hash_sha256_BYTES, [](std::span<const Bytes> parts, std::span<std::uint8_t> out) {
            crypto_hash_sha256_state st;
            crypto_hash_sha256_init(&st);
            for (const auto& p : parts) crypto_hash_sha256_update(&st, p.data(), p.size());
            crypto_hash_sha256_final(&st, out.data());
          }};
}

const char* kLeaves[] = {"",
                         "00",
                         "10",
                         "2021",
                         "3031",
                         "40414243",
                         "5051525354555657",
                         "606162636465666768696a6b6c6d6e6f"};

std::vector<Hash> reference_leaves(const Hasher& h, std::size_t n) {
  std::vector<Hash> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(leaf_hash(h, *from_hex(kLeaves[i])));
  return out;
}

TEST(Merkle, KnownAnswersFromTheReferenceTree) {
  const Hasher h = sha256();
  EXPECT_EQ(to_hex(root_of(h, {})),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(root_of(h, reference_leaves(h, 1))),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(to_hex(root_of(h, reference_leaves(h, 5))),
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4");
  const auto leaves = reference_leaves(h, 8);
  const auto root = root_of(h, leaves);
  EXPECT_EQ(to_hex(root), "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
  const auto p5 = audit_path(h, leaves, 5);
  ASSERT_EQ(p5.size(), 3u);
  EXPECT_EQ(to_hex(p5[0]), "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b");
  EXPECT_EQ(to_hex(p5[1]), "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0");
  EXPECT_EQ(to_hex(p5[2]), "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7");
  for (std::size_t n = 1; n <= 8; ++n) {
    const auto l = reference_leaves(h, n);
    const auto r = root_of(h, l);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_TRUE(verify_inclusion(h, l[i], i, n, audit_path(h, l, i), r)) << i << "/" << n;
      EXPECT_FALSE(verify_inclusion(h, l[(i + 1) % n], i, n, audit_path(h, l, i), r) && n > 1);
    }
  }
}

TEST(Merkle, LevelsGiveTheSameRootsAndPathsAsTheRecursiveDefinition) {
  const Hasher h = sha256();
  for (std::size_t n = 1; n <= 70; ++n) {
    std::vector<Hash> leaves;
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint8_t d[2] = {static_cast<std::uint8_t>(i), 7};
      leaves.push_back(leaf_hash(h, d));
    }
    const auto levels = tree_levels(h, leaves);
    ASSERT_EQ(levels.back().size(), 1u);
    ASSERT_EQ(levels.back()[0], root_of(h, leaves)) << n;
    for (std::size_t i = 0; i < n; ++i)
      ASSERT_EQ(path_from_levels(levels, i), audit_path(h, leaves, i)) << i << "/" << n;
  }
}

TEST(Merkle, LeavesAndNodesAreDomainSeparated) {
  const Hasher h = sha256();
  const auto a = leaf_hash(h, *from_hex("00")), b = leaf_hash(h, *from_hex("10"));
  std::vector<std::uint8_t> concat(a);
  concat.insert(concat.end(), b.begin(), b.end());
  EXPECT_NE(leaf_hash(h, concat), node_hash(h, a, b));
}

class BatchTest : public ::testing::TestWithParam<SuiteId> {
 protected:
  const Suite& suite() { return **crypto::suite(GetParam()); }
};

std::vector<Hash> leaves_of(const Suite& s, std::size_t n) {
  const Hasher h = hasher_of(s);
  std::vector<Hash> out;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t d[2] = {static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i >> 8)};
    out.push_back(leaf_hash(h, d));
  }
  return out;
}

TEST_P(BatchTest, EveryItemVerifiesAloneAndTamperingIsRefused) {
  const Suite& s = suite();
  auto key = s.generate_signing_key();
  for (std::size_t n : {1u, 2u, 3u, 16u, 17u}) {
    const auto leaves = leaves_of(s, n);
    auto batch = sign_batch(s, *key, "il-gw-1", 42, leaves);
    ASSERT_TRUE(batch.ok()) << batch.status().reason();
    if (n == 1) {
      EXPECT_TRUE(batch->paths[0].empty());
      EXPECT_EQ(batch->root, leaves[0]) << "a batch of one is a plain signature over the leaf";
    }
    const auto tree = static_cast<std::uint32_t>(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      const auto& path = batch->paths[i];
      EXPECT_TRUE(verify_batch_item(s, key->public_key(), "il-gw-1", 42, leaves[i], i, tree, path,
                                    batch->signature)
                      .ok());
      // Another leaf in this position, another position, another batch, another origin.
      EXPECT_FALSE(verify_batch_item(s, key->public_key(), "il-gw-1", 42, leaves[(i + 1) % n], i,
                                     tree, path, batch->signature)
                       .ok() &&
                   n > 1);
      EXPECT_FALSE(verify_batch_item(s, key->public_key(), "il-gw-1", 43, leaves[i], i, tree, path,
                                     batch->signature)
                       .ok());
      EXPECT_FALSE(verify_batch_item(s, key->public_key(), "il-gw-2", 42, leaves[i], i, tree, path,
                                     batch->signature)
                       .ok());
      if (n > 1) {
        EXPECT_FALSE(verify_batch_item(s, key->public_key(), "il-gw-1", 42, leaves[i],
                                       (i + 1) % tree, tree, path, batch->signature)
                         .ok());
      }
      // A flipped bit anywhere in the path.
      for (std::size_t p = 0; p < path.size(); ++p) {
        auto bad = path;
        bad[p][p % bad[p].size()] ^= 0x80;
        EXPECT_FALSE(verify_batch_item(s, key->public_key(), "il-gw-1", 42, leaves[i], i, tree, bad,
                                       batch->signature)
                         .ok());
      }
    }
  }
  auto other = s.generate_signing_key();
  const auto leaves = leaves_of(s, 4);
  auto batch = *sign_batch(s, *key, "il-gw-1", 1, leaves);
  auto st = verify_batch_item(s, other->public_key(), "il-gw-1", 1, leaves[0], 0, 4, batch.paths[0],
                              batch.signature);
  EXPECT_EQ(st.code(), Code::unauthenticated);
  EXPECT_NE(st.reason().find("root signature"), std::string::npos);
}

TEST_P(BatchTest, BoundsAreChecked) {
  const Suite& s = suite();
  auto key = s.generate_signing_key();
  EXPECT_EQ(sign_batch(s, *key, "o", 1, {}).status().code(), Code::malformed);
  const auto leaves = leaves_of(s, 2);
  auto batch = *sign_batch(s, *key, "o", 1, leaves);
  EXPECT_FALSE(verify_batch_item(s, key->public_key(), "o", 1, leaves[0], 2, 2, batch.paths[0],
                                 batch.signature)
                   .ok());
  EXPECT_FALSE(verify_batch_item(s, key->public_key(), "o", 1, leaves[0], 0, 0, batch.paths[0],
                                 batch.signature)
                   .ok());
}

INSTANTIATE_TEST_SUITE_P(Suites, BatchTest, ::testing::Values(SuiteId::modern, SuiteId::cnsa),
                         [](const auto& info) { return std::string(suite_name(info.param)); });

}  // namespace
}  // namespace cg::crypto
