#include "crypto/merkle.h"

#include <optional>

#include "gateway/common/byte_reader.h"
#include "gateway/common/limits.h"

namespace cg::crypto {

Hasher hasher_of(const Suite& suite) {
  return {suite.hash_bytes(), [&suite](std::span<const Bytes> parts, std::span<std::uint8_t> out) {
            suite.hash(parts, out);
          }};
}

Hash leaf_hash_parts(const Hasher& h, std::span<const Bytes> parts) {
  static constexpr std::uint8_t prefix = 0x00;
  std::vector<Bytes> all;
  all.reserve(parts.size() + 1);
  all.emplace_back(&prefix, 1);
  all.insert(all.end(), parts.begin(), parts.end());
  Hash out(h.size);
  h.hash(all, out);
  return out;
}

Hash leaf_hash(const Hasher& h, Bytes data) {
  const Bytes parts[] = {data};
  return leaf_hash_parts(h, parts);
}

Hash node_hash(const Hasher& h, Bytes left, Bytes right) {
  static constexpr std::uint8_t prefix = 0x01;
  const Bytes parts[] = {Bytes(&prefix, 1), left, right};
  Hash out(h.size);
  h.hash(parts, out);
  return out;
}

Hash empty_root(const Hasher& h) {
  Hash out(h.size);
  h.hash({}, out);
  return out;
}

namespace {
// Largest power of two strictly below n (n >= 2).
std::size_t split(std::size_t n) {
  std::size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
}  // namespace

Hash root_of(const Hasher& h, std::span<const Hash> leaves) {
  if (leaves.empty()) return empty_root(h);
  if (leaves.size() == 1) return leaves[0];
  const std::size_t k = split(leaves.size());
  return node_hash(h, root_of(h, leaves.first(k)), root_of(h, leaves.subspan(k)));
}

std::vector<Hash> audit_path(const Hasher& h, std::span<const Hash> leaves, std::size_t index) {
  std::vector<Hash> path;
  // Recursive definition (RFC 9162 §2.1.3.1), collected top-down then reversed.
  std::span<const Hash> d = leaves;
  std::size_t m = index;
  while (d.size() > 1) {
    const std::size_t k = split(d.size());
    if (m < k) {
      path.push_back(root_of(h, d.subspan(k)));
      d = d.first(k);
    } else {
      path.push_back(root_of(h, d.first(k)));
      d = d.subspan(k);
      m -= k;
    }
  }
  return {path.rbegin(), path.rend()};
}

std::vector<std::vector<Hash>> tree_levels(const Hasher& h, std::span<const Hash> leaves) {
  std::vector<std::vector<Hash>> levels;
  levels.emplace_back(leaves.begin(), leaves.end());
  while (levels.back().size() > 1) {
    const auto& below = levels.back();
    std::vector<Hash> up;
    up.reserve((below.size() + 1) / 2);
    for (std::size_t i = 0; i + 1 < below.size(); i += 2)
      up.push_back(node_hash(h, below[i], below[i + 1]));
    if (below.size() % 2 == 1) up.push_back(below.back());
    levels.push_back(std::move(up));
  }
  return levels;
}

std::vector<Hash> path_from_levels(const std::vector<std::vector<Hash>>& levels,
                                   std::size_t index) {
  std::vector<Hash> path;
  for (std::size_t level = 0; level + 1 < levels.size(); ++level) {
    const std::size_t sibling = index ^ 1;
    if (sibling < levels[level].size()) path.push_back(levels[level][sibling]);
    index >>= 1;
  }
  return path;
}

namespace {
// RFC 9162 §2.1.3.2's walk: the root that `path` gives for `leaf` at `index` of `size`
// leaves, or nullopt when the path has the wrong length or malformed hashes.
std::optional<Hash> root_from_path(const Hasher& h, Bytes leaf, std::uint64_t index,
                                   std::uint64_t size, std::span<const Hash> path) {
  if (index >= size || leaf.size() != h.size) return std::nullopt;
  std::uint64_t fn = index, sn = size - 1;
  Hash r(leaf.begin(), leaf.end());
  for (const Hash& p : path) {
    if (sn == 0 || p.size() != h.size) return std::nullopt;
    if ((fn & 1) || fn == sn) {
      r = node_hash(h, p, r);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = node_hash(h, r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return std::nullopt;
  return r;
}
}  // namespace

bool verify_inclusion(const Hasher& h, Bytes leaf, std::uint64_t index, std::uint64_t size,
                      std::span<const Hash> path, Bytes root) {
  if (root.size() != h.size) return false;
  const auto r = root_from_path(h, leaf, index, size, path);
  return r && ct_equal(*r, root);
}

bool verify_consistency(const Hasher& h, std::uint64_t first, std::uint64_t second,
                        Bytes first_root, Bytes second_root, std::span<const Hash> proof_in) {
  if (first_root.size() != h.size || second_root.size() != h.size) return false;
  if (first == second) return proof_in.empty() && ct_equal(first_root, second_root);
  if (first == 0 || first > second || proof_in.empty()) return false;
  std::vector<Hash> proof(proof_in.begin(), proof_in.end());
  for (const auto& p : proof) {
    if (p.size() != h.size) return false;
  }
  if ((first & (first - 1)) == 0)
    proof.insert(proof.begin(), Hash(first_root.begin(), first_root.end()));
  std::uint64_t fn = first - 1, sn = second - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash fr = proof[0], sr = proof[0];
  for (std::size_t i = 1; i < proof.size(); ++i) {
    const Hash& c = proof[i];
    if (sn == 0) return false;
    if ((fn & 1) || fn == sn) {
      fr = node_hash(h, c, fr);
      sr = node_hash(h, c, sr);
      if (!(fn & 1)) {
        while (fn != 0 && !(fn & 1)) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = node_hash(h, sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && ct_equal(fr, first_root) && ct_equal(sr, second_root);
}

std::vector<std::uint8_t> batch_root_message(SuiteId suite, std::string_view origin,
                                             std::uint64_t batch_id, std::uint32_t tree_size,
                                             Bytes root) {
  static constexpr std::string_view context = "cellgate batch root v1";
  std::vector<std::uint8_t> m(context.begin(), context.end());
  m.reserve(context.size() + 16 + origin.size() + root.size());
  ByteWriter w(m);
  w.u8(0);
  w.u8(static_cast<std::uint8_t>(suite));
  w.u8(static_cast<std::uint8_t>(origin.size()));
  w.bytes({reinterpret_cast<const std::uint8_t*>(origin.data()), origin.size()});
  w.u64(batch_id);
  w.u32(tree_size);
  w.bytes(root);
  return m;
}

Result<SignedBatch> sign_batch(const Suite& suite, const SigningKey& key, std::string_view origin,
                               std::uint64_t batch_id, std::span<const Hash> leaves) {
  if (leaves.empty() || leaves.size() > limits::batch_items_max) {
    return malformed("batch: 1.." + std::to_string(limits::batch_items_max) + " leaves");
  }
  if (origin.size() > 255) return malformed("batch: origin name too long");
  if (key.suite() != suite.id()) return malformed("batch: key of another suite");
  const Hasher h = hasher_of(suite);
  SignedBatch b;
  const auto levels = tree_levels(h, leaves);
  b.root = levels.back().front();
  b.paths.reserve(leaves.size());
  for (std::size_t i = 0; i < leaves.size(); ++i) b.paths.push_back(path_from_levels(levels, i));
  b.signature.resize(suite.signature_bytes());
  const auto msg = batch_root_message(suite.id(), origin, batch_id,
                                      static_cast<std::uint32_t>(leaves.size()), b.root);
  CG_RETURN_IF_ERROR(key.sign(msg, b.signature));
  return b;
}

Status verify_batch_item(const Suite& suite, Bytes public_key, std::string_view origin,
                         std::uint64_t batch_id, Bytes leaf, std::uint32_t index,
                         std::uint32_t tree_size, std::span<const Hash> path, Bytes signature,
                         VerifiedSignatures* verified) {
  if (tree_size == 0 || tree_size > limits::batch_items_max || index >= tree_size ||
      path.size() > limits::merkle_path_len_max || origin.size() > 255) {
    return unauthenticated("batch proof: position out of range");
  }
  const Hasher h = hasher_of(suite);
  // Recompute the root from the leaf and its path; a wrong path gives a root the signature
  // does not cover.
  const auto r = root_from_path(h, leaf, index, tree_size, path);
  if (!r) return unauthenticated("batch proof: path of the wrong length or malformed");
  const auto msg = batch_root_message(suite.id(), origin, batch_id, tree_size, *r);
  if (auto s = verified ? verified->verify(suite, public_key, msg, signature)
                        : suite.verify(public_key, msg, signature);
      !s.ok()) {
    return unauthenticated("batch proof: root signature does not verify (" + s.reason() + ")");
  }
  return {};
}

}  // namespace cg::crypto
