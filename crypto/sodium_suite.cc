// The `modern` and `modern_aes` suites on libsodium.
#include <sodium.h>

#include <algorithm>
#include <cstring>

#include "crypto/suite_impl.h"

namespace cg::crypto {
namespace {

class Ed25519Key final : public SigningKey {
 public:
  Ed25519Key(SuiteId suite, Secret seed)
      : suite_(suite), seed_(std::move(seed)), sk_(crypto_sign_SECRETKEYBYTES) {
    public_.resize(crypto_sign_PUBLICKEYBYTES);
    crypto_sign_seed_keypair(public_.data(), sk_.bytes().data(), seed_.bytes().data());
  }
  SuiteId suite() const override { return suite_; }
  const std::vector<std::uint8_t>& public_key() const override { return public_; }
  Status sign(Bytes message, std::span<std::uint8_t> out) const override {
    if (out.size() != crypto_sign_BYTES) return malformed("ed25519: signature buffer size");
    crypto_sign_detached(out.data(), nullptr, message.data(), message.size(), sk_.bytes().data());
    return {};
  }
  const Secret& private_bytes() const override { return seed_; }

 private:
  SuiteId suite_;
  Secret seed_;
  Secret sk_;
  std::vector<std::uint8_t> public_;
};

class X25519Key final : public AgreementKey {
 public:
  X25519Key(SuiteId suite, Secret scalar) : suite_(suite), scalar_(std::move(scalar)) {
    public_.resize(crypto_scalarmult_BYTES);
    crypto_scalarmult_base(public_.data(), scalar_.bytes().data());
  }
  SuiteId suite() const override { return suite_; }
  const std::vector<std::uint8_t>& public_key() const override { return public_; }
  Result<Secret> agree(Bytes peer) const override {
    if (peer.size() != crypto_scalarmult_BYTES)
      return malformed("x25519: public key must be 32 bytes");
    Secret shared(crypto_scalarmult_BYTES);
    // libsodium refuses (returns -1) when the result is all zeros: a low-order peer key.
    if (crypto_scalarmult(shared.bytes().data(), scalar_.bytes().data(), peer.data()) != 0) {
      return malformed("x25519: peer public key has low order");
    }
    return shared;
  }
  const Secret& private_bytes() const override { return scalar_; }

 private:
  SuiteId suite_;
  Secret scalar_;
  std::vector<std::uint8_t> public_;
};

class SodiumSuite final : public Suite {
 public:
  explicit SodiumSuite(SuiteId id) : id_(id) {}
  SuiteId id() const override { return id_; }
  std::size_t hash_bytes() const override { return 32; }
  std::size_t signature_bytes() const override { return crypto_sign_BYTES; }
  std::size_t signing_public_bytes() const override { return crypto_sign_PUBLICKEYBYTES; }
  std::size_t agreement_public_bytes() const override { return crypto_scalarmult_BYTES; }
  std::size_t nonce_bytes() const override {
    return aes() ? crypto_aead_aes256gcm_NPUBBYTES : crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  }

  void hash(std::span<const Bytes> parts, std::span<std::uint8_t> out) const override {
    CG_ASSERT(out.size() == 32);
    crypto_generichash_state st;
    crypto_generichash_init(&st, nullptr, 0, out.size());
    for (const auto& p : parts) crypto_generichash_update(&st, p.data(), p.size());
    crypto_generichash_final(&st, out.data(), out.size());
  }

  std::unique_ptr<SigningKey> generate_signing_key() const override {
    return std::make_unique<Ed25519Key>(id_, Secret::random(crypto_sign_SEEDBYTES));
  }
  Result<std::unique_ptr<SigningKey>> load_signing_key(const Secret& bytes) const override {
    if (bytes.size() != crypto_sign_SEEDBYTES)
      return malformed("ed25519: private key must be 32 bytes");
    return std::unique_ptr<SigningKey>(
        std::make_unique<Ed25519Key>(id_, Secret::copy_of(bytes.bytes())));
  }
  Status verify(Bytes pub, Bytes message, Bytes sig) const override {
    if (pub.size() != crypto_sign_PUBLICKEYBYTES || sig.size() != crypto_sign_BYTES) {
      return unauthenticated("ed25519: wrong key or signature size");
    }
    if (crypto_sign_verify_detached(sig.data(), message.data(), message.size(), pub.data()) != 0) {
      return unauthenticated("ed25519: signature does not verify");
    }
    return {};
  }

  std::unique_ptr<AgreementKey> generate_agreement_key() const override {
    return std::make_unique<X25519Key>(id_, Secret::random(crypto_scalarmult_SCALARBYTES));
  }
  Result<std::unique_ptr<AgreementKey>> load_agreement_key(const Secret& bytes) const override {
    if (bytes.size() != crypto_scalarmult_SCALARBYTES)
      return malformed("x25519: private key must be 32 bytes");
    return std::unique_ptr<AgreementKey>(
        std::make_unique<X25519Key>(id_, Secret::copy_of(bytes.bytes())));
  }

