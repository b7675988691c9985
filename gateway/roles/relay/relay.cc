#include "gateway/roles/relay/relay.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <limits>
#include <map>
#include <thread>

#include "crypto/keys.h"
#include "gateway/approval/approval.h"
#include "gateway/audit/audit.h"
#include "gateway/common/limits.h"
#include "gateway/common/mutex.h"
#include "gateway/deliver/deliver.h"
#include "gateway/envelope/envelope.h"
#include "gateway/link/link.h"
#include "gateway/node/metric_table.h"
#include "gateway/node/node_common.h"
#include "gateway/node/store_keys.h"
#include "gateway/node/trust_pin.h"
#include "gateway/roles/relay/oversight.h"
#include "gateway/roles/relay/tuning.h"
#include "gateway/translog/translog.h"

namespace cg::node {
namespace {

namespace tuning = relay_tuning;

// The value of meta's "last_head" and "checkpoint" (schemas/FORMATS.md, "Role tables").
struct HeadRef {
  std::uint64_t serial = 0, tree_size = 0;
};
std::vector<std::uint8_t> encode_ref(const HeadRef& r) {
  auto a = store::be64(r.serial);
  const auto b = store::be64(r.tree_size);
  std::vector<std::uint8_t> out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}
std::optional<HeadRef> decode_ref(std::span<const std::uint8_t> v) {
  if (v.size() != 16) return std::nullopt;
  auto s = store::from_be64(v.first(8));
  auto n = store::from_be64(v.subspan(8));
  if (!s || !n) return std::nullopt;
  return HeadRef{*s, *n};
}

// What the relay counts, as Prometheus rows, in the order of its exposition (names, labels
// and help texts are docs/OPERATIONS.md's).
std::vector<MetricRow> metric_rows(const RelayCounters& c) {
  const std::string refused = "Envelopes refused, by reason.";
  return {
      counter_row("cellgate_relay_received_total", "Envelopes received from the parties' links.",
                  c.received),
      counter_row("cellgate_relay_relayed_total", "Envelopes logged, countersigned and forwarded.",
                  c.relayed),
      counter_row("cellgate_relay_refused_total", refused, c.refused_origin, {"reason", "origin"}),
      counter_row("cellgate_relay_refused_total", refused, c.refused_replay, {"reason", "replay"}),
      counter_row("cellgate_relay_refused_total", refused, c.refused_oversight,
                  {"reason", "oversight"}),
      counter_row("cellgate_relay_refused_total", refused, c.refused_no_route,
                  {"reason", "no_route"}),
      counter_row("cellgate_relay_refused_total", refused, c.refused_bundle, {"reason", "bundle"}),
      counter_row("cellgate_relay_bundles_accepted_total",
                  "Rules bundles received, verified and recorded as approved.", c.bundles_accepted),
      counter_row("cellgate_relay_bundles_refused_total", "Rules bundles (or chunks) refused.",
                  c.bundles_refused),
      gauge_row("cellgate_relay_held_for_bundle",
                "Envelopes waiting for the rules bundle they name.", c.held_for_bundle),
      counter_row("cellgate_relay_announcements_forwarded_total",
                  "Epoch announcements verified and forwarded.", c.announcements_forwarded),
      counter_row("cellgate_relay_announcements_refused_total", "Epoch announcements refused.",
                  c.announcements_refused),
      counter_row("cellgate_relay_lost_on_links_total",
                  "Envelopes the inbound links reported lost.", c.lost_on_links),
      counter_row("cellgate_relay_forwarded_after_restart_total",
                  "Logged envelopes forwarded again after a restart.", c.forwarded_after_restart),
      counter_row("cellgate_relay_errors_total", "Processing errors.", c.errors),
      counter_row(
          "cellgate_relay_reforwarded_total",
          "Logged envelopes re-sent by their origin (a receiver's gap) and forwarded again.",
          c.reforwarded),
      counter_row("cellgate_relay_heads_published_total",
                  "Signed tree heads sent to every outbound link.", c.heads_published),
      counter_row("cellgate_relay_stream_heads_forwarded_total",
                  "Origins' stream heads verified and forwarded.", c.stream_heads_forwarded),
      counter_row("cellgate_relay_stream_heads_refused_total", "Origins' stream heads refused.",
                  c.stream_heads_refused),
      gauge_row("cellgate_relay_tree_size", "Entries in the transparency log.", c.tree_size),
  };
}

}  // namespace

struct RelayNode::Impl {
  config::NodeConfig config;
  const Clock* clock = nullptr;
  // Refusals a peer can cause (bad MACs, refused keys, refused releases), logged rate-limited;
  // declared before what logs into it, so it is destroyed after.
  std::optional<RateLimitedLog> events;
  const crypto::Suite* suite = nullptr;
  std::unique_ptr<crypto::SigningKey> signing_key;
  envelope::Signer signer;
  std::optional<approval::TrustRoot> root;
  std::optional<PinnedRoot> root_pinned;  // what the start did with it (audited)
  crypto::VerifiedSignatures verified;    // batch and tree head signatures, checked once each
  std::optional<relay::Oversight> oversight;
  std::unique_ptr<store::Env> env;
  std::optional<translog::Log> log;
  std::optional<deliver::DedupeWindow> seen;
  std::optional<audit::AuditLog> audit_log;
  std::vector<crypto::Secret> keys_in, keys_out;
  struct In {
    std::string party;
    std::optional<LinkInbox> handler;
    std::unique_ptr<link::UdpReceiver> rx;
    std::thread thread;
    std::unique_ptr<approval::Approver> approver;  // the party's rules bundles
    BundleAssembler assembler;
    // Envelopes waiting for their bundle: (arrival, bytes).
    std::vector<std::pair<std::int64_t, std::vector<std::uint8_t>>> held;
  };
  std::vector<std::unique_ptr<In>> ins;
  std::map<std::string, std::unique_ptr<link::UdpSender>> outs;  // by destination party
  Mutex write_mu;  // one batch through log + countersign + link at a time
  std::map<std::string, std::uint64_t> out_seq CG_GUARDED_BY(write_mu);
  // Log index → the accepted origin envelope, until it is surely on the outbound wire: after
  // a crash the relay forwards these again (the receiver refuses what it already has).
  store::Table unsent;
  // (party, bundle version) → bundle hash of every bundle seen approved.
  store::Table bundles_seen;
  // (origin, destination, stream, seq) → be64(log index) || leaf hash, for the last
  // tuning::logged_window_seqs seqs of each stream: a re-sent envelope is forwarded again, not
  // logged twice.
  store::Table logged;
  // Tree head serials reserved, and the last head and checkpoint published (for the links of
  // the first head after a restart).
  store::Table meta;
  // Guarded by write_mu: the next serial, the end of the reserved block, the last published
  // head and the checkpoint, and whether the stored ones are behind.
  std::uint64_t next_serial CG_GUARDED_BY(write_mu) = 1;
  std::uint64_t serial_reserved CG_GUARDED_BY(write_mu) = 0;
  std::optional<HeadRef> last_head CG_GUARDED_BY(write_mu), checkpoint CG_GUARDED_BY(write_mu);
  bool heads_dirty CG_GUARDED_BY(write_mu) = false;
  // Per destination: (link seq, log index) of what was submitted and may not have left yet.
  // Bounded by the link's staging (its submit() refuses beyond it). Guarded by write_mu.
  std::map<std::string, std::deque<std::pair<std::uint64_t, std::uint64_t>>> in_flight
      CG_GUARDED_BY(write_mu);
  std::uint64_t forwarded_below = 0;  // 1 + the highest log index submitted (0: none yet)
  std::uint64_t on_wire_below = 0;    // log indexes below this are surely on the wire
  std::int64_t housekept_ns CG_GUARDED_BY(write_mu) = 0;
  std::atomic<bool> stopping{false};
  RelayCounters counters;
  NodeMetrics metrics;  // last: destroyed (its server stopped) before what it reads

