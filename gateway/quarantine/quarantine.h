// gateway/quarantine: items the policy held for a person, waiting durably for a decision.
//
// When the releasability engine says `quarantine` (an ORCON caveat, a content-inspection hit
// configured to quarantine, a malformed banner, a rule's explicit action), the gateway puts
// the item here, with its destination, the explanation and the rules version that judged it,
// in the same transaction that consumes it from the inbox: it is never both pending and held,
// and never neither. An operator lists and shows held items; a release needs a signature by
// one of the party's reviewers (listed in the trust root) over a release statement naming
// the hold id, the item's hash and the destination, so a release cannot be replayed for
// another item or destination. A reject needs only a reason (it loses nothing: the item stays
// in the audit log's record and is never sent). Both are final and leave the hold.
//
// Release statement (what the reviewer signs):
//   "cellgate quarantine release v1" 0x00 || be64(hold id) || u8 len || destination ||
//   item hash (the suite's hash of the canonical item bytes)
//
// Thread-safety: the object holds no mutable state outside the store; safe to share.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/approval/approval.h"
#include "gateway/common/status.h"
#include "gateway/store/store.h"

namespace cg::quarantine {

using Bytes = std::span<const std::uint8_t>;

inline constexpr std::string_view release_context = "cellgate quarantine release v1";
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
                                                     const approval::Verifier& verifier);

  // Verifies that `signature` by the key `key_id` is a valid release statement for hold `id`
  // by a reviewer of `party` in `root`, then removes the hold inside `txn` and returns the
  // item for the caller to send (the caller commits after sealing it, so a crash loses
  // neither the hold nor the release). Errors: rejected (no such hold), unauthenticated (not
  // a listed reviewer of the party, or a bad signature: the reason says which).
  Result<Held> release(store::WriteTxn& txn, std::uint64_t id, const approval::TrustRoot& root,
                       std::string_view party, Bytes key_id, Bytes signature,
                       const approval::Verifier& verifier);

  // Removes the hold inside `txn` (the item is not sent). Errors: rejected (no such hold).
  Result<Held> reject(store::WriteTxn& txn, std::uint64_t id);

  // A reviewer's signed release, left for the running gateway (which alone can seal and send)
  // by `cellgate quarantine release`. The gateway verifies it with release() and removes it.
  struct ReleaseRequest {
    std::uint64_t hold = 0;
    std::vector<std::uint8_t> key_id, signature;
  };
  // Errors: rejected (no such hold), malformed (key id or signature out of bounds).
  Status request_release(store::WriteTxn& txn, const ReleaseRequest& request);
  // Up to `max` waiting requests, by hold id.
  Result<std::vector<ReleaseRequest>> release_requests(store::WriteTxn& txn, std::size_t max) const;
  Status drop_request(store::WriteTxn& txn, std::uint64_t hold);

 private:
  Quarantine(store::Env* env, store::Table held, store::Table meta, store::Table requests)
      : env_(env), held_(held), meta_(meta), requests_(requests) {}
  store::Env* env_;
  store::Table held_, meta_, requests_;
};

}  // namespace cg::quarantine
