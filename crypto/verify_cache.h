// crypto/verify_cache.h: signatures already verified, so each is checked once per node.
//
// Every envelope of a batch carries the same root signature, and every envelope countersigned
// under one tree head carries the same head signature. Verifying them once per envelope made
// signature checks most of the relay's and receiver's work (an Ed25519 verification costs
// 50–60 µs; an ECDSA P-384 one about 1 ms). A VerifiedSignatures remembers the (public key,
// message, signature) triples that verified; the same triple again is accepted without the
// public-key operation. Verification is deterministic, so the answer is the one the suite would
// give; only successes are remembered, so a forgery is checked (and refused) every time.
//
// Entries are keyed BLAKE2b-256 digests of the length-prefixed triple (a random key per
// instance), held in a bounded FIFO. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <unordered_set>

#include "crypto/suite.h"
#include "gateway/common/mutex.h"

namespace cg::crypto {

class VerifiedSignatures final {
 public:
  explicit VerifiedSignatures(std::size_t capacity = 4096);

  // suite.verify(public_key, message, signature), unless this exact triple verified before.
  // Errors: those of Suite::verify.
  Status verify(const Suite& suite, Bytes public_key, Bytes message, Bytes signature);

  // Verifications answered from memory / by the suite (for metrics).
  const std::atomic<std::uint64_t>& hits() const { return hits_; }
  const std::atomic<std::uint64_t>& misses() const { return misses_; }

 private:
  using Digest = std::array<std::uint8_t, 32>;
  struct DigestHash {
    std::size_t operator()(const Digest& d) const noexcept;
  };
  Digest digest(SuiteId suite, Bytes public_key, Bytes message, Bytes signature) const;

  const std::size_t capacity_;
  std::array<std::uint8_t, 32> key_{};
  Mutex mu_;
  std::unordered_set<Digest, DigestHash> seen_ CG_GUARDED_BY(mu_);
  std::deque<Digest> order_ CG_GUARDED_BY(mu_);  // oldest first
  std::atomic<std::uint64_t> hits_{0}, misses_{0};
};

}  // namespace cg::crypto