  Status seal(const Secret& key, Bytes nonce, Bytes ad, Bytes plaintext,
              std::vector<std::uint8_t>& out) const override {
    if (key.size() != aead_key_bytes || nonce.size() != nonce_bytes()) {
      return malformed("aead: wrong key or nonce size");
    }
    const std::size_t at = out.size();
    out.resize(at + plaintext.size() + aead_tag_bytes);
    unsigned long long len = 0;
    if (aes()) {
      crypto_aead_aes256gcm_encrypt(out.data() + at, &len, plaintext.data(), plaintext.size(),
                                    ad.data(), ad.size(), nullptr, nonce.data(),
                                    key.bytes().data());
    } else {
      crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + at, &len, plaintext.data(),
                                                 plaintext.size(), ad.data(), ad.size(), nullptr,
                                                 nonce.data(), key.bytes().data());
    }
    out.resize(at + len);
    return {};
  }
  Status open(const Secret& key, Bytes nonce, Bytes ad, Bytes ct,
              std::vector<std::uint8_t>& out) const override {
    out.clear();
    if (key.size() != aead_key_bytes || nonce.size() != nonce_bytes()) {
      return unauthenticated("aead: wrong key or nonce size");
    }
    if (ct.size() < aead_tag_bytes) return unauthenticated("aead: ciphertext shorter than its tag");
    out.resize(ct.size() - aead_tag_bytes);
    unsigned long long len = 0;
    const int rc = aes() ? crypto_aead_aes256gcm_decrypt(out.data(), &len, nullptr, ct.data(),
                                                         ct.size(), ad.data(), ad.size(),
                                                         nonce.data(), key.bytes().data())
                         : crypto_aead_xchacha20poly1305_ietf_decrypt(
                               out.data(), &len, nullptr, ct.data(), ct.size(), ad.data(),
                               ad.size(), nonce.data(), key.bytes().data());
    if (rc != 0) {
      sodium_memzero(out.data(), out.size());
      out.clear();
      return unauthenticated("aead: authentication failed");
    }
    out.resize(len);
    return {};
  }

  Result<std::unique_ptr<AeadKey>> prepare_aead(Secret key) const override {
    if (aes()) return sodium_gcm_prepare(std::move(key));
    return Suite::prepare_aead(std::move(key));
  }

  Result<Secret> hkdf(Bytes ikm, Bytes salt, Bytes info, std::size_t length) const override {
    return hkdf_sha256(ikm, salt, info, length);
  }

 private:
  bool aes() const { return id_ == SuiteId::modern_aes; }
  SuiteId id_;
};

}  // namespace

// RFC 5869 with HMAC-SHA-256 from libsodium (whose 1.0.18 has no HKDF of its own).
Result<Secret> hkdf_sha256(Bytes ikm, Bytes salt, Bytes info, std::size_t length) {
  constexpr std::size_t h = crypto_auth_hmacsha256_BYTES;
  if (length > 255 * h) return malformed("hkdf: output longer than 255 hash lengths");
  ensure_sodium();
  Secret prk(h);
  {
    const std::uint8_t zeros[h] = {};
    crypto_auth_hmacsha256_state st;
    if (salt.empty()) salt = Bytes(zeros, h);
    crypto_auth_hmacsha256_init(&st, salt.data(), salt.size());
    crypto_auth_hmacsha256_update(&st, ikm.data(), ikm.size());
    crypto_auth_hmacsha256_final(&st, prk.bytes().data());
    sodium_memzero(&st, sizeof st);
  }
  Secret okm(length);
  Secret t(h);
  std::size_t done = 0;
  for (std::uint8_t i = 1; done < length; ++i) {
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, prk.bytes().data(), h);
    if (i > 1) crypto_auth_hmacsha256_update(&st, t.bytes().data(), h);
    crypto_auth_hmacsha256_update(&st, info.data(), info.size());
    crypto_auth_hmacsha256_update(&st, &i, 1);
    crypto_auth_hmacsha256_final(&st, t.bytes().data());
    sodium_memzero(&st, sizeof st);
    const std::size_t n = std::min(h, length - done);
    std::memcpy(okm.bytes().data() + done, t.bytes().data(), n);
    done += n;
  }
  return okm;
}

bool sodium_gcm_available() {
  ensure_sodium();
  return crypto_aead_aes256gcm_is_available() != 0;
}

