// Secret: key material in locked, guarded memory that is wiped when it dies (STYLE.md habit 6).
//
// Bytes live in sodium_malloc'd memory (guard pages before and after, mlock'd so they are not
// swapped out, wiped by sodium_free). A Secret is movable, never copyable, has no printing
// operator, and compares only in constant time. Thread-safety: like any value; a Secret may be
// read concurrently, not written concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <span>

namespace cg::crypto {

// Initialises libsodium once; idempotent and thread-safe. Aborts if the library cannot start
// (no usable randomness), because nothing secure can happen without it.
void ensure_sodium();

class Secret final {
 public:
  // `size` zero bytes. Aborts on allocation failure (locked memory exhausted is not an input
  // error but a deployment fault: raise RLIMIT_MEMLOCK).
  explicit Secret(std::size_t size);
  static Secret random(std::size_t size);
  static Secret copy_of(std::span<const std::uint8_t> bytes);

  ~Secret();
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  std::size_t size() const { return size_; }
  std::span<std::uint8_t> bytes() { return {data_, size_}; }
  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }

  // Constant-time equality of contents (false when sizes differ; sizes are not secret).
  bool equals(const Secret& other) const;

 private:
  void release();
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

// Secrets are never printed.
std::ostream& operator<<(std::ostream&, const Secret&) = delete;

// Constant-time comparison of two byte strings of equal length; false when lengths differ.
// Use for MACs, tags, key ids derived from secrets and anything an attacker could probe.
bool ct_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

}  // namespace cg::crypto
