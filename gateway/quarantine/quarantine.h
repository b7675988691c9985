// gateway/quarantine: items the policy held for a person, waiting durably for a decision.
//
// When the releasability engine says `quarantine` (an ORCON caveat, a content-inspection hit
// configured to quarantine, a malformed banner, a rule's explicit action), the gateway puts
// the item here, with its destination, the explanation and the rules version that judged it,
// in the same transaction that consumes it from the inbox: it is never both pending and held,
// and never neither. An operator lists and shows held items. A release needs the approvals of
// `releaseThreshold` distinct reviewers of the party (trust root; 2 unless the root says
// otherwise): each is a signature over a release statement naming the hold id, the item's hash
// and the destination, so an approval cannot be replayed for another item or destination. Each
// approval is verified and kept with the hold (partial approvals are visible); the approval
// that meets the threshold releases. A reviewer counts once, a reviewer of another party never,
// and approvals are counted again under the trust root in use when the threshold is checked
// (one whose key is no longer a reviewer is dropped). A reject is signed the same way by a
// reviewer of the party, over a reject statement that also covers the reviewer's reason, so
// every rejection names who made it; one rejection is enough. Both outcomes are final and
// leave the hold.
//
// Decisions are made by the running gateway alone: `cellgate quarantine release|reject` checks
// the signature with authorize() (the gateway's own check) and leaves a signed request in the
// store; the gateway verifies it again, applies it, audits it, and records a verdict per
// request that the command waits for.
//
// Statements (what the reviewer signs):
//   release: "cellgate quarantine release v1" 0x00 || be64(hold id) || u8 len || destination ||
//            item hash (the suite's hash of the canonical item bytes)
//   reject:  "cellgate quarantine reject v1" 0x00 || be64(hold id) || u8 len || destination ||
//            item hash || be16(len) || reason
//
// Tables (LMDB, in the gateway's store; be64 is big-endian, so keys sort by hold id):
//   quarantine           be64(hold) → the held item, its destination, rules version, explanation
//   quarantine_releases  be64(hold) ‖ key id → a waiting release request (u8 len ‖ key id ‖ sig)
//   quarantine_rejects   be64(hold) ‖ key id → a waiting reject (also its signature and reason)
//   quarantine_approvals be64(hold) ‖ key id → a verified release approval's signature
//   quarantine_verdicts  be64(hold) ‖ u8 decision ‖ key id → u8 outcome ‖ detail
//
// Thread-safety: the object holds no mutable state outside the store; safe to share.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/store/store.h"
#include "gateway/trust/trust.h"

namespace cg::quarantine {

using Bytes = std::span<const std::uint8_t>;

inline constexpr std::string_view release_context = "cellgate quarantine release v1";
inline constexpr std::string_view reject_context = "cellgate quarantine reject v1";
// A reviewer's reason for a rejection (it is signed and audited whole, never cut).
inline constexpr std::size_t reason_bytes_max = 1024;
// Verdicts kept for the commands that wait for them; the oldest holds' go first.
inline constexpr std::size_t verdicts_max = 4096;

enum class Decision : std::uint8_t { release = 1, reject = 2 };
std::string_view to_string(Decision d);
// A held item's explanation is for a person; longer text is cut (with a marker), never refused.
inline constexpr std::size_t explanation_bytes_max = 16u << 10;

struct Held {
  std::uint64_t id = 0;
  std::int64_t held_at = 0;  // ns since the Unix epoch
  std::string destination;
  std::uint64_t rules_version = 0;
  std::string explanation;
  std::vector<std::uint8_t> item;  // canonical Item bytes, as stored at ingest
};

class Quarantine final {
 public:
  static Result<Quarantine> open(store::Env& env);

  // Holds an item inside the caller's transaction; returns its hold id (1, 2, 3, ...).
  Result<std::uint64_t> hold(store::WriteTxn& txn, std::int64_t now_ns,
                             std::string_view destination, std::uint64_t rules_version,
                             std::string_view explanation, Bytes item);

  // Up to `max` held items with id > `after`, oldest first.
  Result<std::vector<Held>> list(std::uint64_t after, std::size_t max) const;
  Result<std::optional<Held>> get(std::uint64_t id) const;
  Result<std::uint64_t> size() const;

  // The exact bytes a reviewer signs to release `held` (see above).
  static std::vector<std::uint8_t> release_statement(const Held& held,
                                                     const trust::Verifier& verifier);
  // The exact bytes a reviewer signs for `decision` on `held`; `reason` is part of a reject
  // statement only.
  static std::vector<std::uint8_t> statement(Decision decision, const Held& held,
                                             std::string_view reason,
                                             const trust::Verifier& verifier);

  // The one check of a reviewer's decision, made by the gateway before it applies one and by
  // `cellgate quarantine` before it hands one over: `key_id` is a reviewer of `party` in
  // `root` and `signature` is its signature over statement(decision, held, reason). Returns
  // the reviewer's name (from the trust root). Errors: unauthenticated (the party has no
  // reviewers, the key is not one of them, or the signature does not verify: the reason says
  // which), malformed (a reject's reason empty or over reason_bytes_max).
  static Result<std::string> authorize(Decision decision, const Held& held, std::string_view reason,
                                       const trust::TrustRoot& root, std::string_view party,
                                       Bytes key_id, Bytes signature,
                                       const trust::Verifier& verifier);

