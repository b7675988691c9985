// gateway/recovery: loss recovery without a back channel, and holding the relay to one history
// (issue 10). With a one-way link in each direction through the relay, a party runs a gateway
// and a receiver, and its receiver's reports travel on the party's own outbound path:
//
//   receiver sy-rx-1: a sequence gap it cannot fill (missing for report_after, after FEC and
//     the reorder window; or past the origin's signed stream head) → a signed ReceiverReport
//     (gap ranges + the latest tree head it verified) → as an item of kind gapReport to its
//     own gateway sy-gw-1 (a source of it) → policy (gap reports carry only sequence ranges)
//     → relay → receiver il-rx-1, which checks the quoted tree head against its own view and
//     hands the report to its gateway il-gw-1 → il-gw-1 re-sends the envelopes from its sent
//     log, unchanged (same seq, same signature), rate-limited, within its retention; what it no
//     longer keeps raises an alarm. The relay recognises a re-sent envelope it already logged
//     and forwards it again under a fresh tree head without logging it twice.
//
//   non-equivocation: every tree head the relay signs has a serial and goes to every party
//     (envelope::published_head) with consistency proofs from earlier heads; each receiver
//     checks them (HeadChain), binds each envelope's countersignature to the head of its
//     serial, and compares the other party's quoted head with its own of the same serial: a
//     relay that shows the parties different histories signs two heads under one serial (or
//     withholds from one party heads the other saw), and both parties detect it.
//
// This module holds the pieces as pure logic (no sockets, no store; time passed in), so tests
// run them directly: the report format, GapTracker (receiver), ResendQueue (gateway) and
// HeadChain (receiver). The nodes (gateway/node) wire them up.
//
// Thread-safety: none of the classes is thread-safe; each belongs to one node thread.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gateway/common/clock.h"
#include "gateway/common/seq_range.h"
#include "gateway/common/status.h"
#include "gateway/envelope/envelope.h"
#include "gateway/trust/trust.h"

namespace cg::recovery {

using cg::SeqRange;
using Bytes = std::span<const std::uint8_t>;

// --- Receiver reports --------------------------------------------------------------------

struct StreamKey {
  std::string origin;       // origin gateway
  std::string destination;  // the reporter's party
  std::uint32_t stream = 0;
  auto operator<=>(const StreamKey&) const = default;
};

struct StreamGaps {
  StreamKey key;
  std::vector<SeqRange> ranges;  // sorted, disjoint, each first ≤ last, first ≥ 1
};

struct QuotedHead {
  std::string relay;
  std::vector<std::uint8_t> key_id;
  envelope::TreeHead head;
};

struct Report {
  std::string reporter;        // receiver node id
  std::string reporter_party;  // filled by verify_report
  std::int64_t time_ns = 0;
  std::vector<StreamGaps> gaps;    // ≤ limits::gap_streams_max, ≤ gap_ranges_max ranges each
  std::optional<QuotedHead> head;  // the latest tree head the reporter verified
};

// Signs `report` with the receiver's key (reporter = signer.node) and returns the
// ReceiverReport in standard framing. Errors: malformed (a limit exceeded, ranges unsorted).
Result<std::vector<std::uint8_t>> sign_report(const envelope::Signer& signer, const Report& report);
// Decodes a ReceiverReport and checks its structure (limits, sorted ranges, at most
// gap_report_seqs_max seqs in all), that the reporter is a receiver of the trust root with this
// signing key, its signature, and the quoted head's signature (a relay of the trust root).
// Errors: malformed, unauthenticated.
Result<Report> verify_report(Bytes bytes, const trust::TrustRoot& root, const crypto::Suite& suite);

// The content type of the one portion of a gapReport item that holds the report.
inline constexpr std::string_view report_content_type = "application/vnd.cellgate.receiver-report";

struct ReportItem {
  std::string source;  // the reporting receiver, as its gateway's ingest knows it
  std::string
      label_policy;  // the labelling policy of the gateway's rules (lowest level, TLP:CLEAR)
  std::int64_t now_ns = 0;
  std::vector<std::uint8_t> id;  // 16 bytes, fresh per report
};
// The item (standard framing, as a source submits it) carrying `report`: kind gapReport,
// precedence immediate, the lowest level of `label_policy` with TLP:CLEAR, one required portion
// of report_content_type (not text: content inspection does not apply). Errors: malformed.
Result<std::vector<std::uint8_t>> report_item(Bytes report, const ReportItem& how);
// The report bytes of a gapReport item. Errors: malformed (not of kind gapReport, or no portion
// of report_content_type).
Result<Bytes> report_of(schema::Item::Reader item);

// --- Heads exchanged out of band (cellgate audit heads / check-consistency) ----------------
//
//   "CGHX" | u8 format = 1 | 3 zero bytes | u32 count | count × (u32 length | published head)
// (integers little-endian): the published head records a receiver kept, as they came off the
// link, so the other party can check them against its own (signatures and all).
inline constexpr std::size_t export_heads_max = 65'536;
inline constexpr std::size_t export_record_bytes_max = 64u << 10;
std::vector<std::uint8_t> export_heads(std::span<const std::vector<std::uint8_t>> records);
// Views into `file`. Errors: malformed (framing, a count or length over its limit, bytes left).
Result<std::vector<Bytes>> parse_heads_export(Bytes file);

// --- GapTracker (receiver) -----------------------------------------------------------------

struct GapOptions {
  // A seq is reported only once it has been missing this long: FEC and the link's block
  // timeout, the relay's processing and FLASH items overtaking routine ones all end earlier.
  std::int64_t report_after_ns = 3 * ns_per_s;
  // Not asked for again sooner than this after a report (a round trip through both parties).
  std::int64_t rereport_after_ns = 5 * ns_per_s;
  // A gap still open this long after it was first seen is given up, with an alarm.
  std::int64_t give_up_after_ns = 3600 * ns_per_s;
  std::size_t ranges_per_stream_max = 4096;  // tracked; beyond this the newest are not tracked
};

struct Abandoned {
  StreamKey key;
  SeqRange range;
  std::int64_t since_ns = 0;
};

class GapTracker final {
 public:
  explicit GapTracker(GapOptions options = {}) : options_(options) {}

