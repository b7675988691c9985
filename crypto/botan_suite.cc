// The `cnsa` suite on Botan 2: ECDSA P-384/SHA-384, ECDH P-384, AES-256-GCM, SHA-384,
// HKDF-SHA-384. Botan reports failures by throwing; every entry point catches and returns a
// Status, so no exception leaves this file.
#include <botan/aead.h>
#include <botan/auto_rng.h>
#include <botan/ec_group.h>
#include <botan/ecdh.h>
#include <botan/ecdsa.h>
#include <botan/hash.h>
#include <botan/kdf.h>
#include <botan/pubkey.h>

#include <cstring>

#include "crypto/suite_impl.h"

namespace cg::crypto {
namespace {

constexpr std::size_t scalar_bytes = 48;
constexpr std::size_t point_bytes = 97;  // uncompressed: 0x04 || x || y

Botan::RandomNumberGenerator& rng() {
  thread_local Botan::AutoSeeded_RNG r;
  return r;
}

const Botan::EC_Group& group() {
  static const Botan::EC_Group g("secp384r1");
  return g;
}

Secret scalar_of(const Botan::BigInt& x) {
  Secret s(scalar_bytes);
  const Botan::secure_vector<std::uint8_t> b = Botan::BigInt::encode_1363(x, scalar_bytes);
  std::memcpy(s.bytes().data(), b.data(), scalar_bytes);
  return s;
}

std::vector<std::uint8_t> point_of(const Botan::PointGFp& p) {
  return p.encode(Botan::PointGFp::UNCOMPRESSED);
}

// A private scalar in [1, n-1] from its 48 big-endian bytes. Errors: malformed.
Result<Botan::BigInt> load_scalar(const Secret& bytes) {
  if (bytes.size() != scalar_bytes) return malformed("P-384: private key must be 48 bytes");
  Botan::BigInt x(bytes.bytes().data(), bytes.size());
  if (x.is_zero() || x >= group().get_order()) return malformed("P-384: private key out of range");
  return x;
}

// One GCM object per thread and direction: creating one costs more than sealing a 1 KiB item.
// Its key is cleared after every use, so no key outlives the call in it.
Botan::AEAD_Mode& gcm(Botan::Cipher_Dir dir) {
  thread_local std::unique_ptr<Botan::AEAD_Mode> enc =
      Botan::AEAD_Mode::create_or_throw("AES-256/GCM", Botan::ENCRYPTION);
  thread_local std::unique_ptr<Botan::AEAD_Mode> dec =
      Botan::AEAD_Mode::create_or_throw("AES-256/GCM", Botan::DECRYPTION);
  return dir == Botan::ENCRYPTION ? *enc : *dec;
}

class EcdsaKey final : public SigningKey {
 public:
  explicit EcdsaKey(std::unique_ptr<Botan::ECDSA_PrivateKey> key)
      : key_(std::move(key)),
        scalar_(scalar_of(key_->private_value())),
        public_(point_of(key_->public_point())) {}
  SuiteId suite() const override { return SuiteId::cnsa; }
  const std::vector<std::uint8_t>& public_key() const override { return public_; }
  Status sign(Bytes message, std::span<std::uint8_t> out) const override {
    if (out.size() != 2 * scalar_bytes) return malformed("ecdsa: signature buffer size");
    try {
      Botan::PK_Signer signer(*key_, rng(), "EMSA1(SHA-384)", Botan::IEEE_1363);
      const auto sig = signer.sign_message(message.data(), message.size(), rng());
      if (sig.size() != out.size()) return io_error("ecdsa: unexpected signature size");
      std::memcpy(out.data(), sig.data(), sig.size());
      return {};
    } catch (const std::exception& e) {
      return io_error(std::string("ecdsa: signing failed: ") + e.what());
    }
  }
  const Secret& private_bytes() const override { return scalar_; }

