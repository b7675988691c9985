// Fuzz target: what a node reads from a rules bundle or trust root file it is handed
// (gateway/approval decode_bundle, TrustRoot::parse, count_signatures). The first byte picks
// which; hostile input must end in a malformed/unauthenticated status, never a crash.
#include <sodium.h>

#include <cstdint>
#include <cstdlib>

#include "gateway/approval/approval.h"

namespace {

class FuzzVerifier final : public cg::approval::Verifier {
 public:
  cg::Status verify(cg::schema::PublicKey::Reader key, cg::approval::Bytes message,
                    cg::approval::Bytes sig) const override {
    if (key.getKey().size() != crypto_sign_PUBLICKEYBYTES || sig.size() != crypto_sign_BYTES ||
        crypto_sign_verify_detached(sig.data(), message.data(), message.size(),
                                    key.getKey().begin()) != 0) {
      return cg::unauthenticated("bad signature");
    }
    return {};
  }
  std::vector<std::uint8_t> key_id(cg::schema::PublicKey::Reader key) const override {
    return hash({key.getKey().begin(), key.getKey().size()});
  }
  std::vector<std::uint8_t> hash(cg::approval::Bytes b) const override {
    std::vector<std::uint8_t> h(32);
    crypto_generichash(h.data(), h.size(), b.data(), b.size(), nullptr, 0);
    return h;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  if (sodium_init() < 0) std::abort();
  static const FuzzVerifier verifier;
  const cg::approval::Bytes input(data + 1, size - 1);
  if (data[0] & 1) {
    auto root = cg::approval::TrustRoot::parse(input, verifier);
    if (!root.ok()) {
      if (root.status().code() != cg::Code::malformed) std::abort();
      return 0;
    }
    // A parsed root's signatures are counted (and almost always fail) without crashing.
    auto b = cg::approval::TrustRoot::bootstrap(input, verifier, 0);
    if (b.ok() && b->version() == 0) std::abort();
    (void)root->party("il");
    (void)root->node("il-gateway");
  } else {
    auto bundle = cg::approval::decode_bundle(input);
    if (!bundle.ok()) {
      if (bundle.status().code() != cg::Code::malformed) std::abort();
      return 0;
    }
    const auto body = cg::approval::body_bytes(bundle->root());
    if (body.empty()) std::abort();
  }
  return 0;
}
