// gateway/approval: no node judges an item by rules the party's reviewers have not approved.
//
// The model is The Update Framework (TUF). A TrustRoot names the deployment's parties (with
// their reviewer keys and threshold), nodes and root keys (with their own threshold). A
// RulesBundle carries a party's policy text, a version, an expiry and the hash of the bundle
// it replaces, signed by that party's reviewers. A node accepts a bundle only when:
//   - a threshold of valid signatures by distinct reviewers of the bundle's party counts;
//   - its version is strictly above the highest the node ever loaded for that party (kept in
//     the durable store, so a restart does not reopen rollback);
//   - its previous hash names the bundle it replaces (empty for a party's first bundle);
//   - it has not expired, its creation time is not in the future, and the trust root itself
//     has not expired;
//   - its policy compiles.
// Otherwise the node keeps its current bundle and the refusal is counted with its reason.
// An expired current bundle fails closed: usable() refuses and says why.
//
// What is signed. Signatures never cover raw struct bytes alone: the message is a context
// string naming what is signed, then the Cap'n Proto canonical form of the body:
//   rules bundle:  "cellgate rules bundle v1" 0x00 || canonical(RulesBundleBody)
//   trust root:    "cellgate trust root v1"   0x00 || canonical(TrustRootBody)
// so a signature made for one purpose cannot be replayed as another. A bundle's hash (the
// value envelope headers carry and the next bundle's previousHash names) is the deployment
// suite's hash of canonical(RulesBundleBody).
//
// Thread-safety: Approver is safe to share; offer() serialises with itself, current() is a
// cheap snapshot. A snapshot is immutable, so an item judged by it is judged wholly by one
// bundle even when a new one is swapped in meanwhile.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/suite.h"
#include "gateway/common/mutex.h"
#include "gateway/common/status.h"
#include "gateway/store/store.h"
#include "gateway/wire/wire.h"
#include "schemas/rules.capnp.h"

namespace cg::approval {

using Bytes = std::span<const std::uint8_t>;

inline constexpr std::string_view bundle_context = "cellgate rules bundle v1";
inline constexpr std::string_view trust_root_context = "cellgate trust root v1";
// Longest key id, signature and hash approval accepts (a P-384 DER signature is ≤ 104 bytes).
inline constexpr std::size_t key_id_bytes_max = 64;
inline constexpr std::size_t signature_bytes_max = 256;
inline constexpr std::size_t public_key_bytes_max = 256;
inline constexpr std::size_t hash_bytes_max = 64;
// Clock skew tolerated between a reviewer's workstation and a node for `created`.
inline constexpr std::int64_t created_skew_ns = 5LL * 60 * 1'000'000'000;

// What approval needs from the deployment's crypto suite.
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

// --- Rules bundles -----------------------------------------------------------------------

enum class Refusal : std::uint8_t {
  malformed,           // does not decode or violates the bundle's structural rules
  unknown_party,       // the party is not in the trust root, or is not this approver's party
  below_threshold,     // too few valid signatures by distinct reviewers of the party
  rollback,            // version not above the highest ever loaded (incl. replay of an old one)
  previous_mismatch,   // previousHash does not name the current bundle
  expired,             // expiry not in the future
  not_yet_valid,       // created in the future (beyond the tolerated clock skew)
  trust_root_expired,  // the trust root itself has expired: nothing can be approved
  policy_invalid,      // the policy text does not compile
};
inline constexpr std::size_t refusal_count = 9;
std::string_view to_string(Refusal r);

// The time checks a node applies to a bundle whose signatures count, at `now_ns` (the node's
// wall clock, ns since the Unix epoch), in this order: the trust root has not expired
// (trust_root_expired), the bundle has not expired (expired: expiry at or before now), and it
// was not created more than created_skew_ns after now (not_yet_valid). `rules verify` calls
// this too, so it calls APPROVED only what a node accepts. ok, or Code::rejected whose reason
// is the detail, with `*refusal` (when given) set to which check failed.
Status check_bundle_times(const TrustRoot& root, schema::RulesBundleBody::Reader body,
                          std::int64_t now_ns, Refusal* refusal = nullptr);

// A decoded bundle (signatures not yet checked). Errors: malformed.
Result<wire::Message<schema::RulesBundle>> decode_bundle(Bytes bytes);
// canonical(RulesBundleBody) of a decoded bundle.
std::vector<std::uint8_t> body_bytes(schema::RulesBundle::Reader bundle);

// A compiled policy, opaque to approval (the node's policy engine); shared by every item
// judged under the bundle.
using CompiledPolicy = std::shared_ptr<const void>;
// Compiles policy text; its error is the refusal's detail.
using CompilePolicy = std::function<Result<CompiledPolicy>(std::string_view policy_text)>;

// An accepted bundle: immutable.
struct Bundle {
  std::string party;
  std::uint64_t version = 0;
  std::int64_t created = 0;
  std::int64_t expires = 0;
  std::vector<std::uint8_t> hash;  // hash of canonical(body)
  std::string policy_text;
  std::vector<std::uint8_t> bytes;  // the whole bundle, canonical, standard framing (a file)
  CompiledPolicy policy;
};

struct Counters {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> unchanged{0};  // the current bundle offered again
  std::array<std::atomic<std::uint64_t>, refusal_count> refused{};
};

// Holds one party's current bundle, durably. The relay holds one per party.
class Approver final {
 public:
  // Opens the store's approval table and reloads the party's current bundle, re-checking its
  // signatures under `root` (a bundle that no longer verifies is not used; the node then has
  // no bundle and blocks everything). Errors: io; malformed when the stored state is corrupt.
  static Result<std::unique_ptr<Approver>> open(store::Env& env, std::string party, TrustRoot root,
                                                std::shared_ptr<const Verifier> verifier,
                                                CompilePolicy compile);

