#include <sodium.h>

#include "crypto/suite_impl.h"

namespace cg::crypto {

std::string_view suite_name(SuiteId id) {
  switch (id) {
    case SuiteId::modern:
      return "modern";
    case SuiteId::modern_aes:
      return "modern-aes";
    case SuiteId::cnsa:
      return "cnsa";
  }
  return "unknown";
}

Result<SuiteId> suite_from_name(std::string_view name) {
  if (name == "modern") return SuiteId::modern;
  if (name == "modern-aes") return SuiteId::modern_aes;
  if (name == "cnsa") return SuiteId::cnsa;
  return malformed("unknown suite '" + std::string(name) + "' (modern, modern-aes, cnsa)");
}

Result<const Suite*> suite(SuiteId id) {
  switch (id) {
    case SuiteId::modern:
      return &modern_suite();
    case SuiteId::cnsa:
      return &cnsa_suite();
    case SuiteId::modern_aes:
      if (const Suite* s = modern_aes_suite()) return s;
      return rejected("suite modern-aes needs a CPU with AES-NI and PCLMUL; this one has none");
  }
  return malformed("unknown suite id " + std::to_string(static_cast<int>(id)));
}

namespace {

// The default: the key kept as it is, each call handing it to the suite.
class KeptAeadKey final : public AeadKey {
 public:
  KeptAeadKey(const Suite& suite, Secret key) : suite_(suite), key_(std::move(key)) {}
  Status seal(Bytes nonce, Bytes ad, Bytes plaintext,
              std::vector<std::uint8_t>& out) const override {
    return suite_.seal(key_, nonce, ad, plaintext, out);
  }
  Status open(Bytes nonce, Bytes ad, Bytes ciphertext,
              std::vector<std::uint8_t>& out) const override {
    return suite_.open(key_, nonce, ad, ciphertext, out);
  }

 private:
  const Suite& suite_;
  Secret key_;
};

}  // namespace

Result<std::unique_ptr<AeadKey>> Suite::prepare_aead(Secret key) const {
  if (key.size() != aead_key_bytes) return malformed("aead: wrong key size");
  return std::unique_ptr<AeadKey>(std::make_unique<KeptAeadKey>(*this, std::move(key)));
}

std::vector<std::uint8_t> Suite::hash(Bytes data) const {
  std::vector<std::uint8_t> out(hash_bytes());
  const Bytes parts[] = {data};
  hash(parts, out);
  return out;
}

std::vector<std::uint8_t> key_id(SuiteId suite, Bytes public_key) {
  ensure_sodium();
  static constexpr char context[] = "cellgate key id v1";
  std::uint8_t full[32];
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, sizeof full);
  crypto_generichash_update(&st, reinterpret_cast<const std::uint8_t*>(context),
                            sizeof context - 1);
  const std::uint8_t s = static_cast<std::uint8_t>(suite);
  crypto_generichash_update(&st, &s, 1);
  crypto_generichash_update(&st, public_key.data(), public_key.size());
  crypto_generichash_final(&st, full, sizeof full);
  return {full, full + key_id_bytes};
}

}  // namespace cg::crypto
