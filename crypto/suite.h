// crypto/suite.h: everything cellgate signs, verifies, seals, opens, hashes and agrees, behind
// one small interface with complete implementations per suite (DESIGN.md "Crypto"):
//
//   modern      (libsodium) Ed25519, X25519, XChaCha20-Poly1305, BLAKE2b-256, HKDF-SHA-256
//   modern_aes  (libsodium) as modern with AES-256-GCM (only where the CPU has AES-NI+PCLMUL)
//   cnsa        (Botan 2)   ECDSA P-384/SHA-384 (IEEE P1363 r||s), ECDH P-384, AES-256-GCM,
//                           SHA-384, HKDF-SHA-384
//
// Suite ids equal schemas/envelope.capnp `Suite`. A deployment picks one suite; keys and
// envelopes name theirs, and a key of another suite is refused, never coerced.
//
// Errors: verification and opening failures are Code::unauthenticated and release nothing (the
// output buffer is wiped); malformed keys and inputs are Code::malformed. No exception leaves
// this module (Botan's are caught at the boundary).
//
// Thread-safety: a Suite is stateless and shared; SigningKey / AgreementKey are immutable
// after creation and may be used from several threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "crypto/secret.h"
#include "gateway/common/status.h"

namespace cg::crypto {

using Bytes = std::span<const std::uint8_t>;

enum class SuiteId : std::uint8_t { modern = 1, modern_aes = 2, cnsa = 3 };
std::string_view suite_name(SuiteId id);
Result<SuiteId> suite_from_name(std::string_view name);

// The longest hash, signature and public key of any suite (buffers sized once).
inline constexpr std::size_t hash_bytes_max = 48;
inline constexpr std::size_t signature_bytes_max = 96;
inline constexpr std::size_t public_key_bytes_max = 97;
inline constexpr std::size_t aead_key_bytes = 32;
inline constexpr std::size_t aead_tag_bytes = 16;

class SigningKey {
 public:
  virtual ~SigningKey() = default;
  virtual SuiteId suite() const = 0;
  virtual const std::vector<std::uint8_t>& public_key() const = 0;
  // Writes the signature of `message` into `out` (signature_bytes() long).
  virtual Status sign(Bytes message, std::span<std::uint8_t> out) const = 0;
  // The private key's bytes, for writing a key file (crypto/keys.h). Never log them.
  virtual const Secret& private_bytes() const = 0;
};

class AgreementKey {
 public:
  virtual ~AgreementKey() = default;
  virtual SuiteId suite() const = 0;
  virtual const std::vector<std::uint8_t>& public_key() const = 0;
  // The shared secret with `peer_public`. Refuses invalid or low-order peer keys and an
  // all-zero result. Errors: malformed.
  virtual Result<Secret> agree(Bytes peer_public) const = 0;
  virtual const Secret& private_bytes() const = 0;
};

// An AEAD key made ready once for many messages: for AES-256-GCM the expanded key schedule and
// GHASH table (libsodium's crypto_aead_aes256gcm_beforenm), which costs about as much as
// sealing a 1 KiB item; for XChaCha20-Poly1305 just the key. An epoch key keeps one for its
// life. The state lives in locked memory and is wiped when the AeadKey dies.
// Thread-safety: seal and open are const and may run concurrently.
class AeadKey {
 public:
  virtual ~AeadKey() = default;
  // As Suite::seal and Suite::open, under this key.
  virtual Status seal(Bytes nonce, Bytes ad, Bytes plaintext,
                      std::vector<std::uint8_t>& out) const = 0;
  virtual Status open(Bytes nonce, Bytes ad, Bytes ciphertext,
                      std::vector<std::uint8_t>& out) const = 0;
};

class Suite {
 public:
  virtual ~Suite() = default;
  virtual SuiteId id() const = 0;

  virtual std::size_t hash_bytes() const = 0;       // 32 (BLAKE2b-256) or 48 (SHA-384)
  virtual std::size_t signature_bytes() const = 0;  // 64 or 96
  virtual std::size_t signing_public_bytes() const = 0;
  virtual std::size_t agreement_public_bytes() const = 0;
  virtual std::size_t nonce_bytes() const = 0;  // 24 (XChaCha20) or 12 (GCM)

  // --- Hashing ---
  // hash(part0 || part1 || ...) into out (hash_bytes() long).
  virtual void hash(std::span<const Bytes> parts, std::span<std::uint8_t> out) const = 0;
  std::vector<std::uint8_t> hash(Bytes data) const;

  // --- Signatures ---
  virtual std::unique_ptr<SigningKey> generate_signing_key() const = 0;
  // Errors: malformed (wrong size or not a valid private key of this suite).
  virtual Result<std::unique_ptr<SigningKey>> load_signing_key(
      const Secret& private_bytes) const = 0;
  // ok or unauthenticated. Malformed public keys and signatures are unauthenticated too.
  virtual Status verify(Bytes public_key, Bytes message, Bytes signature) const = 0;

  // --- Key agreement ---
  virtual std::unique_ptr<AgreementKey> generate_agreement_key() const = 0;
  virtual Result<std::unique_ptr<AgreementKey>> load_agreement_key(
      const Secret& private_bytes) const = 0;

  // --- AEAD (key aead_key_bytes, nonce nonce_bytes(), tag aead_tag_bytes appended) ---
  // Appends ciphertext||tag to `out`. Errors: malformed (sizes).
  virtual Status seal(const Secret& key, Bytes nonce, Bytes ad, Bytes plaintext,
                      std::vector<std::uint8_t>& out) const = 0;
  // Replaces `out` with the plaintext. Errors: unauthenticated (out left empty).
  virtual Status open(const Secret& key, Bytes nonce, Bytes ad, Bytes ciphertext,
                      std::vector<std::uint8_t>& out) const = 0;
  // `key` made ready for many seals and opens (it is consumed: wiped here or kept in the
  // result). Errors: malformed (key size).
  virtual Result<std::unique_ptr<AeadKey>> prepare_aead(Secret key) const;

  // --- HKDF (RFC 5869) with the suite's hash (SHA-256 for modern, SHA-384 for cnsa) ---
  // Errors: malformed when `length` exceeds 255 hash lengths.
  virtual Result<Secret> hkdf(Bytes ikm, Bytes salt, Bytes info, std::size_t length) const = 0;
};

// The suite with this id. Errors: rejected when modern_aes is asked for on a CPU without
// AES-NI (libsodium refuses it there), malformed for an unknown id.
Result<const Suite*> suite(SuiteId id);
// Shorthand for suites that always exist (modern, cnsa).
const Suite& modern_suite();
const Suite& cnsa_suite();

// The key id of a public key: the first 16 bytes of BLAKE2b-256("cellgate key id v1" || suite
// || public key). The same function for every suite, so ids never collide across suites.
std::vector<std::uint8_t> key_id(SuiteId suite, Bytes public_key);
inline constexpr std::size_t key_id_bytes = 16;

}  // namespace cg::crypto