  // How a release stands after an approval.
  struct ReleaseProgress {
    std::vector<std::string> reviewers;  // whose approvals count now (this one included)
    std::size_t threshold = 0;           // the party's release threshold
    Held held;                           // the hold approved
    bool released = false;               // the threshold is met: the hold was removed
    // The counted approvals as (key id, signature), this one last: what the release guard
    // verifies again before it signs a released hold.
    std::vector<std::pair<std::vector<std::uint8_t>, std::vector<std::uint8_t>>> approvals;
  };
  // Verifies that `signature` by the key `key_id` is a valid release statement for hold `id`
  // by a reviewer of `party` in `root` (authorize), keeps it with the hold, and counts the
  // hold's approvals under `root`. When they reach the party's release threshold the hold is
  // removed inside `txn` and returned for the caller to send (the caller commits after sealing
  // it, so a crash loses neither the hold nor the release). Errors: rejected (no such hold;
  // this reviewer's approval is already counted: it never counts twice), unauthenticated (not
  // a listed reviewer of the party, or a bad signature: the reason says which). `reviewer` (if
  // given) receives the reviewer's name.
  Result<ReleaseProgress> approve_release(store::WriteTxn& txn, std::uint64_t id,
                                          const trust::TrustRoot& root, std::string_view party,
                                          Bytes key_id, Bytes signature,
                                          const trust::Verifier& verifier,
                                          std::string* reviewer = nullptr);
  // The key ids of every approval kept for hold `id`, in key order (unverified).
  Result<std::vector<std::vector<std::uint8_t>>> approval_keys(std::uint64_t id) const;
  // The names of the reviewers whose approvals of hold `id` count under `root` (for
  // `quarantine show`); approvals that no longer verify are left out.
  Result<std::vector<std::string>> approvers(std::uint64_t id, const trust::TrustRoot& root,
                                             std::string_view party,
                                             const trust::Verifier& verifier) const;

  // A reject (authorize() over the reject statement with `reason`): removes the hold and its
  // approvals inside `txn`; the item is never sent. Errors: as approve_release(), and malformed
  // (reason).
  Result<Held> reject(store::WriteTxn& txn, std::uint64_t id, std::string_view reason,
                      const trust::TrustRoot& root, std::string_view party, Bytes key_id,
                      Bytes signature, const trust::Verifier& verifier,
                      std::string* reviewer = nullptr);

  // A reviewer's signed decision, left for the running gateway (which alone can seal, send and
  // audit) by `cellgate quarantine release|reject`. The gateway verifies it and removes it.
  // Requests are kept per (hold, decision, reviewer key), so two reviewers' approvals of one
  // hold never replace each other.
  struct Request {
    std::uint64_t hold = 0;
    Decision decision = Decision::release;
    std::vector<std::uint8_t> key_id, signature;
    std::string reason;  // reject only
  };
  // Stores `request` (replacing one by the same key for the same hold and decision) and forgets
  // that key's earlier verdict on it. Errors: rejected (no such hold), malformed (key id,
  // signature or reason out of bounds).
  Status request(store::WriteTxn& txn, const Request& request);
  // Up to `max` waiting requests: releases by hold id, then rejects by hold id.
  Result<std::vector<Request>> requests(store::WriteTxn& txn, std::size_t max) const;
  Status drop_request(store::WriteTxn& txn, const Request& request);

  // What the gateway did with a request, for the command that handed it over.
  enum class Outcome : std::uint8_t {
    refused = 0,  // held as before: the reason says why
    applied = 1,  // released (sent) or rejected
    counted = 2,  // an approval counted, below the release threshold: still held
  };
  struct Verdict {
    Outcome outcome = Outcome::refused;
    std::string detail;  // who, and what happened or why not
  };
  // Records the verdict on `request` (its hold, decision and key), keeping at most
  // verdicts_max. Errors: io.
  Status record_verdict(store::WriteTxn& txn, const Request& request, const Verdict& verdict);
  // The verdict on (hold, decision, key), if the gateway recorded one since it was requested.
  Result<std::optional<Verdict>> verdict(std::uint64_t hold, Decision decision, Bytes key_id) const;

 private:
  Quarantine(store::Env* env, store::Table held, store::Table meta, store::Table requests,
             store::Table rejects, store::Table verdicts, store::Table approvals)
      : env_(env),
        held_(held),
        meta_(meta),
        requests_(requests),
        rejects_(rejects),
        verdicts_(verdicts),
        approvals_(approvals) {}
  // Removes the hold and every approval of it.
  Result<Held> take(store::WriteTxn& txn, std::uint64_t id);
  store::Env* env_;
  store::Table held_, meta_, requests_, rejects_, verdicts_, approvals_;
};

}  // namespace cg::quarantine
