// gateway/roles/relay: the relay role of `cellgate run` (the supervisor's node).
//
// For each [[link_in]] (one per origin party) a thread receives envelopes and, per batch of
// what one poll delivered: verifies the origin against the trust root (node, role, key id,
// suite, batch proof), checks that the origin's party is the link's, refuses replays by
// (origin, destination, stream, seq) with a durable window, applies the oversight policy
// (routes, kinds, freshness), appends the accepted envelopes' digest leaves to the RFC 9162
// transparency log — all in one transaction — then signs a tree head and forwards each
// envelope, countersigned with its inclusion proof, on the [[link_out]] of its destination
// party. Epoch announcements and the origins' stream heads are verified and forwarded to their
// destination's link. Every refusal is counted and audited with its reason.
//
// Gap recovery (issue 10): an envelope the relay logged before — (origin, destination, stream,
// seq) remembered for the last 2^16 seqs of each stream, with its leaf — that arrives again
// unchanged is an origin's re-send for a receiver's gap: it is countersigned under a fresh tree
// head and forwarded again, not logged twice (and not checked for freshness again). Another
// envelope under a logged seq is refused as a replay.
//
// Non-equivocation: every tree head the relay signs has a serial (reserved durably in blocks,
// never reused) and is sent, before the envelopes it covers, to EVERY outbound link as a
// published head with consistency proofs from the previous head and the latest checkpoint,
// so both parties see the same sequence of heads and can compare them (gateway/recovery).
//
// Crashes: each accepted envelope is stored with its log entry, in the same transaction, and
// dropped once its link sender has handed it to the kernel (unsent floor); after a restart whatever
// is still stored is countersigned again under a fresh tree head and forwarded.
//
// Rules bundles: each gateway sends the approved bundle it uses as chunked control records
// (node_common.h); the relay verifies it with that party's Approver (reviewers' threshold under
// the trust root, no rollback) and records (party, version, hash) durably. An envelope must
// name a bundle so recorded, by version and hash; one naming an unknown version waits up to
// 10 s for its bundle, then is refused ("bundle") like a wrong hash at once.
//
// Thread-safety: start/stop from one thread; counters from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "gateway/common/clock.h"
#include "gateway/common/status.h"
#include "gateway/config/config.h"

namespace cg::node {

struct RelayCounters {
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> relayed{0};
  std::atomic<std::uint64_t> refused_origin{0};  // signature, proof, unknown node, wrong link
  std::atomic<std::uint64_t> refused_replay{0};
  std::atomic<std::uint64_t> refused_oversight{0};  // route, kind, freshness
  std::atomic<std::uint64_t> refused_no_route{0};   // no link to the destination party
  std::atomic<std::uint64_t> refused_bundle{0};     // names a bundle not seen approved
  std::atomic<std::uint64_t> bundles_accepted{0};
  std::atomic<std::uint64_t> bundles_refused{0};
  std::atomic<std::uint64_t> held_for_bundle{0};  // gauge, per last batch of a link
  std::atomic<std::uint64_t> announcements_forwarded{0};
  std::atomic<std::uint64_t> announcements_refused{0};
  std::atomic<std::uint64_t> lost_on_links{0};  // envelopes the inbound links reported lost
  std::atomic<std::uint64_t> forwarded_after_restart{0};  // logged before a crash, sent again
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> tree_size{0};        // gauge: entries in the transparency log
  std::atomic<std::uint64_t> reforwarded{0};      // logged before, re-sent for a gap
  std::atomic<std::uint64_t> heads_published{0};  // tree heads sent to every link
  std::atomic<std::uint64_t> stream_heads_forwarded{0};
  std::atomic<std::uint64_t> stream_heads_refused{0};
};

class RelayNode final {
 public:
  static Result<std::unique_ptr<RelayNode>> start(const config::NodeConfig& config,
                                                  const Clock& clock);
  ~RelayNode();
  RelayNode(const RelayNode&) = delete;
  RelayNode& operator=(const RelayNode&) = delete;
  void stop();

  // The bound UDP ports of the [[link_in]] entries, in config order.
  std::vector<std::uint16_t> link_in_ports() const;
  const RelayCounters& counters() const;
  std::uint16_t metrics_port() const;  // 0 without [metrics]

 private:
  struct Impl;
  explicit RelayNode(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cg::node
