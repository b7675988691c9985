// Ed25519 keys and a Verifier straight from libsodium, for tests of code that takes an
// approval::Verifier (approval, quarantine) without depending on the crypto module's suites.
#pragma once

#include <sodium.h>

#include <array>
#include <cstdlib>
#include <string>
#include <vector>

#include "gateway/approval/approval.h"

namespace cg::testing {

using approval::Bytes;
using approval::SignFn;
using approval::Verifier;

inline std::vector<std::uint8_t> blake(Bytes b) {
  std::vector<std::uint8_t> h(32);
  crypto_generichash(h.data(), h.size(), b.data(), b.size(), nullptr, 0);
  return h;
}

class Ed25519Verifier final : public Verifier {
 public:
  Status verify(schema::PublicKey::Reader key, Bytes message, Bytes sig) const override {
    if (key.getSuite() != schema::Suite::MODERN ||
        key.getKey().size() != crypto_sign_PUBLICKEYBYTES || sig.size() != crypto_sign_BYTES) {
      return unauthenticated("not an Ed25519 key/signature");
    }
    if (crypto_sign_verify_detached(sig.data(), message.data(), message.size(),
                                    key.getKey().begin()) != 0) {
      return unauthenticated("signature does not verify");
    }
    return {};
  }
  std::vector<std::uint8_t> key_id(schema::PublicKey::Reader key) const override {
    return blake({key.getKey().begin(), key.getKey().size()});
  }
  std::vector<std::uint8_t> hash(Bytes bytes) const override { return blake(bytes); }
};

struct TestKey {
  std::string name;
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
  TestKey() = default;
  explicit TestKey(std::string n) : name(std::move(n)) {
    if (sodium_init() < 0) std::abort();
    crypto_sign_keypair(pk.data(), sk.data());
  }
  std::vector<std::uint8_t> id() const { return blake(pk); }
  SignFn signer() const {
    return [sk = sk](Bytes m) -> Result<std::vector<std::uint8_t>> {
      std::vector<std::uint8_t> sig(crypto_sign_BYTES);
      crypto_sign_detached(sig.data(), nullptr, m.data(), m.size(), sk.data());
      return sig;
    };
  }
  void fill(schema::PublicKey::Builder b) const {
    b.setSuite(schema::Suite::MODERN);
    const auto i = id();
    b.setKeyId(capnp::Data::Reader(i.data(), i.size()));
    b.setKey(capnp::Data::Reader(pk.data(), pk.size()));
    b.setName(name);
  }
};

}  // namespace cg::testing
