#include "gateway/translog/translog.h"

#include <bit>

namespace cg::translog {
namespace {

constexpr std::string_view kSize = "size";

std::vector<std::uint8_t> node_key(unsigned level, std::uint64_t index) {
  std::vector<std::uint8_t> k(9);
  k[0] = static_cast<std::uint8_t>(level);
  auto i = store::be64(index);
  std::copy(i.begin(), i.end(), k.begin() + 1);
  return k;
}

// Largest power of two strictly less than n (n ≥ 2).
std::uint64_t split(std::uint64_t n) { return std::bit_floor(n - 1); }

template <typename Txn>
Result<std::uint64_t> read_size(const Txn& txn, store::Table meta) {
  CG_ASSIGN_OR_RETURN(auto v, txn.get(meta, store::as_bytes(kSize)));
  if (!v) return std::uint64_t{0};
  auto n = store::from_be64(*v);
  if (!n) return io_error("translog: corrupt size");
  return *n;
}

template <typename Txn>
Result<Hash> stored(const Txn& txn, store::Table nodes, unsigned level, std::uint64_t index) {
  CG_ASSIGN_OR_RETURN(auto v, txn.get(nodes, node_key(level, index)));
  if (!v) {
    return io_error("translog: missing node " + std::to_string(level) + "/" +
                    std::to_string(index));
  }
  return Hash(v->begin(), v->end());
}

// MTH(D[start : start + count]), count ≥ 1.
Result<Hash> subtree(const store::ReadTxn& txn, store::Table nodes, const Hasher& h,
                     std::uint64_t start, std::uint64_t count) {
  if (std::has_single_bit(count) && start % count == 0) {
    return stored(txn, nodes, static_cast<unsigned>(std::countr_zero(count)), start / count);
  }
  const std::uint64_t k = split(count);
  CG_ASSIGN_OR_RETURN(Hash left, subtree(txn, nodes, h, start, k));
  CG_ASSIGN_OR_RETURN(Hash right, subtree(txn, nodes, h, start + k, count - k));
  return node_hash(h, left, right);
}

Status path(const store::ReadTxn& txn, store::Table nodes, const Hasher& h, std::uint64_t m,
            std::uint64_t start, std::uint64_t n, std::vector<Hash>& out) {
  if (n <= 1) return {};
  const std::uint64_t k = split(n);
  if (m < k) {
    CG_RETURN_IF_ERROR(path(txn, nodes, h, m, start, k, out));
    CG_ASSIGN_OR_RETURN(Hash sibling, subtree(txn, nodes, h, start + k, n - k));
    out.push_back(std::move(sibling));
  } else {
    CG_RETURN_IF_ERROR(path(txn, nodes, h, m - k, start + k, n - k, out));
    CG_ASSIGN_OR_RETURN(Hash sibling, subtree(txn, nodes, h, start, k));
    out.push_back(std::move(sibling));
  }
  return {};
}

Status subproof(const store::ReadTxn& txn, store::Table nodes, const Hasher& h, std::uint64_t m,
                std::uint64_t start, std::uint64_t n, bool whole, std::vector<Hash>& out) {
  if (m == n) {
    if (!whole) {
      CG_ASSIGN_OR_RETURN(Hash node, subtree(txn, nodes, h, start, n));
      out.push_back(std::move(node));
    }
    return {};
  }
  const std::uint64_t k = split(n);
  if (m <= k) {
    CG_RETURN_IF_ERROR(subproof(txn, nodes, h, m, start, k, whole, out));
    CG_ASSIGN_OR_RETURN(Hash right, subtree(txn, nodes, h, start + k, n - k));
    out.push_back(std::move(right));
  } else {
    CG_RETURN_IF_ERROR(subproof(txn, nodes, h, m - k, start + k, n - k, false, out));
    CG_ASSIGN_OR_RETURN(Hash left, subtree(txn, nodes, h, start, k));
    out.push_back(std::move(left));
  }
  return {};
}

}  // namespace

Result<Log> Log::open(store::Env& env, const std::string& name, Hasher hasher) {
  CG_ASSERT(hasher.size > 0 && hasher.hash);
  CG_ASSIGN_OR_RETURN(auto nodes, env.table(name + ".nodes"));
  CG_ASSIGN_OR_RETURN(auto meta, env.table(name + ".meta"));
  return Log(&env, nodes, meta, std::move(hasher));
}

Result<std::uint64_t> Log::append(store::WriteTxn& txn, std::span<const std::uint8_t> data) {
  CG_ASSIGN_OR_RETURN(std::uint64_t n, read_size(txn, meta_));
  Hash h = leaf_hash(hasher_, data);
  CG_RETURN_IF_ERROR(txn.put(nodes_, node_key(0, n), h));
  // Each level where this leaf completes a perfect subtree gets that subtree's hash.
  unsigned level = 0;
  for (std::uint64_t index = n; index % 2 == 1; index /= 2) {
    CG_ASSIGN_OR_RETURN(Hash left, stored(txn, nodes_, level, index - 1));
    h = node_hash(hasher_, left, h);
    ++level;
    CG_RETURN_IF_ERROR(txn.put(nodes_, node_key(level, index / 2), h));
  }
  CG_RETURN_IF_ERROR(txn.put(meta_, store::as_bytes(kSize), store::be64(n + 1)));
  return n;
}

Result<std::uint64_t> Log::size() const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  return read_size(txn, meta_);
}

Result<Hash> Log::root(std::uint64_t size) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  CG_ASSIGN_OR_RETURN(std::uint64_t n, read_size(txn, meta_));
  if (size > n) return rejected("translog: size " + std::to_string(size) + " beyond the log");
  if (size == 0) {
    return crypto::empty_root(hasher_);
  }
  return subtree(txn, nodes_, hasher_, 0, size);
}

Result<Hash> Log::leaf(std::uint64_t index) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  CG_ASSIGN_OR_RETURN(std::uint64_t n, read_size(txn, meta_));
  if (index >= n) return rejected("translog: no leaf " + std::to_string(index));
  return stored(txn, nodes_, 0, index);
}

Result<std::vector<Hash>> Log::inclusion_proof(std::uint64_t index, std::uint64_t size) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  CG_ASSIGN_OR_RETURN(std::uint64_t n, read_size(txn, meta_));
  if (size > n || index >= size) {
    return rejected("translog: no leaf " + std::to_string(index) + " in size " +
                    std::to_string(size));
  }
  std::vector<Hash> out;
  CG_RETURN_IF_ERROR(path(txn, nodes_, hasher_, index, 0, size, out));
  return out;
}

Result<std::vector<Hash>> Log::consistency_proof(std::uint64_t old_size,
                                                 std::uint64_t new_size) const {
  CG_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
  CG_ASSIGN_OR_RETURN(std::uint64_t n, read_size(txn, meta_));
  if (new_size > n || old_size > new_size) {
    return rejected("translog: no consistency proof from " + std::to_string(old_size) + " to " +
                    std::to_string(new_size));
  }
  std::vector<Hash> out;
  if (old_size == 0 || old_size == new_size) return out;  // nothing to prove (RFC 9162 §2.1.4)
  CG_RETURN_IF_ERROR(subproof(txn, nodes_, hasher_, old_size, 0, new_size, true, out));
  return out;
}

}  // namespace cg::translog
