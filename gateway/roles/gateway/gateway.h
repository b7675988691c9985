// gateway/roles/gateway: the gateway role of `cellgate run` (issue 7, first part).
//
// Sources → ingest (CurveZMQ, acknowledged only once stored) → durable inbox → the pipeline
// thread: under one snapshot of the current approved rules bundle, every pending item is
// judged for every destination that has a receiver in the trust root; released items are
// sealed under that destination's epoch key with a sequence number reserved in the sent log,
// batch-signed (FLASH items alone), and stored; quarantined items go to the quarantine store;
// every decision leaves an audit record; the inbox entries are consumed — all in ONE
// transaction. Only after it commits are the envelopes handed to the one-way link (so a crash
// never puts two different envelopes on the wire under one seq). No usable bundle (none, or
// expired) means nothing is judged: items wait in the inbox (fail closed, nothing lost) and
// the refusal is counted and logged.
//
// Crashes: the store records how far sent envelopes are surely on the wire (below the link
// sender's unsent floor: handed to the kernel, see WireMark); after a restart the pipeline
// first sends again, unchanged, everything committed past that mark, with the announcements
// of their epochs (kept in the store). The relay and receiver refuse what they already have,
// so a crash costs some duplicates on the link and loses nothing. The current epoch's
// announcement is repeated every 2 s and the approved bundle every 30 s, so a relay or
// receiver restarted meanwhile can still open and check what follows.
//
// Gap recovery (issue 10): the link numbers what it carries itself, so envelopes can be sent
// again. Every second the gateway sends a signed stream head (the last seq committed per
// destination), so a receiver also learns of envelopes lost at the tail of a stream. Items of
// kind gapReport are receiver reports (gateway/recovery): one from another party's receiver
// (handed on by this party's receiver, a source of this gateway) asking for envelopes of this
// gateway is verified, audited, and the envelopes are re-sent unchanged from the sent log,
// rate-limited (recovery::ResendQueue); what the sent log no longer keeps raises an alarm
// (counted, logged, audited). This party's own receiver's reports are judged and released
// like any item (the policy must allow kind gap_report).
//
// Rules hot swap: reload_rules() (SIGHUP in `cellgate run`) offers the bundle file again; an
// accepted bundle is used from the next pipeline batch on, and every envelope names the
// version and hash of the bundle that judged it.
//
// Thread-safety: start/stop/reload_rules from one controlling thread; counters from any.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "gateway/common/clock.h"
#include "gateway/common/status.h"
#include "gateway/config/config.h"

namespace cg::node {

struct GatewayCounters {
  std::atomic<std::uint64_t> items_judged{0};
  std::atomic<std::uint64_t> released{0};
  std::atomic<std::uint64_t> redacted{0};
  std::atomic<std::uint64_t> blocked{0};
  std::atomic<std::uint64_t> quarantined{0};
  std::atomic<std::uint64_t> envelopes_sent{0};
  std::atomic<std::uint64_t> batches{0};
  std::atomic<std::uint64_t> epochs_started{0};
  std::atomic<std::uint64_t> waits_no_bundle{0};  // pipeline passes skipped: no usable bundle
  std::atomic<std::uint64_t> waits_for_guard{0};  // skipped: the hand-off to the guard is full
  std::atomic<std::uint64_t> guard_errors{0};     // guard requests that failed (asked again)
  std::atomic<std::uint64_t> guard_backlog{
      0};  // gauge: handed (or being handed) to the guard, not yet sent
  std::atomic<std::uint64_t> pipeline_errors{0};
  std::atomic<std::uint64_t> resent_after_restart{0};  // committed before a crash, sent again
  std::atomic<std::uint64_t> sent_pruned{0};           // sent envelopes past their retention
  std::atomic<std::uint64_t> inbox_pruned{0};          // consumed inbox entries past it
  std::atomic<std::uint64_t> bundles_sent{0};
  std::atomic<std::uint64_t> released_by_reviewer{0};  // quarantined, then released (signed)
  std::atomic<std::uint64_t> release_approvals{0};     // approvals counted below the threshold
  std::atomic<std::uint64_t> guard_refused{0};     // released by the filter, refused by the guard
  std::atomic<std::uint64_t> releases_refused{0};  // release requests that did not verify
  std::atomic<std::uint64_t> rejected_by_reviewer{0};  // quarantined, then rejected (signed)
  std::atomic<std::uint64_t> rejects_refused{0};       // reject requests that did not verify
  // Gap recovery (issue 10): this party's receivers' reports, judged like items (the released
  // ones are also counted in `released`)...
  std::atomic<std::uint64_t> reports_out{0};
  std::atomic<std::uint64_t> reports_released{0};
  // ...and other parties' receiver reports about this gateway's envelopes.
  std::atomic<std::uint64_t> gap_reports_received{0};
  std::atomic<std::uint64_t> gap_reports_refused{0};
  std::atomic<std::uint64_t> gap_seqs_requested{0};
  std::atomic<std::uint64_t> resent_for_gaps{0};
  std::atomic<std::uint64_t> gap_unrecoverable{0};  // older than the sent log keeps: alarm
};

class GatewayNode final {
 public:
  // Loads keys, trust root and rules bundle, opens the store, starts ingest, the link sender
  // and the pipeline. Errors: malformed (config, files), unauthenticated (trust root, keys),
  // io. A refused rules bundle is not a start error: the node runs and holds items.
  static Result<std::unique_ptr<GatewayNode>> start(const config::NodeConfig& config,
                                                    const Clock& clock);
  ~GatewayNode();
  GatewayNode(const GatewayNode&) = delete;
  GatewayNode& operator=(const GatewayNode&) = delete;

  // Offers the rules bundle file again. Returns the version now in use, or the refusal.
  Result<std::uint64_t> reload_rules();
  // The version of the bundle in use (0: none).
  std::uint64_t rules_version() const;
  // Stops the pipeline, ingest and link. Idempotent.
  void stop();

  const std::string& ingest_endpoint() const;
  const GatewayCounters& counters() const;
  // The bound port of the Prometheus endpoint (0 without [metrics]).
  std::uint16_t metrics_port() const;

 private:
  struct Impl;
  explicit GatewayNode(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cg::node