  // Wiring, in order: identity (keys, trust root, oversight), store and tables, links.
  Status load();
  Status load_identity();
  Status open_store();
  Status open_links();
  Status register_metrics();
  // A control record that is a chunk of a party's rules bundle: reassembled, verified by the
  // party's Approver (threshold of its reviewers), recorded as seen approved.
  Status offer_bundle(In& in, std::span<const std::uint8_t> chunk);
  void run(In& in);
  // One poll's worth from link `in`. Its stages, in order: control records (take_controls:
  // bundle chunks, stream heads, announcements); then, in one transaction, each envelope
  // (admit: origin, approved bundle, logged before?, oversight, route, replay, the log); then
  // forward. Held envelopes go first.
  Status process(In& in);
  void take_controls(In& in);
  void take_stream_head(In& in, std::span<const std::uint8_t> record);
  void take_announcement(In& in, std::span<const std::uint8_t> record);
  struct Accepted;
  struct Arrival {
    std::int64_t now = 0, arrived = 0;  // this poll's time; when the envelope first arrived
  };
  // One envelope through the relay's checks, every refusal audited; what passes is logged
  // (or recognised as a re-send) and added to `accepted`. Caller holds write_mu.
  Status admit(In& in, store::WriteTxn& txn, Arrival at, std::vector<std::uint8_t>& bytes,
               std::vector<Accepted>& accepted) CG_REQUIRES(write_mu);
  // Whether the rules bundle named in the header is one the relay has seen approved; one not
  // seen yet may be on the way, and the envelope waits for it (bounded). False: not admitted
  // (held, or refused and audited).
  Result<bool> bundle_approved(In& in, store::WriteTxn& txn, Arrival at, const envelope::Checked& c,
                               std::vector<std::uint8_t>& bytes, audit::Event& ev);
  // An envelope under a seq logged before: the same one re-sent for a receiver's gap is
  // forwarded again under its log index; any other is a replay.
  Status logged_again(store::WriteTxn& txn, std::span<const std::uint8_t> prior,
                      envelope::Checked c, audit::Event& ev, std::vector<Accepted>& accepted);
  // Oversight, a route, a fresh seq: false (audited) when the envelope is dropped.
  Result<bool> oversee(store::WriteTxn& txn, const envelope::Checked& c, std::int64_t now,
                       audit::Event& ev);
  // Appends to the transparency log; keeps it in `unsent` and `logged`; audits.
  Status append_to_log(store::WriteTxn& txn, envelope::Checked c,
                       std::span<const std::uint8_t> bytes, std::span<const std::uint8_t> lkey,
                       audit::Event& ev, std::vector<Accepted>& accepted);
  // Countersigns the accepted envelopes with a fresh signed tree head and submits each to its
  // destination's link. Caller holds write_mu.
  struct Accepted {
    envelope::Checked checked;
    std::uint64_t index;
    bool again = false;  // logged before: a re-send that fills a receiver's gap
  };
  Status forward(std::vector<Accepted>& accepted) CG_REQUIRES(write_mu);
  // The next tree head serial, reserving a new block durably when the last one is used up.
  // Caller holds write_mu.
  Result<std::uint64_t> take_serial() CG_REQUIRES(write_mu);
  // Sends `head` to every outbound link with its consistency links (from the last published
  // head and the checkpoint). Caller holds write_mu.
  Status publish(const envelope::TreeHead& head) CG_REQUIRES(write_mu);
  Status submit_blocking(link::UdpSender& tx, std::uint64_t seq,
                         std::span<const std::uint8_t> bytes, link::Precedence p);
  // After a restart: forwards again what was logged but perhaps not sent.
  Status forward_unsent();
  // Drops from `unsent` what is surely on the wire. Caller holds write_mu.
  Status housekeeping() CG_REQUIRES(write_mu);
};

Status RelayNode::Impl::load() {
  events.emplace(config.id, *clock, log_interval_ns);
  if (!config.keys || !config.relay || config.links_in.empty() || config.links_out.empty()) {
    return malformed(config.source_file +
                     ": a relay needs [keys], [relay], [[link_in]] and [[link_out]]");
  }
  CG_RETURN_IF_ERROR(load_identity());
  CG_RETURN_IF_ERROR(open_store());
  CG_RETURN_IF_ERROR(open_links());
  CG_ASSIGN_OR_RETURN(const auto size, log->size());
  counters.tree_size.store(size);
  return register_metrics();
}

Status RelayNode::Impl::load_identity() {
  CG_ASSIGN_OR_RETURN(auto pass, passphrase(*config.keys));
  CG_ASSIGN_OR_RETURN(signing_key, crypto::load_signing_key_file(config.keys->signing_key,
                                                                 pass ? &*pass : nullptr, !pass));
  CG_ASSIGN_OR_RETURN(suite, crypto::suite(signing_key->suite()));
  signer = {config.id, suite, signing_key.get(),
            crypto::key_id(suite->id(), signing_key->public_key())};
  const approval::SuiteVerifier verifier(*suite);
  // The root pinned in the store, or its successor if the file holds one (trust_pin.h).
  CG_ASSIGN_OR_RETURN(auto pinned, load_trust_root(config, verifier, clock->now_ns()));
  root.emplace(pinned.root);
  root_pinned.emplace(std::move(pinned));
  const auto me = root->node(config.id);
  if (!me || me->getRole() != schema::Role::RELAY ||
      !crypto::ct_equal(
          {me->getSigningKey().getKeyId().begin(), me->getSigningKey().getKeyId().size()},
          signer.key_id)) {
    return unauthenticated(config.id + ": not a relay with this signing key in the trust root");
  }
  CG_ASSIGN_OR_RETURN(auto o,
                      relay::Oversight::make({.freshness_seconds = config.relay->freshness_seconds,
                                              .routes = config.relay->routes,
                                              .kinds = config.relay->kinds}));
  oversight.emplace(std::move(o));
  return {};
}

Status RelayNode::Impl::open_store() {
  CG_ASSIGN_OR_RETURN(
      env, store::Env::open({.path = config.store, .map_bytes = config.store_bytes_max}));
  CG_ASSIGN_OR_RETURN(auto l, translog::Log::open(*env, "relay", crypto::hasher_of(*suite)));
  log.emplace(std::move(l));
  CG_ASSIGN_OR_RETURN(auto d, deliver::DedupeWindow::open(*env));
  seen.emplace(std::move(d));
  CG_ASSIGN_OR_RETURN(auto a, audit::AuditLog::open(*env, config.id, *suite));
  audit_log.emplace(std::move(a));
  CG_RETURN_IF_ERROR(audit_pinned(*audit_log, *env, config.id, clock->now_ns(), *root_pinned));
  CG_ASSIGN_OR_RETURN(unsent, env->table("unsent"));
  CG_ASSIGN_OR_RETURN(bundles_seen, env->table("bundles_seen"));
  CG_ASSIGN_OR_RETURN(logged, env->table("logged"));
  CG_ASSIGN_OR_RETURN(meta, env->table("meta"));
  {
    MutexLock lock(write_mu);  // no other thread yet; taken for the analysis
    CG_ASSIGN_OR_RETURN(auto rtxn, env->begin_read());
    CG_ASSIGN_OR_RETURN(auto reserved, rtxn.get(meta, text_key_of(meta_serial_reserved)));
    if (reserved) serial_reserved = store::from_be64(*reserved).value_or(0);
    next_serial = serial_reserved + 1;  // the rest of the last block may have been used
    CG_ASSIGN_OR_RETURN(auto last, rtxn.get(meta, text_key_of(meta_last_head)));
    if (last) last_head = decode_ref(*last);
    CG_ASSIGN_OR_RETURN(auto cp, rtxn.get(meta, text_key_of(meta_checkpoint)));
    if (cp) checkpoint = decode_ref(*cp);
  }
  return {};
}

Status RelayNode::Impl::open_links() {
  for (const auto& lo : config.links_out) {
    CG_ASSIGN_OR_RETURN(auto k, crypto::read_link_key_file(lo.key_file));
    keys_out.push_back(std::move(k));
  }
  for (std::size_t i = 0; i < config.links_out.size(); ++i) {
    const auto& lo = config.links_out[i];
    link::SenderOptions so;
    so.settings = link_settings(lo);
    so.pace_bytes_per_s = lo.rate_bytes_per_s;
    so.interleave_depth = lo.interleave_depth;
    CG_RETURN_IF_ERROR(link::validate(so));
    CG_ASSIGN_OR_RETURN(outs[lo.party], link::UdpSender::open(so, lo.peer, keys_out[i], *clock));
  }
  for (const auto& li : config.links_in) {
    CG_ASSIGN_OR_RETURN(auto k, crypto::read_link_key_file(li.key_file));
    keys_in.push_back(std::move(k));
  }
  for (std::size_t i = 0; i < config.links_in.size(); ++i) {
    const auto& li = config.links_in[i];
    auto in = std::make_unique<In>();
    in->party = li.party;
    CG_ASSIGN_OR_RETURN(in->approver,
                        approval::Approver::open(*env, li.party, *root,
                                                 std::make_shared<approval::SuiteVerifier>(*suite),
                                                 policy_compiler()));
    in->handler.emplace(config.id, &counters.lost_on_links);
    in->handler->log = &*events;
    in->handler->link = li.name;
    link::ReceiverOptions ro;
    ro.settings = link_settings(li);
    ro.block_timeout_ns = std::int64_t{li.block_timeout_ms} * ns_per_ms;
    CG_RETURN_IF_ERROR(link::validate(ro));
    CG_ASSIGN_OR_RETURN(in->rx, link::UdpReceiver::open(ro, li.listen, li.rcvbuf_bytes, keys_in[i],
                                                        *clock, *in->handler));
    ins.push_back(std::move(in));
  }
  return {};
}

Status RelayNode::Impl::register_metrics() {
  metrics.set_node(config.id);
  register_rows(metrics, signature_rows(verified));
  register_rows(metrics, metric_rows(counters));
  for (std::size_t i = 0; i < ins.size(); ++i)
    register_link_metrics(metrics.registry(), config.links_in[i].name, nullptr,
                          &ins[i]->rx->receiver().counters());
  for (const auto& lo : config.links_out) {
    register_link_metrics(metrics.registry(), lo.name, &outs[lo.party]->counters(), nullptr);
    register_link_queue_metrics(metrics.registry(), lo.name, *outs[lo.party]);
  }
  metrics.registry().gauge(
      "cellgate_relay_unsent",
      "Logged envelopes not yet surely on an outbound wire (forwarded again after a crash).",
      {{"node", config.id}}, [this] {
        auto txn = env->begin_read();
        if (!txn.ok()) return -1.0;
        auto n = txn->count(unsent);
        return n.ok() ? static_cast<double>(*n) : -1.0;
      });
  return metrics.start(config);
}

Status RelayNode::Impl::offer_bundle(In& in, std::span<const std::uint8_t> chunk) {
  auto whole = in.assembler.add(chunk);
  if (!whole.ok()) {
    counters.bundles_refused.fetch_add(1);
    return whole.status();
  }
  if (!*whole) return {};
  auto b = in.approver->offer(**whole, clock->now_ns());
  if (!b.ok()) {
    // An older bundle than the current one is a rollback for the approver, but it was seen
    // approved when it was current: it is already recorded.
    if (in.approver->last_refusal() != approval::Refusal::rollback)
      counters.bundles_refused.fetch_add(1);
    return b.status();
  }
  MutexLock lock(write_mu);
  CG_ASSIGN_OR_RETURN(auto txn, env->begin_write());
  CG_ASSIGN_OR_RETURN(auto had, txn.get(bundles_seen, bundle_seen_key_of(in.party, (*b)->version)));
  if (had) return {};
  CG_RETURN_IF_ERROR(
      txn.put(bundles_seen, bundle_seen_key_of(in.party, (*b)->version), (*b)->hash));
  CG_RETURN_IF_ERROR(txn.commit());
  counters.bundles_accepted.fetch_add(1);
  std::fprintf(stderr, "[%s] rules bundle v%llu of %s seen approved\n", config.id.c_str(),
               static_cast<unsigned long long>((*b)->version), in.party.c_str());
  return {};
}

void RelayNode::Impl::take_stream_head(In& in, std::span<const std::uint8_t> c) {
  auto sh = envelope::verify_stream_head(c, *root, *suite);
  auto out = sh.ok() ? outs.find(sh->destination) : outs.end();
  if (!sh.ok() || out == outs.end() || wire::view(root->node(sh->origin)->getParty()) != in.party) {
    counters.stream_heads_refused.fetch_add(1);
    return;
  }
  if (out->second->submit_control(c, tuning::stream_head_repeats).ok())
    counters.stream_heads_forwarded.fetch_add(1);
}

void RelayNode::Impl::take_announcement(In& in, std::span<const std::uint8_t> c) {
  auto a = envelope::verify_announcement(c, *root, *suite);
  auto out = a.ok() ? outs.find(a->destination) : outs.end();
  if (!a.ok() || out == outs.end() || !root->node(a->origin) ||
      wire::view(root->node(a->origin)->getParty()) != in.party) {
    counters.announcements_refused.fetch_add(1);
    return;
  }
  if (out->second->submit_control(c, tuning::announcement_repeats).ok())
    counters.announcements_forwarded.fetch_add(1);
}

void RelayNode::Impl::take_controls(In& in) {
  for (auto& c : in.handler->controls) {
    if (is_bundle_chunk(c)) {
      if (auto s = offer_bundle(in, c); !s.ok())
        std::fprintf(stderr, "[%s] %s\n", config.id.c_str(), s.reason().c_str());
    } else if (envelope::is_stream_head(c)) {  // the origin's last seq: forwarded like
      take_stream_head(in, c);                 // announcements
    } else {
      take_announcement(in, c);
    }
  }
  in.handler->controls.clear();
}

Status RelayNode::Impl::process(In& in) {
  const std::int64_t now = clock->now_ns();
  take_controls(in);
  if (in.handler->envelopes.empty() && in.held.empty()) return {};
  // Held envelopes go first, in arrival order, then what this poll delivered.
  std::vector<std::pair<std::int64_t, std::vector<std::uint8_t>>> work = std::move(in.held);
  in.held.clear();
  for (auto& e : in.handler->envelopes) work.emplace_back(now, std::move(e));
  in.handler->envelopes.clear();
  MutexLock lock(write_mu);
  CG_RETURN_IF_ERROR(housekeeping());
  CG_ASSIGN_OR_RETURN(auto txn, env->begin_write());
  std::vector<Accepted> accepted;
  for (auto& [arrived, bytes] : work) {
    if (arrived == now) counters.received.fetch_add(1);
    CG_RETURN_IF_ERROR(admit(in, txn, {now, arrived}, bytes, accepted));
  }
  CG_RETURN_IF_ERROR(txn.commit());
  counters.held_for_bundle.store(in.held.size());
  return forward(accepted);
}

Status RelayNode::Impl::admit(In& in, store::WriteTxn& txn, Arrival at,
                              std::vector<std::uint8_t>& bytes, std::vector<Accepted>& accepted) {
  audit::Event ev{.time_ns = at.now, .event = schema::AuditEvent::RELAY_DROPPED};
  auto c = envelope::verify_origin(bytes, *root, *suite, &verified);
  if (!c.ok() || c->origin_party != in.party) {
    counters.refused_origin.fetch_add(1);
    const std::string why =
        c.ok() ? "origin of party " + c->origin_party + " on the link from " + in.party
               : c.status().reason();
    ev.reason = "origin";
    ev.detail = why;
    return audit_log->append(txn, ev).status();
  }
  const auto h = c->envelope.root().getHeader();
  const std::string origin(wire::view(h.getOrigin())), destination(wire::view(h.getDestination()));
  ev.origin = origin;
  ev.destination = destination;
  ev.stream = h.getStream();
  ev.seq = h.getSeq();
  ev.rules_version = h.getRulesVersion();
  CG_ASSIGN_OR_RETURN(const bool approved, bundle_approved(in, txn, at, *c, bytes, ev));
  if (!approved) return {};
  // Logged before under this seq: a re-send that fills a receiver's gap is forwarded again
  // under a fresh tree head (its oversight was applied when it was logged); any other
  // envelope under that seq is a replay.
  const auto lkey = logged_key_of(origin, destination, h.getStream(), h.getSeq());
  CG_ASSIGN_OR_RETURN(auto prior, txn.get(logged, lkey));
  if (prior) return logged_again(txn, *prior, std::move(*c), ev, accepted);
  CG_ASSIGN_OR_RETURN(const bool admitted, oversee(txn, *c, at.now, ev));
  if (!admitted) return {};
  return append_to_log(txn, std::move(*c), bytes, lkey, ev, accepted);
}

// The rules bundle named in the header must be one the relay has seen approved. One not seen
// yet may be on the way: the envelope waits for it (bounded); false when it was not admitted.
Result<bool> RelayNode::Impl::bundle_approved(In& in, store::WriteTxn& txn, Arrival at,
                                              const envelope::Checked& c,
                                              std::vector<std::uint8_t>& bytes, audit::Event& ev) {
  const auto h = c.envelope.root().getHeader();
  CG_ASSIGN_OR_RETURN(
      auto seen_hash,
      txn.get(bundles_seen, bundle_seen_key_of(c.origin_party, h.getRulesVersion())));
  if (seen_hash &&
      crypto::ct_equal(*seen_hash, {h.getRulesHash().begin(), h.getRulesHash().size()}))
    return true;
  if (!seen_hash && at.now - at.arrived < tuning::bundle_wait_ns &&
      in.held.size() < tuning::held_for_bundle_max) {
    in.held.emplace_back(at.arrived, std::move(bytes));  // its bundle may be on the way
    return false;
  }
  counters.refused_bundle.fetch_add(1);
  ev.reason = "bundle";
  const std::string why = "rules bundle v" + std::to_string(h.getRulesVersion()) + " of " +
                          c.origin_party +
                          (seen_hash ? " named with a hash other than the approved one's"
                                     : " not seen approved by the relay");
  ev.detail = why;
  CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
  return false;
}

Status RelayNode::Impl::logged_again(store::WriteTxn& txn, std::span<const std::uint8_t> prior,
                                     envelope::Checked c, audit::Event& ev,
                                     std::vector<Accepted>& accepted) {
  const auto leaf_hash = crypto::leaf_hash(log->hasher(), c.leaf);
  const auto index = store::from_be64(prior.first(std::min<std::size_t>(8, prior.size())));
  if (index && prior.size() == 8 + leaf_hash.size() &&
      crypto::ct_equal(prior.subspan(8), leaf_hash) && outs.count(std::string(ev.destination))) {
    ev.event = schema::AuditEvent::RELAYED;
    ev.reason = "re-forwarded";
    const std::string detail = "re-sent by the origin; log index " + std::to_string(*index);
    ev.detail = detail;
    CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
    accepted.push_back({std::move(c), *index, true});
    return {};
  }
  counters.refused_replay.fetch_add(1);
  ev.reason = "replay";
  ev.detail = "another envelope under a seq already logged";
  return audit_log->append(txn, ev).status();
}

// Oversight, a route and a fresh seq; false (audited) when the envelope is dropped.
Result<bool> RelayNode::Impl::oversee(store::WriteTxn& txn, const envelope::Checked& c,
                                      std::int64_t now, audit::Event& ev) {
  const auto h = c.envelope.root().getHeader();
  relay::Drop drop{};
  if (auto s = oversight->check(c.origin_party, h, now, &drop); !s.ok()) {
    counters.refused_oversight.fetch_add(1);
    ev.reason = "oversight";
    ev.detail = s.reason();
    CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
    return false;
  }
  const std::string destination(ev.destination);
  if (!outs.count(destination)) {
    counters.refused_no_route.fetch_add(1);
    ev.reason = "no link";
    CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
    return false;
  }
  CG_ASSIGN_OR_RETURN(auto verdict,
                      seen->check_and_mark(txn, std::string(ev.origin) + ">" + destination,
                                           h.getStream(), h.getSeq()));
  if (verdict.verdict != deliver::DedupeWindow::Verdict::fresh) {
    counters.refused_replay.fetch_add(1);
    ev.reason = "replay";
    CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
    return false;
  }
  return true;
}

Status RelayNode::Impl::append_to_log(store::WriteTxn& txn, envelope::Checked c,
                                      std::span<const std::uint8_t> bytes,
                                      std::span<const std::uint8_t> lkey, audit::Event& ev,
                                      std::vector<Accepted>& accepted) {
  const auto h = c.envelope.root().getHeader();
  CG_ASSIGN_OR_RETURN(const auto index, log->append(txn, c.leaf));
  CG_RETURN_IF_ERROR(txn.put(unsent, store::be64(index), bytes));
  auto value = store::be64(index);
  std::vector<std::uint8_t> v(value.begin(), value.end());
  const auto leaf_hash = crypto::leaf_hash(log->hasher(), c.leaf);
  v.insert(v.end(), leaf_hash.begin(), leaf_hash.end());
  CG_RETURN_IF_ERROR(txn.put(logged, lkey, v));
  if (h.getSeq() > tuning::logged_window_seqs) {  // bounded: the oldest of the stream goes
    CG_RETURN_IF_ERROR(txn.erase(logged, logged_key_of(ev.origin, ev.destination, h.getStream(),
                                                       h.getSeq() - tuning::logged_window_seqs))
                           .status());
  }
  ev.event = schema::AuditEvent::RELAYED;
  ev.reason = "relayed";
  CG_RETURN_IF_ERROR(audit_log->append(txn, ev).status());
  accepted.push_back({std::move(c), index});
  return {};
}

Status RelayNode::Impl::submit_blocking(link::UdpSender& tx, std::uint64_t seq,
                                        std::span<const std::uint8_t> bytes, link::Precedence p) {
  for (;;) {  // back-pressure: wait for the paced link
    Status s = tx.submit(seq, bytes, p);
    if (s.ok() || s.code() != Code::overloaded || stopping.load()) return s;
    std::this_thread::sleep_for(std::chrono::microseconds(tuning::link_full_wait_us));
  }
}

Result<std::uint64_t> RelayNode::Impl::take_serial() {
  if (next_serial > serial_reserved) {
    const std::uint64_t reserved = next_serial - 1 + tuning::serial_block;
    CG_ASSIGN_OR_RETURN(auto txn, env->begin_write());
    CG_RETURN_IF_ERROR(txn.put(meta, text_key_of(meta_serial_reserved), store::be64(reserved)));
    CG_RETURN_IF_ERROR(txn.commit());
    serial_reserved = reserved;
  }
  return next_serial++;
}

Status RelayNode::Impl::publish(const envelope::TreeHead& head) {
  std::vector<envelope::HeadLinkProof> links;
  for (const auto& from : {last_head, checkpoint}) {
    if (!from || from->serial >= head.serial || from->tree_size > head.tree_size) continue;
    if (!links.empty() && links.back().serial == from->serial) continue;
    CG_ASSIGN_OR_RETURN(auto proof, log->consistency_proof(from->tree_size, head.tree_size));
    links.push_back({from->serial, from->tree_size, std::move(proof)});
  }
  CG_ASSIGN_OR_RETURN(auto record, envelope::published_head(signer, head, links));
  for (auto& [party, tx] : outs) {
    CG_RETURN_IF_ERROR(submit_blocking(*tx, ++out_seq[party], record, link::Precedence::routine));
  }
  counters.heads_published.fetch_add(1);
  last_head = HeadRef{head.serial, head.tree_size};
  if (head.serial % tuning::checkpoint_every == 0 || !checkpoint) checkpoint = last_head;
  heads_dirty = true;
  return {};
}

Status RelayNode::Impl::forward(std::vector<Accepted>& accepted) {
  if (accepted.empty()) return {};
  CG_ASSIGN_OR_RETURN(const auto size, log->size());
  counters.tree_size.store(size);
  CG_ASSIGN_OR_RETURN(const auto root_hash, log->root(size));
  CG_ASSIGN_OR_RETURN(const std::uint64_t serial, take_serial());
  CG_ASSIGN_OR_RETURN(auto head,
                      envelope::sign_tree_head(signer, serial, size, root_hash, clock->now_ns()));
  // Before the envelopes it covers, on every link: both parties see every head.
  CG_RETURN_IF_ERROR(publish(head));
  for (auto& a : accepted) {
    const auto h = a.checked.envelope.root().getHeader();
    const std::string destination(wire::view(h.getDestination()));
    CG_ASSIGN_OR_RETURN(auto proof, log->inclusion_proof(a.index, size));
    CG_ASSIGN_OR_RETURN(auto bytes,
                        envelope::countersign(signer, a.checked.envelope, a.index, head, proof));
    auto& tx = *outs[destination];
    const std::uint64_t seq = ++out_seq[destination];  // consecutive per outbound link
    const auto p = h.getPrecedence() == schema::Precedence::FLASH ? link::Precedence::flash
                                                                  : link::Precedence::routine;
    CG_RETURN_IF_ERROR(submit_blocking(tx, seq, bytes, p));
    if (a.again) {
      counters.reforwarded.fetch_add(1);
      continue;  // not in `unsent`: after a crash the origin's next re-send brings it again
    }
    counters.relayed.fetch_add(1);
    in_flight[destination].emplace_back(seq, a.index);
    forwarded_below = std::max(forwarded_below, a.index + 1);
  }
  return {};
}

Status RelayNode::Impl::housekeeping() {
  const std::int64_t mono = clock->monotonic_ns();
  if (mono - housekept_ns < tuning::housekeeping_every_ns) return {};
  housekept_ns = mono;
  // What each link has handed to the kernel leaves in_flight; the lowest index still in
  // flight bounds the mark (indexes were submitted in increasing order).
  std::uint64_t lowest_unsent = UINT64_MAX;
  for (auto& [party, q] : in_flight) {
    const std::uint64_t floor = outs[party]->unsent_floor();
    while (!q.empty() && q.front().first < floor) q.pop_front();
    if (!q.empty()) lowest_unsent = std::min(lowest_unsent, q.front().second);
  }
  on_wire_below =
      std::max(on_wire_below, lowest_unsent == UINT64_MAX ? forwarded_below : lowest_unsent);
  if (on_wire_below == 0 && !heads_dirty) return {};
  CG_ASSIGN_OR_RETURN(auto txn, env->begin_write());
  std::vector<std::vector<std::uint8_t>> keys;
  if (on_wire_below != 0) {
    CG_ASSIGN_OR_RETURN(auto cursor, txn.cursor(unsent));
    while (keys.size() < tuning::forgotten_per_pass_max) {
      CG_ASSIGN_OR_RETURN(auto e, cursor.next());
      if (!e || store::from_be64(e->first).value_or(UINT64_MAX) >= on_wire_below) break;
      keys.emplace_back(e->first.begin(), e->first.end());
    }
  }
  for (const auto& k : keys) CG_RETURN_IF_ERROR(txn.erase(unsent, k).status());
  // The heads the first published head after a restart links from.
  if (heads_dirty) {
    if (last_head)
      CG_RETURN_IF_ERROR(txn.put(meta, text_key_of(meta_last_head), encode_ref(*last_head)));
    if (checkpoint)
      CG_RETURN_IF_ERROR(txn.put(meta, text_key_of(meta_checkpoint), encode_ref(*checkpoint)));
    heads_dirty = false;
  }
  return txn.commit();
}

Status RelayNode::Impl::forward_unsent() {
  MutexLock lock(write_mu);
  std::vector<std::pair<std::uint64_t, std::vector<std::uint8_t>>> stored;
  {
    CG_ASSIGN_OR_RETURN(auto rtxn, env->begin_read());
    CG_ASSIGN_OR_RETURN(auto cursor, rtxn.cursor(unsent));
    for (;;) {
      CG_ASSIGN_OR_RETURN(auto e, cursor.next());
      if (!e) break;
      stored.emplace_back(store::from_be64(e->first).value_or(0),
                          std::vector<std::uint8_t>(e->second.begin(), e->second.end()));
    }
  }
  std::vector<Accepted> accepted;
  std::uint64_t from = 0, to = 0;
  for (const auto& [index, bytes] : stored) {
    // Verified when it arrived; verified again, since the store is not trusted blindly.
    auto c = envelope::verify_origin(bytes, *root, *suite, &verified);
    if (!c.ok()) {
      counters.errors.fetch_add(1);
      std::fprintf(stderr, "[%s] stored envelope at log index %llu: %s\n", config.id.c_str(),
                   static_cast<unsigned long long>(index), c.status().reason().c_str());
      continue;
    }
    if (accepted.empty()) from = index;
    to = index;
    accepted.push_back({std::move(*c), index});
    if (accepted.size() == limits::batch_items_max) {
      CG_RETURN_IF_ERROR(forward(accepted));
      counters.forwarded_after_restart.fetch_add(accepted.size());
      accepted.clear();
    }
  }
  CG_RETURN_IF_ERROR(forward(accepted));
  counters.forwarded_after_restart.fetch_add(accepted.size());
  if (to != 0) {
    std::fprintf(stderr,
                 "[%s] forwarded again log entries %llu..%llu, logged before the restart and "
                 "perhaps not sent\n",
                 config.id.c_str(), static_cast<unsigned long long>(from),
                 static_cast<unsigned long long>(to));
  }
  return {};
}

void RelayNode::Impl::run(In& in) {
  ErrorLog errors(config.id);
  while (!stopping.load()) {
    if (auto s = in.rx->poll_once(tuning::poll_timeout_ms); !s.ok()) {
      counters.errors.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(tuning::poll_timeout_ms));
      continue;
    }
    if (auto s = process(in); !s.ok()) {
      counters.errors.fetch_add(1);
      errors.report(s.reason(), clock->monotonic_ns());
    }
  }
}

