// Internal to crypto/: the suite implementations' entry points.
#pragma once

#include "crypto/suite.h"
#include "gateway/common/assert.h"

namespace cg::crypto {

const Suite* modern_aes_suite();  // null without AES-NI
Result<Secret> hkdf_sha256(Bytes ikm, Bytes salt, Bytes info, std::size_t length);

// libsodium's AES-256-GCM (only where the CPU has AES-NI and PCLMUL).
bool sodium_gcm_available();
Status sodium_gcm_seal(const Secret& key, Bytes nonce, Bytes ad, Bytes plaintext,
                       std::vector<std::uint8_t>& out);
Status sodium_gcm_open(const Secret& key, Bytes nonce, Bytes ad, Bytes ciphertext,
                       std::vector<std::uint8_t>& out);
// The key expanded once (crypto_aead_aes256gcm_beforenm), in locked memory.
Result<std::unique_ptr<AeadKey>> sodium_gcm_prepare(Secret key);

// The cnsa suite with Botan's own AES-256-GCM even where libsodium's could be used.
const Suite& cnsa_suite_portable();

}  // namespace cg::crypto