  // Offers a bundle. On acceptance it becomes current atomically and durably (the highest
  // version and the bundle are committed before it is used). The same bundle again is not an
  // error (a watched file re-read): the current one is returned. Errors: Code::rejected with
  // "rules bundle refused: <refusal>: <detail>" (refusal() tells which), io.
  Result<std::shared_ptr<const Bundle>> offer(Bytes bytes, std::int64_t now_ns);
  // The refusal behind the last error offer() returned.
  Refusal last_refusal() const { return last_refusal_.load(); }

  // The current bundle, or nullptr when none was ever accepted.
  std::shared_ptr<const Bundle> current() const;
  // The bundle to judge by at `now`: Code::rejected ("fail closed: ...") when there is none,
  // it has expired, or the trust root has expired. Callers release nothing on error (a gateway
  // holds items in its inbox until a usable bundle arrives).
  Result<std::shared_ptr<const Bundle>> usable(std::int64_t now_ns) const;
  // The highest version ever accepted (durable; 0 if none).
  std::uint64_t highest_version() const;

  // Replaces the trust root (after TrustRoot::rotate). The current bundle is re-checked under
  // the new root; if it no longer meets the threshold it stops being current.
  Status set_trust_root(TrustRoot root, std::int64_t now_ns);

  const std::string& party() const { return party_; }
  const Counters& counters() const { return counters_; }

 private:
  Approver(store::Env& env, store::Table table, std::string party, TrustRoot root,
           std::shared_ptr<const Verifier> verifier, CompilePolicy compile)
      : env_(&env),
        table_(table),
        party_(std::move(party)),
        root_(std::move(root)),
        verifier_(std::move(verifier)),
        compile_(std::move(compile)) {}

  // Every check except rollback/previous-hash, which need the durable state.
  Result<std::shared_ptr<Bundle>> check(const TrustRoot& root, Bytes bytes, std::int64_t now_ns,
                                        bool check_times);
  Status refuse(Refusal r, std::string detail);

  store::Env* env_;
  store::Table table_;
  std::string party_;
  Mutex offer_mu_;  // serialises offer() and set_trust_root()
  mutable Mutex mu_;
  TrustRoot root_ CG_GUARDED_BY(mu_);
  std::shared_ptr<const Bundle> current_ CG_GUARDED_BY(mu_);
  std::uint64_t highest_ CG_GUARDED_BY(mu_) = 0;
  std::shared_ptr<const Verifier> verifier_;
  CompilePolicy compile_;
  std::atomic<Refusal> last_refusal_{Refusal::malformed};
  Counters counters_;
};

// --- The reviewer's side -----------------------------------------------------------------

// An unsigned bundle with the next version after `previous` (version 1 and an empty previous
// hash when there is none). Errors: malformed (policy too large, bad party name, expires <=
// created).
Result<wire::Message<schema::RulesBundle>> propose(std::string_view party,
                                                   std::string_view policy_text,
                                                   const schema::RulesBundle::Reader* previous,
                                                   std::int64_t created_ns, std::int64_t expires_ns,
                                                   const Verifier& verifier);

// Signs one message; the reviewer's private key stays behind this function.
using SignFn = std::function<Result<std::vector<std::uint8_t>>(Bytes message)>;

// The bundle with one more signature by `key_id`. Errors: rejected when that key already
// signed; the signer's error.
Result<wire::Message<schema::RulesBundle>> add_signature(schema::RulesBundle::Reader bundle,
                                                         Bytes key_id, const SignFn& sign);

// The same for a trust root (root keys sign it).
Result<wire::Message<schema::TrustRoot>> add_root_signature(schema::TrustRoot::Reader root,
                                                            Bytes key_id, const SignFn& sign);

}  // namespace cg::approval
