#include "crypto/verify_cache.h"

#include <sodium.h>

#include <cstring>

namespace cg::crypto {
namespace {

void absorb(crypto_generichash_state& st, Bytes part) {
  std::uint8_t len[8];
  const std::uint64_t n = part.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<std::uint8_t>(n >> (8 * i));
  crypto_generichash_update(&st, len, sizeof len);
  crypto_generichash_update(&st, part.data(), part.size());
}

}  // namespace

VerifiedSignatures::VerifiedSignatures(std::size_t capacity) : capacity_(capacity ? capacity : 1) {
  ensure_sodium();
  randombytes_buf(key_.data(), key_.size());
}

std::size_t VerifiedSignatures::DigestHash::operator()(const Digest& d) const noexcept {
  std::size_t h;  // the digest is keyed and uniform: any 8 bytes of it are a good hash
  std::memcpy(&h, d.data(), sizeof h);
  return h;
}

VerifiedSignatures::Digest VerifiedSignatures::digest(SuiteId suite, Bytes public_key,
                                                      Bytes message, Bytes signature) const {
  crypto_generichash_state st;
  crypto_generichash_init(&st, key_.data(), key_.size(), 32);
  const std::uint8_t id = static_cast<std::uint8_t>(suite);
  crypto_generichash_update(&st, &id, 1);
  absorb(st, public_key);
  absorb(st, message);
  absorb(st, signature);
  Digest d;
  crypto_generichash_final(&st, d.data(), d.size());
  return d;
}

Status VerifiedSignatures::verify(const Suite& suite, Bytes public_key, Bytes message,
                                  Bytes signature) {
  const Digest d = digest(suite.id(), public_key, message, signature);
  {
    MutexLock lock(mu_);
    if (seen_.count(d)) {
      hits_.fetch_add(1, std::memory_order_relaxed);
      return {};
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  CG_RETURN_IF_ERROR(suite.verify(public_key, message, signature));
  MutexLock lock(mu_);
  if (seen_.insert(d).second) {
    order_.push_back(d);
    if (order_.size() > capacity_) {
      seen_.erase(order_.front());
      order_.pop_front();
    }
  }
  return {};
}

}  // namespace cg::crypto