RelayNode::RelayNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RelayNode::~RelayNode() { stop(); }

Result<std::unique_ptr<RelayNode>> RelayNode::start(const config::NodeConfig& config,
                                                    const Clock& clock) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->clock = &clock;
  CG_RETURN_IF_ERROR(impl->load());
  CG_RETURN_IF_ERROR(impl->forward_unsent());
  std::unique_ptr<RelayNode> node(new RelayNode(std::move(impl)));
  for (auto& in : node->impl_->ins) {
    Impl::In* p = in.get();
    Impl* i = node->impl_.get();
    in->thread = std::thread([i, p] { i->run(*p); });
  }
  return node;
}

void RelayNode::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  impl_->metrics.stop();
  for (auto& in : impl_->ins) {
    if (in->thread.joinable()) in->thread.join();
  }
  for (auto& [party, tx] : impl_->outs) {
    for (int i = 0; i < tuning::drain_polls && !tx->idle(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(tuning::drain_poll_ms));
  }
  {
    MutexLock lock(impl_->write_mu);
    impl_->housekept_ns = std::numeric_limits<std::int64_t>::min() / 2;
    if (auto s = impl_->housekeeping(); !s.ok())
      std::fprintf(stderr, "[%s] %s\n", impl_->config.id.c_str(), s.reason().c_str());
  }
  for (auto& [party, tx] : impl_->outs) tx->stop();
}

std::vector<std::uint16_t> RelayNode::link_in_ports() const {
  std::vector<std::uint16_t> out;
  for (const auto& in : impl_->ins) out.push_back(in->rx->port());
  return out;
}

const RelayCounters& RelayNode::counters() const { return impl_->counters; }
std::uint16_t RelayNode::metrics_port() const { return impl_->metrics.port(); }

}  // namespace cg::node
