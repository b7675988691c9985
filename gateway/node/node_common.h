// gateway/node: what the three node roles share — reading their key material and link
// settings from the config, and collecting what a link receiver hands up for the node's
// thread to process after each poll.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "crypto/secret.h"
#include "gateway/approval/approval.h"
#include "gateway/common/rate_log.h"
#include "gateway/common/status.h"
#include "gateway/config/config.h"
#include "gateway/link/link.h"
#include "gateway/metrics/metrics.h"

namespace cg::node {

// How often each kind of refusal a peer can cause (bad MAC, refused key, refused release) may
// be logged; repeats in between are counted and reported with the next line (RateLimitedLog).
inline constexpr std::int64_t log_interval_ns = 10 * ns_per_s;

// Everything `cellgate run` checks before it takes the store or binds a socket, and all that
// `cellgate config check` runs (so that a config check calls ok starts): every file the config
// names is a readable regular file (config::check_files); the key files load, with the
// passphrase when one is named; the trust root verifies under the node's suite; every link key
// loads; every CURVE secret key is a Z85 key; every link address parses as the link parses it.
// Errors: as the loaders (io, malformed, unauthenticated), with the config key in the reason.
Status prepare(const config::NodeConfig& config, const Clock& clock);

// The first line of a small file (a CURVE secret key in Z85), trailing blanks removed.
Result<std::string> read_first_line(const std::string& path);

// The key files' passphrase when [keys] names a passphrase_file; none means the key files must
// be stored unencrypted (they say so themselves, and loading checks it).
Result<std::optional<crypto::Secret>> passphrase(const config::Keys& keys);

// The link settings both ends of a configured link must agree on.
link::Settings link_settings(const config::LinkCommon& link);

// How far the envelopes a node handed to its link sender are surely on the wire, so that
// after a crash it re-sends from its durable store exactly what may not have left. The link
// numbers what it carries itself (link seqs: first sends, and re-sends for gaps, interleaved),
// so the mark maps link seqs to the stream's seqs: everything submitted below the sender's
// unsent floor (link::UdpSender::unsent_floor) has been handed to the kernel. Callers report
// each first send with submitted(), in increasing order of both numbers. Not thread-safe.
class WireMark final {
 public:
  void submitted(std::uint64_t link_seq, std::uint64_t seq);
  // The highest stream seq surely on the wire, given the sender's unsent floor read AFTER the
  // submissions this mark knows of; never decreases.
  std::uint64_t on_wire(std::uint64_t unsent_floor);
  std::uint64_t last_submitted() const { return last_submitted_; }

 private:
  std::deque<std::pair<std::uint64_t, std::uint64_t>> in_flight_;  // (link seq, seq)
  std::uint64_t last_submitted_ = 0, mark_ = 0;
};

// Error lines of a node's loop, without flooding the log: the same message again within 10 s
// is counted, not printed; the count goes out with the next line. Not thread-safe.
class ErrorLog final {
 public:
  explicit ErrorLog(std::string node) : node_(std::move(node)) {}
  void report(const std::string& what, std::int64_t monotonic_ns);

 private:
  std::string node_, last_;
  std::int64_t last_ns_ = 0;
  std::uint64_t repeats_ = 0;
};

// How a node compiles the policy of a rules bundle it is offered (gateway and relay alike).
approval::CompilePolicy policy_compiler();

// Rules bundles cross to the relay in chunks on the link; the codec is approval's.
using approval::bundle_chunk_header_bytes;
using approval::bundle_chunks;
using approval::BundleAssembler;
using approval::is_bundle_chunk;

// Registers a link end's counters (link::counter_list) as Prometheus counters
// cellgate_link_<name>_total with a label link="<link_name>". Keeps references to the
// counters, which must outlive the registry.
void register_link_metrics(metrics::Registry& registry, const std::string& link_name,
                           const link::SenderCounters* sender,
                           const link::ReceiverCounters* receiver);
// Registers the sender's queue as gauges cellgate_link_queued_envelopes and
// cellgate_link_queued_bytes with link="<name>", read at scrape time. Keeps a reference to
// `sender`, which must outlive the registry's use.
void register_link_queue_metrics(metrics::Registry& registry, const std::string& link_name,
                                 link::UdpSender& sender);

// The node's Prometheus endpoint ([metrics] listen): the node registers what it counts, then
// start() serves it. Without [metrics] nothing listens.
class NodeMetrics final {
 public:
  using Label = std::pair<std::string, std::string>;
  // Every sample carries node="<id>".
  void set_node(const std::string& id) { node_ = {{"node", id}}; }
  metrics::Registry& registry() { return registry_; }
  // A counter read from `value` at scrape time (`value` must outlive this object), labelled
  // with the node and, if given, one more label.
  void counter(const std::string& name, const std::string& help,
               const std::atomic<std::uint64_t>& value) {
    counter(name, help, {}, value);
  }
  void counter(const std::string& name, const std::string& help, const Label& label,
               const std::atomic<std::uint64_t>& value);
  void gauge(const std::string& name, const std::string& help,
             const std::atomic<std::uint64_t>& value);
  Status start(const config::NodeConfig& config);
  void stop() { server_.stop(); }
  std::uint16_t port() const { return server_.port(); }

 private:
  metrics::Labels labels(const Label& extra) const;
  metrics::Labels node_;
  metrics::Registry registry_;
  metrics::Server server_{registry_};
};

// Collects envelopes and control records during one poll_once(); the node processes them
// afterwards on the same thread. Losses are added to `lost`; alerts are logged.
struct LinkInbox final : link::Handler {
  LinkInbox(std::string name, std::atomic<std::uint64_t>* lost_counter)
      : node(std::move(name)), lost(lost_counter) {}
  void on_envelope(const link::Delivered& d) override;
  void on_loss(const link::Loss& l) override;
  void on_control(std::uint64_t id, std::span<const std::uint8_t> payload) override;
  void on_alert(const link::Alert& a) override;
  void on_refused(std::string_view reason, std::string_view what) override;

  RateLimitedLog* log = nullptr;  // where refused frames are logged (may be null); outlives
  std::string link;               // the link's name, for those lines
  std::string node;
  std::atomic<std::uint64_t>* lost;
  std::vector<std::vector<std::uint8_t>> envelopes, controls;
};

}  // namespace cg::node
