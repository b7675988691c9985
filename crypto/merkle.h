// crypto/merkle.h: RFC 9162 Merkle trees — batch signatures at the origin and the relay's
// transparency-log proofs checked by receivers.
//
// Hashing (RFC 9162 §2.1.1): leaf = H(0x00 || data), node = H(0x01 || left || right), so a
// leaf can never be passed off as an interior node. H is the deployment suite's hash (BLAKE2b-256
// or SHA-384; SHA-256 for the RFC's own test vectors).
//
// Batch signatures: the origin hashes every envelope of a batch into a leaf, signs the batch's
// root once (batch_root_message), and gives each envelope its audit path, so one envelope can be
// verified alone. A batch of one is a tree of one leaf whose root is that leaf: one signature,
// no path — an urgent item never waits for others.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "crypto/suite.h"
#include "crypto/verify_cache.h"

namespace cg::crypto {

using Hash = std::vector<std::uint8_t>;

// A hash function over the concatenation of `parts`, writing `size` bytes into `out`.
struct Hasher {
  std::size_t size = 0;
  std::function<void(std::span<const Bytes> parts, std::span<std::uint8_t> out)> hash;
};
Hasher hasher_of(const Suite& suite);

Hash leaf_hash(const Hasher& h, Bytes data);
// Leaf hash of the concatenation of `parts` (no copy of large data).
Hash leaf_hash_parts(const Hasher& h, std::span<const Bytes> parts);
Hash node_hash(const Hasher& h, Bytes left, Bytes right);
// The hash of the empty tree: H("").
Hash empty_root(const Hasher& h);

// MTH over leaf hashes (RFC 9162 §2.1.1); the empty tree's root for no leaves.
Hash root_of(const Hasher& h, std::span<const Hash> leaves);
// The audit path of leaves[index] (RFC 9162 §2.1.3.1), bottom-up.
std::vector<Hash> audit_path(const Hasher& h, std::span<const Hash> leaves, std::size_t index);

// RFC 9162 §2.1.3.2: true when `path` proves `leaf` is at `index` in the tree of `size`
// leaves whose root is `root`.
bool verify_inclusion(const Hasher& h, Bytes leaf, std::uint64_t index, std::uint64_t size,
                      std::span<const Hash> path, Bytes root);
// RFC 9162 §2.1.4.2: true when `proof` shows the tree of `first` leaves (root `first_root`)
// is a prefix of the tree of `second` leaves (root `second_root`).
bool verify_consistency(const Hasher& h, std::uint64_t first, std::uint64_t second,
                        Bytes first_root, Bytes second_root, std::span<const Hash> proof);

// The bytes an origin signs for one batch:
//   "cellgate batch root v1" 0x00 || u8 suite || u8 len || origin || u64 batch id ||
//   u32 tree size || root                                    (integers little-endian)
std::vector<std::uint8_t> batch_root_message(SuiteId suite, std::string_view origin,
                                             std::uint64_t batch_id, std::uint32_t tree_size,
                                             Bytes root);

// Every level of the tree over `leaves` (level 0 = the leaves), built once in O(n): a node
// without a right sibling is carried up unchanged, which gives exactly RFC 9162's MTH.
std::vector<std::vector<Hash>> tree_levels(const Hasher& h, std::span<const Hash> leaves);
// The audit path of leaf `index` read off the levels (same result as audit_path).
std::vector<Hash> path_from_levels(const std::vector<std::vector<Hash>>& levels, std::size_t index);

// One signed batch: its root, the root's signature, and every leaf's audit path.
struct SignedBatch {
  Hash root;
  std::vector<std::uint8_t> signature;
  std::vector<std::vector<Hash>> paths;  // paths[i] for leaves[i]
};
// Builds the tree over `leaves` (1..limits::batch_items_max leaf hashes) and signs its root.
Result<SignedBatch> sign_batch(const Suite& suite, const SigningKey& key, std::string_view origin,
                               std::uint64_t batch_id, std::span<const Hash> leaves);
// Verifies one item of a batch alone: its leaf hash, position, path and the root signature.
// With `verified`, a root signature that verified before is not checked again (the path
// always is). Errors: unauthenticated (saying whether the path or the signature failed).
Status verify_batch_item(const Suite& suite, Bytes public_key, std::string_view origin,
                         std::uint64_t batch_id, Bytes leaf, std::uint32_t index,
                         std::uint32_t tree_size, std::span<const Hash> path, Bytes signature,
                         VerifiedSignatures* verified = nullptr);

}  // namespace cg::crypto
