// gateway/node: the receiver role of `cellgate run` (a party's inbound node).
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
  std::atomic<std::uint64_t> missing{0};  // gauge: seqs below the highest received not here
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