 private:
  std::unique_ptr<Botan::ECDSA_PrivateKey> key_;
  Secret scalar_;
  std::vector<std::uint8_t> public_;
};

class EcdhKey final : public AgreementKey {
 public:
  explicit EcdhKey(std::unique_ptr<Botan::ECDH_PrivateKey> key)
      : key_(std::move(key)),
        scalar_(scalar_of(key_->private_value())),
        public_(point_of(key_->public_point())) {}
  SuiteId suite() const override { return SuiteId::cnsa; }
  const std::vector<std::uint8_t>& public_key() const override { return public_; }
  Result<Secret> agree(Bytes peer) const override {
    try {
      // OS2ECP decodes (uncompressed or compressed) and checks the point is on the curve.
      const Botan::PointGFp p = group().OS2ECP(peer.data(), peer.size());
      if (p.is_zero() || !p.on_the_curve()) return malformed("ecdh: peer key is not a curve point");
      Botan::PK_Key_Agreement ka(*key_, rng(), "Raw");
      const Botan::SymmetricKey shared = ka.derive_key(0, peer.data(), peer.size());
      // (An x-coordinate of zero is a valid P-384 result; unlike X25519 there is no
      // low-order case to refuse: OS2ECP already rejected points off the curve.)
      Secret out(shared.length());
      std::memcpy(out.bytes().data(), shared.begin(), shared.length());
      return out;
    } catch (const std::exception& e) {
      return malformed(std::string("ecdh: invalid peer key: ") + e.what());
    }
  }
  const Secret& private_bytes() const override { return scalar_; }

 private:
  std::unique_ptr<Botan::ECDH_PrivateKey> key_;
  Secret scalar_;
  std::vector<std::uint8_t> public_;
};

// AES-256-GCM comes from libsodium where the CPU has AES-NI and PCLMUL (measured: Botan's GCM
// ran at ~125 MB/s here against libsodium's > 1 GB/s, and it set the cnsa suite's per-item
// cost); the algorithm, key, nonce and output are the same, so the suite is unchanged.
// `portable` forces Botan's implementation (tests check both against Wycheproof).
class BotanSuite final : public Suite {
 public:
  explicit BotanSuite(bool portable) : sodium_gcm_(!portable && sodium_gcm_available()) {}
  SuiteId id() const override { return SuiteId::cnsa; }
  std::size_t hash_bytes() const override { return 48; }
  std::size_t signature_bytes() const override { return 2 * scalar_bytes; }
  std::size_t signing_public_bytes() const override { return point_bytes; }
  std::size_t agreement_public_bytes() const override { return point_bytes; }
  std::size_t nonce_bytes() const override { return 12; }

  void hash(std::span<const Bytes> parts, std::span<std::uint8_t> out) const override {
    CG_ASSERT(out.size() == 48);
    thread_local std::unique_ptr<Botan::HashFunction> h =
        Botan::HashFunction::create_or_throw("SHA-384");
    for (const auto& p : parts) h->update(p.data(), p.size());
    h->final(out.data());
  }

  std::unique_ptr<SigningKey> generate_signing_key() const override {
    return std::make_unique<EcdsaKey>(std::make_unique<Botan::ECDSA_PrivateKey>(rng(), group()));
  }
  Result<std::unique_ptr<SigningKey>> load_signing_key(const Secret& bytes) const override {
    CG_ASSIGN_OR_RETURN(auto x, load_scalar(bytes));
    try {
      return std::unique_ptr<SigningKey>(
          std::make_unique<EcdsaKey>(std::make_unique<Botan::ECDSA_PrivateKey>(rng(), group(), x)));
    } catch (const std::exception& e) {
      return malformed(std::string("ecdsa: ") + e.what());
    }
  }
  Status verify(Bytes pub, Bytes message, Bytes sig) const override {
    if (sig.size() != 2 * scalar_bytes) return unauthenticated("ecdsa: wrong signature size");
    try {
      const Botan::ECDSA_PublicKey key(group(), group().OS2ECP(pub.data(), pub.size()));
      Botan::PK_Verifier verifier(key, "EMSA1(SHA-384)", Botan::IEEE_1363);
      if (!verifier.verify_message(message.data(), message.size(), sig.data(), sig.size())) {
        return unauthenticated("ecdsa: signature does not verify");
      }
      return {};
    } catch (const std::exception& e) {
      return unauthenticated(std::string("ecdsa: ") + e.what());
    }
  }

