// gateway/translog: the relay's transparency log — an append-only Merkle tree after RFC 9162
// (Certificate Transparency 2.0), stored durably in the node's LMDB store.
//
// Leaves are hashed H(0x00 || data), interior nodes H(0x01 || left || right), with the
// deployment suite's hash (BLAKE2b-256 or SHA-384; SHA-256 in the RFC's test vectors). Every
// complete ("perfect") subtree's hash is stored when it completes, so appending costs O(1)
// amortised writes and the root of any past size, an inclusion proof, or a consistency proof
// between two sizes is assembled from O(log² n) stored hashes — the relay can prove to each
// party that the history it was shown is a prefix of the one the other was shown.
//
// Thread-safety: append() runs inside the caller's WriteTxn (one writer at a time); the
// read functions open their own read transaction and may run concurrently with a writer.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "crypto/merkle.h"
#include "gateway/common/status.h"
#include "gateway/store/store.h"

namespace cg::translog {

// RFC 9162 §2.1.1 hashing and proof verification live in crypto/merkle.h.
using crypto::Hash;
using crypto::Hasher;
using crypto::leaf_hash;
using crypto::node_hash;

class Log final {
 public:
  // Opens (creating) log `name` in `env` (which must outlive the log).
  static Result<Log> open(store::Env& env, const std::string& name, Hasher hasher);

  // Appends a leaf inside `txn`; returns its index (from 0). Errors: io, overloaded.
  Result<std::uint64_t> append(store::WriteTxn& txn, std::span<const std::uint8_t> leaf_data);

  Result<std::uint64_t> size() const;
  // MTH of the first `size` leaves (the empty-string hash for size 0). Errors: rejected when
  // `size` is beyond the log.
  Result<Hash> root(std::uint64_t size) const;
  // RFC 9162 §2.1.3.1 PATH(index, D[0:size]).
  Result<std::vector<Hash>> inclusion_proof(std::uint64_t index, std::uint64_t size) const;
  // RFC 9162 §2.1.4.1 PROOF(old_size, D[0:new_size]).
  Result<std::vector<Hash>> consistency_proof(std::uint64_t old_size, std::uint64_t new_size) const;
  // The stored leaf hash at `index`.
  Result<Hash> leaf(std::uint64_t index) const;

  const Hasher& hasher() const { return hasher_; }

 private:
  Log(store::Env* env, store::Table nodes, store::Table meta, Hasher hasher)
      : env_(env), nodes_(nodes), meta_(meta), hasher_(std::move(hasher)) {}
  store::Env* env_;
  store::Table nodes_, meta_;
  Hasher hasher_;
};

// Verification of these proofs is the verifier's business (crypto/merkle.h, used by the
// receivers); this module only builds them.

}  // namespace cg::translog
