// gateway/roles/receiver: the receiver role of `cellgate run` (a party's inbound node).
//
// From the relay's link: each envelope's relay countersignature (tree head signature and
// inclusion proof) and origin batch proof are verified against the trust root; it is opened
// under the epoch key derived from the origin's verified announcement (announcements are kept
// in the store, so a restart can still open what was sealed under them); replays and
// duplicates are refused by (origin, stream, seq) with the durable window; the item is
// stored in the outbox and the audit log in one transaction, then delivered to consumers over
// CurveZMQ with acknowledgements (at-least-once). Envelopes whose epoch key has not arrived
// yet wait, bounded.
//
// The relay's history (issue 10): every published tree head on the link is verified, its
// consistency proofs checked against the heads held, and each envelope's countersignature
// head must equal the head of its serial (recovery::HeadChain); evidence of equivocation is
// an alarm (log line, counter, audit record, kept in the store for `cellgate audit
// check-consistency`). Heads are kept in the store (the last 65,536).
//
// Gap recovery (issue 10, with [recovery]): every second the missing seqs of each origin's
// stream (below the highest received, and up to the origin's signed stream head) are tracked;
// those missing for report_after are reported, signed, with the latest tree head, as an item of
// kind gapReport submitted to this party's gateway (the receiver is one of its sources); a
// report is also sent every gossip_interval without gaps, to share the head. Reports of
// another party that arrive here are not delivered to consumers: their quoted head is
// compared with ours, and those asking this party's gateway for envelopes are handed to it.
//
// Thread-safety: start/stop from one thread; counters from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gateway/common/clock.h"
#include "gateway/common/status.h"
#include "gateway/config/config.h"

namespace cg::node {

struct ReceiverCounters {
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> stored{0};   // verified, opened, fresh: queued for consumers
  std::atomic<std::uint64_t> refused{0};  // countersignature, origin, or opening failed
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> waiting_for_epoch{0};  // currently held until their announcement
  std::atomic<std::uint64_t> epochs{0};
  std::atomic<std::uint64_t> lost_on_link{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> missing{0};      // gauge: seqs below the highest received not here
  std::atomic<std::uint64_t> written_off{0};  // ran past the dedupe window: lost for good
  // Gap recovery (issue 10).
  std::atomic<std::uint64_t> reports_sent{0};
  std::atomic<std::uint64_t> seqs_requested{0};
  std::atomic<std::uint64_t> recovered{0};
  std::atomic<std::uint64_t> abandoned{0};
  std::atomic<std::uint64_t> reports_accepted{0};  // acknowledged by the gateway
  std::atomic<std::uint64_t> reports_in{0};        // other parties', verified
  std::atomic<std::uint64_t> reports_handed_on{0};
  std::atomic<std::uint64_t> reports_refused{0};
  std::atomic<std::uint64_t> reports_dropped{0};
  // The relay's history.
  std::atomic<std::uint64_t> heads{0};
  std::atomic<std::uint64_t> heads_linked{0};
  std::atomic<std::uint64_t> heads_unlinked{0};
  std::atomic<std::uint64_t> heads_matched{0};
  std::atomic<std::uint64_t> heads_unverifiable{0};
  std::atomic<std::uint64_t> equivocation{0};
};

class ReceiverNode final {
 public:
  static Result<std::unique_ptr<ReceiverNode>> start(const config::NodeConfig& config,
                                                     const Clock& clock);
  ~ReceiverNode();
  ReceiverNode(const ReceiverNode&) = delete;
  ReceiverNode& operator=(const ReceiverNode&) = delete;
  void stop();

  std::vector<std::uint16_t> link_in_ports() const;
  const std::string& deliver_endpoint() const;
  const ReceiverCounters& counters() const;
  std::uint16_t metrics_port() const;  // 0 without [metrics]

 private:
  struct Impl;
  explicit ReceiverNode(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cg::node
