// A cell whose keys come from fixed seeds (modern suite): Ed25519 signatures are
// deterministic, so what these keys sign is the same bytes in every run. For fuzz targets
// that must reach past signature checks, and for the test that pins their seed corpora.
#pragma once

#include <capnp/message.h>

#include <memory>
#include <optional>
#include <string>

#include "crypto/suite.h"
#include "gateway/approval/approval.h"
#include "gateway/envelope/envelope.h"
#include "gateway/wire/wire.h"

namespace cg::testing {

class FixedCell final {
 public:
  static constexpr std::int64_t now_ns = 1'790'000'000LL * 1'000'000'000;

  FixedCell() : suite_(crypto::modern_suite()) {
    gw_ = key(1);
    relay_ = key(2);
    rx_ = key(3);
    capnp::MallocMessageBuilder mb;
    auto body = mb.initRoot<schema::TrustRoot>().initBody();
    body.setVersion(1);
    body.setExpires(now_ns * 2);
    const struct {
      const char* id;
      const char* party;
      schema::Role role;
      const crypto::SigningKey* k;
    } nodes[] = {{"il-gw-1", "il", schema::Role::GATEWAY, gw_.get()},
                 {"us-relay", "us", schema::Role::RELAY, relay_.get()},
                 {"sy-rx-1", "sy", schema::Role::RECEIVER, rx_.get()}};
    auto out = body.initNodes(3);
    for (unsigned i = 0; i < 3; ++i) {
      out[i].setId(nodes[i].id);
      out[i].setParty(nodes[i].party);
      out[i].setRole(nodes[i].role);
      approval::fill_public_key(out[i].initSigningKey(), suite_.id(), nodes[i].k->public_key(),
                                nodes[i].id);
    }
    approval::fill_public_key(body.initRootKeys(1)[0], suite_.id(), gw_->public_key(), "root");
    body.setRootThreshold(1);
    const approval::SuiteVerifier verifier(suite_);
    auto root = approval::TrustRoot::parse(wire::to_flat_bytes(mb), verifier);
    if (root.ok()) root_.emplace(std::move(*root));
  }

  const crypto::Suite& suite() const { return suite_; }
  const approval::TrustRoot& root() const { return *root_; }
  envelope::Signer gateway() const { return signer("il-gw-1", *gw_); }
  envelope::Signer relay() const { return signer("us-relay", *relay_); }
  envelope::Signer receiver() const { return signer("sy-rx-1", *rx_); }

 private:
  std::unique_ptr<crypto::SigningKey> key(std::uint8_t n) const {
    std::uint8_t seed[32];
    for (auto& b : seed) b = n;
    auto k = suite_.load_signing_key(crypto::Secret::copy_of(seed));  // an Ed25519 seed
    return k.ok() ? std::move(*k) : nullptr;
  }
  envelope::Signer signer(const char* id, const crypto::SigningKey& k) const {
    return {id, &suite_, &k, crypto::key_id(suite_.id(), k.public_key())};
  }

  const crypto::Suite& suite_;
  std::unique_ptr<crypto::SigningKey> gw_, relay_, rx_;
  std::optional<approval::TrustRoot> root_;
};

}  // namespace cg::testing
