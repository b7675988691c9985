#include "crypto/fixed.h"

#include <sodium.h>

#include "crypto/secret.h"
#include "gateway/common/assert.h"

namespace cg::crypto {

void blake2b(std::span<const Bytes> parts, std::span<std::uint8_t> out, Bytes key) {
  ensure_sodium();
  CG_ASSERT(out.size() >= crypto_generichash_BYTES_MIN &&
            out.size() <= crypto_generichash_BYTES_MAX);
  CG_ASSERT(key.empty() || (key.size() >= crypto_generichash_KEYBYTES_MIN &&
                            key.size() <= crypto_generichash_KEYBYTES_MAX));
  crypto_generichash_state st;
  crypto_generichash_init(&st, key.empty() ? nullptr : key.data(), key.size(), out.size());
  for (const Bytes p : parts) crypto_generichash_update(&st, p.data(), p.size());
  crypto_generichash_final(&st, out.data(), out.size());
}

void random_bytes(std::span<std::uint8_t> out) {
  ensure_sodium();
  randombytes_buf(out.data(), out.size());
}

void wipe(std::span<std::uint8_t> bytes) { sodium_memzero(bytes.data(), bytes.size()); }

}  // namespace cg::crypto