  std::unique_ptr<AgreementKey> generate_agreement_key() const override {
    return std::make_unique<EcdhKey>(std::make_unique<Botan::ECDH_PrivateKey>(rng(), group()));
  }
  Result<std::unique_ptr<AgreementKey>> load_agreement_key(const Secret& bytes) const override {
    CG_ASSIGN_OR_RETURN(auto x, load_scalar(bytes));
    try {
      return std::unique_ptr<AgreementKey>(
          std::make_unique<EcdhKey>(std::make_unique<Botan::ECDH_PrivateKey>(rng(), group(), x)));
    } catch (const std::exception& e) {
      return malformed(std::string("ecdh: ") + e.what());
    }
  }

  Status seal(const Secret& key, Bytes nonce, Bytes ad, Bytes plaintext,
              std::vector<std::uint8_t>& out) const override {
    if (key.size() != aead_key_bytes || nonce.size() != 12)
      return malformed("aead: wrong key or nonce size");
    try {
      Botan::AEAD_Mode* mode = &gcm(Botan::ENCRYPTION);
      mode->set_key(key.bytes().data(), key.size());
      mode->set_associated_data(ad.data(), ad.size());
      mode->start(nonce.data(), nonce.size());
      Botan::secure_vector<std::uint8_t> buf(plaintext.begin(), plaintext.end());
      mode->finish(buf);
      out.insert(out.end(), buf.begin(), buf.end());
      mode->clear();  // the key does not stay in the thread's mode object
      return {};
    } catch (const std::exception& e) {
      gcm(Botan::ENCRYPTION).clear();
      return io_error(std::string("aes-gcm: ") + e.what());
    }
  }
  Status open(const Secret& key, Bytes nonce, Bytes ad, Bytes ct,
              std::vector<std::uint8_t>& out) const override {
    out.clear();
    if (key.size() != aead_key_bytes || nonce.size() != 12)
      return unauthenticated("aead: wrong key or nonce size");
    if (ct.size() < aead_tag_bytes) return unauthenticated("aead: ciphertext shorter than its tag");
    if (sodium_gcm_) return sodium_gcm_open(key, nonce, ad, ct, out);
    try {
      Botan::AEAD_Mode* mode = &gcm(Botan::DECRYPTION);
      mode->set_key(key.bytes().data(), key.size());
      mode->set_associated_data(ad.data(), ad.size());
      mode->start(nonce.data(), nonce.size());
      Botan::secure_vector<std::uint8_t> buf(ct.begin(), ct.end());
      mode->finish(buf);  // throws Invalid_Authentication_Tag; buf is secure (wiped)
      out.assign(buf.begin(), buf.end());
      mode->clear();  // the key does not stay in the thread's mode object
      return {};
    } catch (const std::exception&) {
      gcm(Botan::DECRYPTION).clear();
      return unauthenticated("aead: authentication failed");
    }
  }

  bool uses_sodium_gcm() const { return sodium_gcm_; }

  // With AES-NI, libsodium's GCM with the key expanded once per epoch (the same AES-256-GCM:
  // the Wycheproof vectors check both). Otherwise Botan's, which expands it per call.
  Result<std::unique_ptr<AeadKey>> prepare_aead(Secret key) const override {
    if (sodium_gcm_) return sodium_gcm_prepare(std::move(key));
    return Suite::prepare_aead(std::move(key));
  }

  Result<Secret> hkdf(Bytes ikm, Bytes salt, Bytes info, std::size_t length) const override {
    if (length > 255 * 48) return malformed("hkdf: output longer than 255 hash lengths");
    try {
      auto kdf = Botan::KDF::create_or_throw("HKDF(SHA-384)");
      const auto okm = kdf->derive_key(length, ikm.data(), ikm.size(), salt.data(), salt.size(),
                                       info.data(), info.size());
      Secret out(length);
      std::memcpy(out.bytes().data(), okm.data(), length);
      return out;
    } catch (const std::exception& e) {
      return malformed(std::string("hkdf: ") + e.what());
    }
  }

 private:
  bool sodium_gcm_;
};

}  // namespace

const Suite& cnsa_suite() {
  static const BotanSuite s(/*portable=*/false);
  return s;
}

const Suite& cnsa_suite_portable() {
  static const BotanSuite s(/*portable=*/true);
  return s;
}

}  // namespace cg::crypto
