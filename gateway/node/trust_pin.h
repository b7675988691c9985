// gateway/node: the trust root a node runs under, pinned in its store, so that a node itself
// enforces TUF's rule for a new root (the TUF specification, §5.3), not only `cellgate trust
// verify`.
//
// The first time a node starts on a store it trusts the trust-root file its config names
// (TrustRoot::bootstrap: a threshold of that root's own keys, not expired) and pins the root's
// bytes in the store. From then on the file is a proposal, judged against the pinned root N:
//   - N's own bytes: N (still not expired);
//   - version N+1: accepted only when N.rotate() accepts it (a threshold of N's root keys AND
//     a threshold of its own, not expired), and pinned in the same step, before any use;
//   - anything else is refused, with the reason: an older version (rollback), the same version
//     with other bytes (two roots under one number), or a version past N+1 (TUF walks every
//     root in turn: install N+1 first, then N+2, ...).
// A refusal changes nothing: a starting node does not start, a running one goes on under N.
//
// Table trust (in the node's store): "root" → the pinned root's bytes, as the file had them.
// Thread-safety: free functions; the store serialises the write.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "crypto/suite.h"
#include "gateway/approval/approval.h"
#include "gateway/audit/audit.h"
#include "gateway/common/status.h"
#include "gateway/config/config.h"
#include "gateway/store/store.h"

namespace cg::node {

struct PinnedRoot {
  approval::TrustRoot root;
  // What happened: "pinned" (first start), "kept" (the pinned root again), "rotated" (N → N+1).
  const char* outcome;
  std::uint64_t previous_version = 0;  // with rotated: N
};

// Judges `file_bytes` (the trust-root file) against the root pinned in `env` as described
// above, pinning a first root or an accepted successor. Errors: rejected (rollback, same
// version with other bytes, a version skipped, expired), unauthenticated (thresholds not met;
// the reason lists the signatures), malformed (not a trust root), io (the store).
Result<PinnedRoot> pin_trust_root(store::Env& env, std::span<const std::uint8_t> file_bytes,
                                  const approval::Verifier& verifier, std::int64_t now_ns);

// The same judgement without changing the store (`cellgate config check`, and a running node
// that sees its trust-root file change): what a node starting now would do with `file_bytes`.
// `env` may be read-only; a store without a pinned root reports "pinned".
Result<PinnedRoot> judge_trust_root(store::Env& env, std::span<const std::uint8_t> file_bytes,
                                    const approval::Verifier& verifier, std::int64_t now_ns);

// What a role's start-up calls: reads the config's trust-root file, opens the node's store and
// pins (pin_trust_root). A rotation is said on stderr. Errors: as pin_trust_root, with
// "keys.trust_root" and the file in the reason; io (the file, the store).
Result<PinnedRoot> load_trust_root(const config::NodeConfig& config,
                                   const approval::Verifier& verifier, std::int64_t now_ns);

// Into the node's audit chain: a first pin or an accepted successor as trustRootLoaded (reason
// "pinned" or "rotated", the versions in the detail); a root kept as it was, nothing.
Status audit_pinned(audit::AuditLog& log, store::Env& env, std::string_view node,
                    std::int64_t now_ns, const PinnedRoot& pinned);
// A trust-root file a running node refused, as trustRootRefused with the reason.
Status audit_refused(audit::AuditLog& log, store::Env& env, std::string_view node,
                     std::int64_t now_ns, std::string_view why);

// Trust-root files refused since this process started (by the running node's watch in
// `cellgate run`); every role serves it as cellgate_trust_root_refused_total.
std::atomic<std::uint64_t>& trust_root_refusals();

// The pinned root's version, or 0 when the store has none. Errors: io.
Result<std::uint64_t> pinned_version(store::Env& env, const approval::Verifier& verifier);

// The pinned root itself (structure checked, signatures as pinned), or nullopt when the store
// has none: what reviewer commands name keys by. Errors: io, malformed.
Result<std::optional<approval::TrustRoot>> pinned_root(store::Env& env);

// The suite of the pinned root's keys (its first root key's), to judge a successor with.
// Errors: rejected (no pinned root), malformed (it does not decode, or names no known suite).
Result<const crypto::Suite*> pinned_suite(store::Env& env);
// The suite of a trust-root file's root keys (a node without a signing key of its own, the
// filter of a separate guard, verifies under it). Nothing is verified here: the root is
// pinned and checked with it afterwards. Errors: io (the file), malformed.
Result<const crypto::Suite*> trust_root_file_suite(const std::string& path);

}  // namespace cg::node
