// gateway/trust: who the deployment trusts, and how signatures by them are counted.
//
// A TrustRoot (after TUF's root role) names the deployment's parties (with their reviewer keys
// and threshold), nodes (with their signing and agreement keys) and root keys (with their own
// threshold). It changes only with a threshold of root keys: the current root's and the new
// one's. Every module that checks a signature by a node or a reviewer (envelope, quarantine,
// recovery, approval) looks the key up here; the rules-bundle logic stays in gateway/approval.
//
// What is signed. Signatures never cover raw struct bytes alone: the message is a context
// string naming what is signed, then the Cap'n Proto canonical form of the body:
//   trust root:    "cellgate trust root v1" 0x00 || canonical(TrustRootBody)
// so a signature made for one purpose cannot be replayed as another.
//
// Thread-safety: a TrustRoot is immutable and cheap to copy (it shares its decoded message);
// Verifier implementations are stateless.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/suite.h"
#include "gateway/common/status.h"
#include "gateway/wire/wire.h"
#include "schemas/rules.capnp.h"

namespace cg::trust {

using Bytes = std::span<const std::uint8_t>;

inline constexpr std::string_view trust_root_context = "cellgate trust root v1";
// Longest key id, signature and public key a trust root or a signed request may carry (a P-384
// DER signature is ≤ 104 bytes).
inline constexpr std::size_t key_id_bytes_max = 64;
inline constexpr std::size_t signature_bytes_max = 256;
inline constexpr std::size_t public_key_bytes_max = 256;

// What the trust root and everything signed under it need from the deployment's crypto suite.
class Verifier {
 public:
  virtual ~Verifier() = default;
  // ok when `signature` is a valid signature by `key` over `message`; Code::unauthenticated
  // otherwise (also for a key of a suite this verifier does not implement).
  virtual Status verify(schema::PublicKey::Reader key, Bytes message, Bytes signature) const = 0;
  // The key id of a public key (a hash of its bytes); a PublicKey whose keyId differs is refused.
  virtual std::vector<std::uint8_t> key_id(schema::PublicKey::Reader key) const = 0;
  // The deployment's hash (bundle hashes).
  virtual std::vector<std::uint8_t> hash(Bytes bytes) const = 0;
};

// The Verifier of a deployment: each key is checked with its own suite's signature scheme; key
// ids are crypto::key_id; bundle hashes use the deployment suite's hash.
class SuiteVerifier final : public Verifier {
 public:
  explicit SuiteVerifier(const crypto::Suite& deployment) : deployment_(deployment) {}
  Status verify(schema::PublicKey::Reader key, Bytes message, Bytes signature) const override;
  std::vector<std::uint8_t> key_id(schema::PublicKey::Reader key) const override;
  std::vector<std::uint8_t> hash(Bytes bytes) const override { return deployment_.hash(bytes); }

 private:
  const crypto::Suite& deployment_;
};

// Fills a schema PublicKey from a suite's public key bytes (key id computed).
void fill_public_key(schema::PublicKey::Builder out, crypto::SuiteId suite, Bytes key,
                     std::string_view name);

// The exact message a signature covers: context || 0x00 || canonical body.
std::vector<std::uint8_t> signed_message(std::string_view context, Bytes canonical_body);

// --- Threshold counting ------------------------------------------------------------------

enum class SignatureVerdict : std::uint8_t {
  counted,        // valid, by a listed key, first signature of that key
  unknown_key,    // key id not among the keys that may sign
  bad_signature,  // listed key, signature does not verify
  duplicate,      // a second signature by a key already counted (same reviewer twice)
};
std::string_view to_string(SignatureVerdict v);

struct SignatureCheck {
  std::vector<std::uint8_t> key_id;
  std::string key_name;  // from the trust root; empty for an unknown key
  SignatureVerdict verdict;
  std::string detail;
};

struct ThresholdReport {
  std::vector<SignatureCheck> checks;  // one per signature, in order
  std::size_t counted = 0;
  std::size_t threshold = 0;
  bool met() const { return threshold > 0 && counted >= threshold; }
  // Human-readable, one line per signature, then the verdict.
  std::string describe() const;
};

ThresholdReport count_signatures(capnp::List<schema::PublicKey>::Reader keys, std::size_t threshold,
                                 Bytes message,
                                 capnp::List<schema::KeySignature>::Reader signatures,
                                 const Verifier& verifier);

// --- Trust root --------------------------------------------------------------------------

class TrustRoot final {
 public:
  // Decodes and validates structure: thresholds between 1 and the number of keys, honest and
  // unique key ids, unique party/node/reviewer names, clean identifiers. Signatures are NOT
  // checked here; use bootstrap() or rotate(). Errors: malformed.
  static Result<TrustRoot> parse(Bytes bytes, const Verifier& verifier);
  // The first root a node trusts (pinned out of band, e.g. installed with the node): must be
  // signed by a threshold of its own root keys and not expired. Errors: malformed,
  // unauthenticated (threshold not met; the reason lists every signature), rejected (expired).
  static Result<TrustRoot> bootstrap(Bytes bytes, const Verifier& verifier, std::int64_t now_ns);
  // A successor: version above this one, signed by a threshold of THIS root's keys and a
  // threshold of its own, not expired. Old root keys stop counting once it is in use.
  Result<TrustRoot> rotate(Bytes next, const Verifier& verifier, std::int64_t now_ns) const;

  schema::TrustRootBody::Reader body() const { return message_->root().getBody(); }
  std::uint64_t version() const { return body().getVersion(); }
  std::int64_t expires() const { return body().getExpires(); }
  Bytes canonical_bytes() const { return message_->canonical_bytes(); }
  // The reviewers and threshold of `party`, or nullopt when the party is unknown.
  std::optional<schema::Party::Reader> party(std::string_view id) const;
  std::optional<schema::Node::Reader> node(std::string_view id) const;
  ThresholdReport check_root_signatures(capnp::List<schema::KeySignature>::Reader sigs,
                                        Bytes body_message, const Verifier& verifier) const;

 private:
  explicit TrustRoot(std::shared_ptr<const wire::Message<schema::TrustRoot>> m)
      : message_(std::move(m)) {}
  std::shared_ptr<const wire::Message<schema::TrustRoot>> message_;
};

// --- Signing -----------------------------------------------------------------------------

// Signs one message; the signer's private key stays behind this function.
using SignFn = std::function<Result<std::vector<std::uint8_t>>(Bytes message)>;

// Structural rules of a signature list (count, key id and signature sizes). Errors: malformed.
Status validate_signatures(capnp::List<schema::KeySignature>::Reader signatures);

// `signed_thing` (a body and its signatures) with one more signature by `key_id` over
// `message`, canonical. Errors: rejected when that key already signed or the list is full;
// the signer's error.
Result<wire::Message<schema::RulesBundle>> with_signature(schema::RulesBundle::Reader signed_thing,
                                                          Bytes message, Bytes key_id,
                                                          const SignFn& sign);
Result<wire::Message<schema::TrustRoot>> with_signature(schema::TrustRoot::Reader signed_thing,
                                                        Bytes message, Bytes key_id,
                                                        const SignFn& sign);

// A trust root with one more signature by the root key `key_id`.
Result<wire::Message<schema::TrustRoot>> add_root_signature(schema::TrustRoot::Reader root,
                                                            Bytes key_id, const SignFn& sign);

}  // namespace cg::trust
