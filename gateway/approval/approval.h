// gateway/approval: no node judges an item by rules the party's reviewers have not approved.
//
// The model is The Update Framework (TUF). A TrustRoot (gateway/trust) names the deployment's
// parties (with their reviewer keys and threshold), nodes and root keys (with their own
// threshold). A RulesBundle carries a party's policy text, a version, an expiry and the hash of the
// bundle it replaces, signed by that party's reviewers. A node accepts a bundle only when:
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
//   trust root:    "cellgate trust root v1"   0x00 || canonical(TrustRootBody)  (gateway/trust)
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
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/suite.h"
#include "gateway/common/mutex.h"
#include "gateway/common/status.h"
#include "gateway/store/store.h"
#include "gateway/trust/trust.h"
#include "gateway/wire/wire.h"
#include "schemas/rules.capnp.h"

namespace cg::approval {

using Bytes = std::span<const std::uint8_t>;

inline constexpr std::string_view bundle_context = "cellgate rules bundle v1";
// Longest bundle hash approval accepts.
inline constexpr std::size_t hash_bytes_max = 64;
// Clock skew tolerated between a reviewer's workstation and a node for `created`.
inline constexpr std::int64_t created_skew_ns = 5LL * 60 * 1'000'000'000;

// The trust root and the signature machinery are gateway/trust's (issue 16); approval's callers
// keep naming them here.
using trust::add_root_signature;
using trust::count_signatures;
using trust::fill_public_key;
using trust::key_id_bytes_max;
using trust::public_key_bytes_max;
using trust::signature_bytes_max;
using trust::SignatureCheck;
using trust::SignatureVerdict;
using trust::signed_message;
using trust::SignFn;
using trust::SuiteVerifier;
using trust::ThresholdReport;
using trust::to_string;
using trust::trust_root_context;
using trust::TrustRoot;
using trust::Verifier;

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

// The bundle with one more signature by `key_id`. Errors: rejected when that key already
// signed; the signer's error.
Result<wire::Message<schema::RulesBundle>> add_signature(schema::RulesBundle::Reader bundle,
                                                         Bytes key_id, const SignFn& sign);

// --- Bundle chunks on the link -----------------------------------------------------------

// Approved rules bundles cross to the relay as control records on the link (DESIGN: "bundles
// are also sent to the relay, which thereby knows which rules are approved"), cut into chunks
// that each fit one frame. Byte layout: schemas/FORMATS.md "Rules-bundle chunk":
//   "CGRB" | u8 format = 1 | 3 zero bytes | id: BLAKE2b-256 of the whole bundle (32)
//   | total length u32 LE | offset u32 LE | data
// The relay reassembles, checks the id, and verifies the bundle itself (reviewers' threshold
// under the trust root); the chunking is transport, not trust.
inline constexpr std::size_t bundle_chunk_header_bytes = 48;
inline constexpr std::size_t bundle_id_bytes = 32;
using BundleId = std::array<std::uint8_t, bundle_id_bytes>;

// A bundle's id in its chunks: BLAKE2b-256 of the whole bundle (fixed by the format, whatever
// the deployment's suite).
BundleId bundle_id(Bytes bundle);

// One chunk; `data` views the record it was decoded from (or the bundle it was cut from).
struct BundleChunk {
  BundleId id{};
  std::uint32_t total = 0;   // length of the whole bundle
  std::uint32_t offset = 0;  // where `data` starts in it
  Bytes data;
};

// Whether a control record claims to be a chunk (starts with "CGRB"); says nothing of its
// validity.
bool is_bundle_chunk(Bytes record);
// The exact bytes of one chunk (no checks: callers cut chunks with bundle_chunks()).
std::vector<std::uint8_t> encode_bundle_chunk(const BundleChunk& chunk);
// Decodes one chunk and checks it on its own: data not empty, format 1 with zero padding,
// 1 <= total <= limits::rules_bundle_bytes_max, offset + data inside total. Errors: malformed.
Result<BundleChunk> decode_bundle_chunk(Bytes record);
// Chunks of `bundle`, each at most `record_bytes` long (> header). Empty for an empty bundle,
// a bundle over limits::rules_bundle_bytes_max, or record_bytes <= the header.
std::vector<std::vector<std::uint8_t>> bundle_chunks(Bytes bundle, std::size_t record_bytes);

// Reassembles bundles from chunks, bounded: at most partials_max bundles in progress (the
// oldest is dropped), each at most limits::rules_bundle_bytes_max. Not thread-safe.
class BundleAssembler final {
 public:
  static constexpr std::size_t partials_max = 4;
  // The whole bundle once its last missing chunk arrives and its id matches; nullopt while
  // incomplete (repeats of a chunk are ignored). Errors: malformed (bad header, length over
  // the limit, chunk outside the bundle, chunks that disagree, id mismatch).
  Result<std::optional<std::vector<std::uint8_t>>> add(Bytes record);

 private:
  struct Partial {
    std::uint32_t total = 0, filled = 0;
    std::vector<std::uint8_t> bytes;
    std::map<std::uint32_t, std::uint32_t> chunks;  // offset → length, never overlapping
    std::uint64_t age = 0;
  };
  std::map<BundleId, Partial> partials_;
  std::uint64_t clock_ = 0;
};

}  // namespace cg::approval