  // What is missing in `key` now (sorted, disjoint), as the durable window and the stream's
  // head say. Ranges no longer missing are forgotten; new ones start their clock at `now_ns`.
  void update(const StreamKey& key, std::span<const SeqRange> missing, std::int64_t now_ns);
  // The ranges due for a report at `now_ns`, oldest first, bounded by the report limits
  // (streams, ranges per stream, seqs in all); marks them reported at `now_ns`.
  std::vector<StreamGaps> due(std::int64_t now_ns);
  // Ranges given up since the last call (their alarm is the caller's).
  std::vector<Abandoned> take_abandoned();
  // A fresh seq of `key` arrived. True when it was asked for in a report (it is counted as
  // recovered).
  bool arrived(const StreamKey& key, std::uint64_t seq);

  std::uint64_t recovered() const { return recovered_; }
  std::uint64_t seqs_requested() const { return seqs_requested_; }
  std::uint64_t abandoned_seqs() const { return abandoned_seqs_; }
  // Seqs currently missing and tracked.
  std::uint64_t open_seqs() const;

 private:
  struct Open {
    std::uint64_t last = 0;
    std::int64_t since_ns = 0;
    bool reported = false;
    std::int64_t reported_ns = 0;  // when `reported`
  };
  using Ranges = std::map<std::uint64_t, Open>;  // first → the rest
  struct Stream {
    Ranges open;
    std::vector<SeqRange> given_up;  // sorted, disjoint, bounded
  };

  GapOptions options_;
  std::map<StreamKey, Stream> streams_;
  std::vector<Abandoned> abandoned_;
  std::uint64_t recovered_ = 0, seqs_requested_ = 0, abandoned_seqs_ = 0;
};

// --- ResendQueue (gateway) -----------------------------------------------------------------

struct ResendOptions {
  std::uint64_t seqs_per_s = 20'000;  // token bucket rate of re-sent envelopes
  std::uint64_t burst = 20'000;
  // A seq re-sent is not re-sent again sooner than this (reports repeat while resends fly).
  std::int64_t holdoff_ns = 4 * ns_per_s;
  std::size_t queued_max = 1u << 20;  // seqs waiting; requests beyond it are refused (counted)
  std::size_t holdoff_tracked_max = 1u << 20;
};

class ResendQueue final {
 public:
  explicit ResendQueue(ResendOptions options = {}) : options_(options) {}

  // Queues the seqs of `ranges` for `destination` (skipping those already queued or re-sent
  // within the holdoff, lengthened by `extra_holdoff_ns`: the time what is already waiting in
  // the link's queue needs to leave). Returns how many were queued.
  std::uint64_t request(const std::string& destination, std::span<const SeqRange> ranges,
                        std::int64_t now_ns, std::int64_t extra_holdoff_ns = 0);
  // Up to `max` (destination, seq) the rate allows now, in request order.
  std::vector<std::pair<std::string, std::uint64_t>> take(std::size_t max, std::int64_t now_ns);
  std::uint64_t queued() const { return queue_.size(); }
  std::uint64_t refused() const { return refused_; }  // over queued_max

