// gateway/sentlog: the gateway's durable record of what it sent — the sequence counter of
// every (destination, stream) and each envelope under its sequence number, kept for a
// retention window so that a gap the receiver reports can be filled by re-sending the very
// same bytes (same seq, same signature).
//
// Sequence numbers start at 1 and never repeat, across crashes: next_seq() and put() run in
// the caller's WriteTxn, so a sequence number is used only if the envelope carrying it was
// committed with it — so the node must hand an envelope to the link only after that commit
// (then a crash can never put two different envelopes on the wire under one seq).
// Envelopes are stored until prune_before() drops them by age, a bounded number per call.
//
// Thread-safety: all methods run inside transactions; the object holds no mutable state.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gateway/common/status.h"
#include "gateway/store/store.h"

namespace cg::sentlog {

struct StreamId {
  std::string destination;
  std::uint32_t stream = 0;
};

class SentLog final {
 public:
  static Result<SentLog> open(store::Env& env);

  // Reserves the next sequence number of `id` inside `txn` (1, 2, 3, ...).
  Result<std::uint64_t> next_seq(store::WriteTxn& txn, const StreamId& id);
  // Stores the envelope sent as (id, seq) at `sent_ns`. The seq must come from next_seq.
  Status put(store::WriteTxn& txn, const StreamId& id, std::uint64_t seq, std::int64_t sent_ns,
             std::span<const std::uint8_t> envelope);
  // Stores an envelope whose seq someone else assigned (the release guard, which alone signs):
  // it must be above every seq used for `id` so far, and becomes the last one (seqs skipped
  // stay unused: a gap a receiver reports, which nothing can fill). Errors: rejected (seq not
  // above the last: never two envelopes under one seq).
  Status put_assigned(store::WriteTxn& txn, const StreamId& id, std::uint64_t seq,
                      std::int64_t sent_ns, std::span<const std::uint8_t> envelope);
  // The stored envelope, or nullopt if it was pruned or never sent.
  Result<std::optional<std::vector<std::uint8_t>>> get(const StreamId& id, std::uint64_t seq) const;
  // The highest seq ever reserved for `id` (0 if none).
  Result<std::uint64_t> last_seq(const StreamId& id) const;
  // The lowest seq still stored for `id` (nullopt if none): what a gap report can still get.
  Result<std::optional<std::uint64_t>> first_kept(const StreamId& id) const;
  // Deletes envelopes sent before `cutoff_ns`, at most `max` of them per call (bounded work).
  Result<std::size_t> prune_before(std::int64_t cutoff_ns, std::size_t max);

 private:
  SentLog(store::Env* env, store::Table seqs, store::Table envelopes, store::Table by_time)
      : env_(env), seqs_(seqs), envelopes_(envelopes), by_time_(by_time) {}
  store::Env* env_;
  store::Table seqs_, envelopes_, by_time_;
};

}  // namespace cg::sentlog
