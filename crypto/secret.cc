#include "crypto/secret.h"

#include <sodium.h>

#include <cstring>
#include <utility>

#include "gateway/common/assert.h"

namespace cg::crypto {

void ensure_sodium() {
  // sodium_init is thread-safe and returns 1 when already initialised.
  CG_ASSERT_MSG(sodium_init() >= 0, "libsodium failed to initialise");
}

Secret::Secret(std::size_t size) : size_(size) {
  ensure_sodium();
  // sodium_malloc(0) is valid but returns a distinct pointer; keep one allocation path.
  data_ = static_cast<std::uint8_t*>(sodium_malloc(size == 0 ? 1 : size));
  CG_ASSERT_MSG(data_ != nullptr, "sodium_malloc failed (RLIMIT_MEMLOCK too low?)");
  sodium_memzero(data_, size == 0 ? 1 : size);
}

Secret Secret::random(std::size_t size) {
  Secret s(size);
  randombytes_buf(s.data_, size);
  return s;
}

Secret Secret::copy_of(std::span<const std::uint8_t> bytes) {
  Secret s(bytes.size());
  if (!bytes.empty()) std::memcpy(s.data_, bytes.data(), bytes.size());
  return s;
}

Secret::~Secret() { release(); }

Secret::Secret(Secret&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void Secret::release() {
  if (data_ != nullptr) sodium_free(data_);  // wipes before unmapping
  data_ = nullptr;
  size_ = 0;
}

bool Secret::equals(const Secret& other) const { return ct_equal(bytes(), other.bytes()); }

bool ct_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace cg::crypto