 private:
  ResendOptions options_;
  std::deque<std::pair<std::string, std::uint64_t>> queue_;
  std::map<std::pair<std::string, std::uint64_t>, std::int64_t> recent_;  // → queued/sent at
  double tokens_ = -1;
  std::int64_t tokens_ns_ = 0;
  std::uint64_t refused_ = 0;
};

// --- HeadChain (receiver) ------------------------------------------------------------------

enum class EvidenceKind : std::uint8_t {
  fork,          // two heads signed under one serial that differ (size or root)
  inconsistent,  // a consistency proof between two heads the relay signed does not verify
  withheld,      // the other party quoted a serial this receiver never saw within the wait
};
std::string_view evidence_name(EvidenceKind kind);

struct Evidence {
  EvidenceKind kind = EvidenceKind::fork;
  std::string relay;
  envelope::TreeHead mine, theirs;  // theirs: the other party's (fork/withheld) or the later head
  std::string source;               // where `theirs` came from ("report of sy-rx-1", "link")
  std::string text;                 // for people
};

struct HeadOptions {
  std::size_t window = 32'768;  // heads kept by serial (what gossip can be compared against)
  // A quoted serial above every serial seen: compared when it arrives; after this long without
  // it, the relay withheld it from this party.
  std::int64_t withheld_after_ns = 60 * ns_per_s;
  std::size_t pending_max = 256;
};

class HeadChain final {
 public:
  // `hasher`: the deployment suite's (crypto::hasher_of).
  HeadChain(crypto::Hasher hasher, HeadOptions options = {})
      : hasher_(std::move(hasher)), options_(options) {}

  // A published head whose signature verified (envelope::verify_published_head): kept; its
  // links' consistency proofs are checked against the heads held. Returns any evidence.
  std::vector<Evidence> add_published(const envelope::VerifiedHead& head, std::int64_t now_ns);
  // The head an envelope's countersignature was verified against (signature checked by
  // envelope::verify_delivery): must equal the head of its serial.
  std::vector<Evidence> add_countersigned(const std::string& relay, const envelope::TreeHead& head,
                                          std::int64_t now_ns);
  // The other party's latest verified head, from its report (signature checked by
  // verify_report): compared with this receiver's head of the same serial.
  std::vector<Evidence> compare_quoted(const QuotedHead& theirs, const std::string& source,
                                       std::int64_t now_ns);
  // Quoted heads still waiting whose time has run out (withheld), and those now comparable.
  std::vector<Evidence> tick(std::int64_t now_ns);

  // The head of the highest serial held (its signature verified); key_id empty (the caller
  // fills it from the trust root).
  std::optional<QuotedHead> latest() const;

  struct Counters {
    std::uint64_t heads = 0;         // distinct published heads kept
    std::uint64_t linked = 0;        // with a verified consistency proof from an earlier head
    std::uint64_t unlinked = 0;      // none of their links could be checked (heads lost)
    std::uint64_t matched = 0;       // quoted heads equal to ours
    std::uint64_t unverifiable = 0;  // quoted serials we never held (lost, or out of the window)
    std::uint64_t evidence = 0;      // equivocation found (fork, inconsistent, withheld)
  };
  const Counters& counters() const { return counters_; }
  std::size_t pending() const { return pending_.size(); }

 private:
  struct Held {
    envelope::TreeHead head;
    bool linked = false;
  };
  struct Pending {
    QuotedHead theirs;
    std::string source;
    std::int64_t since_ns = 0;
  };
  // Keeps `head` under its serial; evidence when another head holds that serial already.
  using Key = std::pair<std::string, std::uint64_t>;  // (relay, serial)
  std::vector<Evidence> hold(const std::string& relay, const envelope::TreeHead& head,
                             const std::string& source, Held** kept);
  // The quoted head against ours of its serial; nullopt when we hold none.
  std::optional<std::vector<Evidence>> judge(const Pending& p);
  void trim();

  crypto::Hasher hasher_;
  HeadOptions options_;
  std::map<Key, Held> heads_;                        // at most options_.window
  std::map<std::string, std::uint64_t> max_serial_;  // per relay, of every head held so far
  std::deque<Pending> pending_;
  Counters counters_;
};

}  // namespace cg::recovery
