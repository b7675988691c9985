// gateway/quarantine: items the policy held for a person, waiting durably for a decision.
//
// When the releasability engine says `quarantine` (an ORCON caveat, a content-inspection hit
// configured to quarantine, a malformed banner, a rule's explicit action), the gateway puts
// the item here, with its destination, the explanation and the rules version that judged it,
// in the same transaction that consumes it from the inbox: it is never both pending and held,
// and never neither. An operator lists and shows held items; a release needs a signature by
// one of the party's reviewers (listed in the trust root) over a release statement naming
// the hold id, the item's hash and the destination, so a release cannot be replayed for
// another item or destination. A reject is signed the same way by a reviewer of the party,
// over a reject statement that also covers the reviewer's reason, so every rejection names who
// made it. Both are final and leave the hold.
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

  // Verifies that `signature` by the key `key_id` is a valid release statement for hold `id`
  // by a reviewer of `party` in `root`, then removes the hold inside `txn` and returns the
  // item for the caller to send (the caller commits after sealing it, so a crash loses
  // neither the hold nor the release). Errors: rejected (no such hold), unauthenticated (not
  // a listed reviewer of the party, or a bad signature: the reason says which). `reviewer`
  // (if given) receives the reviewer's name.
  Result<Held> release(store::WriteTxn& txn, std::uint64_t id, const trust::TrustRoot& root,
                       std::string_view party, Bytes key_id, Bytes signature,
                       const trust::Verifier& verifier, std::string* reviewer = nullptr);

  // The same for a reject (authorize() over the reject statement with `reason`): removes the
  // hold inside `txn`; the item is never sent. Errors: as release(), and malformed (reason).
  Result<Held> reject(store::WriteTxn& txn, std::uint64_t id, std::string_view reason,
                      const trust::TrustRoot& root, std::string_view party, Bytes key_id,
                      Bytes signature, const trust::Verifier& verifier,
                      std::string* reviewer = nullptr);

  // A reviewer's signed decision, left for the running gateway (which alone can seal, send and
  // audit) by `cellgate quarantine release|reject`. The gateway verifies it and removes it.
  struct Request {
    std::uint64_t hold = 0;
    Decision decision = Decision::release;
    std::vector<std::uint8_t> key_id, signature;
    std::string reason;  // reject only
  };
  using ReleaseRequest = Request;
  // Stores `request` (replacing one for the same hold and decision) and forgets an earlier
  // verdict on it. Errors: rejected (no such hold), malformed (key id, signature or reason out
  // of bounds).
  Status request(store::WriteTxn& txn, const Request& request);
  Status request_release(store::WriteTxn& txn, const Request& r) { return request(txn, r); }
  // Up to `max` waiting requests: releases by hold id, then rejects by hold id.
  Result<std::vector<Request>> requests(store::WriteTxn& txn, std::size_t max) const;
  Result<std::vector<Request>> release_requests(store::WriteTxn& txn, std::size_t max) const {
    return requests(txn, max);
  }
  Status drop_request(store::WriteTxn& txn, std::uint64_t hold,
                      Decision decision = Decision::release);

  // What the gateway did with a request, for the command that handed it over.
  struct Verdict {
    bool applied = false;  // released (sent) or rejected; false: refused, held as before
    std::string detail;    // who, and what happened or why not
  };
  // Records the verdict on (hold, decision), keeping at most verdicts_max. Errors: io.
  Status record_verdict(store::WriteTxn& txn, std::uint64_t hold, Decision decision,
                        const Verdict& verdict);
  // The verdict on (hold, decision), if the gateway recorded one since it was requested.
  Result<std::optional<Verdict>> verdict(std::uint64_t hold, Decision decision) const;

 private:
  Quarantine(store::Env* env, store::Table held, store::Table meta, store::Table requests,
             store::Table rejects, store::Table verdicts)
      : env_(env),
        held_(held),
        meta_(meta),
        requests_(requests),
        rejects_(rejects),
        verdicts_(verdicts) {}
  store::Env* env_;
  store::Table held_, meta_, requests_, rejects_, verdicts_;
};

}  // namespace cg::quarantine