Status sodium_gcm_seal(const Secret& key, Bytes nonce, Bytes ad, Bytes plaintext,
                       std::vector<std::uint8_t>& out) {
  if (key.size() != crypto_aead_aes256gcm_KEYBYTES ||
      nonce.size() != crypto_aead_aes256gcm_NPUBBYTES) {
    return malformed("aead: wrong key or nonce size");
  }
  const std::size_t at = out.size();
  out.resize(at + plaintext.size() + crypto_aead_aes256gcm_ABYTES);
  unsigned long long len = 0;
  crypto_aead_aes256gcm_encrypt(out.data() + at, &len, plaintext.data(), plaintext.size(),
                                ad.data(), ad.size(), nullptr, nonce.data(), key.bytes().data());
  out.resize(at + len);
  return {};
}

Status sodium_gcm_open(const Secret& key, Bytes nonce, Bytes ad, Bytes ct,
                       std::vector<std::uint8_t>& out) {
  out.clear();
  if (key.size() != crypto_aead_aes256gcm_KEYBYTES ||
      nonce.size() != crypto_aead_aes256gcm_NPUBBYTES) {
    return unauthenticated("aead: wrong key or nonce size");
  }
  if (ct.size() < crypto_aead_aes256gcm_ABYTES)
    return unauthenticated("aead: ciphertext shorter than its tag");
  out.resize(ct.size() - crypto_aead_aes256gcm_ABYTES);
  unsigned long long len = 0;
  if (crypto_aead_aes256gcm_decrypt(out.data(), &len, nullptr, ct.data(), ct.size(), ad.data(),
                                    ad.size(), nonce.data(), key.bytes().data()) != 0) {
    sodium_memzero(out.data(), out.size());
    out.clear();
    return unauthenticated("aead: authentication failed");
  }
  out.resize(len);
  return {};
}

namespace {

// The expanded key in a Secret: sodium_malloc'd (locked, guarded, wiped when freed) and, its
// size being a multiple of 16, as aligned as the state must be.
class PreparedGcm final : public AeadKey {
 public:
  PreparedGcm() : state_(sizeof(crypto_aead_aes256gcm_state)) {
    CG_ASSERT(reinterpret_cast<std::uintptr_t>(state_.bytes().data()) % 16 == 0);
  }
  crypto_aead_aes256gcm_state* state() {
    return reinterpret_cast<crypto_aead_aes256gcm_state*>(state_.bytes().data());
  }
  const crypto_aead_aes256gcm_state* state() const {
    return reinterpret_cast<const crypto_aead_aes256gcm_state*>(state_.bytes().data());
  }

  Status seal(Bytes nonce, Bytes ad, Bytes plaintext,
              std::vector<std::uint8_t>& out) const override {
    if (nonce.size() != crypto_aead_aes256gcm_NPUBBYTES) return malformed("aead: wrong nonce size");
    const std::size_t at = out.size();
    out.resize(at + plaintext.size() + crypto_aead_aes256gcm_ABYTES);
    unsigned long long len = 0;
    crypto_aead_aes256gcm_encrypt_afternm(out.data() + at, &len, plaintext.data(), plaintext.size(),
                                          ad.data(), ad.size(), nullptr, nonce.data(), state());
    out.resize(at + len);
    return {};
  }
  Status open(Bytes nonce, Bytes ad, Bytes ct, std::vector<std::uint8_t>& out) const override {
    out.clear();
    if (nonce.size() != crypto_aead_aes256gcm_NPUBBYTES)
      return unauthenticated("aead: wrong key or nonce size");
    if (ct.size() < crypto_aead_aes256gcm_ABYTES)
      return unauthenticated("aead: ciphertext shorter than its tag");
    out.resize(ct.size() - crypto_aead_aes256gcm_ABYTES);
    unsigned long long len = 0;
    if (crypto_aead_aes256gcm_decrypt_afternm(out.data(), &len, nullptr, ct.data(), ct.size(),
                                              ad.data(), ad.size(), nonce.data(), state()) != 0) {
      sodium_memzero(out.data(), out.size());
      out.clear();
      return unauthenticated("aead: authentication failed");
    }
    out.resize(len);
    return {};
  }

 private:
  Secret state_;
};

}  // namespace

Result<std::unique_ptr<AeadKey>> sodium_gcm_prepare(Secret key) {
  if (key.size() != crypto_aead_aes256gcm_KEYBYTES) return malformed("aead: wrong key size");
  auto prepared = std::make_unique<PreparedGcm>();
  crypto_aead_aes256gcm_beforenm(prepared->state(), key.bytes().data());
  return std::unique_ptr<AeadKey>(std::move(prepared));  // `key` is wiped as it goes
}

const Suite& modern_suite() {
  ensure_sodium();
  static const SodiumSuite s(SuiteId::modern);
  return s;
}

const Suite* modern_aes_suite() {
  ensure_sodium();
  static const SodiumSuite s(SuiteId::modern_aes);
  return crypto_aead_aes256gcm_is_available() ? &s : nullptr;
}

}  // namespace cg::crypto
