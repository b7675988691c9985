// gateway/signatory: the signatory — the release guard's side of schemas/guard.capnp (issue 17).
//
// It alone holds the gateway's batch-signing key. For every release the filter asks it to
// sign, it checks on its own before anything is sealed:
//   * a release by the policy: guard::Guard's independent check of the released bytes against
//     the original and the decision's claims, under the approved bundle it verified itself
//     (the filter offers the bundle's signed bytes; approval::Approver checks the reviewers'
//     signatures and the version);
//   * a release by reviewers: the released bytes are exactly the held ones, and the approvals
//     are the release statements (gateway/quarantine) of at least the party's release
//     threshold of distinct reviewers of the party in the trust root; a hold is released once.
// Then it assigns the destination's next seq (durable: a seq is never signed twice), seals
// under the destination's current epoch (rotated by count and age), signs (FLASH alone,
// routine in batches) and answers with the envelopes. Each answer — envelope or refusal — is
// stored under the filter's hand-off id before the reply leaves, so a repeated id (the filter
// asking again after a crash of either side) gets the very same answer: nothing is signed
// twice and nothing is lost. Answers at or below the filter's `committedThrough` are pruned.
// Stream heads are signed only up to the last seq signed for that destination.
//
// Tables (in the signatory's store; be64 big-endian):
//   guard_answers  be64(hand-off id) → GuardAnswer (standard framing)
//   guard_seqs     party → be64(last seq signed)
//   guard_holds    be64(hold id) → empty: holds released by reviewers (a replay is refused)
//
// The guard process (gateway/roles/guard) serves it over CurveZMQ; a gateway configured
// without a separate guard runs one in its own process, on its own store (one code path).
//
// Thread-safety: one thread at a time (handle() is called by one server thread).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "crypto/keys.h"
#include "gateway/approval/approval.h"
#include "gateway/common/clock.h"
#include "gateway/common/status.h"
#include "gateway/store/store.h"
#include "gateway/wire/wire.h"
#include "schemas/guard.capnp.h"

namespace cg::signatory {

struct SignatoryOptions {
  std::string gateway;  // the gateway node id it signs as (the trust root's)
  std::uint64_t epoch_items_max = 1u << 20;
  std::uint32_t epoch_seconds = 3600;
};

struct SignatoryCounters {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> malformed{0};  // requests that did not decode or validate
  std::atomic<std::uint64_t> signed_envelopes{0};
  std::atomic<std::uint64_t> refused{0};            // releases refused (the filter holds them)
  std::atomic<std::uint64_t> refused_approvals{0};  // of them: reviewer releases
  std::atomic<std::uint64_t> repeated{0};           // hand-offs answered again from the store
  std::atomic<std::uint64_t> need_bundle{0};
  std::atomic<std::uint64_t> no_bundle{0};  // seal requests refused: no usable bundle
  std::atomic<std::uint64_t> heads{0};
  std::atomic<std::uint64_t> heads_refused{0};
  std::atomic<std::uint64_t> epochs_started{0};
  std::atomic<std::uint64_t> errors{0};  // store errors (the request is refused whole)
};

class Signatory final {
 public:
  // Keeps references to `env`, `key`, `approver` and `clock`, which must outlive it. Errors:
  // unauthenticated (`key` is not the signing key of gateway `options.gateway` in `root`), io.
  static Result<std::unique_ptr<Signatory>> open(store::Env& env, SignatoryOptions options,
                                                 const crypto::SigningKey& key,
                                                 approval::TrustRoot root,
                                                 approval::Approver& approver, const Clock& clock);
  ~Signatory();
  Signatory(const Signatory&) = delete;
  Signatory& operator=(const Signatory&) = delete;

  // One GuardRequest in, one GuardReply out (both standard framing). Never fails: input that
  // does not decode or breaks a rule, and store errors, are answered `refused` with the reason
  // (naming the field) and counted.
  std::vector<std::uint8_t> handle(std::span<const std::uint8_t> request);

  const SignatoryCounters& counters() const;

 private:
  struct Impl;
  explicit Signatory(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Decode and validate a GuardRequest / GuardReply (standard framing; every field the two ends
// read is checked against gateway/common/limits.h, and an unknown union member is refused).
// Errors: malformed, naming the field.
Result<wire::Message<schema::GuardRequest>> decode_request(std::span<const std::uint8_t> bytes);
Result<wire::Message<schema::GuardReply>> decode_reply(std::span<const std::uint8_t> bytes);

}  // namespace cg::signatory
